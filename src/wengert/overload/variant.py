"""The namespaces of the ``"dual"`` variant of generated code: Duals through compiled adjoints.

The generated adjoint code is itself differentiable: run on `Dual` numbers it gives
Hessian-vector products (forward over reverse, Pearlmutter 1994), the fallback where the
compiled composition (`wengert.dispatch.compose`) does not apply. Plain generated code
calls ``math.sin(x)``, which cannot see a Dual, so the dual variant compiles the same
source (`wengert.dispatch.overloading` builds it) against

- a live view of the user's globals dict (`routed_globals`, a `RoutedNamespace`: every
  name is read when the code reads it) in which modules are routed proxies (``math.sin``
  is ``dual_call(math.sin, ·)``) and functions with rules routed partials;
- helpers (`routed_helpers`) in which rule bodies and helper functions are `lifted` (their
  module globals routed the same way) and modules routed; the runtime helpers stay (the
  caller names them), except ``make_closure``, which builds closures over the *original*
  globals (they are transformed, and get their own variant, when called).

With plain floats the routed calls are ordinary calls. The differentiation's
`mutation.Pass` is a subclass whose methods are lifted too (`dual_pass`), so cotangent
buffers accept Duals (scattering into a Dual array).

This module never imports the compiler: it makes namespaces, and the dispatch layer
compiles against them.
"""

from __future__ import annotations

import functools
import types

from wengert.overload.routing import RoutedNamespace, _routed_module, lifted, substitute
from wengert.overload.tracked import routed
from wengert.rules.table import get_rule
from wengert.runtime import cotangents, mutation

__all__ = ["dual_pass", "routed_globals", "routed_helpers"]

GLOBALS: dict[int, RoutedNamespace] = {}  # id of a module's globals -> its routed view (cleared with the cache)


def route_global(value):
    """``value`` as the dual variant of generated code sees it: modules routed (by this same
    function, so a user module's functions stay user functions), primitives with rules routed;
    user functions stay (they get their own variant when called)."""
    if isinstance(value, types.ModuleType):
        return _routed_module(value, route_global)
    if isinstance(value, type) or not callable(value):
        return value
    try:
        rule = get_rule(value)
    except TypeError:
        rule = None
    return routed(value) if rule is not None else value


def routed_globals(g: dict) -> RoutedNamespace:
    """A live view of globals dict ``g`` with modules and primitives routed through
    `dual_call` (user functions stay: they get their own variant when called)."""
    view = GLOBALS.get(id(g))
    if view is None or view.source is not g:
        view = GLOBALS[id(g)] = RoutedNamespace(g, route_global)
    return view


def routed_helpers(helpers: dict, globals_: dict | None = None, keep=frozenset()) -> dict:
    """The helpers of generated code as its dual variant sees them. ``keep``: the ids of the
    runtime helpers, which stay as they are (they handle Duals themselves); ``globals_``:
    the user's globals, over which ``make_closure`` builds closures (none: it stays)."""
    out = {}
    for name, obj in helpers.items():
        sub = substitute(obj) if callable(obj) else None
        if sub is not None:
            out[name] = sub
        elif getattr(obj, "__module__", None) in ("_operator", "operator"):
            out[name] = obj  # Duals implement the operators; runtime helpers compare these by identity
        elif obj is cotangents.make_closure and globals_ is not None:
            out[name] = functools.partial(_make_closure_in, globals_)
        elif id(obj) in keep or isinstance(obj, (types.CodeType, type)) or not callable(obj) and \
                not isinstance(obj, types.ModuleType):
            out[name] = obj
        elif isinstance(obj, types.ModuleType):
            out[name] = _routed_module(obj, route_global)
        elif isinstance(obj, (types.FunctionType, functools.partial, types.MethodType)):
            # rule bodies and their helpers are lifted; user functions stay (they are
            # transformed, with their own variant, when called)
            mod = getattr(obj, "__module__", None) or ""
            out[name] = lifted(obj) if mod.startswith("wengert") or \
                getattr(obj, "__name__", "") == "<lambda>" else obj
        else:
            out[name] = route_global(obj)
    return out


def _make_closure_in(globals_, code, _ignored, defaults, kwdefaults, captured):
    return cotangents.make_closure(code, globals_, defaults, kwdefaults, captured)


_DUAL_PASS: list = []


def dual_pass() -> mutation.Pass:
    """A `mutation.Pass` whose methods run with their globals routed (`lifted`), so the
    cotangent buffers it keeps accept Duals (e.g. scattering into a Dual array)."""
    if not _DUAL_PASS:
        methods = {k: lifted(v) for k, v in vars(mutation.Pass).items() if isinstance(v, types.FunctionType)}
        _DUAL_PASS.append(type("DualPass", (mutation.Pass,), methods))
    return _DUAL_PASS[0]()
