"""The overload package as a rung of the dispatch ladder (`wengert.dispatch.ladder`).

For callables without source the ladder falls back on operator overloading: the
run-time tape in reverse mode, `Dual` numbers in forward mode. And when differentiation
nests (forward over reverse: Duals flowing through generated adjoint code), rules meet
tracked values and must run lifted. This module never imports the compiler: it lists
what it lends (`LADDER`, the ladder's `Overload` parts; `STORES`, its caches of routed
objects), and `wengert.dispatch.overloading` plugs them in. The run-time support and
the rules, below the compiler, reach the few overload functions they need (a Dual's zero,
lifting a rule body) through `wengert.registry`, registered here.
"""

from __future__ import annotations

import types

from wengert.overload import dual, variant
from wengert.overload.dual import Dual, Tracked, has_tracked, lifted, new_level, primal_at, tangent_at
from wengert.overload.tape import tape_pullback
from wengert import registry
from wengert.errors import UnsupportedError
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
    seeded = [seed(a, t) for a, t in zip(args, tangents)]
    out = f(*seeded, **kwargs)
    for a, s in zip(args, seeded):
        if s is not a and isinstance(a, (list, tuple, dict)) and _written(a, s, level):
            # the Duals ran on a copy of the container: its writes reach neither the value nor its tangent
            raise UnsupportedError(f"forward mode through {getattr(fn, '__qualname__', fn)!s}, which has no source and "
                                   f"writes into a {type(a).__name__} argument that carries a tangent, is not "
                                   "supported; compute a new value instead, or register a rule (wengert.defjvp)")
    return primal_at(out, level), tangent_at(out, level, fill=False)


def _written(a, s, level) -> bool:
    """Has the seeded copy ``s`` of container ``a`` been changed (an item set, added or removed)?"""
    if isinstance(a, dict):
        return not isinstance(s, dict) or s.keys() != a.keys() or any(_written(a[k], s[k], level) for k in a)
    if isinstance(a, (list, tuple)):
        return not isinstance(s, (list, tuple)) or len(s) != len(a) or any(_written(x, y, level) for x, y in zip(a, s))
    p = primal_at(s, level)
    return p is not a and not (type(p) is type(a) and p == a)


def _is_tracked(x) -> bool:
    return isinstance(x, Tracked)


def _unlifted(fn):
    """The function a lifted wrapper (`dual._LazyLift`) stands for; anything else as it is."""
    return fn.fn if isinstance(fn, dual._LazyLift) else fn


# the ladder's `Overload` interface (`wengert.dispatch.overloading` registers it)
LADDER = dict(has_tracked=has_tracked, is_tracked=_is_tracked, lifted=lifted, dual_call=dual.dual_call,
              zero_like=dual.zero_like, no_rule=dual.no_rule, reverse=tape_fallback, forward=dual_fallback)
# stores of routed objects derived from user code, emptied with the compile cache
STORES = (dual._MODULES, dual._NAMESPACES, dual._LIFTED, variant.GLOBALS)

registry.register(zero_like=dual.zero_like, numeric=dual.numeric, has_tracked=has_tracked, lifted=lifted,
                  unlifted=_unlifted)
