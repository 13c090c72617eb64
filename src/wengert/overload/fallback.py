"""The overload package as a rung of the dispatch ladder (`wengert.dispatch.ladder`).

For callables without source the ladder falls back on operator overloading: the
run-time tape in reverse mode, `Dual` numbers in forward mode. And when differentiation
nests (forward over reverse: Duals flowing through generated adjoint code), rules meet
tracked values and must run lifted. The ladder reaches all of this through the interface
registered here, so the compiler never imports this package; ``import wengert`` imports
this module.
"""

from __future__ import annotations

import types

from wengert.dispatch import cache, ladder
from wengert.overload import dual
from wengert.overload.dual import Dual, Tracked, has_tracked, lifted, new_level, primal_at, tangent_at
from wengert.overload.tape import tape_pullback
from wengert.runtime.tangents import _rebuild


def tape_fallback(fn, args, kwargs):
    """Reverse mode through a callable with no source, on the run-time tape."""
    if kwargs:
        def call(*a):
            return fn(*a, **kwargs)
    else:
        call = fn
    y, back = tape_pullback(call, *args)

    def tape_back(g):
        res = back(g)
        return None, tuple(res[1:]), ({k: None for k in kwargs} if kwargs else None)

    return y, tape_back


def dual_fallback(fn, args, tangents, kwargs):
    """Forward mode through a callable with no source: `Dual` numbers, math routed."""
    level = new_level()

    def seed(x, t):
        if t is None:
            return x
        if isinstance(x, dual._CONTAINERS) and isinstance(t, dual._CONTAINERS):
            return _rebuild(x, [seed(a, b) for a, b in zip(x, t)]) if not isinstance(x, dict) else \
                {k: seed(v, t.get(k)) for k, v in x.items()}
        return Dual._make(x, t, level)

    f = lifted(fn) if isinstance(fn, types.FunctionType) else fn
    out = f(*[seed(a, t) for a, t in zip(args, tangents)], **kwargs)
    return primal_at(out, level), tangent_at(out, level, fill=False)


ladder.register_overload(
    has_tracked=has_tracked, is_tracked=lambda x: isinstance(x, Tracked), lifted=lifted, dual_call=dual.dual_call,
    zero_like=dual.zero_like, no_rule=dual.no_rule, reverse=tape_fallback, forward=dual_fallback)
cache.on_clear(dual._MODULES, dual._NAMESPACES, dual._LIFTED)
