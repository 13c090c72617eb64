"""What generated tangent (jvp) code calls at run time.

The invariant the generated code keeps (see `transforms.forward`): the tangent of an
active number or array is never ``None``; `tz` restores it where a value
comes out of a structure, a call or an attribute. Calls the generator could not
inline go to the dispatcher, ``jvp_call`` (`wengert.dispatch.jvps`: the dispatch
ladder both modes share), which generated code finds among its helpers and these
helpers through `registry`.
"""

from __future__ import annotations

import contextvars
import inspect
import types

from wengert.errors import UnsupportedError
from wengert.rules.support import Tangent, _python_iterable, shape_of
from wengert.rules.table import get_rule
from wengert import registry
from wengert.runtime import cotangents


# The tangents of the mutable objects (lists, dicts, user objects) met during one outermost
# call of tangent code, by identity: ``id(obj) -> (obj, tangent)``. A list, dict or object
# reached by a path whose tangent is None (an argument given no tangent, an item of such an
# argument, a field never written, a closure cell) gets its tangent here, so that every path
# to one object finds one tangent: a write through one name (``q = ps[-1]; q.v = ...``, an
# alias ``[row, row]``, a callee's argument, a captured list) is seen through every other, as
# reverse mode's identity-keyed buffers (`runtime.mutation.Pass`) see it. Set up by
# `dispatch.jvps.call_jvp` for the outermost call; the objects are held, so ids stay unique.
HEAP: contextvars.ContextVar = contextvars.ContextVar("wengert_tangent_heap", default=None)


def held(y, t=None):
    """The tangent this call holds for mutable object ``y`` (made by `fresh` and held when
    none is, or ``t`` when given and none is held yet); outside a call, a fresh one."""
    heap = HEAP.get()
    if heap is None:
        return fresh(y) if t is None else t
    e = heap.get(id(y))
    if e is not None and e[0] is y:
        return e[1]
    if t is not None:
        heap[id(y)] = (y, t)
        return t
    if type(y) is list:  # held before its items are made: a list that holds itself ends
        t = []
        heap[id(y)] = (y, t)
        t.extend(tz(v, None) for v in y)
        return t
    if type(y) is dict:
        t = {}
        heap[id(y)] = (y, t)
        t.update((k, tz(v, None)) for k, v in y.items())
        return t
    t = fresh(y)
    heap[id(y)] = (y, t)
    return t


def fresh(y):
    """A zero tangent for mutable object ``y``, held by nothing."""
    if type(y) is list:
        return [tz(v, None) for v in y]
    if type(y) is dict:
        return {k: tz(v, None) for k, v in y.items()}
    return Tangent(type(y))


def hold(y, t):
    """Record ``t`` as the tangent of mutable ``y`` when this call holds none for it yet
    (an argument's tangent given by the caller)."""
    heap = HEAP.get()
    if heap is not None and t is not None and (type(y) in (list, dict) or _is_object(y)):
        e = heap.get(id(y))
        if e is None or e[0] is not y:
            heap[id(y)] = (y, t)


def _is_object(y) -> bool:
    return hasattr(y, "__dict__") and not callable(y) and not isinstance(y, types.ModuleType) \
        and not isinstance(y, Tangent)


def nz(t):
    """A float tangent: ``None`` becomes ``0.0``."""
    return 0.0 if t is None else t


def fill(y, t):
    """``t`` with ``None`` replaced by zeros wherever ``y`` holds a number (recursively)."""
    if t is None:
        if type(y) in (float, int, bool):
            return 0.0
        if type(y) in (list, dict) or _is_object(y):
            return held(y)
        if isinstance(y, tuple):
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
    if t is not None or y is None:
        return t
    if type(y) is float or type(y) is int:
        return 0.0
    if type(y) is list or type(y) is dict:  # containers get containers (mutation writes into them)
        return held(y)
    if type(y) is tuple:
        return _rebuild(y, [tz(v, None) for v in y])
    from wengert.registry import numeric, zero_like  # the overload package's (Duals too)

    if numeric(y) and not isinstance(y, (str, bool)):
        return zero_like(y)
    if _is_object(y):
        return held(y)  # a user object: its fields' tangents, by name
    return None


def item_tangent(y, t, index):
    """Tangent of ``y = x[index]`` given ``x``'s tangent ``t`` (None: none; dicts may omit keys)."""
    if t is None:
        return tz(y, None)
    return tz(y, t.get(index) if isinstance(t, dict) else t[index])


def setattr_tangent(t, name: str, v):
    """Tangent of an object after ``obj.name = value`` (``v``: the value's tangent)."""
    if t is None:
        t = Tangent()
    if isinstance(t, Tangent):
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


def _immutable(v) -> bool:
    """Can no derivative be written into ``v`` (a number, a string, a tuple of such, ...)?"""
    import numpy as np

    if v is None or isinstance(v, (int, float, complex, str, bytes, range, np.generic, type, types.ModuleType)):
        return True
    if type(v) in (tuple, frozenset) or (isinstance(v, tuple) and hasattr(v, "_fields")):
        return all(_immutable(e) for e in v)
    return False


def global_tangent(v, writes: bool):
    """The tangent of a module-level value read by generated code: none comes in, so a zero of
    ``v``'s shape (`tz`), sound where no derivative can have been written into ``v`` during
    this call: ``v`` cannot hold one, or the reading function (``writes``: it may write into
    objects it did not create, or call code that may) writes nowhere."""
    import io

    if callable(v) or isinstance(v, (types.ModuleType, io.IOBase)):
        return None  # code, modules and streams hold no derivative
    if writes and not _immutable(v):
        raise UnsupportedError(f"forward mode through a module-level {type(v).__name__} read by a function that "
                               "may write derivatives into it is not supported; pass it as an argument")
    return tz(v, None)


def bcast(t, y):
    """Tangent ``t`` of one argument of an elementwise rule spread to the output's shape."""
    if type(y) is float:
        return t
    if shape_of(t) == shape_of(y):
        # a fresh array, as the output is: mutating one must not change the other's tangent
        return t.copy() if hasattr(t, "copy") and hasattr(t, "shape") and t is not y else t
    from wengert.registry import zero_like  # the overload package's (a Dual's zero too)

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
    if isinstance(t, Tangent) and _python_iterable(xs):
        # a user object iterated by its own __iter__: its items' tangents from the fields' tangents
        items, item_ts = registry.jvp_call(registry.object_items, (xs,), (t,))
        return zip(items, [None] * len(items) if item_ts is None else item_ts)
    return zip(xs, t)


def attr_tangent(obj, t, name: str):
    """Tangent of ``obj.name`` given the tangent ``t`` of ``obj``."""
    if t is None:
        return None
    if name == "__next__":
        # an iterator's: its tangent must be an iterator in step with it, never a zero
        if hasattr(t, "__next__"):
            return t.__next__
        raise UnsupportedError(f"forward mode through {type(obj).__name__}.__next__ of an iterator whose "
                               "tangent is not an iterator; loop over it with for instead")
    if isinstance(t, Tangent):
        return t.__dict__.get(name)  # None: that field has no tangent
    if name in ("T", "mT", "real") and hasattr(obj, "shape"):
        return getattr(t, name)
    if name in ("real", "imag") and isinstance(t, (complex, float, int)):
        return getattr(t, name)  # issue 10: a complex number's parts (a float's imag: 0)
    if hasattr(t, "__dict__") and not hasattr(obj, "shape") and hasattr(t, name):
        return getattr(t, name)
    return None


def method_jvp(obj, obj_dot, name: str, args: tuple, tangents: tuple, kwargs):
    """``(y, y_dot)`` for ``obj.name(*args)``."""
    static = inspect.getattr_static(type(obj), name, None)
    in_instance = name in getattr(obj, "__dict__", ())
    if not in_instance and static is not None and (isinstance(static, types.FunctionType)
                                                   or get_rule(static) is not None):
        return registry.jvp_call(static, (obj, *args), (obj_dot, *tangents), kwargs)
    fn_dot = attr_tangent(obj, obj_dot, name) if in_instance else None
    return registry.jvp_call(getattr(obj, name), args, tangents, kwargs, fn_dot)


RUNTIME_HELPERS = {
    "nz": nz, "fill": fill, "tz": tz, "zero_of": zero_of, "item_tangent": item_tangent,
    "setattr_tangent": setattr_tangent, "mutate_jvp": mutate_jvp,
    "inplace_tangent": inplace_tangent, "bcast": bcast, "unpack_tangent": unpack_tangent, "iter_tangent": iter_tangent,
    "attr_tangent": attr_tangent, "jvp_call": registry.jvp_call, "method_jvp": method_jvp,
    "make_closure": cotangents.make_closure,
}
