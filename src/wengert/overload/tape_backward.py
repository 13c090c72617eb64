"""The tape's reverse pass: `backward` walks a `Tape`'s nodes in reverse, accumulating
cotangents with `accum` and reducing broadcast ones with ``unbroadcast``; a list, dict or
object reached by several paths gets its whole cotangent at the first (the source transform's
convention)."""

from __future__ import annotations

from typing import Any

from wengert.errors import UnsupportedError
from wengert.overload.routing import lifted
from wengert.overload.tape_record import _CONTAINERS, Node, Tape, _Fields, _ids, _items, _object_grad
from wengert.overload.tracked import has_tracked, rebuild
from wengert.rules.support import accum, unbroadcast

__all__ = ["backward"]


def backward(tape: Tape, y, g) -> tuple:
    """Run ``tape`` in reverse from output ``y`` (a Var, an id, or a structure) with cotangent ``g``.

    Returns one cotangent per `Tape.track` call, shaped like what was tracked
    (``None`` where there is no gradient). A list, dict or object reached by several
    paths gets its whole cotangent at the first path, in argument order, and ``None``
    at the others (the source transform's convention).
    """
    spec = y if isinstance(y, int) and not isinstance(y, bool) else _ids(y, tape)
    return _backward(tape, spec, g)


def _backward(tape: Tape, spec, g) -> tuple:
    for t, version in tape.versions:
        if t._version != version:
            raise UnsupportedError(
                f"a {type(t).__name__} of shape {tuple(t.shape)} that the tape recorded was changed in place "
                "afterwards, so its gradient would be computed from the new values; copy it before "
                "changing it (t = t.clone()), or give the function source")
    grads: dict[int, Any] = {}
    _scatter(spec, g, grads, None, False)
    for node in reversed(tape.nodes):
        gy = _gather(node.out, grads, pop=True)
        if gy is None:
            continue
        if node.pullback is not None:
            cots = node.pullback(gy)
        else:
            cots = _vjps(node, gy)
        broadcast = node.rule.broadcast
        for s, c, x in zip(node.inputs, cots, node.args):
            if s is not None and c is not None:
                _scatter(s, c, grads, x, broadcast)
    seen: set = set()
    order = range(len(tape.inputs)) if tape.first is None else [
        *tape.first, *(i for i in range(len(tape.inputs)) if i not in tape.first)]
    out = [None] * len(tape.inputs)
    for i in order:  # an object reached by several paths: its gradient goes to the first gathered
        out[i] = _gather(tape.inputs[i], grads, pop=False, seen=seen)
    return tuple(out)


def _vjps(node: Node, gy) -> list:
    vjps = node.rule.vjps
    nested = has_tracked(gy) or has_tracked(node.args) or has_tracked(node.value)
    cots = []
    for i, s in enumerate(node.inputs):
        if s is None or i >= len(vjps) or vjps[i] is None:
            cots.append(None)
            continue
        vjp = lifted(vjps[i]) if nested else vjps[i]
        cots.append(vjp(gy, node.value, *node.args, **node.kwargs))
    return cots


def _scatter(spec, c, grads, x, broadcast):
    if spec is None or c is None:
        return
    if isinstance(spec, int):
        if broadcast:
            c = unbroadcast(c, x)
        grads[spec] = accum(grads.get(spec), c)
        return
    if isinstance(spec, _Fields):
        from wengert.runtime.mutation import _fields

        cs = _fields(c)
        for name, s in spec.fields.items():
            _scatter(s, cs.get(name), grads, None, False)
        return
    cs = _items(c) if not isinstance(spec, dict) else [c.get(k) for k in spec]
    xs = _items(x) if isinstance(x, _CONTAINERS) else [None] * len(cs)
    for s, ci, xi in zip(_items(spec), cs, xs):
        _scatter(s, ci, grads, xi, broadcast)


def _gather(spec, grads, pop, seen=None):
    """The cotangent structured like ``spec``; with ``seen`` (the ids of specs gathered
    already), a spec met again gathers ``None``: an aliased input's cotangent is counted once."""
    if spec is None:
        return None
    if isinstance(spec, int):
        return grads.pop(spec, None) if pop else grads.get(spec)
    if seen is not None:
        if id(spec) in seen:
            return None
        seen.add(id(spec))
    if isinstance(spec, _Fields):
        fields = {name: _gather(s, grads, pop, seen) for name, s in spec.fields.items()}
        return None if all(v is None for v in fields.values()) else _object_grad(spec, fields)
    parts = [_gather(s, grads, pop, seen) for s in _items(spec)]
    return None if all(p is None for p in parts) else rebuild(spec, parts)
