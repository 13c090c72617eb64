"""The cotangent helpers rules are written with: accumulation, shapes, unbroadcast, the
cotangents of indexing and iteration, and `Tangent` (the gradient of an object's fields).

Cotangents follow one convention everywhere: ``None`` is "no gradient" (a symbolic zero);
a float's cotangent is a float, an array's an array of the same shape, a tuple's a tuple,
a list's a list, a dict's a dict. These helpers belong to the rules: they import no part
of the compiler, and the run-time support (`wengert.runtime`) imports them from here.
"""

from __future__ import annotations

import types

from wengert.errors import UnsupportedError
from wengert import registry

_SCALARS = (float, int, complex)


def accum(a, b):
    """``a + b`` for cotangents, where ``None`` is zero and structures add elementwise."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise ValueError(f"cannot add cotangents of lengths {len(a)} and {len(b)}")
        out = tuple(accum(x, y) for x, y in zip(a, b))
        return type(a)(*out) if hasattr(a, "_fields") else out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise ValueError(f"cannot add cotangents of lengths {len(a)} and {len(b)}")
        return [accum(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = accum(out.get(k), v)
        return out
    if type(a) is type(b) and hasattr(a, "__dataclass_fields__") and not hasattr(type(a), "__add__"):
        # gradients of a dataclass are instances of it: fields add
        out = object.__new__(type(a))
        for name in a.__dataclass_fields__:
            object.__setattr__(out, name, accum(getattr(a, name, None), getattr(b, name, None)))
        return out
    return a + b


def shape_of(x):
    """The array shape of ``x``, or ``()`` for Python scalars and other objects."""
    if isinstance(x, _SCALARS):
        return ()
    return getattr(x, "shape", ())


def unbroadcast(g, x):
    """Reduce cotangent ``g`` to the shape of the input ``x`` it belongs to.

    Broadcasting in the forward pass copies ``x`` along new leading axes and
    along its size-1 axes; the adjoint sums over exactly those axes. A list or
    tuple ``x`` (NumPy turns it into an array) gets a list or tuple back.
    """
    if g is None:
        return None
    gshape = getattr(g, "shape", None)
    if gshape is None:
        if type(g) is complex and isinstance(x, (float, int)):
            return g.real  # issue 10: a real input takes the real part (JAX's convention)
        return g
    if isinstance(x, (list, tuple)):
        import numpy as np

        return _unpack_like(_reduce_to(g, np.shape(x)), x)
    if isinstance(x, (float, int)):
        total = _sum(g, tuple(range(len(gshape)))) if tuple(gshape) != () else g
        if tuple(getattr(total, "shape", ())) != ():
            total = total.reshape(()) if hasattr(total, "reshape") else total
        try:
            return float(total)
        except TypeError:
            return total
    out = _reduce_to(g, shape_of(x))
    out_kind = getattr(getattr(out, "dtype", None), "kind", "")
    if out_kind == "c" and getattr(getattr(x, "dtype", None), "kind", "c") != "c":
        out = out.real  # a real array takes the real part (JAX's convention, as for numbers above)
    return out


def _unpack_like(g, obj):
    """The cotangent of sequence ``obj`` given the cotangent ``g`` of ``np.asarray(obj)``
    (as `wengert.rules.numpy_shape.unpack_like`): floats for floats, None for ints."""
    if isinstance(obj, (list, tuple)):
        out = [_unpack_like(g[i], o) for i, o in enumerate(obj)]
        return out if isinstance(obj, list) else tuple(out)
    if isinstance(obj, (float, complex)):
        return type(obj)(g.reshape(()) if getattr(g, "ndim", 0) else g)
    dtype = getattr(obj, "dtype", None)
    if isinstance(obj, (bool, int)) or dtype is None or getattr(dtype, "kind", "f") not in "fc":
        return None
    return g if tuple(shape_of(g)) == tuple(shape_of(obj)) else g.reshape(shape_of(obj))


def _reduce_to(g, xshape):
    gshape = tuple(g.shape)
    xshape = tuple(xshape)
    if gshape == xshape:
        return g
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = _sum(g, axes)
    if tuple(g.shape) == xshape:
        return g
    if hasattr(g, "reshape"):
        return g.reshape(xshape)
    import array_api_compat

    return array_api_compat.array_namespace(g).reshape(g, xshape)


def _sum(g, axes):
    try:
        import array_api_compat

        xp = array_api_compat.array_namespace(g)
        return xp.sum(g, axis=axes, keepdims=True)
    except (ImportError, TypeError):
        return g.sum(axis=axes, keepdims=True)


def getitem_grad(g, x, index):
    """Cotangent of ``x`` for ``y = x[index]`` given ``y``'s cotangent ``g``.

    Tuples and lists get a structure of ``None`` with ``g`` in the read slots,
    dicts a dict holding only the read key, arrays a zero array with ``g``
    scattered (and accumulated, for repeated advanced indices) into place.
    """
    if g is None:
        return None
    if isinstance(x, (tuple, list)):
        out = [None] * len(x)
        if isinstance(index, slice):
            for i, gi in zip(range(*index.indices(len(x))), g):
                out[i] = accum(out[i], gi)
        else:
            out[index] = g
        if isinstance(x, list):
            return out
        return type(x)(*out) if hasattr(x, "_fields") else tuple(out)
    if isinstance(x, dict):
        return {index: g}
    return _array_getitem_grad(g, x, index)


def _basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) and not isinstance(p, bool)
               for p in parts)


def _array_getitem_grad(g, x, index):
    import numpy as np

    if isinstance(x, np.ndarray) or np.isscalar(x):
        out = np.zeros(np.shape(x), dtype=np.result_type(x, g))
        if _basic_index(index):
            out[index] = g  # basic indexing reaches each element at most once
        else:
            np.add.at(out, index, g)  # repeated advanced indices add up
        return out
    import array_api_compat

    if array_api_compat.is_torch_array(x):
        import torch

        where = torch.arange(x.numel(), device=x.device).reshape(x.shape)[index]
        g = torch.as_tensor(g, dtype=x.dtype, device=x.device)
        flat = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        return flat.index_add(0, where.reshape(-1), torch.broadcast_to(g, where.shape).reshape(-1)).reshape(x.shape)
    xp = array_api_compat.array_namespace(x)
    out = xp.zeros(x.shape, dtype=x.dtype, device=array_api_compat.device(x))
    if hasattr(out, "at"):  # jax
        return out.at[index].add(g)
    if array_api_compat.is_cupy_array(x) and not _basic_index(index):
        import cupyx

        cupyx.scatter_add(out, index, g)  # repeated advanced indices add up
        return out
    if not _basic_index(index) and _may_repeat(index):
        raise UnsupportedError(
            f"indexing a {type(x).__name__} with an index array that may repeat: this library has no "
            "scatter-add wengert knows; use NumPy, CuPy, PyTorch or JAX arrays")
    out[index] = g
    return out


def _may_repeat(index) -> bool:
    """Could an advanced index reach one element twice? (Boolean masks cannot.)"""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        dtype = getattr(p, "dtype", None)
        if dtype is not None and "bool" in str(dtype):
            continue
        if isinstance(p, (list, tuple)) or dtype is not None:
            return True
    return False


class Tangent:
    """The cotangent (or tangent) of an object with attributes: its fields' gradients by name.

    It answers only its fields: a field of the primal's type (given as the first
    argument, when known) that got no gradient reads as None, and any other name
    raises AttributeError, so code that duck-types a gradient (``hasattr(t, "detach")``)
    sees no method the gradient does not have.

    >>> class P:
    ...     def __init__(self, w, b):
    ...         self.w, self.b = w, b
    >>> t = Tangent(P, w=1.0)
    >>> t.w, t.b, hasattr(t, "detach")
    (1.0, None, False)
    """

    __slots__ = ("__dict__", "_wengert_type")

    def __init__(self, _type=None, /, **fields):
        self._wengert_type = _type
        self.__dict__.update(fields)

    def __getattr__(self, name):
        # called only for names that are not fields with a gradient (or an unset slot)
        if name == "_wengert_type":
            raise AttributeError(name)
        cls = getattr(self, "_wengert_type", None)
        if not name.startswith("__") and name in field_names(cls):
            return None
        what = "an object" if cls is None else f"a {cls.__qualname__}"
        raise AttributeError(f"the gradient of {what} has no field {name!r}")

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Tangent({inner})"

    def __eq__(self, other):
        return isinstance(other, Tangent) and self.__dict__ == other.__dict__

    def __add__(self, other):
        if other is None:
            return self
        if not isinstance(other, Tangent):
            return NotImplemented
        out = dict(self.__dict__)
        for k, v in other.__dict__.items():
            out[k] = accum(out.get(k), v)
        return Tangent(self._wengert_type or other._wengert_type, **out)

    __radd__ = __add__


_FIELD_NAMES: dict = {}  # type -> names its instances may have as fields


def field_names(cls) -> frozenset:
    """Names an instance of ``cls`` may hold as fields: dataclass and namedtuple fields,
    slots, annotations, and attributes its methods assign on an object (``self.w = ...``)."""
    if cls is None:
        return frozenset()
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(_field_names(cls))
    return names


def _field_names(cls) -> set:
    import dataclasses
    import dis

    out = set(getattr(cls, "_fields", ()) or ())
    if dataclasses.is_dataclass(cls):
        out.update(f.name for f in dataclasses.fields(cls))
    for klass in cls.__mro__[:-1]:
        slots = klass.__dict__.get("__slots__", ())
        out.update((slots,) if isinstance(slots, str) else slots)
        out.update(klass.__dict__.get("__annotations__", {}))
        for member in klass.__dict__.values():
            fn = getattr(member, "__func__", member)
            if isinstance(fn, types.FunctionType):
                out.update(i.argval for i in dis.get_instructions(fn) if i.opname == "STORE_ATTR")
    out.discard("__dict__")
    out.discard("__weakref__")
    return out


def iter_grad(iterable, bars: list):
    """Cotangent of an iterable given the cotangents of its items, in order."""
    if all(b is None for b in bars):
        return None
    n = len(iterable) if isinstance(iterable, (tuple, list)) or hasattr(iterable, "shape") else len(bars)
    if len(bars) < n:  # the loop left early (break, return): the items it did not reach get none
        bars = list(bars) + [None] * (n - len(bars))
    if isinstance(iterable, tuple):
        return type(iterable)(*bars) if hasattr(iterable, "_fields") else tuple(bars)
    if isinstance(iterable, list):
        return list(bars)
    if hasattr(iterable, "shape"):
        import numpy as np

        if isinstance(iterable, np.ndarray):
            return np.stack([np.zeros(iterable.shape[1:], iterable.dtype) if b is None else np.asarray(b)
                             for b in bars]) if bars else np.zeros_like(iterable)
        import array_api_compat

        xp = array_api_compat.array_namespace(iterable)
        return xp.stack([xp.zeros_like(iterable[0]) if b is None else b for b in bars])
    if isinstance(iterable, dict):
        return {k: b for k, b in zip(iterable, bars) if b is not None}
    if _python_iterable(iterable):
        return object_items_grad(iterable, bars)
    return list(bars)


def _python_iterable(x) -> bool:
    """An object of a class written in Python that is iterated by its own ``__iter__`` (or
    ``__getitem__``): its cotangent is a structure of its fields, not the list of its items."""
    t = type(x)
    if not t.__flags__ & (1 << 9) or isinstance(x, (Tangent, tuple, list, dict, type)) or hasattr(x, "shape"):
        return False
    return any(isinstance(getattr(t, name, None), types.FunctionType) for name in ("__iter__", "__getitem__"))


def object_items_grad(obj, bars: list):
    """The cotangent of ``obj``, a user object iterated plainly (``for v in obj``, ``list(obj)``,
    unpacking) whose items got cotangents ``bars``. The forward pass ran ``obj.__iter__`` as
    Python does, with nothing recorded; here the iteration is replayed as differentiated code
    (`wengert.frontend.stdlib.object_items_`, reached through `registry.object_items`), on the
    object as it was then (the adjoint has undone the
    logged mutations since), and its pullback sends ``bars`` to the object's fields."""
    cls = type(obj).__qualname__
    if isinstance(getattr(type(obj), "__next__", None), types.FunctionType):
        raise UnsupportedError(
            f"iterating over a {cls}, an iterator (its __next__ changes it as it goes), when its items carry "
            "a derivative: wengert sends gradients back by replaying the iteration, which an iterator "
            f"cannot do; give {cls} an __iter__ that yields its items (a generator method, or one that "
            "returns a new iterator each time) and iterate over the object, or iterate over a list")
    items, back = registry.pullback_of(registry.object_items, (obj,), {})
    if len(items) < len(bars):
        raise UnsupportedError(
            f"iterating over a {cls} gave {len(bars)} items, and {len(items)} when replayed to send their "
            f"gradients back: its __iter__ depends on state wengert cannot see (make it yield the same "
            "items each time, or iterate over a list)")
    _, args_bar, _ = back(list(bars) + [None] * (len(items) - len(bars)))
    return args_bar[0]
