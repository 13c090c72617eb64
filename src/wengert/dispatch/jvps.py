"""Forward mode's rungs of the dispatch ladder (`ladder.climb`) and `jvp_call`.

``jvp_call(fn, args, tangents, kwargs, fn_dot, kw_tangents)`` is what generated tangent
code calls for every call it could not inline; it returns ``(y, y_dot)``.
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import operator
import types

from wengert.dispatch import ladder
from wengert.dispatch.cache import compiled_jvp, dual_variant
from wengert.dispatch.ladder import OVERLOAD, bind, climb, to_parameters
from wengert.errors import UnsupportedError
from wengert.frontend.program import has_source
from wengert.ir.kinds import ANY, ARRAY, FLOAT, Compound, kind_of
from wengert.rules.support import Tangent, accum, shape_of
from wengert.rules.table import get_rule
from wengert import registry
from wengert.runtime import cotangents, tangents
from wengert.runtime import tangents as tangents_mod
from wengert.runtime.tangents import fill, tz


def call_jvp(fn, args: tuple, tangents: tuple, kwargs=None, fn_dot=None, kw_tangents=None):
    """``(y, y_dot)`` for a Python function with source: its tangent code, transformed on first use.
    The outermost call holds the tangents of the mutable objects it meets (`tangents.HEAP`)."""
    if tangents_mod.HEAP.get() is not None:
        return _call_jvp(fn, args, tangents, kwargs, fn_dot, kw_tangents)
    token = tangents_mod.HEAP.set({})
    try:
        return _call_jvp(fn, args, tangents, kwargs, fn_dot, kw_tangents)
    finally:
        tangents_mod.HEAP.reset(token)


def _call_jvp(fn, args: tuple, tangents: tuple, kwargs=None, fn_dot=None, kw_tangents=None):
    values, sources = bind(fn, args, kwargs or {})
    tans = to_parameters(sources, tangents, kw_tangents)
    kinds = tuple(kind_of(v) for v in values)
    for v, t in zip(values, tans):
        if t is not None:
            tangents_mod.hold(v, t)  # a given tangent is the one every other path must find
    tans = [_normalise(k, v, t) for k, v, t in zip(kinds, values, tans)]
    c = compiled_jvp(fn, kinds)
    if (ANY in kinds or ARRAY in kinds) and _tracked(values, tans, fn_dot):
        c = dual_variant(c)
    if fn.__code__.co_freevars:
        cells_dot = fn_dot if fn_dot is not None else closure_tangent(fn)
        return c.fn(*values, *tans, fn.__closure__, cells_dot)
    return c.fn(*values, *tans)


def closure_tangent(fn):
    """The tangent of a closure given none: no captured value's tangent is known (each is
    found when read, `tangents.tz`), except the function's own (a nested function that calls
    itself): this tangent itself, so its recursive calls carry what its cells hold. One per
    function in a call (`tangents.held`), so that every call of it finds the same."""
    heap = tangents_mod.HEAP.get()
    if heap is not None:
        e = heap.get(id(fn))
        if e is not None and e[0] is fn:
            return e[1]
    cells_dot = [None] * len(fn.__closure__)
    for i, c in enumerate(fn.__closure__):
        try:
            if c.cell_contents is fn:
                cells_dot[i] = cells_dot
        except ValueError:  # an empty cell
            pass
    if heap is not None:
        heap[id(fn)] = (fn, cells_dot)
    return cells_dot


def _tracked(values, tans, fn_dot) -> bool:
    return OVERLOAD.has_tracked(values) or OVERLOAD.has_tracked(tans) or OVERLOAD.has_tracked(fn_dot)


class Forward(ladder.Mode):
    """The rungs of forward mode; ``x`` is ``(tangents, fn_dot)``."""

    hook = "_wengert_jvp"

    def special(self, fn, args, kwargs, x):
        ts = x[0]
        if fn is cotangents.attempt:  # a statement of a try body (`normalize`): its tangent, or none
            try:
                y, t = jvp_call(args[0], (), (), fn_dot=ts[0])
            except UnsupportedError:
                raise
            except BaseException as e:  # noqa: BLE001 - the user's except clauses decide
                return (e, None), None
            return (None, y), (None, t)
        if fn is builtins.getattr and len(args) in (2, 3) and type(args[1]) is str:
            # a name known only at run time (a class pattern of `match`): the field's tangent
            obj, name = args[0], args[1]
            if len(args) == 3 and not hasattr(obj, name):
                return args[2], ts[2]
            t = ts[0]
            return getattr(obj, name), (None if t is None else getattr(t, name, None))
        if fn is builtins.setattr and len(args) == 3 and type(args[1]) is str and not kwargs:
            # ``setattr(o, name, v)``: the field's tangent set on o's tangent (the one this call
            # holds for o when o came with none, `tangents.held`)
            obj, name, v = args
            t = tz(obj, ts[0])
            tv = tz(v, ts[2])
            if t is None and tv is not None:
                raise UnsupportedError(f"forward mode through setattr on a {type(obj).__name__} with a value "
                                       "that carries a tangent is not supported")
            setattr(obj, name, v)
            if t is not None:
                tangents_mod.setattr_tangent(t, name, tv)
            return None, None
        if fn is operator.setitem and len(args) == 3 and not kwargs and type(args[0]) in (list, dict) \
                and ts[1] is None:
            # ``operator.setitem(xs, i, v)``: as ``xs[i] = v``, on the value and on its tangent
            obj, i, v = args
            t, tv = tz(obj, ts[0]), tz(v, ts[2])
            obj[i] = v
            t[i] = tv
            return None, None
        if fn is operator.getitem and len(args) == 2 and ts[1] is not None:
            own = getattr(type(args[0]), "__getitem__", None)
            own_rule = get_rule(own) if isinstance(own, types.FunctionType) else None
            if own_rule is not None and own_rule.has_forward:  # np.r_[x, y]: computes with its index
                return rule_jvp(own, own_rule, args, tuple(ts), kwargs)
        return None

    def rule(self, fn, rule, args, kwargs, x):
        if rule.has_forward or rule.has_reverse:
            return rule_jvp(fn, rule, args, tuple(x[0]), kwargs)
        return None

    def method(self, fn, args, kwargs, x):
        return jvp_call(fn.__func__, (fn.__self__, *args), (None, *x[0]), kwargs)

    def hooked(self, hook, args, kwargs, x):
        return hook(args, tuple(x[0]), kwargs, x[1])

    def python(self, fn, args, kwargs, x):
        return call_jvp(fn, args, tuple(x[0]), kwargs, x[1])

    def construct(self, cls, args, kwargs, x):
        return _construct_jvp(cls, args, tuple(x[0]), kwargs)

    def call_object(self, call, fn, args, kwargs, x):
        return jvp_call(call, (fn, *args), (None, *x[0]), kwargs)

    def fallback(self, fn, args, kwargs, x):
        """Forward mode through a callable with no source: `Dual` numbers (`wengert.overload`)."""
        if OVERLOAD.forward is None:
            raise UnsupportedError(f"no rule for {ladder.callable_name(fn)} and no Python source to differentiate")
        return OVERLOAD.forward(fn, args, x[0], kwargs)


FORWARD = Forward()


def jvp_call(fn, args: tuple, tangents, kwargs=None, fn_dot=None, kw_tangents=None):
    """``(y, y_dot)`` for any callable: a rule, a Python function (transformed), a
    method, a callable object, or, without source, `Dual` numbers.

    ``kw_tangents`` maps keyword names to tangents (``None``: none)."""
    kwargs = kwargs or {}
    if tangents is None:
        tangents = (None,) * len(args)
    if kw_tangents and all(t is None for t in kw_tangents.values()):
        kw_tangents = None
    if kw_tangents:
        return _jvp_call_kw(fn, args, tangents, kwargs, fn_dot, kw_tangents)
    if fn_dot is not None and not args and getattr(fn, "__name__", None) == "__next__" \
            and getattr(fn_dot, "__name__", None) == "__next__":
        return fn(), fn_dot()  # an iterator's next item, and its tangent's (see `attr_tangent`)
    if fn is builtins.next and args and tangents[0] is not None and hasattr(tangents[0], "__next__"):
        try:
            y = next(args[0])
        except StopIteration:
            if len(args) > 1:
                return args[1], tangents[1]
            raise
        return y, next(tangents[0])
    if fn_dot is None and all(t is None for t in tangents) and not _may_carry(fn):
        return fn(*args, **kwargs), None
    return climb(FORWARD, fn, args, kwargs, (tangents, fn_dot))


def _may_carry(fn) -> bool:
    """Might ``fn`` give a tangent with no tangent in? Only the special rungs (a try body's
    statement carries its captured values' tangents as ``fn_dot``, handled above)."""
    return fn is cotangents.attempt


def rule_jvp(fn, rule, args: tuple, tangents: tuple, kwargs: dict):
    """Apply ``fn``'s forward rule: its ``frule``, or the sum of its ``jvps``."""
    if rule.nondiff or all(t is None for t in tangents) or \
            (fn in (operator.mod, operator.imod) and isinstance(args[0], (str, bytes))):
        return fn(*args, **kwargs), None  # (``fmt % args`` makes a string: no tangent)
    if not rule.has_forward:
        raise OVERLOAD.no_rule(fn, forward=True)
    nested = OVERLOAD.has_tracked(args) or OVERLOAD.has_tracked(tangents)
    if rule.frule is not None and (rule.jvps is None or kwargs):
        fr = OVERLOAD.lifted(rule.frule) if nested else rule.frule
        return fr(tangents, *args, **kwargs)
    y = fn(*args, **kwargs)
    t = None
    jvps = rule.jvps
    for i, ti in enumerate(tangents):
        if ti is None or i >= len(jvps) or jvps[i] is None:
            continue
        jv = OVERLOAD.lifted(jvps[i]) if nested else jvps[i]
        c = jv(ti, y, *args, **kwargs)
        if c is not None:
            t = accum(t, c)
    if t is not None and rule.broadcast and shape_of(t) != shape_of(y):
        t = t + OVERLOAD.zero_like(y)
    return y, t


def _normalise(kind, value, t):
    if kind == FLOAT:
        return 0.0 if t is None else t
    if isinstance(kind, Compound):
        return fill(value, t)
    if kind in (ANY, ARRAY):
        return tz(value, t)
    return t


def _construct_jvp(cls, args, tangents, kwargs):
    """``cls(*args)`` for a user class, dataclass or namedtuple; the tangent of an object is
    a `cotangents.Tangent` of its fields, of a namedtuple a namedtuple of tangents."""
    if issubclass(cls, tuple) and hasattr(cls, "_fields") and not kwargs:
        return cls(*args), cls(*[tz(a, t) for a, t in zip(args, tangents)])
    init = inspect.getattr_static(cls, "__init__", None)
    if dataclasses.is_dataclass(cls) and not has_source(init):
        names = list(inspect.signature(cls).parameters)
        fields = {n: tz(a, t) for n, a, t in zip(names, args, tangents)}
        return cls(*args, **kwargs), Tangent(cls, **fields)
    if isinstance(init, types.FunctionType) and has_source(init) and \
            inspect.getattr_static(cls, "__new__", None) in (None, object.__new__):
        obj = cls.__new__(cls)
        t = Tangent(cls)
        tangents_mod.hold(obj, t)  # every later path to obj finds this one
        call_jvp(init, (obj, *args), (t, *tangents), kwargs)
        return obj, t
    raise UnsupportedError(
        f"constructing {cls.__qualname__} from values that carry a tangent is not supported yet; "
        f"register a rule with wengert.defjvp({cls.__qualname__}, lambda t, y, x: ...)")


def _jvp_call_kw(fn, args, tangents, kwargs, fn_dot, kw_tangents):
    """A call whose keyword arguments carry tangents: Python functions bind them to
    parameters; anything else is called with them moved to positions when it can be."""
    if isinstance(fn, types.MethodType):
        return _jvp_call_kw(fn.__func__, (fn.__self__, *args), (None, *tangents), kwargs, None, kw_tangents)
    if isinstance(fn, types.FunctionType) and "_wengert_jvp" not in fn.__dict__ and has_source(fn):
        return call_jvp(fn, args, tuple(tangents), kwargs, fn_dot, kw_tangents)
    keys = list(kwargs)

    def positional(*a):
        return fn(*a[:len(args)], **dict(zip(keys, a[len(args):])))

    return FORWARD.fallback(positional, (*args, *kwargs.values()),
                            ((*tangents, *(kw_tangents.get(k) for k in keys)), None), {})


registry.register(jvp_call=jvp_call)
tangents.RUNTIME_HELPERS["jvp_call"] = jvp_call  # generated code gets the dispatcher itself
