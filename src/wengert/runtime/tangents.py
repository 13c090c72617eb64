"""What generated tangent (jvp) code calls at run time.

The invariant the generated code keeps (see `forward`): the tangent of an
active number or array is never ``None``; `tz` restores it where a value
comes out of a structure, a call or an attribute. `jvp_call` is the dispatch
for every call the generator could not inline, in this order: a rule
(``frule`` or the sum of ``jvps``), a function made by `wengert.grad` /
`derivative` (its ``_wengert_jvp`` hook), a Python function with source
(`call_jvp`: its own tangent code, transformed on first use), a callable
with no source (`Dual` numbers, its globals routed through the rule table),
a bound method, a class (constructors), a callable object.
"""

from __future__ import annotations

import builtins
import inspect
import operator
import types

from wengert.runtime import cotangents
from wengert.ir.activity import ANY, FLOAT, kind_of
from wengert.errors import UnsupportedError
from wengert.rules.table import get_rule
from wengert.dispatch.cache import _has_source


def nz(t):
    """A float tangent: ``None`` becomes ``0.0``."""
    return 0.0 if t is None else t


def fill(y, t):
    """``t`` with ``None`` replaced by zeros wherever ``y`` holds a number (recursively)."""
    if t is None:
        if type(y) in (float, int, bool):
            return 0.0
        if isinstance(y, (list, tuple)):
            return _rebuild(y, [fill(v, None) for v in y])
        return None
    if isinstance(y, list) and isinstance(t, list) and len(t) == len(y):
        # in place: a list's tangent is one object, so that a callee writing into the
        # list writes into the tangent its caller holds
        for i, (v, tv) in enumerate(zip(y, t)):
            t[i] = fill(v, tv)
        return t
    if isinstance(y, (list, tuple)) and isinstance(t, (list, tuple)) and len(t) == len(y):
        return _rebuild(y, [fill(v, tv) for v, tv in zip(y, t)])
    return t


def tz(y, t):
    """A tangent for value ``y``: ``t``, or a zero of ``y``'s shape when ``t`` is None and
    ``y`` is a number or an array (other values keep ``None``)."""
    if t is not None:
        return t
    if type(y) is float or type(y) is int:
        return 0.0
    if type(y) is list or type(y) is tuple:  # containers get containers (mutation writes into them)
        return _rebuild(y, [tz(v, None) for v in y])
    if type(y) is dict:
        return {k: tz(v, None) for k, v in y.items()}
    from wengert.overload.dual import numeric, zero_like

    if numeric(y) and not isinstance(y, (str, bool)):
        return zero_like(y)
    if hasattr(y, "__dict__") and not callable(y) and not isinstance(y, types.ModuleType):
        return cotangents.Tangent(type(y))  # a user object: its fields' tangents, by name
    return None


def item_tangent(y, t, index):
    """Tangent of ``y = x[index]`` given ``x``'s tangent ``t`` (None: none; dicts may omit keys)."""
    if t is None:
        return tz(y, None)
    return tz(y, t.get(index) if isinstance(t, dict) else t[index])


def setattr_tangent(t, name: str, v):
    """Tangent of an object after ``obj.name = value`` (``v``: the value's tangent)."""
    if t is None:
        t = cotangents.Tangent()
    if isinstance(t, cotangents.Tangent):
        t.__dict__[name] = v
    else:
        setattr(t, name, v)
    return t


def mutate_jvp(obj, t, name: str, args: tuple, tangents: tuple, kwargs):
    """``obj.name(*args)`` for a mutating method of a list or dict, mirrored on the tangent ``t``."""
    if t is None or not isinstance(obj, (list, dict)):
        raise UnsupportedError(f"forward mode through .{name}() on a {type(obj).__name__} that "
                               "carries a tangent is not supported; build a new value instead")
    ts = [tz(a, ta) for a, ta in zip(args, tangents)]
    if isinstance(obj, list):
        if name == "append":
            t.append(ts[0])
        elif name == "extend":
            t.extend(ts[0] if ts[0] is not None else [tz(v, None) for v in args[0]])
        elif name == "insert":
            t.insert(args[0], ts[1])
        elif name == "pop":
            i = args[0] if args else -1
            return obj.pop(i), t.pop(i)
        elif name == "remove":
            i = obj.index(args[0])
            del obj[i]
            del t[i]
            return None, None
        elif name == "reverse":
            t.reverse()
        elif name == "clear":
            t.clear()
        else:
            raise UnsupportedError(f"forward mode through list.{name}() is not supported")
    else:
        if name == "update" and not kwargs and len(args) == 1:
            t.update({k: ts[0].get(k) if isinstance(ts[0], dict) else None for k in args[0]})
        elif name == "pop":
            return obj.pop(*args), t.pop(args[0], None)
        elif name == "setdefault":
            if args[0] not in obj:
                t[args[0]] = ts[1] if len(ts) > 1 else None
            return obj.setdefault(*args), t.get(args[0])
        elif name == "clear":
            t.clear()
        else:
            raise UnsupportedError(f"forward mode through dict.{name}() is not supported")
    return getattr(obj, name)(*args, **(kwargs or {})), None


def zero_of(y):
    """The zero tangent of an inactive value flowing into an active one."""
    return tz(y, None)


def bcast(t, y):
    """Tangent ``t`` of one argument of an elementwise rule spread to the output's shape."""
    if type(y) is float:
        return t
    if cotangents.shape_of(t) == cotangents.shape_of(y):
        # a fresh array, as the output is: mutating one must not change the other's tangent
        return t.copy() if hasattr(t, "copy") and hasattr(t, "shape") and t is not y else t
    from wengert.overload.dual import zero_like

    return t + zero_like(y)


def inplace_tangent(t, new, y):
    """The tangent of ``y`` after ``a op= b`` updated ``a`` (of tangent ``t``) in place: ``t``
    itself, overwritten with ``new``, when it is an array of ``y``'s shape (aliases of the
    tangent then see it, as aliases of ``a`` see ``a``); else ``new`` spread to ``y``'s shape."""
    import numpy as np

    if new is None:
        return tz(y, None)
    if isinstance(y, np.ndarray) and isinstance(t, np.ndarray) and t.shape == y.shape \
            and t.flags.writeable and np.can_cast(np.result_type(new), t.dtype, "same_kind"):
        t[...] = new
        return t
    return bcast(new, y)


def _rebuild(like, items):
    if isinstance(like, list):
        return list(items)
    return type(like)(*items) if hasattr(like, "_fields") else tuple(items)


def unpack_tangent(t, n: int):
    """Tangents of ``a, b, ... = src`` given the tangent of ``src`` (``None``: none)."""
    if t is None:
        return (None,) * n
    return tuple(t)


def iter_tangent(xs, t):
    """Pairs (item, item tangent) for ``for item in xs`` given the tangent of ``xs``."""
    if t is None:
        return ((x, None) for x in xs)
    if isinstance(t, cotangents.Tangent) and cotangents._python_iterable(xs):
        # a user object iterated by its own __iter__: its items' tangents from the fields' tangents
        from wengert.frontend.stdlib import object_items_

        items, item_ts = jvp_call(object_items_, (xs,), (t,))
        return zip(items, [None] * len(items) if item_ts is None else item_ts)
    return zip(xs, t)


def attr_tangent(obj, t, name: str):
    """Tangent of ``obj.name`` given the tangent ``t`` of ``obj``."""
    if t is None:
        return None
    if isinstance(t, cotangents.Tangent):
        return t.__dict__.get(name)  # None: that field has no tangent
    if name in ("T", "mT", "real") and hasattr(obj, "shape"):
        return getattr(t, name)
    if name in ("real", "imag") and isinstance(t, (complex, float, int)):
        return getattr(t, name)  # issue 10: a complex number's parts (a float's imag: 0)
    if hasattr(t, "__dict__") and not hasattr(obj, "shape") and hasattr(t, name):
        return getattr(t, name)
    return None


def _bind_tangents(fn, args: tuple, tangents: tuple, kwargs: dict, kw_tangents=None):
    """Parameter values of ``fn`` and their tangents (defaults: ``None``)."""
    kw_tangents = kw_tangents or {}
    code = fn.__code__
    flags = code.co_flags
    if not kwargs and not flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) \
            and len(args) == code.co_argcount and not code.co_kwonlyargcount:
        return list(args), list(tangents)
    sig = inspect.signature(fn)
    ba = sig.bind(*args, **kwargs)
    ba.apply_defaults()
    values, tans = [], []
    pos = 0
    for p in sig.parameters.values():
        values.append(ba.arguments[p.name])
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.name not in kwargs and pos < len(args):
                tans.append(tangents[pos])
                pos += 1
            else:
                tans.append(kw_tangents.get(p.name))
        elif p.kind == p.VAR_POSITIONAL:
            extra = ba.arguments.get(p.name, ())
            tans.append(tuple(tangents[pos:pos + len(extra)]))
            pos += len(extra)
        elif p.kind == p.VAR_KEYWORD:
            extra = ba.arguments.get(p.name, {})
            tans.append({k: kw_tangents.get(k) for k in extra})
        else:
            tans.append(kw_tangents.get(p.name))
    return values, tans


def _normalise(kind, value, t):
    if kind == FLOAT:
        return 0.0 if t is None else t
    if isinstance(kind, tuple):
        return fill(value, t)
    if kind in (ANY, "array"):
        return tz(value, t)
    return t


def call_jvp(fn, args: tuple, tangents: tuple, kwargs=None, fn_dot=None, kw_tangents=None):
    """``(y, y_dot)`` for a Python function with source: its tangent code, transformed on first use."""
    values, tans = _bind_tangents(fn, args, tangents, kwargs or {}, kw_tangents)
    kinds = tuple(kind_of(v) for v in values)
    tans = [_normalise(k, v, t) for k, v, t in zip(kinds, values, tans)]
    from wengert.transforms.forward import _dual_variant, compiled_jvp

    c = compiled_jvp(fn, kinds)
    if (ANY in kinds or "array" in kinds) and _tracked(values, tans, fn_dot):
        c = _dual_variant(c)
    if fn.__code__.co_freevars:
        cells_dot = fn_dot if fn_dot is not None else (None,) * len(fn.__code__.co_freevars)
        return c.fn(*values, *tans, fn.__closure__, cells_dot)
    return c.fn(*values, *tans)


def _tracked(values, tans, fn_dot) -> bool:
    from wengert.overload.dual import has_tracked

    return has_tracked(values) or has_tracked(tans) or has_tracked(fn_dot)


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
    if fn is cotangents.attempt:  # a statement of a try body (`normalize`): its tangent, or none
        try:
            y, t = jvp_call(args[0], (), (), fn_dot=tangents[0])
        except UnsupportedError:
            raise
        except BaseException as e:  # noqa: BLE001 - the user's except clauses decide
            return (e, None), None
        return (None, y), (None, t)
    if fn is builtins.getattr and len(args) in (2, 3) and type(args[1]) is str:
        # a name known only at run time (a class pattern of `match`): the field's tangent
        obj, name = args[0], args[1]
        if len(args) == 3 and not hasattr(obj, name):
            return args[2], tangents[2]
        t = tangents[0]
        return getattr(obj, name), (None if t is None else getattr(t, name, None))
    try:
        rule = get_rule(fn)
    except TypeError:
        rule = None
    if fn is operator.getitem and len(args) == 2 and tangents[1] is not None:
        own = getattr(type(args[0]), "__getitem__", None)
        own_rule = get_rule(own) if isinstance(own, types.FunctionType) else None
        if own_rule is not None and own_rule.has_forward:  # np.r_[x, y]: computes with its index
            return rule_jvp(own, own_rule, args, tuple(tangents), kwargs)
    if rule is not None and (rule.has_forward or rule.has_reverse):
        return rule_jvp(fn, rule, args, tuple(tangents), kwargs)
    if fn_dot is None and all(t is None for t in tangents):
        return fn(*args, **kwargs), None
    if isinstance(fn, types.MethodType):
        return jvp_call(fn.__func__, (fn.__self__, *args), (None, *tangents), kwargs)
    if isinstance(fn, types.FunctionType):
        hook = fn.__dict__.get("_wengert_jvp")  # functions made by grad/derivative (higher.py)
        if hook is not None:
            return hook(args, tuple(tangents), kwargs, fn_dot)
        if _has_source(fn):
            return call_jvp(fn, args, tuple(tangents), kwargs, fn_dot)
        return _dual_jvp(fn, args, tangents, kwargs)
    if isinstance(fn, type):
        return _construct_jvp(fn, args, tuple(tangents), kwargs)
    call = inspect.getattr_static(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return jvp_call(call, (fn, *args), (None, *tangents), kwargs)
    return _dual_jvp(fn, args, tangents, kwargs)


def _construct_jvp(cls, args, tangents, kwargs):
    """``cls(*args)`` for a user class, dataclass or namedtuple; the tangent of an object is
    a `cotangents.Tangent` of its fields, of a namedtuple a namedtuple of tangents."""
    import dataclasses

    if issubclass(cls, tuple) and hasattr(cls, "_fields") and not kwargs:
        return cls(*args), cls(*[tz(a, t) for a, t in zip(args, tangents)])
    init = inspect.getattr_static(cls, "__init__", None)
    if dataclasses.is_dataclass(cls) and not _has_source(init):
        names = list(inspect.signature(cls).parameters)
        fields = {n: tz(a, t) for n, a, t in zip(names, args, tangents)}
        return cls(*args, **kwargs), cotangents.Tangent(cls, **fields)
    if isinstance(init, types.FunctionType) and _has_source(init) and \
            inspect.getattr_static(cls, "__new__", None) in (None, object.__new__):
        obj = cls.__new__(cls)
        t = cotangents.Tangent(cls)
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
    if isinstance(fn, types.FunctionType) and "_wengert_jvp" not in fn.__dict__ and _has_source(fn):
        return call_jvp(fn, args, tuple(tangents), kwargs, fn_dot, kw_tangents)
    keys = list(kwargs)

    def positional(*a):
        return fn(*a[:len(args)], **dict(zip(keys, a[len(args):])))

    return _dual_jvp(positional, (*args, *kwargs.values()),
                     (*tangents, *(kw_tangents.get(k) for k in keys)), {})


def _dual_jvp(fn, args, tangents, kwargs):
    """Forward mode through a callable with no source: `Dual` numbers, math routed."""
    from wengert.overload.dual import _CONTAINERS, Dual, lifted, new_level, primal_at, tangent_at

    level = new_level()

    def seed(x, t):
        if t is None:
            return x
        if isinstance(x, _CONTAINERS) and isinstance(t, _CONTAINERS):
            return _rebuild(x, [seed(a, b) for a, b in zip(x, t)]) if not isinstance(x, dict) else \
                {k: seed(v, t.get(k)) for k, v in x.items()}
        return Dual._make(x, t, level)

    f = lifted(fn) if isinstance(fn, types.FunctionType) else fn
    out = f(*[seed(a, t) for a, t in zip(args, tangents)], **kwargs)
    return primal_at(out, level), tangent_at(out, level, fill=False)


def rule_jvp(fn, rule, args: tuple, tangents: tuple, kwargs: dict):
    """Apply ``fn``'s forward rule: its ``frule``, or the sum of its ``jvps``."""
    from wengert.overload.dual import has_tracked, lifted, no_rule, zero_like

    if rule.nondiff or all(t is None for t in tangents):
        return fn(*args, **kwargs), None
    if not rule.has_forward:
        raise no_rule(fn, forward=True)
    nested = has_tracked(args) or has_tracked(tangents)
    if rule.frule is not None and (rule.jvps is None or kwargs):
        fr = lifted(rule.frule) if nested else rule.frule
        return fr(tangents, *args, **kwargs)
    y = fn(*args, **kwargs)
    t = None
    jvps = rule.jvps
    for i, ti in enumerate(tangents):
        if ti is None or i >= len(jvps) or jvps[i] is None:
            continue
        jv = lifted(jvps[i]) if nested else jvps[i]
        c = jv(ti, y, *args, **kwargs)
        if c is not None:
            t = cotangents.accum(t, c)
    if t is not None and rule.broadcast and cotangents.shape_of(t) != cotangents.shape_of(y):
        t = t + zero_like(y)
    return y, t


def method_jvp(obj, obj_dot, name: str, args: tuple, tangents: tuple, kwargs):
    """``(y, y_dot)`` for ``obj.name(*args)``."""
    static = inspect.getattr_static(type(obj), name, None)
    in_instance = name in getattr(obj, "__dict__", ())
    if not in_instance and static is not None and (isinstance(static, types.FunctionType)
                                                   or get_rule(static) is not None):
        return jvp_call(static, (obj, *args), (obj_dot, *tangents), kwargs)
    fn_dot = attr_tangent(obj, obj_dot, name) if in_instance else None
    return jvp_call(getattr(obj, name), args, tangents, kwargs, fn_dot)


RUNTIME_HELPERS = {
    "nz": nz, "fill": fill, "tz": tz, "zero_of": zero_of, "item_tangent": item_tangent,
    "setattr_tangent": setattr_tangent, "mutate_jvp": mutate_jvp,
    "inplace_tangent": inplace_tangent, "bcast": bcast, "unpack_tangent": unpack_tangent, "iter_tangent": iter_tangent,
    "attr_tangent": attr_tangent, "jvp_call": jvp_call, "method_jvp": method_jvp,
    "make_closure": cotangents.make_closure,
}
