"""Mutation: the state one differentiation shares between its passes (`Pass`).

Mutable objects (lists, dicts, user objects, arrays updated in place) may be
reached through several names, stored in each other and changed after they are
read. Their cotangents live in identity-keyed buffers here; every mutation is
logged, undone by the adjoint as it passes it and redone at the end (see `Pass`).
Generated code receives the `Pass` as ``_pass``.
"""

from __future__ import annotations

from wengert.rules.support import Tangent, _python_iterable, accum, getitem_grad, object_items_grad, unbroadcast
from wengert.rules.table import get_rule
from wengert import registry
from wengert.runtime.cotangents import attr_grad, method_pullback
from wengert.runtime.undo import (MISSING, UnsupportedMutation, array_copy, copy_container, copy_value, final_of,
                                  permutation, place_of, put_final, restore, snapshot)


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
    was at that point of the forward pass; `finish` puts back what the forward
    pass left. It does not replay the log: writes that were not logged (calls
    that ran plainly, float fields written directly) may have come after a
    logged one. The first undo of a place (an object's attribute, a container, an
    array) records what is there, which is what the forward pass left, since the
    backward pass undoes in reverse order (``finals``).
    """

    __slots__ = ("bufs", "cursor", "finals", "log", "mutated")

    def __init__(self):
        self.bufs: dict[int, list] = {}
        self.mutated: set[int] = set()
        self.log: list = []
        self.cursor = 0
        self.finals: dict = {}

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
            if not isinstance(c, (list, tuple)):
                c = _as_items(c, len(b))  # a rule that read the list as an array (np.mean([x, y]))
            if not isinstance(c, (list, tuple)) or len(c) != len(b):
                raise ValueError(f"cotangent {type(c).__name__} does not fit a list of length {len(b)}")
            for i, ci in enumerate(c):
                if type(ci) is float:  # the common case: a float item (no buffer of its own)
                    old = b[i]
                    b[i] = ci if old is None else old + ci
                elif ci is not None:
                    self._slot(obj, b, i, obj[i], ci)
        elif isinstance(b, dict):
            if isinstance(c, (list, tuple)) and not isinstance(obj, dict) and _python_iterable(obj):
                # the cotangents of the items of a user object iterated by its own __iter__
                # (a rule's: max(obj), sorted(obj), ...): sent back to its fields
                c = object_items_grad(obj, list(c))
            for k, v in _fields(c).items():
                if isinstance(obj, dict):
                    child = obj.get(k)
                else:
                    child = getattr(obj, k, None)
                self._slot(obj, b, k, child, v)
        else:  # an array updated in place: a buffer of our own, written into later
            entry[1] = array_copy(c) if b is None else b + c
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
            entry = self.bufs.get(id(obj)) or self.buf(obj)
            b = entry[1]
            if type(g) is float:
                if type(b) is dict:  # the common case: a float parameter
                    old = b.get(key)
                    b[key] = g if old is None else old + g
                    return bar
                if type(b) is list and type(key) is int:  # an item of a list of floats
                    old = b[key]
                    b[key] = g if old is None else (old + g if type(old) is float else accum(old, g))
                    return bar
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
                id(obj) not in self.bufs and t is not list and t is not dict and not _is_record(obj)
                and not isinstance(obj, tuple)):
            return bar  # no buffer and nothing inside that could have one
        got = self._assemble(obj, set())
        return bar if got is None else accum(bar, got)

    def handle(self, obj) -> dict:
        """The field-cotangent dict of record ``obj``, for generated code to update in place
        (`adjoint` holds one per object for the span of its adjoint; a record's buffer
        stays in place when taken, emptied, so a handle never goes stale)."""
        entry = self.bufs.get(id(obj))
        if entry is None:
            entry = self.buf(obj)
        return entry[1]

    def _assemble(self, obj, seen):
        if id(obj) in seen:
            return None
        entry = self.bufs.get(id(obj))
        if entry is not None and isinstance(entry[1], dict) and not isinstance(obj, dict) and _is_record(obj):
            b = entry[1]
            seen.add(id(obj))
            fields = dict(b)
            b.clear()
            for k, x in _attrs(obj).items():
                if self.buffered(x):
                    sub = self._assemble(x, seen)
                    if sub is not None:
                        fields[k] = accum(fields.get(k), sub)
            return structure_like(obj, fields) if any(v is not None for v in fields.values()) else None
        if entry is not None and not isinstance(obj, dict):
            del self.bufs[id(obj)]
        if isinstance(obj, tuple) and entry is None:
            # a tuple has no buffer of its own, but what it holds may (a list of parameters)
            parts = [self._assemble(x, seen) if self.buffered(x) or isinstance(x, tuple) else None for x in obj]
            if all(p is None for p in parts):
                return None
            return type(obj)(*parts) if hasattr(obj, "_fields") else tuple(parts)
        if isinstance(obj, list):
            seen.add(id(obj))
            b = entry[1] if entry is not None else [None] * len(obj)
            out = [accum(bi, self._assemble(x, seen) if self.buffered(x) else None) for bi, x in zip(b, obj)]
            return out if entry is not None or any(o is not None for o in out) else None
        if isinstance(obj, dict):  # its buffer is emptied in place (a handle may hold it)
            seen.add(id(obj))
            b = entry[1] if entry is not None else {}
            out = dict(b)
            b.clear()
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
        return registry.pullback_of(getter, (obj,), {}, self)

    def back_getattr(self, obj, bar, name: str, back, g):
        if back is None:
            return self.add_attr(obj, bar, name, g)
        _, a, _ = back(g)
        return self.add(obj, bar, a[0])

    # -- mutations, forward --

    def setitem(self, obj, key, value):
        if _is_record(obj) and _python_method(obj, "__setitem__"):
            # a user class's own __setitem__: differentiated like any method (its writes, into
            # the object's fields, are logged there), so the value's cotangent comes back from
            # where later reads put theirs (issue 10: writing natively lost it)
            self.method(obj, "__setitem__", (key, value), None)
            return
        old = snapshot(obj, key)
        obj[key] = value
        self.mutated.add(id(obj))
        self.log.append(("setitem", obj, key, old, copy_value(value)))

    def setattr(self, obj, name, value):
        old = getattr(obj, name, MISSING)
        setattr(obj, name, value)
        self.log.append(("setattr", obj, name, old, value))

    def method(self, obj, name, args, kwargs):
        """A mutating method call (``append``, ``pop``, ``update``, ...), logged. A method
        of that name on anything but a builtin container is an ordinary method call,
        differentiated (its pullback is logged, to be run by `back_method`)."""
        if not isinstance(obj, _BUILTIN_CONTAINERS) and not (hasattr(obj, "shape") and hasattr(obj, "dtype")):
            y, back = method_pullback(self, obj, name, args, kwargs)
            self.log.append(("call", obj, name, back, None))
            return y
        before = copy_container(obj)
        y = getattr(obj, name)(*args, **(kwargs or {}))
        self.mutated.add(id(obj))
        self.log.append(("method", obj, name, before, copy_container(obj)))
        return y

    def inplace(self, op, a, b):
        """``a op= b``: logged when it changed a mutable ``a`` in place."""
        if isinstance(a, (float, int, complex, str, tuple, bytes)):
            return op(a, b)
        before = copy_container(a)
        r = op(a, b)
        if r is a:
            self.mutated.add(id(a))
            self.log.append(("inplace", a, op, before, copy_container(a)))
        return r

    # -- mutations, backward --

    def _undo(self, kind, obj):
        self.cursor -= 1
        entry = self.log[self.cursor]
        if entry[0] != kind or entry[1] is not obj:
            raise RuntimeError("wengert: mutation log out of order (internal error)")
        place = place_of(entry)
        if place not in self.finals:
            self.finals[place] = (entry, final_of(entry))
        restore(entry)
        return entry

    def back_setitem(self, obj, key, value):
        """Undo ``obj[key] = value``; return the cotangent of ``value``."""
        entry = self.log[self.cursor - 1]
        if entry[0] == "call" and entry[1] is obj:  # through a user class's __setitem__ (`setitem`)
            return self.back_method(obj, "__setitem__", (key, value), None, None)[1]
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
        g = array_copy(g) if hasattr(g, "shape") else g
        b[key] = 0
        return unbroadcast(g, value)

    def pop_attr(self, obj, name):
        """The cotangent of a float field written without a log entry (see
        `primal.Primal.float_field_write`), taken from its slot."""
        entry = self.bufs.get(id(obj))
        return None if entry is None else entry[1].pop(name, None)

    def back_setattr(self, obj, name, value):
        self._undo("setattr", obj)
        entry = self.bufs.get(id(obj))
        return None if entry is None else entry[1].pop(name, None)

    def back_method(self, obj, name, args, kwargs, g):
        """Undo a mutating method call; return the cotangents of its arguments."""
        entry = self.log[self.cursor - 1]
        if entry[0] == "call" and entry[1] is obj:  # a method of an object of a user class
            self.cursor -= 1
            obj_bar, args_bar, _ = entry[3](g)
            self.add(obj, None, obj_bar)
            return tuple(args_bar)
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
                perm = permutation(obj, after)
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
        """Put back what the forward pass left in every place the backward pass undid."""
        # in the order of the forward pass (the backward pass met the places last to first): an
        # item written through a user class's __setitem__ needs the attributes it writes into,
        # which the backward pass may have removed (undoing the __init__ that set them)
        for entry, final in reversed(list(self.finals.values())):
            put_final(entry, final)
        self.finals.clear()
        self.cursor = len(self.log)
        self.bufs.clear()

    def start_backward(self) -> None:
        self.cursor = len(self.log)
        self.bufs.clear()


_BUILTIN_CONTAINERS = (list, dict, set, bytearray)


def _as_items(c, n: int):
    """The cotangent of a list that a rule read as an array: an array with one row per item,
    or a scalar broadcast over the items (as the rule's unbroadcast left it)."""
    shape = getattr(c, "shape", None)
    if shape is not None and len(shape) >= 1 and shape[0] == n:
        return [float(v) if getattr(v, "shape", None) == () else v for v in c]
    if isinstance(c, (int, float)) or shape == ():
        return [float(c)] * n
    return c


def _plain_ops():
    import operator

    return {
        operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
        operator.itruediv: operator.truediv, operator.ifloordiv: operator.floordiv,
        operator.imod: operator.mod, operator.ipow: operator.pow, operator.imatmul: operator.matmul,
    }


_PLAIN = _plain_ops()


_GETTERS: dict = {}


def _python_method(obj, name: str) -> bool:
    import inspect
    import types

    return isinstance(inspect.getattr_static(type(obj), name, None), types.FunctionType)


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
    return Tangent(type(obj), **fields)
