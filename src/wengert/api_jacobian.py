"""Jacobians, and the structure of tangents that Jacobians and Hessians are built from.

`jacobian` builds its matrix column by column with the tangent code (``mode="fwd"``) or
row by row with pullbacks (``"rev"``), over unit tangents of the argument (`leaves`: one
per scalar of a float, a list/tuple/dict of floats or an array) and flattened results
(`flat_like`). The functions it returns carry the ``_wengert_jvp`` / ``_wengert_pullback``
hooks (`_hooks_by_duals`), so an outer transform runs them on `Dual` numbers
(``jacobian(jacobian(f))``, ``grad`` of a Jacobian entry); `_by_levels` builds a matrix of
Duals level by level, so NumPy never sees a Dual.
"""

from __future__ import annotations

from collections.abc import Callable

import copy

import numpy as np

from wengert.dispatch import cache
from wengert.dispatch.compose import as_float
from wengert.dispatch.jvps import jvp_call
from wengert.dispatch.pullbacks import pullback_of
from wengert.errors import UnsupportedError
from wengert.overload import dual
from wengert.overload.dual import Dual, dual_call, has_tracked, new_level, primal_at, rebuild, tangent_at
from wengert.overload.variant import dual_pass
from wengert.rules.support import shape_of

__all__ = ["jacobian"]

def jacobian(f: Callable, argnums: int = 0, mode: str | None = None) -> Callable:
    """The Jacobian of ``f`` with respect to argument ``argnums``.

    Inputs and outputs may be floats, lists/tuples of floats or NumPy arrays;
    the result has shape ``out_shape + in_shape`` (a float for scalar to
    scalar). ``mode="fwd"`` builds it column by column with the tangent code,
    ``"rev"`` row by row with pullbacks; by default forward mode when there are
    fewer inputs than outputs (tall-thin), reverse otherwise.

    The function returned is differentiable again (``jacobian(jacobian(f))``, ``grad`` of a
    Jacobian entry): it carries the ``_wengert_jvp`` and ``_wengert_pullback`` hooks, so an
    outer transform runs it on `Dual` numbers instead of transforming this module's source.

    >>> jacobian(lambda x: [x, x * x])(3.0)
    array([1., 6.])
    """
    if mode not in (None, "fwd", "rev"):
        raise ValueError(f"mode must be None, 'fwd' or 'rev', not {mode!r}")

    def jac(*args, **kwargs):
        args = tuple(as_float(a) if i == argnums else a for i, a in enumerate(args))
        x = args[argnums]
        y, mat = _jacobian_matrix(f, args, kwargs, argnums, mode)
        shape = value_shape(dual.base(y)) + value_shape(dual.base(x))
        return _by_levels(lambda m: float(np.reshape(m, ())) if shape == () else np.reshape(m, shape), mat)

    jac.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    jac.__wrapped__ = f
    jac._wengert_jvp, jac._wengert_pullback = _hooks_by_duals(jac)
    return jac


def _jacobian_matrix(f, args, kwargs, argnums, mode):
    """``(f(*args), J)`` with J a ``(outputs, inputs)`` matrix; Duals in ``args`` (an outer
    derivative) flow through both modes, and J is then a Dual matrix (`_by_levels`).

    ``f`` may change its arguments in place; every run of it starts from the arguments as
    the caller gave them (`_runs`), else each column or row would be taken at another point."""
    x = args[argnums]
    units_in = leaves(dual.base(x))
    pristine = _pristine(args)
    y = None
    if mode is None:
        probe = args if pristine is None else copy.deepcopy(pristine)
        y = f(*probe, **kwargs)
        mode = "fwd" if len(units_in) < _size(dual.base(y)) else "rev"
    if mode == "fwd":
        cols = []
        for u, run in zip(units_in, _runs(args, len(units_in), pristine)):
            tans = tuple(u if i == argnums else None for i in range(len(args)))
            y, t = jvp_call(f, run, tans, kwargs)
            cols.append(t)
        m = _size(dual.base(y))
        return y, _by_levels(lambda c: _matrix(c, m).T, cols)
    if pristine is not None and not (has_tracked(args) or has_tracked(kwargs) or captures_tracked(f)):
        # one forward pass per row: a pullback that runs f again (grad(f)'s) would otherwise
        # run it where the previous row left the arguments
        n_out = None
        rows = []
        k = 0
        while n_out is None or k < n_out:
            run = args if n_out is not None and k == n_out - 1 else copy.deepcopy(pristine)
            y, back = pullback_of(f, run, kwargs)
            outs = leaves(y)
            n_out = len(outs)
            rows.append(back(outs[k])[1][argnums])
            k += 1
        return y, _by_levels(lambda r: _matrix(r, len(units_in)), rows)
    rows = []
    if has_tracked(args) or has_tracked(kwargs) or captures_tracked(f):
        p = dual_pass()
        with cache.variant("dual"):
            y, back = pullback_of(f, args, kwargs, p)
            for u in leaves(dual.base(y)):
                p.start_backward()
                try:
                    _, bars, _ = back(u)
                finally:
                    p.finish()
                rows.append(bars[argnums])
    else:
        y, back = pullback_of(f, args, kwargs)
        rows = [back(u)[1][argnums] for u in leaves(y)]
    return y, _by_levels(lambda r: _matrix(r, len(units_in)), rows)


def _matrix(vectors: list, n: int):
    """The plain ``(len(vectors), n)`` matrix of structured vectors (None: zeros)."""
    flat = [[0.0] * n if v is None else _flat(v) for v in vectors]
    return np.array(flat, dtype=float).reshape(len(vectors), n)


def _by_levels(build: Callable, parts):
    """``build(parts)`` for a ``build`` that is linear in ``parts`` (stacking, reshaping), where
    ``parts`` may hold Duals: the primal and tangent parts are built apart, level by level, so
    ``np.array`` never sees a Dual."""
    top = dual._higher(None, parts) if has_tracked(parts) else None
    if top is None:
        return build(parts)
    if not isinstance(top, Dual):
        raise UnsupportedError("a Jacobian on tape values (grad through jacobian by the tape): "
                                     "give the function source, or use forward mode outside")
    level = top.tag
    return Dual._make(_by_levels(build, primal_at(parts, level)),
                      _by_levels(build, tangent_at(parts, level)), level)


def _hooks_by_duals(fn):
    """``(jvp, pullback)`` hooks of ``fn``, a function of floats, lists of floats and arrays
    that runs on Duals: the jvp seeds one Dual level; the pullback takes one jvp per input
    scalar (``ct · ∂fn/∂x_k``), which is what reverse mode over a Jacobian needs."""

    def jvp(args, tangents, kwargs, fn_dot=None):
        if fn_dot is not None and has_tracked(fn_dot):
            raise UnsupportedError(f"{fn.__name__}: a derivative through what it captures")
        level = new_level()
        dargs = tuple(seed(as_float(a) if t is not None else a, t, level) for a, t in zip(args, tangents))
        out = fn(*dargs, **kwargs)
        return primal_at(out, level), tangent_at(out, level)

    def pullback(args, kwargs):
        args = tuple(as_float(a) for a in args)
        y = fn(*args, **kwargs)

        def back(ct):
            bars = []
            for i, a in enumerate(args):
                base_a = dual.base(a)
                if not _differentiable_arg(base_a):
                    bars.append(None)
                    continue
                entries = []
                for u in leaves(base_a):
                    tans = tuple(u if j == i else None for j in range(len(args)))
                    _, t = jvp(args, tans, kwargs)
                    entries.append(_inner(ct, t))
                bars.append(_unflat(base_a, entries))
            return None, tuple(bars), ({k: None for k in kwargs} if kwargs else None)

        return y, back

    return jvp, pullback


def _differentiable_arg(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, float):
        return True
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.inexact)
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(_differentiable_arg(v) for v in x)
    return False


def _inner(ct, t):
    """``sum(ct * t)`` of a cotangent and a tangent of the same structure (float, array, list)."""
    if ct is None or t is None:
        return 0.0
    if isinstance(ct, (list, tuple)):
        return sum((_inner(c, u) for c, u in zip(ct, t)), 0.0)
    return dual_call(np.sum, ct * t) if has_tracked((ct, t)) else float(np.sum(ct * t))


def _unflat(like, entries: list):
    """Scalars ``entries`` (one per `leaves` position of ``like``) shaped like ``like``."""
    if isinstance(like, (list, tuple)):
        out, k = [], 0
        for v in like:
            n = _size(v)
            out.append(_unflat(v, entries[k:k + n]))
            k += n
        return rebuild(like, out)
    if isinstance(like, np.ndarray):
        return _by_levels(lambda e: np.array(e, dtype=float).reshape(like.shape), list(entries))
    return entries[0]

def seed(x, t, level):
    """``x`` perturbed by tangent ``t`` at ``level`` (structures leaf by leaf; None: no perturbation)."""
    if t is None:
        return x
    if isinstance(x, (list, tuple)) and not isinstance(x, dual.Tracked):
        return rebuild(x, [seed(a, b, level) for a, b in zip(x, t)])
    if isinstance(x, dict):
        return {k: seed(v, t.get(k), level) for k, v in x.items()}
    return Dual._make(x, t, level)

def captures_tracked(f) -> bool:
    for c in getattr(f, "__closure__", None) or ():
        try:
            if has_tracked(c.cell_contents):
                return True
        except ValueError:
            pass
    return False

def leaves(x) -> list:
    """Scalar positions of ``x`` (float, list/tuple/dict of floats, array) as unit tangents."""
    if isinstance(x, dict):
        out = []
        for k, v in x.items():
            for u in leaves(v):
                t = {kk: _zeros(vv) for kk, vv in x.items()}
                t[k] = u
                out.append(t)
        return out
    if isinstance(x, (list, tuple)):
        out = []
        for i, v in enumerate(x):
            for u in leaves(v):
                t = [0.0 if not isinstance(w, (list, tuple, np.ndarray)) else _zeros(w) for w in x]
                t[i] = u
                out.append(rebuild(x, t))
        return out
    if isinstance(x, np.ndarray):
        units = []
        for k in range(x.size):
            e = np.zeros(x.size, dtype=x.dtype if np.issubdtype(x.dtype, np.inexact) else float)
            e[k] = 1.0
            units.append(e.reshape(x.shape))
        return units
    return [1.0]


def _zeros(x):
    if isinstance(x, dict):
        return {k: _zeros(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return rebuild(x, [_zeros(v) for v in x])
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=float)
    return 0.0


def _flat(t) -> list:
    if t is None:
        return None
    if isinstance(t, (list, tuple)):
        out = []
        for v in t:
            # None: no derivative, a zero (a scalar leaf; a missing structure fails the reshape)
            out.extend(_flat(v) if isinstance(v, (list, tuple, np.ndarray)) else [0.0 if v is None else v])
        return out
    if isinstance(t, np.ndarray) or hasattr(t, "shape") and shape_of(t) != ():
        return list(np.asarray(t, dtype=float).ravel())
    return [t]


def _size(x) -> int:
    return len(leaves(x))


def value_shape(x):
    if isinstance(x, np.ndarray):
        return x.shape
    if isinstance(x, (list, tuple)):
        return (_size(x),)
    return ()

def flat_like(t, x) -> list:
    """The numbers of tangent ``t`` of ``x``, in the order of `leaves` (``None``: zeros)."""
    if isinstance(x, dict):
        return [v for k, xv in x.items() for v in flat_like(None if t is None else t.get(k), xv)]
    if isinstance(x, (list, tuple)):
        return [v for i, xv in enumerate(x) for v in flat_like(None if t is None else t[i], xv)]
    if isinstance(x, np.ndarray) or hasattr(x, "shape") and shape_of(x) != ():
        n = _size(x)
        return [0.0] * n if t is None else list(np.asarray(t, dtype=float).ravel())
    return [0.0 if t is None else float(t)]


def _pristine(args: tuple):
    """A deep copy of ``args`` to start each run of ``f`` from, or None where none is needed
    (plain numbers) or possible (an argument deepcopy cannot copy: a lock, a stream)."""
    if all(_immutable(a) for a in args):
        return None
    try:
        return copy.deepcopy(args)
    except Exception:  # noqa: BLE001
        return None


def _runs(args: tuple, n: int, pristine, own_last: bool = True):
    """The arguments for ``n`` runs of ``f`` (one per direction), each as the caller gave
    them: ``f`` may change them in place (append to a list argument, set an object's
    field), and a run on what an earlier one left computes the Hessian at another point.
    Every run but the last gets a copy of ``pristine``; the last gets the caller's own
    (which it leaves as one plain call does), unless ``own_last`` is false (a composed
    sweep refused part way through may have changed them: the Dual path then runs on copies)."""
    for k in range(n):
        yield args if pristine is None or (own_last and k == n - 1) else copy.deepcopy(pristine)


def _immutable(x) -> bool:
    return x is None or type(x) in (float, int, bool, str, complex) or (
        type(x) is tuple and all(_immutable(v) for v in x))
