"""Tracked values: what Dual numbers and the tape's Vars share.

`dual_call` is the one entry point for calls on tracked values (the tape calls the same
function `tape_call`): with no tracked argument it is just ``fn(*args, **kwargs)``;
otherwise the argument at the highest perturbation level decides the mode (a `Dual` applies
the forward rule, a tape `Var` records). `Tracked` is the operator-overloading core both
share: arithmetic, NumPy ufuncs and array functions go through `dual_call`; comparisons act
on the plain values; conversions that would drop a derivative (``float``, ``bool``,
``np.asarray``) raise. Levels (`new_level`) keep nested derivatives apart (see
`wengert.overload.dual`). Also here: the structure helpers the overload package uses
(`has_tracked`, `base`, `rebuild`, `zero_like`, ...) and `routed`, a primitive bound to
`dual_call`.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from wengert.errors import UnsupportedError
from wengert.rules.support import shape_of
from wengert.rules.table import get_rule, nondiff

__all__ = ["Tracked", "base", "dual_call", "has_tracked", "new_level", "no_rule", "one_like", "qualified_name",
           "rebuild", "routed", "zero_like"]

# ---- perturbation levels ----

# Level 0 is the tag of a Dual built by hand; derivatives and tapes take fresh ones.
_levels = itertools.count(1)


def new_level() -> int:
    """A perturbation level above every level handed out so far (Duals' tags and tapes)."""
    return next(_levels)


_CONTAINERS = (tuple, list, dict)
_PLAIN = frozenset({float, int, bool, complex, str, type(None), np.ndarray, np.float64})


def dual_call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call primitive ``fn``, differentiating it if some argument is a `Dual` or a tape `Var`.

    The argument at the highest level (found inside tuples, lists and dicts too)
    decides: a Dual applies ``fn``'s forward rule, a Var records ``fn`` on its
    tape. Without tracked arguments this is ``fn(*args, **kwargs)``.

    >>> import math
    >>> dual_call(math.sin, 0.0)
    0.0
    >>> dual_call(math.sin, Dual(0.0, 2.0)).tangent
    2.0
    """
    for a in args:
        if type(a) not in _PLAIN:
            break
    else:
        if not kwargs:
            return fn(*args)  # the common case, kept fast: nothing here can be tracked
    top = None
    for a in args:
        if isinstance(a, _SCAN):
            top = _higher(top, a)
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, _SCAN):
                top = _higher(top, a)
    if top is None:
        return fn(*args, **kwargs)
    if type(fn) is functools.partial and fn.func is dual_call and not fn.keywords:
        return dual_call(*fn.args, *args, **kwargs)  # a routed primitive handed back to us
    return top._wengert_call(fn, args, kwargs)


def _higher(top, a):
    """The tracked value at the highest level among ``top`` and those inside ``a``."""
    if isinstance(a, Tracked):
        return a if top is None or a._level > top._level else top
    if isinstance(a, (tuple, list)):
        for x in a:
            if isinstance(x, _SCAN):
                top = _higher(top, x)
    elif isinstance(a, dict):
        for x in a.values():
            if isinstance(x, _SCAN):
                top = _higher(top, x)
    return top


def has_tracked(x) -> bool:
    """Whether a Dual or Var occurs in ``x`` (inside tuples, lists and dicts too)."""
    if isinstance(x, Tracked):
        return True
    if isinstance(x, (tuple, list)):
        return any(has_tracked(v) for v in x)
    if isinstance(x, dict):
        return any(has_tracked(v) for v in x.values())
    return False


def base(x):
    """``x`` with every level stripped: the plain value under all Duals and Vars."""
    while isinstance(x, Tracked):
        x = x._strip()
    if isinstance(x, (tuple, list, dict)) and has_tracked(x):
        return rebuild(x, [base(v) for v in _items(x)])
    return x


def _items(x):
    return list(x.values()) if isinstance(x, dict) else list(x)


def rebuild(like, values):
    """A container of ``like``'s kind (list, tuple, namedtuple, dict) holding ``values``."""
    if isinstance(like, dict):
        return dict(zip(like.keys(), values))
    if isinstance(like, list):
        return list(values)
    return type(like)(*values) if hasattr(like, "_fields") else tuple(values)


def zero_like(x):
    """A plain zero of ``x``'s shape (and inexact dtype)."""
    x = base(x)
    if isinstance(x, (bool, int, float)):
        return 0.0
    if isinstance(x, complex):
        return 0j
    if isinstance(x, (np.ndarray, np.generic)):
        dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else np.dtype(np.float64)
        return np.zeros(x.shape, dtype) if isinstance(x, np.ndarray) else dtype.type(0)
    if not is_array(x):
        raise TypeError(f"no derivative of a {type(x).__name__}: it is not a number or an array")
    import array_api_compat

    return array_api_compat.array_namespace(x).zeros_like(x)


def numeric(x) -> bool:
    """Whether ``x`` (under its levels) is a number or an array, something with a tangent."""
    x = base(x)
    return isinstance(x, (int, float, complex, np.ndarray, np.generic)) or is_array(x)


def is_array(x) -> bool:
    """Whether plain ``x`` is an array of NumPy or another array-API library (a torch tensor
    has no ``__array_namespace__``, so ask array_api_compat, which imports no library)."""
    if isinstance(x, np.ndarray) or hasattr(x, "__array_namespace__"):
        return True
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        return False
    import array_api_compat

    return array_api_compat.is_array_api_obj(x)


def one_like(x):
    """A plain one of ``x``'s shape (and inexact dtype): the seed of a derivative."""
    z = zero_like(x)
    return z + 1


def no_rule(fn: Any, forward: bool) -> UnsupportedError:
    """The error for a primitive the rule table cannot differentiate in this mode."""
    name = qualified_name(fn)
    rule = get_rule(fn)
    if forward:
        other = " (it has a reverse rule only)" if rule is not None and rule.has_reverse else ""
        return UnsupportedError(
            f"no forward rule for {name}{other}; register one with "
            f"wengert.defjvp({name}, lambda t, y, x: ...)"
        )
    other = " (it has a forward rule only)" if rule is not None and rule.has_forward else ""
    return UnsupportedError(
        f"no reverse rule for {name}{other}; register one with "
        f"wengert.defvjp({name}, lambda g, y, x: ...)"
    )


def qualified_name(fn: Any) -> str:
    """``module.name`` of a callable, as a user would write it (``numpy.sin``, ``math.exp``)."""
    fn = getattr(fn, "_wengert_lazy_lift", fn)  # a helper a lifted body will lift (routing._LazyLift)
    if isinstance(fn, np.ufunc):
        return f"numpy.{fn.__name__}"
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return f"numpy.{owner.__name__}.{fn.__name__}"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    owner = getattr(fn, "__objclass__", None)  # a method descriptor: ndarray.sum
    if module is None and owner is not None:
        module = owner.__module__
    if module in (None, "builtins"):
        return name
    return f"{module.lstrip('_')}.{name}"


def _lose(kind: str) -> TypeError:
    return TypeError(
        f"{kind} of a wengert Dual or Var would drop its derivative. math.* functions call "
        "float() on their argument and cannot see Duals or Vars: use NumPy (np.sin) on them, "
        "route the call through wengert.dual_call / tape_call, or use wengert.jvp / "
        "wengert.derivative / wengert.grad on a function with source, which route math "
        "calls through the rule table"
    )


_ROUTED: dict[Any, Any] = {}  # primitive -> its routed partial


def routed(fn):
    """``functools.partial(dual_call, fn)``, one per primitive, registered with ``fn``'s rule.

    Registering the partial under the same `Rule` keeps rule dispatch working
    when generated code reaches it through `call_pullback` or `jvp_call`.
    """
    from wengert.rules.table import _RULES, _key  # noqa: PLC0415 - the table's private store

    try:
        out = _ROUTED.get(fn)
    except TypeError:
        out = None
    if out is None:
        out = functools.partial(dual_call, fn)
        rule = get_rule(fn)
        if rule is not None:
            _RULES[_key(out)] = rule
        try:
            _ROUTED[fn] = out
        except TypeError:
            pass
    return out


# ---- tracked values: the operators both Dual and Var share ----

def _binary(op):
    def method(self, other):
        return dual_call(op, self, other)

    def reflected(self, other):
        return dual_call(op, other, self)

    name = getattr(op, "__name__", "op").strip("_")
    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    return method, reflected


def _unary(op):
    def method(self):
        return dual_call(op, self)

    method.__name__ = f"__{getattr(op, '__name__', 'op').strip('_')}__"
    return method


def _compare(op):
    def method(self, other):
        return op(base(self), base(other))

    method.__name__ = f"__{op.__name__}__"
    return method


class _Transpose:
    """``x.T`` of a tracked value: ``np.transpose(x)`` through the rule table. A plain descriptor,
    not a ``property``, so the reverse transform reads it as it reads an array's ``T``
    (`runtime.cotangents.attr_grad` transposes the cotangent) instead of differentiating its getter."""

    def __get__(self, obj, owner=None):
        return self if obj is None else dual_call(np.transpose, obj)


class Tracked:
    """Mixin for values that carry derivative information at a level (`Dual`, tape `Var`).

    Every operator, NumPy ufunc and array function goes through `dual_call`, so
    one rule table serves forward mode and the tape. Comparisons act on the
    plain values (they are piecewise constant). Subclasses define ``_level``,
    ``_strip()`` (the value one level down) and ``_wengert_call``.
    """

    __slots__ = ()
    __hash__ = None  # comparisons are on values, so identity hashing would disagree

    @property
    def __class__(self):
        # isinstance(x, float), isinstance(x, np.ndarray) and match's float(v) see the type of
        # the plain value, so user code takes the branch it takes without wengert (type(x)
        # still tells a tracked value apart)
        return type(base(self))

    _level: int

    def _strip(self):
        raise NotImplementedError

    def _wengert_call(self, fn, args, kwargs):
        raise NotImplementedError

    # arithmetic, through the rule table
    __add__, __radd__ = _binary(operator.add)
    __sub__, __rsub__ = _binary(operator.sub)
    __mul__, __rmul__ = _binary(operator.mul)
    __truediv__, __rtruediv__ = _binary(operator.truediv)
    __floordiv__, __rfloordiv__ = _binary(operator.floordiv)
    __mod__, __rmod__ = _binary(operator.mod)
    __divmod__, __rdivmod__ = _binary(divmod)
    __matmul__, __rmatmul__ = _binary(operator.matmul)
    __rpow__ = _binary(operator.pow)[1]

    def __pow__(self, other, modulo=None):
        if modulo is not None:
            return dual_call(pow, self, other, modulo)
        return dual_call(operator.pow, self, other)

    __neg__ = _unary(operator.neg)
    __pos__ = _unary(operator.pos)
    __floor__ = _unary(math.floor)
    __ceil__ = _unary(math.ceil)
    __trunc__ = _unary(math.trunc)
    __int__ = _unary(int)

    __abs__ = _unary(abs)

    def __round__(self, ndigits=None):
        return dual_call(round, self) if ndigits is None else dual_call(round, self, ndigits)

    # comparisons: on the plain values, so `if x > 0:` works
    __lt__ = _compare(operator.lt)
    __le__ = _compare(operator.le)
    __gt__ = _compare(operator.gt)
    __ge__ = _compare(operator.ge)
    __eq__ = _compare(operator.eq)
    __ne__ = _compare(operator.ne)

    # conversions that would drop the derivative
    def __bool__(self):
        raise TypeError(
            f"the truth value of a {type(self).__name__} is ambiguous; compare it instead "
            "(`x > 0`, `x != 0`), which compares the plain values"
        )

    def __float__(self):
        raise _lose("float()")

    def __complex__(self):
        raise _lose("complex()")

    def __index__(self):
        raise _lose("using as an index")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"np.array / np.asarray of a {type(self).__name__} would drop its derivative: "
            "use np.stack([...]) on Duals and Vars, or route the call through "
            "wengert.dual_call / tape_call (np.array has a rule)"
        )

    def __format__(self, spec):
        return format(base(self), spec) if spec else repr(self)  # f"{loss:.3f}" in user code

    def __copy__(self):
        return self  # values are immutable; a copy must not copy the tape

    def __deepcopy__(self, memo):
        return self

    # containers and arrays
    def __getitem__(self, index):
        return dual_call(operator.getitem, self, index)

    def __setitem__(self, index, value):
        raise UnsupportedError(
            f"cannot assign into a {type(self).__name__} (a tracked array of the tape or of dual "
            "numbers); build a new value instead (e.g. np.where, np.concatenate), or give the "
            "function source, where writes into arrays are differentiated"
        )

    def __len__(self):
        return len(base(self))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def shape(self):
        return shape_of(base(self))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype(self):
        value = base(self)
        dtype = getattr(value, "dtype", None)
        return np.result_type(value) if dtype is None else dtype

    T = _Transpose()  # not a property: generated code must not transform a getter of wengert's own

    def __getattr__(self, name):
        # Array methods (x.sum(), x.reshape(...)) are the rules of the plain value's type.
        if name.startswith("_") or name in type(self).__slots__:
            raise AttributeError(name)
        method = getattr(type(base(self)), name, None)
        if method is None or not callable(method):
            raise AttributeError(f"{type(self).__name__} object has no attribute {name!r}")
        if get_rule(method) is None:
            raise AttributeError(
                f"{type(self).__name__}.{name}: no rule for {qualified_name(method)}; "
                f"register one with wengert.defvjp / wengert.defjvp")
        # a bound method of the routed primitive: reverse and forward dispatch see the
        # rule (and `self` as its first argument) instead of an opaque partial
        return types.MethodType(routed(method), self)

    # NumPy dispatch: ufuncs and array functions go through the rule table too
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            raise UnsupportedError(
                f"{qualified_name(ufunc)}(..., out=...) on a wengert Dual or Var: in-place "
                "results cannot carry derivatives; drop out="
            )
        kwargs.pop("out", None)
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return dual_call(fn, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return dual_call(func, *args, **kwargs)


_SCAN = (Tracked, tuple, list, dict)

# shape, ndim, size and dtype are properties: the reverse transform reads a Python property through
# its getter, which must be a primitive (an int, a tuple, a dtype: no derivative), not wengert's own
# source to transform
nondiff(*(vars(Tracked)[name].fget for name in ("shape", "ndim", "size", "dtype")))
