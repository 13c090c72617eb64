"""Rule bodies one level down: lifting, routed modules and globals.

A rule body computes with its inputs: ``lambda t, y, x: t * math.cos(x)``. At a nested
level those inputs are themselves Duals or Vars, and ``math.cos`` cannot see them.
`lifted(body)` is a copy of the body whose module-level names (and modules it imports
inside) route every primitive with a rule through `dual_call` (modules become proxies,
same-module helpers are lifted too); it is used only when a rule meets tracked inputs.
Bodies are plain, side-effect-free Python, so a copy with other globals computes the same
thing. `RoutedNamespace` and `_routed_module` also serve the dual variant of generated
code (`wengert.overload.variant`), with its own routing of names.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import math
import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from wengert.overload.tracked import _PLAIN, Tracked, base, dual_call, routed
from wengert.rules.table import get_rule

__all__ = ["ROUTED_BUILTINS", "RoutedNamespace", "RoutedObject", "lifted", "routed_module", "substitute"]

_LIFTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # closures die
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

    def __init__(self, source: dict, route: Callable, builtins_: dict | None = None):
        super().__init__(__builtins__=builtins_ or source.get("__builtins__", builtins))
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


def _inv_tracked(x):
    """`wengert.rules.math._inv` without truth-testing its argument (a Dual has no truth value)."""
    return 1.0 / x if x != 0 else math.copysign(math.inf, base(x))


SUBSTITUTES: dict = {}  # a rule helper -> its tracked-value-safe stand-in (`wengert.overload.dual` adds one)
_BUILTIN_SUBSTITUTES: list = []


def substitute(value):
    """The tracked-value-safe stand-in for a rule helper, or None."""
    if not _BUILTIN_SUBSTITUTES:
        from wengert.rules import math as math_rules

        SUBSTITUTES[math_rules._inv] = _inv_tracked
        _BUILTIN_SUBSTITUTES.append(True)
    try:
        return SUBSTITUTES.get(value)
    except TypeError:
        return None


# modules of wengert whose functions are rule helpers (iter_grad, unbroadcast, ...): lifted like
# the rule bodies that call them
_RULE_HELPERS = ("wengert.rules", "wengert.runtime.cotangents")


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
        if mod.startswith("wengert.") and not mod.startswith(_RULE_HELPERS):
            return value  # wengert's own API (tape_call, grad, ...) handles tracked values itself
        return _LazyLift(value)
    return value


class _LazyLift:
    """A Python helper called from a lifted body: lifted itself on first call."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    @property
    def _wengert_lazy_lift(self):
        return self.fn  # what `tracked.qualified_name` names

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
    # dtype: NumPy reads a class's dtype attribute, so np.asarray(x, dtype=float) in a lifted
    # body means float64, as it does without wengert (not an object array)
    return _RoutedTypeMeta(t.__name__, (), {"_type": t, "dtype": np.dtype(t),
                                            "__new__": lambda cls, *a, **k: dual_call(t, *a, **k)})


ROUTED_BUILTINS = {t.__name__: _routed_type(t) for t in (float, int, complex)}


def _namespace(globals_: dict) -> dict:
    ns = _NAMESPACES.get(id(globals_))
    if ns is None or ns.source is not globals_:
        ns = _NAMESPACES[id(globals_)] = RoutedNamespace(globals_, _route, _LIFTED_BUILTINS)
    return ns


def _routed_import(name, globals=None, locals=None, fromlist=(), level=0):
    """``__import__`` for lifted bodies: ``import numpy as np`` inside a rule helper gives
    the routed module, as a module-level import does (``from m import f`` reads ``f``
    from the routed module, so it is routed too)."""
    module = builtins.__import__(name, globals, locals, fromlist, level)
    if not isinstance(module, types.ModuleType) or module.__name__ in _UNROUTED_IMPORTS:
        return module
    return _routed_module(module)


# array_api_compat looks namespaces up: on a tracked value it must see the value itself (which
# answers __array_namespace__ with the routed NumPy), not have the call routed to its plain value
_UNROUTED_IMPORTS = frozenset({"array_api_compat"})


def _routed_type_of(obj, *rest):
    """``type`` for lifted bodies: the type of a number (tracked or not) is the routed ``float``,
    ``int`` or ``complex`` the body's own names give, so ``type(x)(c)`` with a tracked ``c``
    builds through `dual_call` as ``float(c)`` does, and ``type(x) is float`` keeps its meaning;
    anything else is ``type``."""
    if rest:
        return builtins.type(obj, *rest)
    plain = builtins.type(base(obj)) if isinstance(obj, Tracked) else builtins.type(obj)
    if plain is float or plain is int or plain is complex:
        return ROUTED_BUILTINS[plain.__name__]
    return builtins.type(obj)


_LIFTED_BUILTINS = {**vars(builtins), "__import__": _routed_import, "type": _routed_type_of}


def lifted(fn: Callable) -> Callable:
    """``fn`` (a rule body) with its globals routed through `dual_call`; cached."""
    try:
        return _LIFTED[fn]
    except (KeyError, TypeError):
        pass
    if isinstance(fn, types.FunctionType) and (isinstance(fn.__globals__, RoutedNamespace)
                                               or "_wengert_lifted" in fn.__dict__):
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
        if (fn.__module__ or "").startswith("wengert.rules"):
            out = _routing_objects(out)
    else:
        out = _route(fn)
    try:
        _LIFTED[fn] = out
    except TypeError:
        pass
    return out


def _routing_objects(body):
    """Rule body ``body`` with its arguments that are objects with ruled methods (not arrays)
    seen as `RoutedObject`:
    a rule body computing with its primitive's own object (``dist.logpdf(x)`` in the rule of
    ``multivariate_normal.logpdf``) then calls the method through `dual_call` on tracked
    inputs, instead of handing them to the library (which calls ``np.asarray`` on them)."""

    def call(*args, **kwargs):
        for a in args:
            if _has_ruled_methods(type(a)):
                args = tuple(RoutedObject(v) if _has_ruled_methods(type(v)) else v for v in args)
                break
        return body(*args, **kwargs)

    functools.update_wrapper(call, body)
    call._wengert_lifted = body
    return call


_RULED_TYPES: dict[type, bool] = {}
_NOT_OBJECTS = (Tracked, RoutedNamespace, tuple, list, dict, set, np.ndarray, np.generic, type,
                types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType,
                functools.partial)


def _has_ruled_methods(t: type) -> bool:
    """Whether instances of ``t`` are plain objects with a method that has a rule (cached)."""
    known = _RULED_TYPES.get(t)
    if known is not None:
        return known
    found = False
    if t not in _PLAIN and not issubclass(t, _NOT_OBJECTS) and t.__module__ != "builtins" and \
            not (hasattr(t, "shape") and hasattr(t, "dtype")):  # arrays of any library are values
        for klass in t.__mro__[:-1]:
            for v in list(vars(klass).values()):
                try:
                    if isinstance(v, types.FunctionType) and get_rule(v) is not None:
                        found = True
                        break
                except (TypeError, ValueError):
                    pass
            if found:
                break
    _RULED_TYPES[t] = found
    return found


class RoutedObject:
    """An object as a lifted rule body sees it: a method with a rule, read from it, goes
    through `dual_call` (bound to the object itself); everything else is the object's own,
    and ``isinstance`` sees the object's type."""

    __slots__ = ("_wengert_object",)

    def __init__(self, obj):
        object.__setattr__(self, "_wengert_object", obj)

    @property
    def __class__(self):
        return type(self._wengert_object)

    def __getattr__(self, name):
        obj = self._wengert_object
        static = inspect.getattr_static(type(obj), name, None)
        if isinstance(static, types.FunctionType) and get_rule(static) is not None:
            return types.MethodType(routed(static), obj)
        return getattr(obj, name)

    def __repr__(self):
        return f"RoutedObject({self._wengert_object!r})"


def _lift_cell(cell):
    try:
        return types.CellType(_route(cell.cell_contents))
    except ValueError:  # an empty cell
        return types.CellType()


def routed_module(module, route: Callable | None = None):
    """The public name of `_routed_module`: ``module`` with its primitives routed."""
    return _routed_module(module, route)


def array_namespace(self, api_version=None):
    """``__array_namespace__`` of Duals and Vars: rule helpers that ask array_api_compat for a
    namespace get NumPy routed through the rule table, so they keep working one level down."""
    return _routed_module(np)
