"""What generated code calls at run time: accumulation, zeros, unbroadcast.

Cotangents follow one convention everywhere: ``None`` is "no gradient" (a
symbolic zero); a float's cotangent is a float, an array's an array of the
same shape, a tuple's a tuple, a list's a list, a dict's a dict.
"""

from __future__ import annotations

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
        return g
    if isinstance(x, (list, tuple)):
        import numpy as np

        from wengert.rules.numpy_shape import unpack_like

        return unpack_like(_reduce_to(g, np.shape(x)), x)
    if isinstance(x, (float, int)):
        total = _sum(g, tuple(range(len(gshape)))) if tuple(gshape) != () else g
        if tuple(getattr(total, "shape", ())) != ():
            total = total.reshape(()) if hasattr(total, "reshape") else total
        try:
            return float(total)
        except TypeError:
            return total
    return _reduce_to(g, shape_of(x))


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
        from wengert.errors import UnsupportedError

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


# ---- what generated code calls ----


def nz(c):
    """A float cotangent: ``None`` becomes ``0.0``."""
    return 0.0 if c is None else c


_pullback_of = None


def _dispatch():
    global _pullback_of
    if _pullback_of is None:
        from wengert.transform import pullback_of

        _pullback_of = pullback_of
    return _pullback_of


def call_pullback(_pass, fn, args: tuple, kwargs):
    """``(y, back)`` for any callable; ``back(g) -> (fn_bar, args_bar, kwargs_bar)``.

    Dispatch order (DESIGN.md): a registered rule, the compiled adjoint of a
    Python function (transformed on first use), the tape for callables
    without source, a clear error.
    """
    return (_pullback_of or _dispatch())(fn, args, kwargs or {}, _pass)


def method_pullback(_pass, obj, name: str, args: tuple, kwargs):
    """``(y, back)`` for ``obj.name(*args)``; ``back(g) -> (obj_bar, args_bar, kwargs_bar)``."""
    import inspect
    import types

    from wengert.rules.table import get_rule
    from wengert.transform import pullback_of

    in_instance = name in getattr(obj, "__dict__", ())
    static = inspect.getattr_static(type(obj), name, None)
    if not in_instance and (isinstance(static, types.FunctionType) or
                            (static is not None and get_rule(static) is not None)):
        # a method of the class: differentiate it with the object as first argument
        y, back = pullback_of(static, (obj, *args), kwargs or {}, _pass)

        def method_back(g):
            _, a, k = back(g)
            return a[0], a[1:], k

        return y, method_back
    y, back = pullback_of(getattr(obj, name), args, kwargs or {}, _pass)

    def bound_back(g):
        f, a, k = back(g)
        return (attr_to_obj(f, obj, name) if in_instance else f), a, k

    return y, bound_back


def attr_to_obj(f_bar, obj, name):
    """Cotangent of ``obj`` given the cotangent of its attribute ``name``."""
    if f_bar is None:
        return None
    return Tangent(**{name: f_bar})


def attr_grad(g, obj, name: str):
    """Cotangent of ``obj`` for ``y = obj.name``."""
    if g is None:
        return None
    if name == "T" and hasattr(obj, "shape"):
        return g.T
    if name in ("real",) and hasattr(obj, "shape"):
        return g
    fields = getattr(type(obj), "_fields", None)
    if isinstance(obj, tuple) and fields and name in fields:  # namedtuple: its own type
        return type(obj)(**{f: (g if f == name else None) for f in fields})
    return Tangent(**{name: g})


class Tangent:
    """The cotangent of an object with attributes: its differentiable fields by name.

    >>> t = Tangent(w=1.0)
    >>> t.w
    1.0
    """

    __slots__ = ("__dict__",)

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name):
        return None

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
        return Tangent(**out)

    __radd__ = __add__


def iter_grad(iterable, bars: list):
    """Cotangent of an iterable given the cotangents of its items, in order."""
    if all(b is None for b in bars):
        return None
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
    return list(bars)


def unpack_grad(src, bars: tuple):
    """Cotangent of ``src`` for ``a, b, ... = src``."""
    if all(b is None for b in bars):
        return None
    if isinstance(src, list):
        return list(bars)
    if isinstance(src, tuple):
        return type(src)(*bars) if hasattr(src, "_fields") else bars
    return iter_grad(src, list(bars))


def rev_items(list_bar, n: int):
    """A function returning the cotangents of a list's items from the last to the first."""
    if list_bar is None:
        return lambda: None
    return reversed(list_bar).__next__


def make_closure(code, globals_, defaults, kwdefaults, captured: tuple):
    """Build a nested function from its code object, capturing ``captured`` by value."""
    import types

    from wengert.frontend import SELF

    cells = tuple(types.CellType(v) for v in captured)
    fn = types.FunctionType(code, globals_, code.co_name, defaults, cells)
    if kwdefaults:
        fn.__kwdefaults__ = dict(kwdefaults)
    for c in cells:
        if c.cell_contents is SELF:
            c.cell_contents = fn
    return fn


# ---- mutation: one backward pass's shared state ----

_RECORD: dict = {}  # type -> is it a record type


def _is_record(x) -> bool:
    """A user object whose attributes carry cotangents (not a function, class, module or array)."""
    t = type(x)
    known = _RECORD.get(t)
    if known is None:
        known = _RECORD[t] = _record_type(t, x)
    return known


def _record_type(t, x) -> bool:
    import types

    # classes written in Python are heap types; built-in and C extension types are not
    heap = bool(t.__flags__ & (1 << 9))
    if not heap or hasattr(x, "shape") or issubclass(t, (Tangent, tuple, type)):
        return False
    if isinstance(x, (types.FunctionType, types.ModuleType, types.BuiltinFunctionType, types.MethodType)):
        return False
    return hasattr(x, "__dict__") or hasattr(t, "__slots__")


class Pass:
    """State shared by the forward and backward pass of one differentiation.

    Mutable objects (lists, dicts, user objects, and arrays that are updated
    in place) may be reached through several names, stored in each other and
    changed after they are read. Their cotangents therefore live here, keyed
    by identity (``bufs``): reading ``xs[i]`` adds to slot ``i`` of ``xs``'s
    buffer, writing ``xs[i] = v`` hands that slot's cotangent to ``v`` and
    clears it, so reads before the write get their own gradient.

    Every mutation is logged in order (``log``). The backward pass undoes
    each one as it passes it, so rules that read a mutated object see it as it
    was at that point of the forward pass; `finish` redoes them all at the
    end, leaving objects as the forward pass left them.
    """

    __slots__ = ("bufs", "cursor", "log", "mutated")

    def __init__(self):
        self.bufs: dict[int, list] = {}
        self.mutated: set[int] = set()
        self.log: list = []
        self.cursor = 0

    # -- cotangent buffers --

    def buffered(self, obj) -> bool:
        t = type(obj)
        if t is float or t is int or t is bool:
            return False
        return t is list or t is dict or id(obj) in self.mutated or _is_record(obj)

    def buf(self, obj):
        entry = self.bufs.get(id(obj))
        if entry is None:
            if isinstance(obj, list):
                b = [None] * len(obj)
            elif isinstance(obj, dict):
                b = {}
            elif hasattr(obj, "shape") and hasattr(obj, "dtype"):
                b = None  # arrays: allocated on first contribution
            else:
                b = {}
            entry = self.bufs[id(obj)] = [obj, b]
        return entry

    def add(self, obj, bar, c):
        """Add cotangent ``c`` to ``obj``'s; returns the SSA cotangent to keep.

        Objects that are buffered (by identity) keep their cotangent here; the
        cotangent of an item that is itself buffered goes to that item's buffer,
        so an object stored in a container and read back through it still has
        one cotangent.
        """
        if c is None:
            return bar
        if not self.buffered(obj):
            return accum(bar, c)
        entry = self.buf(obj)
        b = entry[1]
        if isinstance(b, list):
            if not isinstance(c, (list, tuple)) or len(c) != len(b):
                raise ValueError(f"cotangent {type(c).__name__} does not fit a list of length {len(b)}")
            for i, ci in enumerate(c):
                self._slot(obj, b, i, obj[i], ci)
        elif isinstance(b, dict):
            for k, v in _fields(c).items():
                if isinstance(obj, dict):
                    child = obj.get(k)
                else:
                    child = getattr(obj, k, None)
                self._slot(obj, b, k, child, v)
        else:  # an array updated in place: a buffer of our own, written into later
            entry[1] = _array_copy(c) if b is None else b + c
        return bar

    def _slot(self, obj, b, key, child, c):
        if c is None:
            return
        if child is not obj and self.buffered(child) and not isinstance(c, (float, int)):
            self.add(child, None, c)
        else:
            b[key] = accum(b[key] if isinstance(b, list) else b.get(key), c)

    def add_item(self, obj, bar, key, g):
        """``obj[key]`` was read and its value got cotangent ``g``."""
        if g is None:
            return bar
        t = type(obj)
        if t is list or t is dict or id(obj) in self.mutated:
            entry = self.buf(obj)
            b = entry[1]
            if isinstance(b, list):
                if isinstance(key, slice):
                    for i, gi in zip(range(*key.indices(len(b))), g):
                        self._slot(obj, b, i, obj[i], gi)
                else:
                    self._slot(obj, b, key, obj[key], g)
            elif isinstance(b, dict):
                self._slot(obj, b, key, obj[key], g)
            else:
                scattered = getitem_grad(g, obj, key)
                entry[1] = scattered if b is None else b + scattered
            return bar
        return accum(bar, getitem_grad(g, obj, key))

    def add_attr(self, obj, bar, name, g):
        """``obj.name`` was read and its value got cotangent ``g``."""
        if g is None:
            return bar
        entry = self.bufs.get(id(obj))
        if entry is None:
            if not self.buffered(obj):
                return accum(bar, attr_grad(g, obj, name))
            entry = self.buf(obj)
        b = entry[1]
        if type(g) is float:  # the common case: a float field
            old = b.get(name)
            b[name] = g if old is None else old + g
        else:
            self._slot(obj, b, name, getattr(obj, name, None), g)
        return bar

    def take(self, obj, bar):
        """The whole cotangent of ``obj``: ``bar`` plus its buffer (emptied), with the
        buffers of the objects it holds put in place."""
        if not self.bufs:
            return bar
        t = type(obj)
        if t is float or t is int or t is bool or (
                id(obj) not in self.bufs and t is not list and t is not dict and not _is_record(obj)):
            return bar  # no buffer and nothing inside that could have one
        got = self._assemble(obj, set())
        return bar if got is None else accum(bar, got)

    def _assemble(self, obj, seen):
        if id(obj) in seen:
            return None
        entry = self.bufs.pop(id(obj), None)
        if isinstance(obj, list):
            seen.add(id(obj))
            b = entry[1] if entry is not None else [None] * len(obj)
            out = [accum(bi, self._assemble(x, seen) if self.buffered(x) else None) for bi, x in zip(b, obj)]
            return out if entry is not None or any(o is not None for o in out) else None
        if isinstance(obj, dict):
            seen.add(id(obj))
            b = entry[1] if entry is not None else {}
            out = dict(b)
            for k, x in obj.items():
                if self.buffered(x):
                    sub = self._assemble(x, seen)
                    if sub is not None:
                        out[k] = accum(out.get(k), sub)
            return out if entry is not None or out else None
        if entry is None:
            if _is_record(obj):
                seen.add(id(obj))
                fields = {}
                for k, x in _attrs(obj).items():
                    if self.buffered(x):
                        sub = self._assemble(x, seen)
                        if sub is not None:
                            fields[k] = sub
                return structure_like(obj, fields) if fields else None
            return None
        b = entry[1]
        if isinstance(b, dict):
            seen.add(id(obj))
            fields = dict(b)
            for k, x in _attrs(obj).items():
                if self.buffered(x):
                    sub = self._assemble(x, seen)
                    if sub is not None:
                        fields[k] = accum(fields.get(k), sub)
            return structure_like(obj, fields)
        return b

    # -- attributes that may be properties --

    def getattr(self, obj, name: str):
        """``obj.name``, with the pullback of its getter when it is a Python property."""
        getter = _property_getter(type(obj), name)
        if getter is None:
            return getattr(obj, name), None
        from wengert.transform import pullback_of

        return pullback_of(getter, (obj,), {}, self)

    def back_getattr(self, obj, bar, name: str, back, g):
        if back is None:
            return self.add_attr(obj, bar, name, g)
        _, a, _ = back(g)
        return self.add(obj, bar, a[0])

    # -- mutations, forward --

    def setitem(self, obj, key, value):
        old = _snapshot(obj, key)
        obj[key] = value
        self.mutated.add(id(obj))
        self.log.append(("setitem", obj, key, old, _copy_value(value)))

    def setattr(self, obj, name, value):
        old = getattr(obj, name, _MISSING)
        setattr(obj, name, value)
        self.log.append(("setattr", obj, name, old, value))

    def method(self, obj, name, args, kwargs):
        """A mutating method call (``append``, ``pop``, ``update``, ...), logged."""
        before = _copy_container(obj)
        y = getattr(obj, name)(*args, **(kwargs or {}))
        self.mutated.add(id(obj))
        self.log.append(("method", obj, name, before, _copy_container(obj)))
        return y

    def inplace(self, op, a, b):
        """``a op= b``: logged when it changed a mutable ``a`` in place."""
        if isinstance(a, (float, int, complex, str, tuple, bytes)):
            return op(a, b)
        before = _copy_container(a)
        r = op(a, b)
        if r is a:
            self.mutated.add(id(a))
            self.log.append(("inplace", a, op, before, _copy_container(a)))
        return r

    # -- mutations, backward --

    def _undo(self, kind, obj):
        self.cursor -= 1
        entry = self.log[self.cursor]
        if entry[0] != kind or entry[1] is not obj:
            raise RuntimeError("wengert: mutation log out of order (internal error)")
        _restore(entry)
        return entry

    def back_setitem(self, obj, key, value):
        """Undo ``obj[key] = value``; return the cotangent of ``value``."""
        self._undo("setitem", obj)
        entry = self.bufs.get(id(obj))
        if entry is None:
            return None
        b = entry[1]
        if isinstance(b, list):
            if isinstance(key, slice):
                idx = range(*key.indices(len(b)))
                g = [b[i] for i in idx]
                for i in idx:
                    b[i] = None
                return g
            g, b[key] = b[key], None
            return g
        if isinstance(b, dict):
            return b.pop(key, None)
        if b is None:
            return None
        g = b[key]
        g = _array_copy(g) if hasattr(g, "shape") else g
        b[key] = 0
        return unbroadcast(g, value)

    def back_setattr(self, obj, name, value):
        self._undo("setattr", obj)
        entry = self.bufs.get(id(obj))
        return None if entry is None else entry[1].pop(name, None)

    def back_method(self, obj, name, args, kwargs, g):
        """Undo a mutating method call; return the cotangents of its arguments."""
        b = self.buf(obj)[1]  # mirrors the object as the call left it
        after = self._undo("method", obj)[4]
        nargs = len(args)
        out = [None] * nargs
        if isinstance(obj, list):
            if name == "append":
                out[0] = b.pop()
            elif name == "extend":
                n = len(after) - len(obj)
                out[0] = b[len(b) - n:]
                del b[len(b) - n:]
            elif name == "insert":
                out[1] = b.pop(args[0] if args[0] >= 0 else len(b) + args[0] + 0)
            elif name == "pop":
                i = args[0] if args else len(obj) - 1
                b.insert(i if i >= 0 else len(obj) + i, g)
            elif name == "remove":
                i = next(j for j, v in enumerate(obj) if v is args[0] or v == args[0])
                b.insert(i, None)
            elif name in ("sort", "reverse"):
                perm = _permutation(obj, after)
                new_b = [None] * len(b)
                for new_i, old_i in enumerate(perm):
                    new_b[old_i] = b[new_i]
                b[:] = new_b
            elif name == "clear":
                b.extend([None] * len(obj))
            else:
                raise UnsupportedMutation(f"list.{name}")
        elif isinstance(obj, dict):
            if name == "update":
                src = args[0] if args else kwargs
                got = {k: b.pop(k, None) for k in (src.keys() if hasattr(src, "keys") else dict(src))}
                if args:
                    out[0] = got if isinstance(src, dict) else None
            elif name == "pop":
                if args[0] in obj:
                    b[args[0]] = accum(b.get(args[0]), g)
                elif nargs > 1:
                    out[1] = g
            elif name == "setdefault":
                k = args[0]
                if k not in obj:  # it was inserted: the default is the value read
                    v = b.pop(k, None)
                    out[1] = accum(v, g) if nargs > 1 else None
                else:
                    b[k] = accum(b.get(k), g)
            elif name == "clear":
                pass
            elif name == "popitem":
                k = next(iter(set(obj) - set(after)))
                b[k] = accum(b.get(k), None if g is None else g[1])
            else:
                raise UnsupportedMutation(f"dict.{name}")
        else:
            raise UnsupportedMutation(f"{type(obj).__name__}.{name}")
        return tuple(out)

    def back_op(self, op, a, b, y, g):
        """Adjoint of ``y = a op= b`` (undoing it when it changed ``a`` in place):
        the cotangents of ``a``'s old value and of ``b``."""
        from wengert.rules.table import get_rule

        plain = _PLAIN[op]
        if y is a and not isinstance(a, (float, int, complex, str, tuple, bytes)):
            z = self._undo("inplace", a)[4]
            g = self.take(a, g)
        else:
            z = y
        if g is None:
            return None, None
        rule = get_rule(plain)
        out = []
        for i, x in enumerate((a, b)):
            vjp = rule.vjps[i] if rule.vjps is not None and i < len(rule.vjps) else None
            if vjp is None:
                out.append(None)
                continue
            c = vjp(g, z, a, b)
            out.append(unbroadcast(c, x) if rule.broadcast else c)
        return tuple(out)

    def finish(self) -> None:
        """Redo every mutation undone by the backward pass."""
        for entry in self.log[self.cursor:]:
            _redo(entry)
        self.cursor = len(self.log)
        self.bufs.clear()

    def start_backward(self) -> None:
        self.cursor = len(self.log)
        self.bufs.clear()


class UnsupportedMutation(Exception):
    pass


def _plain_ops():
    import operator

    return {
        operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
        operator.itruediv: operator.truediv, operator.ifloordiv: operator.floordiv,
        operator.imod: operator.mod, operator.ipow: operator.pow, operator.imatmul: operator.matmul,
    }


_PLAIN = _plain_ops()


_MISSING = object()


_GETTERS: dict = {}


def _property_getter(cls, name: str):
    key = (cls, name)
    if key in _GETTERS:
        return _GETTERS[key]
    import inspect
    import types

    desc = inspect.getattr_static(cls, name, None)
    getter = desc.fget if isinstance(desc, property) and isinstance(desc.fget, types.FunctionType) else None
    _GETTERS[key] = getter
    return getter


def _attrs(obj) -> dict:
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {k: getattr(obj, k) for k in getattr(type(obj), "__slots__", ()) if hasattr(obj, k)}


def _fields(c) -> dict:
    if c is None:
        return {}
    if isinstance(c, dict):
        return c
    if isinstance(c, Tangent):
        return c.__dict__
    import dataclasses

    if dataclasses.is_dataclass(c):
        return {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    if hasattr(c, "__dict__"):
        return dict(vars(c))
    raise TypeError(f"cannot use {type(c).__name__} as the cotangent of an object")


def structure_like(obj, fields: dict):
    """The cotangent of object ``obj`` with the given field cotangents: an instance of
    the same dataclass for dataclasses, a `Tangent` otherwise."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = object.__new__(type(obj))
        for f in dataclasses.fields(obj):
            object.__setattr__(out, f.name, fields.get(f.name))
        return out
    return Tangent(**fields)


def _array_copy(a):
    """A copy of an array of any library (NumPy and CuPy ``copy``, torch ``clone``)."""
    if hasattr(a, "clone") and not hasattr(a, "copy"):
        return a.clone()
    if hasattr(a, "copy"):
        return a.copy()
    import array_api_compat

    return array_api_compat.array_namespace(a).asarray(a, copy=True)


def _copy_value(v):
    return _array_copy(v) if hasattr(v, "shape") and hasattr(v, "dtype") else v


def _snapshot(obj, key):
    if isinstance(obj, dict):
        return obj.get(key, _MISSING)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        if getattr(obj, "base", None) is not None or (hasattr(obj, "_base") and obj._base is not None):
            from wengert.errors import UnsupportedError

            raise UnsupportedError(
                "in-place update of an array that is a view of another array; wengert cannot see "
                "the other names of that memory (copy it first: a = a.copy())")
        old = obj[key]
        return _array_copy(old) if hasattr(old, "shape") else old
    return obj[key]


def _copy_container(obj):
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _array_copy(obj)
    if hasattr(obj, "copy"):
        return obj.copy()
    import copy

    return copy.copy(obj)


def _restore(entry) -> None:
    kind, obj, key, old, new = entry
    if kind == "setitem":
        if old is _MISSING:
            del obj[key]
        else:
            obj[key] = old
    elif kind == "setattr":
        if old is _MISSING:
            delattr(obj, key)
        else:
            setattr(obj, key, old)
    else:
        _set_contents(obj, old)


def _redo(entry) -> None:
    kind, obj, key, old, new = entry
    if kind == "setitem":
        obj[key] = new
    elif kind == "setattr":
        setattr(obj, key, new)
    else:
        _set_contents(obj, new)


def _set_contents(obj, contents) -> None:
    if isinstance(obj, list):
        obj[:] = contents
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(contents)
    elif hasattr(obj, "shape"):
        obj[...] = contents
    else:
        obj.__dict__.clear()
        obj.__dict__.update(contents.__dict__)


def _permutation(before: list, after: list) -> list:
    """For each position of ``after``, the position in ``before`` it came from."""
    used = [False] * len(before)
    perm = []
    for v in after:
        for i, u in enumerate(before):
            if not used[i] and u is v:
                used[i] = True
                perm.append(i)
                break
        else:
            raise UnsupportedMutation("reordering with copies")
    return perm
