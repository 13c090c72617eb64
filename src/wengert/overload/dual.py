"""Forward mode by dual numbers, driven by the rule table.

A `Dual` is ``a + b·ε`` with ``ε² = 0``: ``primal`` is ``a``, ``tangent`` is ``b``,
either a scalar or an array. Every operation on a Dual (operators, NumPy ufuncs
and array functions, `dual_call`) looks its primitive up in the rule table and
uses its ``frule`` or ``jvps``; nothing else knows about derivatives.

Levels. Each Dual carries a ``tag``: an integer naming its perturbation ``ε``.
Nested derivatives use fresh, increasing tags, and a Dual's primal and tangent
only contain tags below its own. An operation acts on the highest tag among its
arguments and treats everything else as a constant; lower tags are handled
recursively when the rule computes with its inputs. This is what keeps
``d/dx [x * d/dy (x + y)]`` at 1 rather than 2 (Siskind & Pearlmutter,
"Perturbation confusion and referential transparency", 2005). The tape's `Var`
shares the level counter (`new_level`), so Duals and Vars nest in either order.

The single entry point for calls is `dual_call(fn, *args, **kwargs)` (the tape
calls the same function `tape_call`): with no tracked argument it is just
``fn(*args, **kwargs)``; otherwise the argument with the highest level decides
the mode. Generated code routes every call through it.

What cannot work raises, never drops a tangent: ``float(dual)`` (so
``math.sin(dual)``), ``bool(dual)``, a primitive without a forward rule
(`UnsupportedError`), ``out=`` arguments.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import math
import operator
import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from wengert.errors import UnsupportedError
from wengert.rules.table import get_rule, nondiff
from wengert.rules.support import accum, getitem_grad, shape_of

__all__ = ["Dual", "derivative", "dual_call", "dual_jvp", "new_level"]

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
    if isinstance(fn, _LazyLift):
        fn = fn.fn
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

    def __array_namespace__(self, api_version=None):
        # Rule helpers that ask array_api_compat for a namespace get NumPy routed
        # through the rule table, so they keep working one level down.
        return _routed_module(np)


_SCAN = (Tracked, tuple, list, dict)

# shape, ndim, size and dtype are properties: the reverse transform reads a Python property through
# its getter, which must be a primitive (an int, a tuple, a dtype: no derivative), not wengert's own
# source to transform
nondiff(*(vars(Tracked)[name].fget for name in ("shape", "ndim", "size", "dtype")))

# ---- rule bodies one level down ----
#
# A rule body computes with its inputs: ``lambda t, y, x: t * math.cos(x)``. At
# a nested level those inputs are themselves Duals or Vars, and ``math.cos``
# cannot see them. `lifted(body)` is a copy of the body whose module-level
# names route every primitive with a rule through `dual_call` (modules become
# proxies, same-module helpers are lifted too); it is used only when a rule
# meets tracked inputs. Bodies are plain, side-effect-free Python, so a copy
# with other globals computes the same thing.

_LIFTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # closures die
_ROUTED: dict[Any, Any] = {}
_NAMESPACES: dict[int, dict] = {}
_MODULES: dict[tuple, Any] = {}  # (module name, route) -> its routed proxy


class _RoutedModule:
    """A module whose functions with rules go through `dual_call`. Attributes are read
    from the module when used (rebinding one is seen at once) and passed through ``route``
    (`_route` for rule bodies; the dual variant's own for generated code, which must not
    lift user functions: they are transformed when called); routing is cached."""

    __slots__ = ("_module", "_route", "_seen")

    def __init__(self, module: types.ModuleType, route: Callable):
        self._module = module
        self._route = route
        self._seen: dict = {}  # name -> (value, routed value)

    def __getattr__(self, name):
        value = getattr(self._module, name)
        seen = self._seen.get(name)
        if seen is not None and seen[0] is value:
            return seen[1]
        routed = self._route(value)
        self._seen[name] = (value, routed)
        return routed

    def __repr__(self):
        return f"<routed {self._module.__name__}>"


class RoutedNamespace(dict):
    """A module's globals as routed code sees them: each name is read from the module's
    globals when the code reads it (``__missing__``), so rebinding a global or redefining
    a function (a notebook cell run again) is seen at once, and passed through ``route``;
    ``float``, ``int`` and ``complex`` are `ROUTED_BUILTINS` unless the module defines them."""

    __slots__ = ("source", "route")

    def __init__(self, source: dict, route: Callable):
        super().__init__(__builtins__=source.get("__builtins__", builtins))
        self.source = source
        self.route = route

    def __missing__(self, name):
        source = self.source
        if name in source:
            value = source[name]
            return value if name.startswith("__") else self.route(value)
        return ROUTED_BUILTINS[name]  # a KeyError sends Python on to the builtins


def _routed_module(module, route: Callable | None = None):
    """``module`` routed by ``route`` (`_route`, for rule bodies, by default); one per pair."""
    route = route or _route
    key = (module.__name__, route)
    routed = _MODULES.get(key)
    if routed is None or routed._module is not module:
        routed = _MODULES[key] = _RoutedModule(module, route)
    return routed


def dual_getitem_grad(g, x, index):
    """`runtime.getitem_grad` for Duals: the scatter is linear in ``g``, so scatter its parts."""
    if isinstance(x, (list, tuple, dict)):
        return getitem_grad(g, x, index)  # places g in a structure: nothing to split
    if isinstance(g, Dual):
        return Dual._make(dual_getitem_grad(g.primal, x, index), dual_getitem_grad(g.tangent, x, index), g.tag)
    if has_tracked(g):
        return getitem_grad(g, x, index)  # structures: getitem_grad only places g
    return getitem_grad(g, base(x), index)


def _inv_tracked(x):
    """`wengert.rules.math._inv` without truth-testing its argument (a Dual has no truth value)."""
    return 1.0 / x if x != 0 else math.copysign(math.inf, base(x))


_SUBSTITUTES: dict = {}


def substitute(value):
    """The tracked-value-safe stand-in for a rule helper, or None."""
    if not _SUBSTITUTES:
        from wengert.rules import math as math_rules

        _SUBSTITUTES.update({getitem_grad: dual_getitem_grad, math_rules._inv: _inv_tracked})
    try:
        return _SUBSTITUTES.get(value)
    except TypeError:
        return None


def _route(value):
    """``value`` as a lifted rule body should see it."""
    sub = substitute(value)
    if sub is not None:
        return sub
    if isinstance(value, types.ModuleType):
        return _routed_module(value)
    if isinstance(value, type) or not callable(value):
        return value
    try:
        has_rule = get_rule(value) is not None
    except (TypeError, ValueError):  # callables with odd __eq__ or __hash__
        has_rule = False
    if has_rule:
        if isinstance(value, functools.partial) and value.func is dual_call:
            return value  # routed already
        return routed(value)
    if isinstance(value, types.FunctionType):
        mod = getattr(value, "__module__", None) or ""
        if mod.startswith("wengert.") and not mod.startswith("wengert.rules"):
            return value  # wengert's own API (tape_call, grad, ...) handles tracked values itself
        return _LazyLift(value)
    return value


def routed(fn):
    """``functools.partial(dual_call, fn)``, one per primitive, registered with ``fn``'s rule.

    Registering the partial under the same `Rule` keeps rule dispatch working
    when generated code reaches it through `call_pullback` or `jvp_call`.
    """
    from wengert.rules.table import _RULES, _key

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


class _LazyLift:
    """A Python helper called from a lifted body: lifted itself on first call."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return lifted(self.fn)(*args, **kwargs)


class _RoutedTypeMeta(type):
    """``isinstance(v, routed_float)`` is ``isinstance(v, float)``."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._type)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._type)


def _routed_type(t: type) -> type:
    """A stand-in for builtin number type ``t`` whose calls go through `dual_call`, so that
    ``float(x)`` in a routed function keeps ``x``'s derivative; isinstance checks are ``t``'s."""
    return _RoutedTypeMeta(t.__name__, (), {"_type": t, "__new__": lambda cls, *a, **k: dual_call(t, *a, **k)})


ROUTED_BUILTINS = {t.__name__: _routed_type(t) for t in (float, int, complex)}


def _namespace(globals_: dict) -> dict:
    ns = _NAMESPACES.get(id(globals_))
    if ns is None or ns.source is not globals_:
        ns = _NAMESPACES[id(globals_)] = RoutedNamespace(globals_, _route)
    return ns


def lifted(fn: Callable) -> Callable:
    """``fn`` (a rule body) with its globals routed through `dual_call`; cached."""
    try:
        return _LIFTED[fn]
    except (KeyError, TypeError):
        pass
    if isinstance(fn, types.FunctionType) and isinstance(fn.__globals__, RoutedNamespace):
        return fn  # lifted already
    if isinstance(fn, types.MethodType):
        out = types.MethodType(lifted(fn.__func__), fn.__self__)
    elif isinstance(fn, functools.partial):
        out = functools.partial(lifted(fn.func), *map(_route, fn.args),
                                **{k: _route(v) for k, v in fn.keywords.items()})
    elif isinstance(fn, types.FunctionType):
        closure = None
        if fn.__closure__ is not None:
            closure = tuple(_lift_cell(c) for c in fn.__closure__)
        out = types.FunctionType(fn.__code__, _namespace(fn.__globals__), fn.__name__,
                                 tuple(map(_route, fn.__defaults__ or ())) or None, closure)
        if fn.__kwdefaults__:
            out.__kwdefaults__ = {k: _route(v) for k, v in fn.__kwdefaults__.items()}
    else:
        out = _route(fn)
    try:
        _LIFTED[fn] = out
    except TypeError:
        pass
    return out


def _lift_cell(cell):
    try:
        return types.CellType(_route(cell.cell_contents))
    except ValueError:  # an empty cell
        return types.CellType()


# ---- Dual ----

class Dual(Tracked):
    """``primal + tangent·ε`` with ``ε² = 0``, at perturbation level ``tag``.

    Parts are scalars or arrays. Build one by hand with the default tag 0, or let
    `derivative` / `dual_jvp` pick fresh tags. Operators, ``np.sin`` and
    `dual_call` propagate the tangent through the rule table.

    >>> y = Dual(2.0, 1.0) ** 3
    >>> y.primal, y.tangent
    (8.0, 12.0)
    """

    __slots__ = ("primal", "tag", "tangent")

    def __init__(self, primal: Any, tangent: Any, tag: int = 0):
        for part in (primal, tangent):
            inner = _higher(None, part)
            if inner is not None and inner._level >= tag:
                raise ValueError(
                    f"a Dual with tag {tag} cannot hold a value at level {inner._level}; "
                    "nest Duals with increasing tags (wengert.overload.dual.new_level())"
                )
        if shape_of(tangent) != shape_of(primal):
            tangent = tangent + zero_like(primal)
            if shape_of(tangent) != shape_of(primal):
                raise ValueError(f"tangent of shape {shape_of(tangent)} for a primal of "
                                 f"shape {shape_of(primal)}")
        self.primal = primal
        self.tangent = tangent
        self.tag = tag

    @classmethod
    def _make(cls, primal, tangent, tag):
        d = object.__new__(cls)
        d.primal = primal
        d.tangent = tangent
        d.tag = tag
        return d

    @property
    def _level(self):
        return self.tag

    def _strip(self):
        return self.primal

    def __repr__(self):
        tag = f", tag={self.tag}" if self.tag else ""
        return f"Dual({self.primal!r}, {self.tangent!r}{tag})"

    def _wengert_call(self, fn, args, kwargs):
        return _forward(fn, args, kwargs, self.tag)


def _forward(fn, args, kwargs, level):
    """Apply ``fn`` to ``args`` whose Duals at ``level`` carry the tangents."""
    rule = get_rule(fn)
    if rule is None or not rule.has_forward:
        raise no_rule(fn, forward=True)
    if rule.nondiff:
        return fn(*base(args), **base(kwargs))
    if kwargs.get("out") is not None:
        raise UnsupportedError(f"{qualified_name(fn)}(..., out=...) on dual numbers: the array written into "
                               "cannot carry a tangent; write c = f(...) instead")
    for k, v in kwargs.items():
        if at_level(v, level):
            raise UnsupportedError(
                f"{qualified_name(fn)}: keyword argument {k}= carries a tangent; "
                "pass it positionally"
            )
    primals, tangents = [], []
    for a in args:
        p, t = _split(a, level)
        primals.append(p)
        tangents.append(t)
    nested = has_tracked(primals) or has_tracked(tangents)
    if rule.frule is not None:
        frule = lifted(rule.frule) if nested else rule.frule
        y, t = frule(tuple(tangents), *primals, **kwargs)
        return _wrap(y, t, level)
    y = dual_call(fn, *primals, **kwargs) if nested else fn(*primals, **kwargs)
    t = None
    jvps = rule.jvps
    for i, ti in enumerate(tangents):
        if ti is None or i >= len(jvps) or jvps[i] is None:
            continue
        jvp = lifted(jvps[i]) if nested else jvps[i]
        c = jvp(ti, y, *primals, **kwargs)
        if c is not None:
            t = accum(t, c)
    if t is not None and rule.broadcast and shape_of(t) != shape_of(y):
        t = t + zero_like(y)  # a scalar's tangent spread over the broadcast output
    return _wrap(y, t, level)


def at_level(x, level) -> bool:
    top = _higher(None, x) if isinstance(x, _SCAN) else None
    return top is not None and top._level == level


def _split(a, level):
    """(primal, tangent) of ``a`` at ``level``; containers split elementwise, None = no tangent."""
    if isinstance(a, Dual) and a.tag == level:
        return a.primal, a.tangent
    if isinstance(a, _CONTAINERS) and at_level(a, level):
        parts = [_split(v, level) for v in _items(a)]
        return rebuild(a, [p for p, _ in parts]), rebuild(a, [t for _, t in parts])
    return a, None


def _wrap(y, t, level):
    """Output ``y`` with tangent ``t`` at ``level`` (containers elementwise)."""
    if t is None:
        return y
    if isinstance(y, _CONTAINERS) and not isinstance(y, Tracked):
        if isinstance(y, dict):
            return {k: _wrap(v, t.get(k) if isinstance(t, dict) else None, level)
                    for k, v in y.items()}
        return rebuild(y, [_wrap(v, tv, level) for v, tv in zip(y, t)])
    return Dual._make(y, t, level)


def tangent_at(y, level, fill: bool = True):
    """The tangent of ``y`` for perturbation ``level`` (plain zero where it has none, if ``fill``)."""
    if isinstance(y, Tracked):
        if y._level == level:
            return y.tangent
        if y._level > level:
            if not isinstance(y, Dual):
                raise UnsupportedError(
                    "a tape Var created inside a derivative escaped from it; "
                    "return plain values from the differentiated function")
            p, q = tangent_at(y.primal, level, False), tangent_at(y.tangent, level, False)
            if p is None and q is None:
                return zero_like(y) if fill else None
            return Dual._make(zero_like(y.primal) if p is None else p,
                              zero_like(y.tangent) if q is None else q, y.tag)
    elif isinstance(y, _CONTAINERS):
        return rebuild(y, [tangent_at(v, level, fill) for v in _items(y)])
    return zero_like(y) if fill and numeric(y) else None


def primal_at(y, level):
    """``y`` with the perturbation ``level`` removed."""
    if isinstance(y, Dual):
        if y.tag == level:
            return y.primal
        if y.tag > level:
            return Dual._make(primal_at(y.primal, level), primal_at(y.tangent, level), y.tag)
        return y
    if isinstance(y, _CONTAINERS):
        return rebuild(y, [primal_at(v, level) for v in _items(y)])
    return y


# ---- derivatives ----

def _seed(x, t, level):
    if t is None:
        return x
    if isinstance(x, _CONTAINERS) and not isinstance(x, Tracked):
        ts = _items(t) if isinstance(t, _CONTAINERS) else [None] * len(x)
        return rebuild(x, [_seed(v, tv, level) for v, tv in zip(_items(x), ts)])
    return Dual._make(x, t, level)


def dual_jvp(f: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(f(*primals), J·tangents)`` by one pass of dual numbers; ``None`` tangents are zero.

    >>> dual_jvp(lambda x, y: x * y, (3.0, 4.0), (1.0, 0.0))
    (12.0, 4.0)
    """
    level = new_level()
    args = [_seed(x, t, level) for x, t in zip(primals, tangents)]
    out = f(*args)
    return primal_at(out, level), tangent_at(out, level)


def derivative(f: Callable) -> Callable:
    """``x -> f'(x)`` for ``f`` of one scalar (for an array ``x``: the derivative along ones).

    Nests: ``derivative(derivative(f))`` is the second derivative.

    >>> derivative(lambda x: x ** 3)(2.0)
    12.0
    >>> derivative(derivative(lambda x: x ** 3))(2.0)
    12.0
    """

    def df(x, *args, **kwargs):
        level = new_level()
        y = f(Dual._make(x, one_like(x), level), *args, **kwargs)
        if not numeric(y) and not isinstance(y, _CONTAINERS):
            raise TypeError(f"derivative needs f to return numbers or arrays, not "
                            f"{type(y).__name__}")
        return tangent_at(y, level)

    df.__name__ = f"d_{getattr(f, '__name__', 'f')}"
    return df
