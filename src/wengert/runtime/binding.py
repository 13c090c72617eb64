"""Binding call arguments to a Python function's parameters, for both modes.

`bind` gives the parameter values the compiled code takes, and where each came from;
`to_arguments` maps per-parameter cotangents back to the call's arguments (reverse mode),
`to_parameters` per-argument tangents forward to the parameters (forward mode).
"""

from __future__ import annotations

import inspect


def bind(fn, args: tuple, kwargs: dict):
    """Parameter values of ``fn`` in order (``*args`` as a tuple, ``**kw`` as a dict), and
    where each came from: None when the arguments are the parameters (no defaults, no
    keywords, no ``*args``), else one entry per parameter: ``("pos", i)``, ``("kw", name)``,
    ``("default", name)``, ``("var", start, n)`` or ``("varkw", names)``."""
    code = fn.__code__
    if not kwargs and not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) \
            and len(args) == code.co_argcount and not code.co_kwonlyargcount:
        return list(args), None
    sig = inspect.signature(fn, follow_wrapped=False)
    ba = sig.bind(*args, **kwargs)
    ba.apply_defaults()
    values, sources = [], []
    pos = 0
    for p in sig.parameters.values():
        values.append(ba.arguments[p.name])
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.name in kwargs:
                sources.append(("kw", p.name))
            elif pos < len(args):
                sources.append(("pos", pos))
                pos += 1
            else:
                sources.append(("default", p.name))
        elif p.kind == p.VAR_POSITIONAL:
            n = len(ba.arguments.get(p.name, ()))
            sources.append(("var", pos, n))
            pos += n
        elif p.kind == p.VAR_KEYWORD:
            sources.append(("varkw", tuple(ba.arguments.get(p.name, {}))))
        else:
            sources.append(("kw", p.name) if p.name in kwargs else ("default", p.name))
    return values, sources


def to_arguments(sources, bars, n_args: int):
    """Per-parameter cotangents ``bars`` as ``(args_bar, kwargs_bar)`` (reverse mode)."""
    if sources is None:
        return tuple(bars), None
    args_bar = [None] * n_args
    kw_bar = {}
    for src, b in zip(sources, bars):
        if src[0] == "pos":
            args_bar[src[1]] = b
        elif src[0] == "kw":
            kw_bar[src[1]] = b
        elif src[0] == "var":
            for j in range(src[2]):
                args_bar[src[1] + j] = b[j] if b is not None else None
        elif src[0] == "varkw" and b is not None:
            kw_bar.update(b)
    return tuple(args_bar), kw_bar


def to_parameters(sources, tangents, kw_tangents):
    """Per-argument tangents as per-parameter tangents (forward mode; defaults: None)."""
    if sources is None:
        return list(tangents)
    kw_tangents = kw_tangents or {}
    out = []
    for src in sources:
        if src[0] == "pos":
            out.append(tangents[src[1]])
        elif src[0] == "var":
            out.append(tuple(tangents[src[1]:src[1] + src[2]]))
        elif src[0] == "varkw":
            out.append({k: kw_tangents.get(k) for k in src[1]})
        else:
            out.append(kw_tangents.get(src[1]))
    return out
