"""Kinds: what the analysis knows about a value, as a small lattice of types.

A kind says enough about a value to specialise the code that differentiates it:

==================  ==========================================  ==========================
kind                values                                      zero cotangent
==================  ==========================================  ==========================
``float``           a Python float                              ``0.0``
``int``, ``bool``   Python integers and booleans                ``None`` (no derivative)
``none``            None, strings, modules, classes, RNGs       ``None`` (no derivative)
``array``           a float array of NumPy or an array API      zeros of its shape
                    library (or a NumPy scalar)
``list[k]``         a list (or any iterable) of ``k``           a list of ``k`` zeros
``tuple[k1, ...]``  a tuple of that length                      a tuple of zeros
``dict[k]``         a dict with string keys and ``k`` values    a dict of zeros, same keys
``obj C{f: k}``     an object of class C whose instance fields  its fields' zeros, by name
                    are numbers (or lists of them)
``any``             anything else, or unknown                   ``None`` (a symbolic zero)
==================  ==========================================  ==========================

``const k`` marks an argument that is not differentiated (a key of the cache, never the
kind of a value inside a function).

The lattice is ordered ``bool < int < float < array`` for numbers, compound kinds join
elementwise (a tuple's items, an object's fields when both have the same fields), and
``any`` is the top. ``None`` (the Python value) is the bottom: not typed yet.

Kinds keep the equality and hashing of the strings and tuples they replaced
(``FLOAT == "float"``, ``list_of(FLOAT) == ("seq", "float")``), so they can key caches as
before; code reads them through their named attributes and predicates only.
"""

from __future__ import annotations

import types

FLOAT_TAG, INT_TAG, BOOL_TAG, NONE_TAG, ANY_TAG, ARRAY_TAG = "float", "int", "bool", "none", "any", "array"
_ARRAY_MODULES = ("numpy", "torch", "jax", "jaxlib", "cupy", "array_api_strict")
_MAX_LEN = 1024  # longer lists are not looked through at every call: kind `any`
_NUMBER_TAGS = frozenset({FLOAT_TAG, INT_TAG, BOOL_TAG})


class Kind:
    """What every kind answers. Subclasses also derive from ``str`` (scalar kinds) or
    ``tuple`` (compound kinds) for equality and hashing only."""

    __slots__ = ()

    @property
    def tag(self) -> str:
        raise NotImplementedError

    # -- predicates --
    @property
    def is_float(self) -> bool:
        return self.tag == FLOAT_TAG

    @property
    def is_number(self) -> bool:
        """A Python number: float, int or bool."""
        return self.tag in _NUMBER_TAGS

    @property
    def is_scalar(self) -> bool:
        """A Python number or a value with no derivative (``none``): nothing mutable."""
        return self.tag in _NUMBER_TAGS or self.tag == NONE_TAG

    @property
    def is_mutable(self) -> bool:
        """May a value of this kind be changed in place (not a number, ``none`` or a tuple)?"""
        return not (self.is_scalar or self.is_tuple or self.is_const)

    @property
    def is_array(self) -> bool:
        return self.tag == ARRAY_TAG

    @property
    def is_any(self) -> bool:
        return self.tag == ANY_TAG

    @property
    def is_none(self) -> bool:
        return self.tag == NONE_TAG

    # compound kinds set these; a record (list, dict, object) records its elements' kinds
    is_list = is_tuple = is_dict = is_obj = is_const = is_record = False

    @property
    def differentiable(self) -> bool:
        """May a value of this kind carry a derivative?"""
        return self.tag in (FLOAT_TAG, ANY_TAG, ARRAY_TAG)

    @property
    def is_container(self) -> bool:
        """Are values of this kind references to mutable state (arrays included)?"""
        return self.tag in (ANY_TAG, ARRAY_TAG)

    # -- structure --
    def element(self, index=None) -> Kind:
        """The kind of what iterating (or unpacking) a value of this kind gives; ``index``,
        an int, picks one item of a tuple."""
        return ANY

    def field(self, name: str) -> Kind | None:
        """The kind of field ``name`` of an object of this kind (None: not recorded)."""
        return None

    def parts(self) -> tuple:
        """The kinds directly inside this one (elements, items, fields)."""
        return ()

    def join(self, other) -> Kind:
        """The least kind above both (``any`` when they share no structure)."""
        return join(self, other)

    def zero(self, value=None):
        """The zero cotangent (tangent) of ``value``, a value of this kind: with its
        structure (a list of zeros for a list, ...), or None where there is no derivative
        or nothing certain to build it from (a symbolic zero)."""
        return None

    def reachable(self) -> set:
        """Container kinds reachable from a value of this kind (itself included)."""
        return reachable_kinds(self)


class Scalar(Kind, str):
    """A kind with no parts: ``float``, ``int``, ``bool``, ``none``, ``array``, ``any``."""

    __slots__ = ()

    @property
    def tag(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return str.__str__(self)

    def __reduce__(self):
        return (as_kind, (str.__str__(self),))  # the one FLOAT, ...

    def join(self, other) -> Kind:  # (str.join is no use on a kind)
        return join(self, other)

    def zero(self, value=None):
        if self.tag == FLOAT_TAG:
            return 0.0
        if self.tag == ARRAY_TAG and value is not None:
            return _zeros_like(value)
        return None


FLOAT, INT, BOOL, NONE, ANY, ARRAY = (Scalar(t) for t in (FLOAT_TAG, INT_TAG, BOOL_TAG, NONE_TAG, ANY_TAG,
                                                           ARRAY_TAG))
_SCALARS = {str.__str__(k): k for k in (FLOAT, INT, BOOL, NONE, ANY, ARRAY)}
NUMBERS = (FLOAT, INT, BOOL)  # Python numbers: ``t in NUMBERS`` (t may be None)
SCALARS = (FLOAT, INT, BOOL, NONE)  # nothing mutable, nothing to look into


class Compound(Kind, tuple):
    """A kind with parts; as a tuple it is ``(tag, ...)``, as it was before kinds were types."""

    __slots__ = ()

    @property
    def tag(self) -> str:
        return tuple.__getitem__(self, 0)

    def __reduce__(self):
        return (as_kind, (tuple(self),))


class ListKind(Compound):
    """``list[k]``: a list or another iterable of ``k`` (``list[?]``: no element seen yet)."""

    __slots__ = ()

    def __new__(cls, elem):
        return tuple.__new__(cls, ("seq", elem))

    @property
    def elem(self) -> Kind | None:
        return tuple.__getitem__(self, 1)

    is_list = is_record = True

    @property
    def differentiable(self) -> bool:
        return differentiable(self.elem)

    @property
    def is_container(self) -> bool:
        return True

    def element(self, index=None) -> Kind:
        return self.elem

    def parts(self) -> tuple:
        return (self.elem,)

    def zero(self, value=None):
        if value is None or self.elem is None:
            return None
        return [self.elem.zero(v) for v in value]

    def __repr__(self) -> str:
        return f"list[{'?' if self.elem is None else repr(self.elem)}]"


class TupleKind(Compound):
    """``tuple[k1, k2, ...]``: a tuple whose length and items' kinds are known."""

    __slots__ = ()

    def __new__(cls, items):
        return tuple.__new__(cls, ("tuple", tuple(items)))

    @property
    def items(self) -> tuple:
        return tuple.__getitem__(self, 1)

    is_tuple = True

    @property
    def differentiable(self) -> bool:
        return any(differentiable(e) for e in self.items)

    @property
    def is_container(self) -> bool:
        return any(is_container(e) for e in self.items)

    def element(self, index=None) -> Kind:
        items = self.items
        if isinstance(index, int) and -len(items) <= index < len(items):
            return items[index]
        out = None
        for t in items:
            out = join(out, t)
        return out or ANY

    def parts(self) -> tuple:
        return self.items

    def zero(self, value=None):
        if value is None:
            return None
        return tuple(k.zero(v) if k is not None else None for k, v in zip(self.items, value))

    def __repr__(self) -> str:
        return f"tuple[{', '.join(repr(k) for k in self.items)}]"


class DictKind(Compound):
    """``dict[k]``: a dict with string keys and values of kind ``k``. Iterating it gives
    its keys (``element`` is ``none``); an item read gives ``value``."""

    __slots__ = ()

    def __new__(cls, value):
        return tuple.__new__(cls, ("dict", value))

    @property
    def value(self) -> Kind:
        return tuple.__getitem__(self, 1)

    is_dict = is_record = True

    @property
    def differentiable(self) -> bool:
        return differentiable(self.value)

    @property
    def is_container(self) -> bool:
        return True

    def element(self, index=None) -> Kind:
        return NONE  # iterating a dict gives its keys (str)

    def parts(self) -> tuple:
        return (self.value,)

    def zero(self, value=None):
        if value is None:
            return None
        return {k: self.value.zero(v) for k, v in value.items()}

    def __repr__(self) -> str:
        return f"dict[{self.value!r}]"


class ObjKind(Compound):
    """``obj C{f: k, ...}``: an object of Python class C with these instance fields (in
    name order, so that two objects of C with the same fields have one kind)."""

    __slots__ = ()

    def __new__(cls, klass, fields):
        return tuple.__new__(cls, ("obj", klass, tuple(sorted(fields))))  # (names are unique)

    @property
    def cls(self) -> type:
        return tuple.__getitem__(self, 1)

    @property
    def fields(self) -> tuple:
        """``((name, kind), ...)``"""
        return tuple.__getitem__(self, 2)

    is_obj = is_record = True

    @property
    def differentiable(self) -> bool:
        return any(differentiable(k) for _, k in self.fields)

    @property
    def is_container(self) -> bool:
        return True

    def field(self, name: str) -> Kind | None:
        for n, k in self.fields:
            if n == name:
                return k
        return None

    def with_field(self, name: str, kind) -> ObjKind:
        """This kind after field ``name`` was given a value of ``kind``."""
        fields = dict(self.fields)
        fields[name] = join(fields[name], kind) if name in fields else as_kind(kind)
        return ObjKind(self.cls, fields.items())

    def parts(self) -> tuple:
        return tuple(k for _, k in self.fields)

    def zero(self, value=None):
        """Its fields' zeros by name (the runtime's ``Tangent(cls, **zero)`` holds them)."""
        if value is None:
            return None
        return {n: k.zero(getattr(value, n)) for n, k in self.fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {k!r}" for n, k in self.fields)
        return f"obj {getattr(self.cls, '__qualname__', self.cls)}{{{inner}}}"


class ConstKind(Compound):
    """``const k``: an argument of kind ``k`` that is not differentiated (a cache key)."""

    __slots__ = ()

    def __new__(cls, kind):
        return tuple.__new__(cls, ("const", kind))

    @property
    def kind(self) -> Kind:
        return tuple.__getitem__(self, 1)

    is_const = True

    @property
    def differentiable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"const {self.kind!r}"


def list_of(elem) -> ListKind:
    return ListKind(as_kind(elem))


def tuple_of(items) -> TupleKind:
    return TupleKind(as_kind(k) for k in items)


def dict_of(value) -> DictKind:
    return DictKind(as_kind(value))


def obj_of(cls, fields) -> ObjKind:
    return ObjKind(cls, ((n, as_kind(k)) for n, k in fields))


def const(kind) -> ConstKind:
    return ConstKind(as_kind(kind))


_MAKERS = {"seq": lambda t: ListKind(as_kind(t[1])),
           "tuple": lambda t: TupleKind(as_kind(k) for k in t[1]),
           "dict": lambda t: DictKind(as_kind(t[1])),
           "obj": lambda t: ObjKind(t[1], ((n, as_kind(k)) for n, k in t[2])),
           "const": lambda t: ConstKind(as_kind(t[1]))}


def as_kind(k) -> Kind | None:
    """``k`` as a kind object: kinds stay as they are, the strings and tuples kinds were
    written as before (``"float"``, ``("seq", "float")``, ``("const", "int")``) are
    converted; None (not typed yet) stays None."""
    if k is None or isinstance(k, Kind):
        return k
    if isinstance(k, str):
        return _SCALARS[k]
    if isinstance(k, tuple) and k and k[0] in _MAKERS:
        return _MAKERS[k[0]](k)
    raise TypeError(f"not a kind: {k!r}")


# ---- functions of kinds that may be None (not typed yet) ----

def differentiable(t) -> bool:
    return t is not None and as_kind(t).differentiable


def is_container(t) -> bool:
    return t is not None and as_kind(t).is_container


def mutable(t) -> bool:
    """May a value of kind ``t`` be changed in place (None, not typed: it may)?"""
    return t is None or as_kind(t).is_mutable


def element(t, index=None) -> Kind:
    return ANY if t is None else as_kind(t).element(index)


def field_kind(t, name: str) -> Kind | None:
    return None if t is None else as_kind(t).field(name)


def with_field(t, name: str, k) -> ObjKind:
    return as_kind(t).with_field(name, k)


def join(a, b) -> Kind | None:
    """The least upper bound of kinds ``a`` and ``b`` (None, not typed yet, is the bottom)."""
    if a is None:
        return as_kind(b)
    if b is None or a == b:
        return as_kind(a)
    a, b = as_kind(a), as_kind(b)
    if a.is_number and b.is_number:
        return FLOAT if FLOAT in (a, b) else INT
    if (a.is_array and b.is_number) or (b.is_array and a.is_number):
        return ARRAY
    if type(a) is type(b):
        if isinstance(a, ListKind):
            return ListKind(join(a.elem, b.elem))
        if isinstance(a, DictKind):
            return DictKind(join(a.value, b.value))
        if isinstance(a, TupleKind) and len(a.items) == len(b.items):
            return TupleKind(join(x, y) for x, y in zip(a.items, b.items))
        if isinstance(a, ObjKind) and a.cls is b.cls:
            fa, fb = dict(a.fields), dict(b.fields)
            if fa.keys() == fb.keys():
                return ObjKind(a.cls, ((n, join(fa[n], fb[n])) for n in fa))
    return a.join_same(b) if type(a) is type(b) and hasattr(a, "join_same") else ANY  # (ir.adjoint_kinds)


def join_all(ts) -> Kind:
    out = None
    for t in ts:
        out = join(out, t)
    return out or ANY


def reachable_kinds(t, out=None) -> set:
    """Container kinds reachable from a value of kind ``t`` (itself included; ``any`` when an
    unknown object is reached). A tuple is not a container of its own: its items are."""
    out = set() if out is None else out
    if not is_container(t) or t in out:
        return out
    t = as_kind(t)
    if not t.is_tuple:
        out.add(t)  # `any` included: an unknown object may be any container
    for e in t.parts():
        reachable_kinds(e, out)
    return out


def nested_ok(k) -> bool:
    """Kinds a list element or an object field may have and stay specialised."""
    if k is None:
        return False
    if k == FLOAT:
        return True
    if k.is_tuple:
        return all(e in (FLOAT, INT) for e in k.items)
    return k.is_list or k.is_obj


# ---- the kinds of run-time values ----

_NUMBER_KINDS = {float: FLOAT, int: INT, bool: BOOL}
_LIST_OF_FLOAT, _DICT_OF_FLOAT = ListKind(FLOAT), DictKind(FLOAT)
_FLOAT_TUPLES: dict = {}  # length -> tuple[float, ...] (kinds are immutable: shared)


def _random_states():
    import random

    import numpy as np

    return frozenset({random.Random, np.random.RandomState, np.random.Generator})


_RANDOM_STATES = _random_states()  # their methods make numbers with no derivative


def kind_of(x) -> Kind:
    """The kind of a run-time value (for the specialisation key)."""
    t = type(x)
    if t is float:
        return FLOAT
    if t is bool:
        return BOOL
    if t is int:
        return INT
    if x is None:
        return NONE
    if t is str or isinstance(x, (types.ModuleType, type)) or t in _RANDOM_STATES:
        return NONE
    if t in (list, tuple) and 0 < len(x) <= _MAX_LEN and all(type(e) is float for e in x):
        if t is list:
            return _LIST_OF_FLOAT
        k = _FLOAT_TUPLES.get(len(x))
        if k is None:
            k = _FLOAT_TUPLES[len(x)] = TupleKind((FLOAT,) * len(x))
        return k
    if t is list and 0 < len(x) <= _MAX_LEN:
        first = _element_kind(x[0])
        if nested_ok(first) and all(_element_kind(e) == first for e in x[1:]):
            return ListKind(first)  # a list of lists or tuples of floats, or of objects of one class
    if t is dict and 0 < len(x) <= 64 and all(type(v) is float for v in x.values()) \
            and all(type(k) is str for k in x):
        return _DICT_OF_FLOAT  # a dict of float parameters: reading one gives a float
    rec = _record_kind(x)
    if rec is not None:
        return rec
    if hasattr(x, "shape") and hasattr(x, "dtype") and t.__module__.split(".")[0] in _ARRAY_MODULES:
        kind = getattr(x.dtype, "kind", None)
        if kind is None:  # torch, jax dtypes
            kind = "f" if getattr(x.dtype, "is_floating_point", None) or "float" in str(x.dtype) else "i"
        return ARRAY if kind in "fc" else NONE
    return ANY


def _element_kind(e):
    te = type(e)
    if te is list or (te is tuple and len(e) <= 16):
        return kind_of(e)
    return _record_kind(e)


def _record_kind(x) -> ObjKind | None:
    """The kind of an object of a Python class whose instance fields are all Python
    numbers (or lists of them, of such objects), or None. Reading such a field is then
    known to give a number (the fields' kinds are part of the specialisation)."""
    t = type(x)
    d = getattr(x, "__dict__", None)
    if d is None or not (t.__flags__ & (1 << 9)) or hasattr(x, "shape") or not 0 < len(d) <= 16:
        return None
    fields = []
    for name, v in d.items():
        k = _NUMBER_KINDS.get(type(v))
        if k is None and type(v) is list:
            k = kind_of(v)  # lists of floats, of lists of floats, of such objects
            if not nested_ok(k):
                return None
        if k is None or isinstance(getattr(t, name, None), (property, types.MemberDescriptorType)):
            return None
        fields.append((name, k))
    return ObjKind(t, fields)


def _zeros_like(value):
    ns = getattr(value, "__array_namespace__", None)
    if ns is not None:
        return ns().zeros_like(value)
    if type(value).__module__.split(".")[0] == "torch":
        import torch

        return torch.zeros_like(value)
    import numpy as np

    return np.zeros_like(value)
