"""Higher order by composing transforms: forward over reverse on compiled code.

The reverse transform's fused gradient of ``f`` (``f_grad(_pass, *args, s_bar)``, for one
argument-kind signature, from `cache.compiled`) is itself Python source, so the forward
transform runs over it (`cache.compiled_jvp`): its tangent code, for the gradient's
parameters typed as the arguments are (the Pass a constant of kind `PASS`, the seed
``s_bar`` the float constant 1.0), reads like hand-written float code
(``_t13_bar_dot = s_bar * _t16_dot``). The cotangent buffers of the Pass get their
tangents from the same linear operations on a second Pass
(``x_bar_dot = _pass_dot.add_item(x, x_bar_dot, i, g_dot)``). One sweep of that code along
a direction ``v`` of the inputs gives the gradient and its derivative along ``v``: a
Hessian-vector product, with no `Dual` numbers. `hessian`, `hvp`, ``jacobian(grad(f))``
and ``grad(grad(f))`` run it (`wengert.api_higher`).

Where it does not apply (no source, closures, keywords, values of unknown kind, Duals
already in the arguments, generated code the forward transform refuses), `plan` says
why, and the caller takes the `Dual` path (`overloading.dual_cotangents`) instead;
`hessian_path` says which path a call takes.
"""

from __future__ import annotations

import types

from wengert import ir
from wengert.dispatch import cache
from wengert.dispatch.ladder import OVERLOAD
from wengert.errors import UnsupportedError
from wengert.ir.activity import ANY, differentiable, kind_of
from wengert.ir.adjoint_kinds import PASS
from wengert.ir.kinds import FLOAT
from wengert.rules import table
from wengert.rules.support import shape_of
from wengert.runtime import cotangents, mutation, tangents
from wengert.transforms import forward
from wengert.transforms.reverse.calls import _DirectCall

__all__ = ["Fallback", "ForwardOverReverse", "forward_over_reverse", "hessian_path", "plan", "unit_sweeps"]


class ForwardOverReverse:
    """The compiled tangent code of ``f``'s compiled gradient for one signature."""

    __slots__ = ("c", "cj", "extra", "failed", "version")

    def __init__(self, c, cj, version):
        self.c, self.cj, self.version = c, cj, version
        self.failed = None  # why a sweep was refused at run time (then Duals, from then on)
        cells = c.grad.__closure__ if cj.ir.freevars else None
        self.extra = (cells, (None,) * len(cells)) if cells is not None else ()

    def valid(self) -> bool:
        return self.version == table.VERSION and self.c.valid() and self.cj.valid()

    def gradient(self, args: tuple):
        """``(f(*args), cotangent of each argument)`` by the plain fused gradient."""
        p = mutation.Pass()
        y, _, bars = self.c.grad(p, *args, 1.0)
        if p.log:
            p.finish()
        check_scalar(y)
        return y, bars

    def sweep(self, args: tuple, dots: tuple):
        """``(f(*args), gradient, its derivative along dots)``, each per argument (``None``:
        none). ``dots`` holds complete tangents (no ``None`` inside) for the arguments
        differentiated, anything for the others (constants)."""
        p = mutation.Pass()
        pd = mutation.Pass()
        pd.mutated = p.mutated  # the two Passes buffer the same objects
        # the outermost call of tangent code: it holds one tangent per mutable object
        # (`tangents.HEAP`), and a constant's is a zero of its shape (a list of objects
        # the gradient writes into with a derivative is active there, as in `jvps.call_jvp`)
        token = tangents.HEAP.set({})
        try:
            dots = tuple(tangents.tz(a, None) if d is None else d for a, d in zip(args, dots))
            (y, _, bars), out_dot = self.cj.fn(p, *args, 1.0, pd, *dots, None, *self.extra)
        except UnsupportedError as e:
            # something the tangent code dispatches at run time has no forward mode (a
            # callee it transforms on first use): the Dual path answers, now and later
            self.failed = f"unsupported at run time: {e}"
            raise Fallback from e
        finally:
            tangents.HEAP.reset(token)
        if p.log:
            p.finish()
        check_scalar(y)
        bars_dot = out_dot[2] if out_dot is not None else None
        if bars_dot is None:
            bars_dot = (None,) * len(args)
        return y, bars, bars_dot


class Fallback(Exception):
    """A sweep of forward-over-reverse code was refused: take the `Dual` path."""


def check_scalar(y) -> None:
    if shape_of(y) != ():
        raise TypeError(f"grad needs a scalar output, got shape {shape_of(y)}")


def plan(f, args: tuple, active, kwargs: dict | None, plans: dict | None = None):
    """The forward-over-reverse code of ``f`` for these arguments, with the arguments at
    positions ``active`` differentiated (the others constants), or a string saying why
    the `Dual` path must be taken instead. ``plans``: the caller's own memo (per
    signature), saving the checks below on later calls."""
    if kwargs:
        return "keyword arguments"
    if not isinstance(f, types.FunctionType):
        return f"{type(f).__name__} is not a Python function"
    if "_wengert_pullback" in f.__dict__ or "_wengert_jvp" in f.__dict__:
        return "a function made by wengert (its own hooks nest)"
    code = f.__code__
    if code.co_flags & 0x0C or code.co_kwonlyargcount or len(args) != code.co_argcount:
        return "*args, **kwargs, keyword-only or default parameters"
    if code.co_freevars:
        return "a closure (its captured values)"
    if cache._VARIANT.get() is not None:
        return "inside the dual variant"
    if OVERLOAD.has_tracked(args):
        return "Dual numbers in the arguments (nested differentiation)"
    kinds = []
    for i, a in enumerate(args):
        k = kind_of(a)
        if i in active:
            if k == ANY or not differentiable(k):
                return f"argument {i}: a {type(a).__name__} of no known float kind"
            kinds.append(k)
        else:
            kinds.append(("const", k))
    key = (tuple(kinds), table.VERSION)
    if plans is not None:
        found = plans.get(key)
        if found is not None and (isinstance(found, str) or found.valid()):
            return found.failed or found if not isinstance(found, str) else found
    try:
        if table.get_rule(f) is not None:
            made = "a rule is registered for it"
        elif not cache._has_source(f):
            made = "no source"
        else:
            c = cache.compiled(f, key[0], ())
            made = c.__dict__.get("_forward_over_reverse")  # made for this gradient before
            if made is None or not (isinstance(made, str) or made.valid()):
                made = c.__dict__["_forward_over_reverse"] = _make_plan(c, key)
    except UnsupportedError as e:
        made = f"unsupported: {e}"
    if plans is not None:
        plans[key] = made
    return made if isinstance(made, str) else (made.failed or made)


def _make_plan(c, key):
    gkinds = (("const", PASS), *key[0], ("const", FLOAT))
    nfree = len(c.grad.__code__.co_freevars)
    g_ir = cache.get_ir(c.grad)
    if c.grad.__closure__:
        forward.resolve_cells(g_ir, c.grad)
    why = _refusal(g_ir)
    if why is not None:
        return why
    # the gradient's free variables are wengert's helpers: constants, no derivative
    cj = cache.compiled_jvp(c.grad, gkinds, ("none",) * nfree)
    return ForwardOverReverse(c, cj, key[1])


_PULLBACK_MAKERS = frozenset(id(f) for f in (cotangents.call_pullback, cotangents.method_pullback,
                                             cotangents.make_closure, _DirectCall))


def _refusal(g_ir) -> str | None:
    """Why the forward transform of generated gradient code is not taken, or None. It is
    not where that code keeps pullbacks to call later (of callees it did not inline, of
    rules given as ``rrule``s, of nested functions): forward mode through those closures
    is forward mode through wengert's own machinery. Plain calls are fine (rules, math,
    a rule's vjp helper, a user function computing something it needs)."""
    nexts = {st.outs[0].id for _, st in ir.walk(g_ir.body)
             if isinstance(st, ir.Op) and st.kind == "attr" and st.fn == "__next__" and st.outs}
    for _, st in ir.walk(g_ir.body):
        if not (isinstance(st, ir.Op) and st.kind == "call"):
            continue
        fn = st.static if isinstance(st.fn, ir.Value) else st.fn.value
        if fn is None:
            if isinstance(st.fn, ir.Value) and st.fn.id not in nexts:
                # a pullback an rrule, a callee's pullback or make_closure returned
                return f"line {st.line}: a call of a function made at run time (a pullback)"
            continue
        if id(fn) in _PULLBACK_MAKERS or isinstance(fn, _DirectCall) or (
                isinstance(fn, types.FunctionType) and forward.generated(fn)):
            return f"line {st.line}: a pullback of {getattr(fn, '__name__', fn)!s} kept for later"
    return None


def unit_sweeps(made: ForwardOverReverse, args: tuple, i: int, units) -> list:
    """The derivative of argument ``i``'s gradient along each unit tangent of that argument."""
    dots = [None] * len(args)
    cols = []
    for u in units:
        dots[i] = u
        _, _, bars_dot = made.sweep(args, tuple(dots))
        cols.append(bars_dot[i])
    return cols


def nums_of(argnums) -> tuple:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def as_float(x):
    return float(x) if type(x) is int else x


def forward_over_reverse(f, *args, argnums=0, **kwargs):
    """The code `hessian` runs for ``f`` at these arguments: an object with ``c`` (the
    compiled gradient) and ``cj`` (the compiled tangent code of ``c.grad``, its source in
    ``cj.source``), or None where the `Dual` path is taken (`hessian_path` says why)."""
    nums = nums_of(argnums)
    args = tuple(as_float(a) if i in nums else a for i, a in enumerate(args))
    made = plan(f, args, set(nums), kwargs)
    return None if isinstance(made, str) else made


def hessian_path(f, *args, argnums=0, **kwargs) -> str:
    """Which way `hessian` (and `hvp`, ``jacobian(grad(f))``) computes second derivatives of
    ``f`` at these arguments: ``"forward over reverse"`` (the compiled tangent code of the
    compiled gradient) or ``"dual: <why>"`` (Dual numbers through the gradient code)."""
    nums = nums_of(argnums)
    args = tuple(as_float(a) if i in nums else a for i, a in enumerate(args))
    made = plan(f, args, set(nums), kwargs)
    return made if isinstance(made, str) and made.startswith("dual") else (
        f"dual: {made}" if isinstance(made, str) else "forward over reverse")
