"""What generated adjoint code calls at run time.

Cotangents follow one convention everywhere: ``None`` is "no gradient" (a
symbolic zero); a float's cotangent is a float, an array's an array of the
same shape, a tuple's a tuple, a list's a list, a dict's a dict. The low-level
helpers (`accum`, `unbroadcast`, `getitem_grad`, `iter_grad`, `Tangent`, ...)
belong to the rules (`wengert.rules.support`) and are re-exported here; calls
that must be differentiated go to the dispatcher `registry` holds (this package
never imports the compiler).
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass as _dataclass

from wengert.errors import UnsupportedError
from wengert.rules.support import (  # noqa: F401  (re-exported: what generated code and rules call)
    Tangent,
    _python_iterable,
    accum,
    field_names,
    getitem_grad,
    iter_grad,
    object_items_grad,
    shape_of,
    unbroadcast,
)
from wengert.rules.table import get_rule, nondiff
from wengert import registry

# ---- what generated code calls ----


def nz(c):
    """A float cotangent: ``None`` becomes ``0.0``."""
    return 0.0 if c is None else c


def call_pullback(_pass, fn, args: tuple, kwargs):
    """``(y, back)`` for any callable; ``back(g) -> (fn_bar, args_bar, kwargs_bar)``.

    Dispatch order (DESIGN.md): a registered rule, the compiled adjoint of a
    Python function (transformed on first use), the tape for callables
    without source, a clear error.
    """
    return registry.pullback_of(fn, args, kwargs or {}, _pass)


def method_pullback(_pass, obj, name: str, args: tuple, kwargs):
    """``(y, back)`` for ``obj.name(*args)``; ``back(g) -> (obj_bar, args_bar, kwargs_bar)``."""
    pullback_of = registry.pullback_of
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
    return Tangent(type(obj), **{name: f_bar})


def attr_grad(g, obj, name: str):
    """Cotangent of ``obj`` for ``y = obj.name``."""
    if g is None:
        return None
    if name == "T" and hasattr(obj, "shape"):
        return g.T
    if name in ("real",) and hasattr(obj, "shape"):
        return g
    if name in ("real", "imag") and isinstance(obj, (complex, float, int)):
        # issue 10, complex numbers in JAX's convention (rules/builtins.py): the cotangent of
        # z from z.real is g, from z.imag -1j * g; a real number's imag is the constant 0
        if name == "real":
            return g
        return -1j * g if isinstance(obj, complex) else None
    fields = getattr(type(obj), "_fields", None)
    if isinstance(obj, tuple) and fields and name in fields:  # namedtuple: its own type
        return type(obj)(**{f: (g if f == name else None) for f in fields})
    return Tangent(type(obj), **{name: g})


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


def fold_self(bar, selves: tuple):
    """The cotangent of a nested function that calls itself: what its calls of itself
    captured (the entries ``selves``, nested dicts of the same shape) is added to its own."""
    if not bar:
        return bar
    out = {}
    todo = [bar]
    while todo:
        b = todo.pop()
        for k, v in b.items():
            if k in selves:
                if v:
                    todo.append(v)
            else:
                out[k] = accum(out.get(k), v)
    return out


@_dataclass(eq=False)
class Cell:
    """A captured variable that is rebound, shared by the function that owns it and the
    nested functions that read or write it (`wengert.frontend.cells`); ``value`` is the variable.
    A dataclass, so constructing one and its ``value`` are differentiated like a user's."""

    value: object


# ---- try and with (`normalize`) ----


class Attempt:
    """``attempt(body, atomic)``: ``(None, body())``, or ``(exception, None)`` when ``body``
    raised. The normaliser makes each statement of a try body such a ``body``; ``atomic``
    says the statement changes nothing before it may raise. Its derivatives
    (`wengert.dispatch.ladder`: `pullback_of`, `jvp_call`) are the body's, or none when it raised.
    wengert's own refusals (`UnsupportedError`) are never caught."""

    def __call__(self, body, atomic=True):
        try:
            return None, body()
        except UnsupportedError:
            raise
        except BaseException as e:  # noqa: BLE001 - what `except:` in the user's try would see
            return e, None

    def __repr__(self) -> str:
        return "attempt"


attempt = Attempt()


def attempt_raised(e, body, atomic: bool, log_before: int | None, log_after: int | None):
    """Refuse an exception caught while differentiating when what ran before it is lost:
    a statement that may have changed variables or objects before raising, or a write
    logged by the part of the body that ran (its adjoint never runs)."""
    code = getattr(body, "__code__", None)
    where = (code.co_filename, code.co_firstlineno) if code is not None else (None, None)
    if not atomic:
        raise UnsupportedError(
            f"an exception ({type(e).__name__}) raised inside a compound statement (a loop, if, with, "
            "try or :=) of a try body: what the statement did before it raised is not differentiated; "
            "move the statement that raises into a try of its own", *where) from e
    if log_before != log_after:
        raise UnsupportedError(
            f"an exception ({type(e).__name__}) raised after the statement of the try body changed an "
            "object (a logged write): what ran before it is not differentiated", *where) from e
    tb = e.__traceback__
    while tb is not None:
        f = tb.tb_frame
        if (f.f_code.co_filename.startswith("<wengert ") and "_w_try_" not in f.f_code.co_name
                and _may_write_plainly(f.f_code)):
            # a differentiated callee that may have changed an object plainly (unlogged), then raised
                raise UnsupportedError(
                    f"an exception ({type(e).__name__}) raised inside a differentiated function that may "
                    f"change objects ({f.f_code.co_name}), caught by a try: what it changed before "
                    "raising is not differentiated", *where) from e
        tb = tb.tb_next


def _may_write_plainly(code) -> bool:
    """May generated code ``code`` (or a differentiated callee it called) have written an
    attribute or item without a log entry? (Assignments to attributes or items, or calls
    of other pullbacks.)"""
    import dis

    if any(i.opname in ("STORE_ATTR", "STORE_SUBSCR") for i in dis.get_instructions(code)):
        return True
    return any(n.endswith("_pullback") for n in code.co_names + code.co_freevars)


def enter_context(cm):
    """``with cm``: ``type(cm).__enter__(cm)`` (the manager's own values are not differentiated)."""
    return type(cm).__enter__(cm)


def exit_context(cm, exc):
    """``type(cm).__exit__`` with the exception (or None); true means: swallow it."""
    if exc is None:
        return type(cm).__exit__(cm, None, None, None)
    return type(cm).__exit__(cm, type(exc), exc, exc.__traceback__)


def is_sequence(x) -> bool:
    """What a sequence pattern of ``match`` matches (not str, bytes or bytearray)."""
    import collections.abc

    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes, bytearray))


def is_mapping(x) -> bool:
    import collections.abc

    return isinstance(x, collections.abc.Mapping)


def build_class(body, name: str, *bases):
    """A class statement inside differentiated code (`frontend.Lowerer.class_def`): Python's
    ``__build_class__``. The class carries no derivative; its instances do."""
    import builtins

    return builtins.__build_class__(body, name, *bases)


# with, match and class statements (normalize, frontend): no derivative goes through these
nondiff(enter_context, exit_context, is_sequence, is_mapping, build_class)

STATEMENT_HELPERS = {"_wengert_attempt": attempt, "_wengert_enter": enter_context,
                     "_wengert_exit": exit_context, "_wengert_is_sequence": is_sequence,
                     "_wengert_is_mapping": is_mapping}


def make_closure(code, globals_, defaults, kwdefaults, captured: tuple):
    """Build a nested function from its code object, capturing ``captured`` by value
    (the frontend's marker `registry.SELF` stands for the function itself)."""
    SELF = registry.SELF
    cells = tuple(types.CellType(v) for v in captured)
    fn = types.FunctionType(code, globals_, code.co_name, defaults, cells)
    if kwdefaults:
        fn.__kwdefaults__ = dict(kwdefaults)
    for c in cells:
        if c.cell_contents is SELF:
            c.cell_contents = fn
    return fn
