"""Higher order, by composing transforms: `hessian`, `hvp`, `derivative`, and the hooks that
make ``grad(grad(f))`` and ``jacobian(grad(f))`` work.

For a plain function of floats, lists, dicts and arrays, second derivatives run the
compiled tangent code of ``f``'s compiled gradient (forward over reverse,
`wengert.dispatch.compose`): one sweep per input direction, no `Dual` numbers. Where that
does not apply (`compose.hessian_path` says why), `Dual` numbers run through the dual
variant of the gradient code (`wengert.dispatch.overloading.dual_cotangents`).

Functions made by `wengert.grad` and `derivative` carry a ``_wengert_pullback`` hook: an
outer reverse transform differentiates them by forward over reverse (their vjp is a
Hessian-vector product), and ``_wengert_jvp`` for an outer forward transform. That makes
``grad(grad(f))``, ``grad(grad(grad(f)))`` and ``jacobian(grad(f))`` work; nested Duals
take fresh, increasing tags, so perturbations never mix.

This module never imports `wengert.api`: ``wengert/__init__`` registers `grad` as a maker
of derivative functions (`register_maker_rules`), and `wengert.api` calls `grad_hooks`.
"""

from __future__ import annotations

import copy
import functools
import types
from collections.abc import Callable, Sequence

import numpy as np

from wengert.api_jacobian import _pristine, _runs, captures_tracked, flat_like, leaves, seed, value_shape
from wengert.dispatch import compose
from wengert.dispatch.compose import as_float, nums_of
from wengert.dispatch.jvps import jvp_call
from wengert.dispatch.overloading import dual_cotangents
from wengert.errors import UnsupportedError
from wengert.ir.activity import ANY, differentiable, kind_of
from wengert.overload import dual
from wengert.overload.dual import has_tracked, new_level, one_like, primal_at, rebuild, tangent_at
from wengert.rules.table import frule, rrule

__all__ = ["derivative", "dual_hessian", "grad_hooks", "hessian", "hvp", "register_maker_rules"]

def _with_cells(f, fn_dot, level):
    """``f`` with its captured values perturbed by ``fn_dot`` at ``level`` (a closure's
    tangent: one entry per free variable, or a dict by name)."""
    if fn_dot is None or not isinstance(f, types.FunctionType) or not f.__closure__:
        return f
    names = f.__code__.co_freevars
    ts = [fn_dot.get(n) for n in names] if isinstance(fn_dot, dict) else list(fn_dot)
    cells = []
    for c, t in zip(f.__closure__, ts):
        try:
            v = c.cell_contents
        except ValueError:
            cells.append(c)
            continue
        cells.append(types.CellType(seed(v, t, level)) if t is not None else c)
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, tuple(cells))
    g.__kwdefaults__ = f.__kwdefaults__
    return g

def _second_order(f, nums: tuple, single: bool):
    """``(pullback, jvp)`` hooks of ``x -> grad(f, nums)(x)``, by forward over reverse."""

    def gradient_at(args, kwargs):
        _, _, bars = dual_cotangents(f, args, kwargs)
        g = tuple(_zero(bars[i], args[i]) for i in nums)
        return g[0] if single else g

    plans: dict = {}

    def composed(args, kwargs, active):
        plan = compose.plan(f, args, active, kwargs, plans)
        return None if isinstance(plan, str) else plan

    def dual_back(args, kwargs, ct):
        cts = (ct,) if single else tuple(ct)
        level = new_level()
        dargs = list(args)
        for i, c in zip(nums, cts):
            dargs[i] = seed(args[i], c, level)
        _, f_bar, bars = dual_cotangents(f, tuple(dargs), kwargs)
        # d/dε of the full gradient along ct: the mixed second derivatives times ct,
        # which (symmetry of second derivatives) is the vjp of the gradient
        out = tuple(None if b is None else tangent_at(b, level, fill=False) for b in bars)
        f_out = None if f_bar is None else tangent_at(f_bar, level, fill=False)
        return f_out, out, ({k: None for k in kwargs} if kwargs else None)

    def pullback(args, kwargs):
        args = tuple(as_float(a) if i in nums else a for i, a in enumerate(args))
        # every argument of a differentiable kind is differentiated: the vjp of the gradient
        # has a part for each (the mixed second derivatives)
        active = set(nums) | {i for i, a in enumerate(args) if _differentiable(a)}
        # the backward pass runs f again (a sweep, or Duals): from the arguments as given, not
        # as this forward run leaves them (f may change them in place)
        pristine = _pristine(args)

        def fresh():
            return args if pristine is None else copy.deepcopy(pristine)

        plan = composed(args, kwargs, active)
        if plan is not None:
            _, bars = plan.gradient(args)
            g = tuple(_zero(bars[i], args[i]) for i in nums)

            def composed_back(ct):
                cts = (ct,) if single else tuple(ct)
                dots = [_complete(None, a) if i in active else None for i, a in enumerate(args)]
                for i, c in zip(nums, cts):
                    dots[i] = _complete(c, args[i])
                try:
                    _, _, bars_dot = plan.sweep(fresh(), tuple(dots))
                except compose.Fallback:
                    return dual_back(fresh(), kwargs, ct)
                out = tuple(bars_dot[i] if i in active else None for i in range(len(args)))
                return None, out, ({k: None for k in kwargs} if kwargs else None)

            return (g[0] if single else g), composed_back
        y = gradient_at(args, kwargs)
        return y, lambda ct: dual_back(fresh(), kwargs, ct)

    def jvp(args, tangents, kwargs, fn_dot=None):
        args = tuple(as_float(a) if i in nums and t is not None else a
                     for i, (a, t) in enumerate(zip(args, tangents)))
        if fn_dot is None:
            active = set(nums) | {i for i, t in enumerate(tangents) if t is not None}
            plan = composed(args, kwargs, active)
            if plan is not None:
                dots = tuple(_complete(t, a) if i in active else None
                             for i, (a, t) in enumerate(zip(args, tangents)))
                try:
                    _, bars, bars_dot = plan.sweep(args, dots)
                except compose.Fallback:
                    pass
                else:
                    g = tuple(_zero(bars[i], args[i]) for i in nums)
                    t = tuple(_complete(bars_dot[i], args[i]) for i in nums)
                    return (g[0], t[0]) if single else (g, t)
        level = new_level()
        dargs = tuple(seed(a, t, level) for a, t in zip(args, tangents))
        _, _, bars = dual_cotangents(_with_cells(f, fn_dot, level), dargs, kwargs)
        g = tuple(_zero(bars[i], dargs[i]) for i in nums)
        g = g[0] if single else g
        return primal_at(g, level), tangent_at(g, level)

    return pullback, jvp


def grad_hooks(grad_f, f, argnums, has_aux):
    """Mark a function made by `wengert.grad` so that outer transforms differentiate it
    by forward over reverse instead of transforming wengert's own source, and so that
    it runs the dual variant when called on Duals (or closes over them)."""
    if has_aux:
        return grad_f
    nums = nums_of(argnums)
    pullback, jvp = _second_order(f, nums, isinstance(argnums, int))

    single = isinstance(argnums, int)
    quick = getattr(grad_f, "_quick", None)

    @functools.wraps(grad_f)
    def grad_fn(*args, **kwargs):
        if quick is not None and not kwargs:  # plain floats are never tracked, f captures nothing
            g = quick(args)
            if g is not None:
                return g
        if has_tracked(args) or has_tracked(kwargs) or captures_tracked(f):
            args = tuple(as_float(a) if i in nums else a for i, a in enumerate(args))
            _, _, bars = dual_cotangents(f, args, kwargs)
            g = tuple(_zero(bars[i], args[i]) for i in nums)
            return g[0] if single else g
        return grad_f(*args, **kwargs)

    grad_fn._wengert_pullback = pullback
    grad_fn._wengert_jvp = jvp
    return grad_fn


def _zero(g, x):
    if g is None and type(dual.base(x)) is float:
        return 0.0
    return g


def _differentiable(x) -> bool:
    k = kind_of(x)
    return k != ANY and differentiable(k)


def _complete(t, x):
    """Tangent ``t`` of ``x`` with a zero wherever it has none (``None``), in ``x``'s shape."""
    if isinstance(x, dict):
        return {k: _complete(None if t is None else t.get(k), v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return rebuild(x, [_complete(None if t is None else t[i], v) for i, v in enumerate(x)])
    if t is None:
        return dual.zero_like(x) if dual.numeric(x) and not isinstance(x, (str, bool)) else None
    return t


def derivative(f: Callable) -> Callable:
    """``x -> f'(x)`` for ``f`` of one scalar, by the generated tangent code when ``f``
    has source (by `Dual` numbers otherwise). Nests: ``derivative(derivative(f))``.

    >>> import math
    >>> derivative(lambda x: x * math.sin(x))(0.0)
    0.0
    """

    def df(x, *args, **kwargs):
        x = as_float(x)
        _, t = jvp_call(f, (x, *args), (one_like(x), *(None,) * len(args)), kwargs)
        return tangent_or_zero(t, x)

    def df_jvp(args, tangents, kwargs, fn_dot=None):
        level = new_level()
        dargs = tuple(seed(as_float(a) if t is not None else a, t, level) for a, t in zip(args, tangents))
        out = derivative(_with_cells(f, fn_dot, level))(*dargs, **kwargs)
        return primal_at(out, level), tangent_at(out, level)

    grad_pullback, _ = _second_order(f, (0,), True)

    def df_pullback(args, kwargs):
        x = dual.base(args[0]) if args else None
        if not isinstance(x, float):
            raise UnsupportedError("reverse mode through derivative(f) needs a float argument")
        return grad_pullback(args, kwargs)  # for scalar x, f'(x) is the gradient

    df.__name__ = f"d_{getattr(f, '__name__', 'f')}"
    df.__wrapped__ = f
    df._wengert_jvp = df_jvp
    df._wengert_pullback = df_pullback
    return df


def register_maker_rules(*makers):
    """Making a derivative function inside a differentiated function: the result's
    cotangent (or tangent) is that of the function it was made from (its captured values).
    ``wengert/__init__`` registers `wengert.grad` (this module never imports the api)."""
    for maker in makers:
        def maker_rrule(f, *rest, _maker=maker, **kw):
            return _maker(f, *rest, **kw), lambda g: (g,) + (None,) * len(rest)

        def maker_frule(tangents, f, *rest, _maker=maker, **kw):
            return _maker(f, *rest, **kw), tangents[0] if tangents else None

        rrule(maker)(maker_rrule)
        frule(maker)(maker_frule)


def tangent_or_zero(t, x):
    if t is None:
        return dual.zero_like(x)
    return t

def hvp(f: Callable, args: tuple, v, argnums: int = 0, kwargs: dict | None = None):
    """The Hessian of scalar ``f`` (w.r.t. argument ``argnums``) times ``v``, by forward over
    reverse: one sweep of the tangent code of ``f``'s compiled gradient (`Dual` numbers
    through the gradient code where that does not apply: see `hessian_path`)."""
    kwargs = kwargs or {}
    args = tuple(as_float(a) if i == argnums else a for i, a in enumerate(args))
    plan = compose.plan(f, args, {argnums}, kwargs)
    if not isinstance(plan, str):
        dots = tuple(_complete(v, a) if i == argnums else None for i, a in enumerate(args))
        try:
            _, _, bars_dot = plan.sweep(args, dots)
        except compose.Fallback:
            pass
        else:
            return _complete(bars_dot[argnums], args[argnums])
    return _dual_hvp(f, args, v, argnums, kwargs)


def _dual_hvp(f, args, v, argnums, kwargs):
    level = new_level()
    dargs = tuple(seed(a, v, level) if i == argnums else a for i, a in enumerate(args))
    _, _, bars = dual_cotangents(f, dargs, kwargs)
    b = bars[argnums]
    return _complete(None, args[argnums]) if b is None else tangent_at(b, level)

def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of scalar-valued ``f``, by forward over reverse: the tangent code of the
    compiled gradient of ``f`` runs once per input direction (`Dual` numbers through the
    gradient code where that does not apply: see `hessian_path`).

    For one argument (``argnums`` an int) it has shape ``in_shape + in_shape``
    (a float for a scalar; for a dict of floats, a dict of dicts ``H[k1][k2]``); for a
    tuple of scalar arguments, nested tuples ``H[i][j]``.

    >>> hessian(lambda x, y: x * x * y, argnums=(0, 1))(3.0, 2.0)
    ((4.0, 6.0), (6.0, 0.0))
    """
    return _hessian(f, argnums, composed=True)


def dual_hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """`hessian` by the `Dual` path alone (Dual numbers through the dual variant of the
    gradient code), never forward over reverse: the fallback, as an oracle for the composed
    code (``python -m wengert.testing.fuzz --mode hessian`` compares the two)."""
    return _hessian(f, argnums, composed=False)


def _hessian(f: Callable, argnums, composed: bool) -> Callable:
    plans: dict = {}

    def plan_for(args, active, kwargs):
        return compose.plan(f, args, active, kwargs, plans) if composed else "the Dual path asked for"

    if not isinstance(argnums, int):
        nums = tuple(argnums)

        def hess_multi(*args, _refused=False, **kwargs):
            refused = _refused
            args = tuple(as_float(a) if i in nums else a for i, a in enumerate(args))
            plan = plan_for(args, set(nums), kwargs)
            rows = []
            pristine = _pristine(args)
            for i, run_args in zip(nums, _runs(args, len(nums), pristine, own_last=not refused)):
                if not isinstance(plan, str):
                    dots = tuple((1.0 if j == i else 0.0) if j in nums else None for j in range(len(args)))
                    try:
                        _, _, bars_dot = plan.sweep(run_args, dots)
                    except compose.Fallback:  # the plan is marked failed: every row by Duals
                        return hess_multi(*(args if pristine is None else pristine), _refused=True, **kwargs)
                    rows.append(tuple(float(tangent_or_zero(bars_dot[j], 0.0)) for j in nums))
                    continue
                level = new_level()
                dargs = tuple(seed(a, 1.0, level) if j == i else a for j, a in enumerate(run_args))
                _, _, bars = dual_cotangents(f, dargs, kwargs)
                rows.append(tuple(float(tangent_or_zero(None if bars[j] is None else
                                                        tangent_at(bars[j], level), 0.0)) for j in nums))
            return tuple(rows)

        return hess_multi

    def hess(*args, **kwargs):
        args = tuple(as_float(a) if i == argnums else a for i, a in enumerate(args))
        x = args[argnums]
        units = leaves(x)
        plan = plan_for(args, {argnums}, kwargs)
        cols = None
        pristine = _pristine(args)
        refused = False
        if not isinstance(plan, str):
            try:
                cols = [compose.unit_sweeps(plan, a, argnums, [u])[0]
                        for u, a in zip(units, _runs(args, len(units), pristine))]
            except compose.Fallback:
                cols, refused = None, True
        if cols is None:
            cols = [_dual_hvp(f, a, u, argnums, kwargs)
                    for u, a in zip(units, _runs(args, len(units), pristine, own_last=not refused))]
        n = len(units)
        mat = np.array([flat_like(c, x) for c in cols], dtype=float).reshape(n, n).T
        if isinstance(x, dict) and all(type(v) is float for v in x.values()):
            keys = list(x)
            return {a: {b: float(mat[i, j]) for j, b in enumerate(keys)} for i, a in enumerate(keys)}
        shape = value_shape(x) * 2
        if shape == ():
            return float(mat.reshape(()))
        return mat.reshape(shape)

    hess.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    hess.__wrapped__ = f
    return hess

register_maker_rules(derivative)
