"""Float64 central-difference checks of rule-table entries, called as the table says.

`check_rule(fn, *args)` looks ``fn`` up in the rule table and, for every
differentiable positional argument ``i`` (floats, float arrays, sequences of
floats), draws a random output cotangent ``g`` and input direction ``v`` and
checks

    <vjp_i(g, y, *args), v>  ==  <g, (f(x + h v) - f(x - h v)) / 2h>  ==  <g, jvp_i(v, y, *args)>

for each form registered: ``defvjp`` / ``defjvp`` lambdas and ``rrule`` /
``frule``. Broadcasting rules get their cotangents reduced with
`wengert.runtime.cotangents.unbroadcast` (and their tangents broadcast to the output),
as callers do; cotangents must have their argument's structure (list for list,
tuple for tuple, an array of the argument's shape). Central differences are
Richardson-extrapolated (error O(h**4)).
"""

from __future__ import annotations

import copy

import numpy as np

from wengert.rules import get_rule
from wengert.runtime.cotangents import unbroadcast


def is_differentiable(x) -> bool:
    if isinstance(x, (bool, int)):
        return False
    if isinstance(x, float):
        return True
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.floating)
    if isinstance(x, (list, tuple)):
        return any(is_differentiable(v) for v in x)
    return False


def _randn_like(x, rng):
    if isinstance(x, (bool, int, np.integer, np.bool_)) or x is None:
        return None
    if isinstance(x, float):
        return float(rng.standard_normal())
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape) if np.issubdtype(x.dtype, np.floating) else None
    if isinstance(x, (list, tuple)):
        vals = [_randn_like(v, rng) for v in x]
        if isinstance(x, list):
            return vals
        return type(x)(*vals) if hasattr(x, "_fields") else tuple(vals)
    raise TypeError(f"no random direction for {type(x).__name__}")


def _axpy(x, h, v):
    """x + h * v over structures (``None`` directions leave ``x`` alone)."""
    if v is None:
        return copy.deepcopy(x)
    if isinstance(x, (list, tuple)):
        vals = [_axpy(a, h, b) for a, b in zip(x, v, strict=True)]
        if isinstance(x, list):
            return vals
        return type(x)(*vals) if hasattr(x, "_fields") else tuple(vals)
    return x + h * v


def _sub(a, b):
    if isinstance(a, (list, tuple)):
        return [_sub(p, q) for p, q in zip(a, b, strict=True)]
    if isinstance(a, (bool, int, np.integer, np.bool_)):
        assert a == b, "an integer output changed inside the difference step"
        return None
    return np.asarray(a, dtype=float) - np.asarray(b, dtype=float)


def dot(a, b) -> float:
    """<a, b> over structures; ``None`` is zero."""
    if a is None or b is None:
        return 0.0
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"structures of lengths {len(a)} and {len(b)}"
        return sum(dot(p, q) for p, q in zip(a, b))
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def _scale(a, s):
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return [_scale(v, s) for v in a]
    return np.asarray(a, dtype=float) * s


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)):
        return [_add(p, q) for p, q in zip(a, b, strict=True)]
    return a + b


def check_structure(ct, x):
    """A cotangent (or tangent) has the structure of what it belongs to."""
    if ct is None:
        return
    if isinstance(x, list):
        assert isinstance(ct, list), f"cotangent of a list is a {type(ct).__name__}"
        assert len(ct) == len(x)
        for c, v in zip(ct, x):
            check_structure(c, v)
    elif isinstance(x, tuple):
        assert isinstance(ct, tuple), f"cotangent of a tuple is a {type(ct).__name__}"
        assert type(ct) is type(x), f"cotangent of a {type(x).__name__} is a {type(ct).__name__}"
        assert len(ct) == len(x)
        for c, v in zip(ct, x):
            check_structure(c, v)
    elif isinstance(x, np.ndarray):
        assert np.shape(ct) == x.shape, f"cotangent shape {np.shape(ct)} for shape {x.shape}"
    elif isinstance(x, float):
        assert np.shape(ct) == (), f"cotangent of a float has shape {np.shape(ct)}"


def fd_directional(fn, args, kwargs, i, v, g, h):
    """<g, d/de f(..., x_i + e v, ...)>, Richardson-extrapolated central differences."""

    def at(e):
        a = copy.deepcopy(list(args))
        a[i] = _axpy(a[i], e, v)
        return fn(*a, **kwargs)

    def central(s):
        return dot(g, _scale(_sub(at(s), at(-s)), 1.0 / (2.0 * s)))

    return (4.0 * central(h / 2) - central(h)) / 3.0


def _reverse_forms(rule, args, kwargs, y, g, wrt=None):
    """(name, cotangents per argument) for each reverse form registered.

    Only the vjps of the arguments in ``wrt`` run: as in generated code, a vjp runs only for
    an argument that is differentiated (some raise for arguments they cannot differentiate).
    """
    forms = []
    if rule.vjps is not None:
        live = copy.deepcopy(args)
        y_live = rule.fn(*live, **kwargs)
        cts = []
        for i in range(len(args)):
            vjp = rule.vjps[i] if i < len(rule.vjps) and (wrt is None or i in wrt) else None
            cts.append(None if vjp is None else vjp(g, y_live, *live, **kwargs))
        forms.append(("vjp", cts))
    if rule.rrule is not None:
        y2, back = rule.rrule(*copy.deepcopy(args), **kwargs)
        assert_close_struct(y2, y)
        cts = list(back(g))
        assert len(cts) == len(args), "rrule pullback must return one cotangent per argument"
        forms.append(("rrule", cts))
    return forms


def _forward_forms(rule, args, kwargs, i, v):
    """(name, output tangent from argument i's tangent v) for each forward form registered."""
    forms = []
    if rule.jvps is not None:
        live = copy.deepcopy(args)
        y_live = rule.fn(*live, **kwargs)
        jvp = rule.jvps[i] if i < len(rule.jvps) else None
        forms.append(("jvp", None if jvp is None else jvp(v, y_live, *live, **kwargs)))
    if rule.frule is not None:
        tangents = tuple(v if j == i else None for j in range(len(args)))
        _, t = rule.frule(tangents, *copy.deepcopy(args), **kwargs)
        forms.append(("frule", t))
    return forms


def assert_close_struct(a, b):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            assert_close_struct(p, q)
    else:
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                   rtol=1e-12, atol=0)


def _broadcast_tangent(t, y):
    if t is None or not hasattr(y, "shape") or isinstance(y, (list, tuple)):
        return t
    return np.broadcast_to(np.asarray(t, dtype=float), np.shape(y))


def check_rule(fn, *args, kwargs=None, wrt=None, h=None, rtol=1e-6, atol=1e-9, seed=0):
    """Check every registered reverse and forward form of ``fn`` at ``args``.

    ``wrt`` lists the positional arguments to check (default: the differentiable ones).
    """
    kwargs = kwargs or {}
    rule = get_rule(fn)
    assert rule is not None, f"no rule for {fn!r}"
    assert not rule.nondiff, f"{fn!r} is registered nondiff"
    assert rule.has_reverse and rule.has_forward, f"{fn!r} lacks a reverse or a forward rule"
    rng = np.random.default_rng(seed)
    args = tuple(args)
    y = fn(*copy.deepcopy(args), **kwargs)
    g = _randn_like(y, rng)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if is_differentiable(a)]
    assert wrt, "nothing to differentiate"
    reverse = _reverse_forms(rule, args, kwargs, y, g, wrt)
    for i in wrt:
        v = _randn_like(args[i], rng)
        if h is None:
            size = np.max(np.abs(np.asarray(_flat(args[i]), dtype=float)), initial=0.0)
            step = 1e-4 * (1.0 + size)
        else:
            step = h
        fd = fd_directional(fn, args, kwargs, i, v, g, step)
        tol = atol + rtol * max(1.0, abs(fd))
        for name, cts in reverse:
            ct = cts[i]
            if rule.broadcast:
                ct = unbroadcast(ct, args[i])
            check_structure(ct, args[i])
            got = dot(ct, v)
            assert abs(got - fd) <= tol, f"{fn!r} {name} arg {i} at {args}: {got} vs fd {fd}"
        for name, t in _forward_forms(rule, args, kwargs, i, v):
            if rule.broadcast:
                t = _broadcast_tangent(t, y)
            got = dot(g, t)
            assert abs(got - fd) <= tol, f"{fn!r} {name} arg {i} at {args}: {got} vs fd {fd}"


def _flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flat(v))
        return out
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


def vjp(fn, i, g, *args, **kwargs):
    """The cotangent of argument ``i`` from the registered reverse rule (vjp or rrule)."""
    rule = get_rule(fn)
    if rule.vjps is not None:
        f = rule.vjps[i] if i < len(rule.vjps) else None
        return None if f is None else f(g, fn(*args, **kwargs), *args, **kwargs)
    return rule.rrule(*args, **kwargs)[1](g)[i]


def jvp(fn, i, t, *args, **kwargs):
    """The output tangent from argument ``i``'s tangent, from the registered forward rule."""
    rule = get_rule(fn)
    if rule.jvps is not None:
        f = rule.jvps[i] if i < len(rule.jvps) else None
        return None if f is None else f(t, fn(*args, **kwargs), *args, **kwargs)
    tangents = tuple(t if j == i else None for j in range(len(args)))
    return rule.frule(tangents, *args, **kwargs)[1]


def assert_nondiff(*fns):
    for fn in fns:
        rule = get_rule(fn)
        assert rule is not None and rule.nondiff, f"{fn!r} is not registered nondiff"
