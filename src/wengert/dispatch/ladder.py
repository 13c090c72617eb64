"""The dispatch ladder, written once for both modes, and the one argument binder.

Generated code calls `pullbacks.pullback_of` (reverse) or `jvps.jvp_call` (forward) for
every call it could not inline. Both climb the same ladder (`climb`), in this order:

1. special callables (``attempt`` of a try body, ``getattr``/``setattr`` by name, ...);
2. a registered rule (`wengert.rules.table`);
3. a bound method: its function, with the object as first argument;
4. a function made by `wengert.grad` / `derivative` (its ``_wengert_pullback`` /
   ``_wengert_jvp`` hook);
5. a Python function with source: its compiled code (`cache`), transformed on first use;
6. a class: its constructor; a callable object: its ``__call__``;
7. the overload fallback for callables without source (the tape in reverse mode, `Dual`
   numbers in forward mode), lent by `wengert.overload.fallback` through `OVERLOAD` (the
   ladder never imports `wengert.overload`: `wengert.dispatch.overloading` plugs it in);
8. a clear error naming the callable and how to register a rule.

A mode (`Mode`) supplies each rung; the order lives here only.
"""

from __future__ import annotations

import functools
import inspect
import types

from wengert.frontend import expressions, stdlib
from wengert.frontend.program import has_source
from wengert.ir.kinds import BOOL, INT, NONE, kind_of
from wengert.rules.table import get_rule
from wengert import registry
from wengert.runtime.binding import bind, to_arguments, to_parameters  # noqa: F401  (re-exported)

registry.register(object_items=stdlib.object_items_, SELF=expressions.SELF)


class Overload:
    """What the overload package lends the ladder (`wengert.dispatch.overloading` fills it in):
    tracked values (Duals, tape variables) met by rules in nested differentiation, and the
    fallback of each mode for callables without source. Until registered: no tracked values,
    no fallback."""

    @staticmethod
    def has_tracked(x) -> bool:
        return False

    @staticmethod
    def is_tracked(x) -> bool:
        return False

    @staticmethod
    def lifted(fn):
        return fn

    dual_call = None
    zero_like = None
    no_rule = None
    reverse = None  # (fn, args, kwargs) -> (y, back)
    forward = None  # (fn, args, tangents, kwargs) -> (y, y_dot)


OVERLOAD = Overload()


def register_overload(**parts) -> None:
    for k, v in parts.items():
        if not hasattr(OVERLOAD, k):
            raise KeyError(k)
        setattr(OVERLOAD, k, v)


class Mode:
    """The rungs of one mode. ``x`` is the mode's extra state: the `Pass` in reverse mode,
    ``(tangents, fn_dot)`` in forward mode. A rung returns the call's result; `special` and
    `rule` return None to pass the call on."""

    hook = ""  # the attribute of a function made by grad/derivative that differentiates it

    def special(self, fn, args, kwargs, x):
        return None

    def rule(self, fn, rule, args, kwargs, x):
        return None

    def partial(self, fn, rule, args, kwargs, x):
        return None

    def method(self, fn, args, kwargs, x):
        raise NotImplementedError

    def hooked(self, hook, args, kwargs, x):
        raise NotImplementedError

    def python(self, fn, args, kwargs, x):
        raise NotImplementedError

    def construct(self, cls, args, kwargs, x):
        raise NotImplementedError

    def call_object(self, call, fn, args, kwargs, x):
        raise NotImplementedError

    def fallback(self, fn, args, kwargs, x):
        raise NotImplementedError

    def unknown(self, fn, args, kwargs, x):
        return self.fallback(fn, args, kwargs, x)


def _rule_of(fn):
    try:
        return get_rule(fn)
    except TypeError:  # unhashable callables have no rule
        return None


def climb(mode: Mode, fn, args: tuple, kwargs: dict, x):
    """The result of calling ``fn`` in ``mode``: the first rung that takes the call."""
    made = mode.special(fn, args, kwargs, x)
    if made is not None:
        return made
    rule = _rule_of(fn)
    if rule is not None:
        made = mode.rule(fn, rule, args, kwargs, x)
        if made is not None:
            return made
    if isinstance(fn, functools.partial):
        made = mode.partial(fn, rule, args, kwargs, x)
        if made is not None:
            return made
    if isinstance(fn, types.MethodType):
        return mode.method(fn, args, kwargs, x)
    if isinstance(fn, types.FunctionType):
        hook = fn.__dict__.get(mode.hook)  # functions made by grad/derivative (api_higher.py)
        if hook is not None:
            return mode.hooked(hook, args, kwargs, x)
        if has_source(fn):
            return mode.python(fn, args, kwargs, x)
        return mode.fallback(fn, args, kwargs, x)
    if isinstance(fn, type):
        return mode.construct(fn, args, kwargs, x)
    call = inspect.getattr_static(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return mode.call_object(call, fn, args, kwargs, x)
    return mode.unknown(fn, args, kwargs, x)


# ---- shared by both modes ----


def active(x) -> bool:
    return kind_of(x) not in (INT, BOOL, NONE)


def callable_name(fn) -> str:
    mod = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{name}" if mod and mod != "builtins" else name

