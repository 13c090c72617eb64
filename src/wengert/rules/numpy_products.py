"""Rules for NumPy's bilinear products and polynomials: convolve, correlate, kron, cross, poly*.

Each product is linear in each factor, so a factor's cotangent is the output
cotangent contracted with the other factor (a correlation for a convolution,
``b x g`` for a cross product). Polynomials are coefficient arrays, highest
power first: ``polymul`` is ``convolve``, ``polyder`` and ``polyint`` are linear
maps built once from their action on unit coefficient vectors, and ``polyfit``
differentiates in ``x`` and ``y`` (a least-squares solution; ``rcond`` and
``full=True`` / ``cov=True`` are not differentiated).
"""

from __future__ import annotations

import numpy as np

from wengert.rules.numpy_shape import is_float, match
from wengert.rules.table import defjvp, defvjp, frule, rrule
from wengert.rules.support import unbroadcast


def unsupported(what):
    raise NotImplementedError(f"wengert has no derivative for {what}")


# ---- convolution ----


def _full_cotangent(g, n, m, mode):
    """``g`` of ``convolve(a, v, mode)`` (lengths n, m) placed in the full-mode output."""
    full = np.zeros(n + m - 1, dtype=np.result_type(g, float))
    if mode == "full":
        start = 0
    elif mode == "same":
        start = (min(n, m) - 1) // 2
    else:
        start = min(n, m) - 1
    full[start:start + len(g)] = g
    return full


def convolve_back(g, a, v, mode="full", which=0):
    """Cotangent of ``a`` (0) or ``v`` (1) for ``y = convolve(a, v, mode)``."""
    a1, v1 = np.atleast_1d(a), np.atleast_1d(v)
    full = _full_cotangent(np.atleast_1d(g), len(a1), len(v1), mode)
    other, x = (v1, a) if which == 0 else (a1, v)
    return match(np.reshape(np.correlate(full, other, "valid"), np.shape(x)), x)


defvjp(np.convolve, lambda g, y, a, v, mode="full": convolve_back(g, a, v, mode, 0),
                    lambda g, y, a, v, mode="full": convolve_back(g, a, v, mode, 1))
defjvp(np.convolve, lambda t, y, a, v, mode="full": np.convolve(t, v, mode),
                    lambda t, y, a, v, mode="full": np.convolve(a, t, mode))


def correlate_back(g, a, v, mode="valid", which=0):
    """Cotangent of ``a`` (0) or ``v`` (1) for ``y = correlate(a, v, mode)`` (real arrays)."""
    if len(np.atleast_1d(v)) > len(np.atleast_1d(a)):  # NumPy swaps and reverses
        ct = correlate_back(np.flip(g), v, a, mode, 1 - which)
        return ct
    vr = np.flip(np.atleast_1d(v))
    ct = convolve_back(g, np.atleast_1d(a), vr, mode, which)
    return match(np.reshape(ct if which == 0 else np.flip(ct), np.shape((a, v)[which])), (a, v)[which])


defvjp(np.correlate, lambda g, y, a, v, mode="valid": correlate_back(g, a, v, mode, 0),
                     lambda g, y, a, v, mode="valid": correlate_back(g, a, v, mode, 1))
defjvp(np.correlate, lambda t, y, a, v, mode="valid": np.correlate(t, v, mode),
                     lambda t, y, a, v, mode="valid": np.correlate(a, t, mode))

# ---- Kronecker and cross products ----


def kron_back(g, a, b, which=0):
    """Cotangent of ``a`` (0) or ``b`` (1) for ``y = kron(a, b)``."""
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    blocks = np.reshape(g, tuple(n for pair in zip(sa, sb) for n in pair))  # (a0, b0, a1, b1, ...)
    other = np.reshape(b if which == 0 else a, sb if which == 0 else sa)
    letters = "abcdefghijklmnopqrstuvwxyz"
    ia, ib = letters[:nd], letters[nd:2 * nd]
    spec = "".join(x + y for x, y in zip(ia, ib)) + "," + (ib if which == 0 else ia) + "->" + (ia if which == 0 else ib)
    x = a if which == 0 else b
    return match(np.reshape(np.einsum(spec, blocks, other), np.shape(x)), x)


defvjp(np.kron, lambda g, y, a, b: kron_back(g, a, b, 0), lambda g, y, a, b: kron_back(g, a, b, 1))
defjvp(np.kron, lambda t, y, a, b: np.kron(t, b), lambda t, y, a, b: np.kron(a, t))


def _cross_axes(axisa=-1, axisb=-1, axisc=-1, axis=None):
    return (axis, axis, axis) if axis is not None else (axisa, axisb, axisc)


def cross_back(g, a, b, which, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cotangent of ``a`` (0) or ``b`` (1) for ``y = cross(a, b)``: ``b x g`` or ``g x a`` (3-vectors)."""
    axa, axb, axc = _cross_axes(axisa, axisb, axisc, axis)
    A, B = np.moveaxis(np.asarray(a, float), axa, -1), np.moveaxis(np.asarray(b, float), axb, -1)
    if A.shape[-1] != 3 or B.shape[-1] != 3:
        unsupported("np.cross of 2-element vectors (deprecated by NumPy 2); pad them with a zero")
    G = np.moveaxis(g, axc, -1) if np.ndim(g) else g
    ct = np.cross(B, G) if which == 0 else np.cross(G, A)
    x, ax = (a, axa) if which == 0 else (b, axb)
    return match(np.moveaxis(unbroadcast(ct, A if which == 0 else B), -1, ax), x)


def _cross_vjp(which):
    return lambda g, y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None: \
        cross_back(g, a, b, which, axisa, axisb, axisc, axis)


defvjp(np.cross, _cross_vjp(0), _cross_vjp(1))
defjvp(np.cross, lambda t, y, a, b, *args, **kw: np.cross(t, b, *args, **kw),
                 lambda t, y, a, b, *args, **kw: np.cross(a, t, *args, **kw))
defvjp(np.linalg.cross, lambda g, y, x1, x2, axis=-1: cross_back(g, x1, x2, 0, axis=axis),
                        lambda g, y, x1, x2, axis=-1: cross_back(g, x1, x2, 1, axis=axis))
defjvp(np.linalg.cross, lambda t, y, x1, x2, axis=-1: np.linalg.cross(t, x2, axis=axis),
                        lambda t, y, x1, x2, axis=-1: np.linalg.cross(x1, t, axis=axis))

# ---- polynomials ----


def _powers(n, increasing=False):
    k = np.arange(n)
    return k if increasing else k[::-1]


def vander_slope(x, n=None, increasing=False):
    """``d vander(x, n) / dx`` row by row: ``k x**(k-1)`` in each column of power ``k``."""
    x = np.asarray(x, dtype=float)
    k = _powers(len(x) if n is None else n, increasing)
    return np.where(k == 0, 0.0, k * x[:, None] ** np.maximum(k - 1, 0))


defvjp(np.vander, lambda g, y, x, N=None, increasing=False: match(np.sum(g * vander_slope(x, N, increasing), 1), x))
defjvp(np.vander, lambda t, y, x, N=None, increasing=False: np.asarray(t)[:, None] * vander_slope(x, N, increasing))


def polyval_back(g, p, x, which):
    """Cotangent of ``p`` (0) or ``x`` (1) for ``y = polyval(p, x)``."""
    p1 = np.asarray(p, dtype=float)
    if which == 1:
        return match(unbroadcast(g * np.polyval(np.polyder(p1), x), x), x)
    xs = np.asarray(x, dtype=float)[..., None] ** _powers(len(p1))
    return match(np.sum(np.reshape(g, np.shape(g) + (1,)) * xs, axis=tuple(range(np.ndim(x)))), p)


defvjp(np.polyval, lambda g, y, p, x: polyval_back(g, p, x, 0), lambda g, y, p, x: polyval_back(g, p, x, 1))
defjvp(np.polyval, lambda t, y, p, x: np.polyval(t, x),
                   lambda t, y, p, x: t * np.polyval(np.polyder(np.asarray(p, dtype=float)), x))


def _tail(g, x, sign=1):
    """The last ``len(x)`` coefficients of ``g`` (``polyadd`` aligns the highest powers at the front)."""
    n = np.size(x)
    return match(np.reshape(sign * np.asarray(g)[len(g) - n:], np.shape(x)), x)


def _aligned(t, n):
    t = np.ravel(t)
    return np.concatenate([np.zeros(n - len(t)), t])


defvjp(np.polyadd, lambda g, y, a1, a2: _tail(g, a1), lambda g, y, a1, a2: _tail(g, a2))
defjvp(np.polyadd, lambda t, y, a1, a2: _aligned(t, len(y)), lambda t, y, a1, a2: _aligned(t, len(y)))
defvjp(np.polysub, lambda g, y, a1, a2: _tail(g, a1), lambda g, y, a1, a2: _tail(g, a2, -1))
defjvp(np.polysub, lambda t, y, a1, a2: _aligned(t, len(y)), lambda t, y, a1, a2: -_aligned(t, len(y)))
defvjp(np.polymul, lambda g, y, a1, a2: convolve_back(g, a1, a2, "full", 0),
                   lambda g, y, a1, a2: convolve_back(g, a1, a2, "full", 1))
defjvp(np.polymul, lambda t, y, a1, a2: np.convolve(t, np.atleast_1d(a2)),
                   lambda t, y, a1, a2: np.convolve(np.atleast_1d(a1), t))


def linear_matrix(fn, n):
    """The matrix of the affine map ``fn`` on length-``n`` vectors, less its constant ``fn(0)``."""
    zero = np.ravel(fn(np.zeros(n)))
    return np.stack([np.ravel(fn(np.eye(n)[j])) - zero for j in range(n)], axis=1) if n else np.zeros((len(zero), 0))


defvjp(np.polyder, lambda g, y, p, m=1: match(linear_matrix(lambda c: np.polyder(c, m), np.size(p)).T @ np.ravel(g), p))
defjvp(np.polyder, lambda t, y, p, m=1: np.polyder(np.asarray(t, dtype=float), m))
defvjp(np.polyint, lambda g, y, p, m=1, k=None:
       match(linear_matrix(lambda c: np.polyint(c, m, k), np.size(p)).T @ np.ravel(g), p),
       None,
       lambda g, y, p, m=1, k=None:
       match(linear_matrix(lambda c: np.polyint(np.zeros(np.size(p)), m, c), np.size(k)).T @ np.ravel(g), k))
defjvp(np.polyint, lambda t, y, p, m=1, k=None: np.polyint(np.asarray(t, dtype=float), m),
       None,
       lambda t, y, p, m=1, k=None: np.polyint(np.zeros(np.size(p)), m, t))


def _polyfit_args(x, y, deg, rcond=None, full=False, w=None, cov=False):
    return x, y, deg, rcond, full, w, cov


def _polyfit_parts(x, y, deg, w):
    """Weighted Vandermonde matrix, its pseudo-inverse, the weights, the residual and the fit."""
    x = np.asarray(x, dtype=float)
    wt = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    lhs = np.vander(x, deg + 1) * wt[:, None]
    rhs = np.asarray(y, dtype=float) * (wt[:, None] if np.ndim(y) == 2 else wt)
    pinv = np.linalg.pinv(lhs)
    c = pinv @ rhs
    return lhs, pinv, wt, rhs - lhs @ c, c


def polyfit_x_back(g, x, y, deg, w=None):
    """Cotangent of ``x`` for ``c = polyfit(x, y, deg)``: ``dc = V+ (dy - dV c) + (V'V)^-1 dV' r``."""
    lhs, pinv, wt, r, c = _polyfit_parts(x, y, deg, w)
    u = pinv.T @ g
    z = np.linalg.solve(lhs.T @ lhs, g)
    v_bar = -np.reshape(u, (len(x), -1)) @ np.reshape(c, (deg + 1, -1)).T \
        + np.reshape(r, (len(x), -1)) @ np.reshape(z, (deg + 1, -1)).T
    return match(np.sum(v_bar * wt[:, None] * vander_slope(x, deg + 1), axis=1), x)


def polyfit_x_tangent(t, x, y, deg, w=None):
    lhs, pinv, wt, r, c = _polyfit_parts(x, y, deg, w)
    dv = vander_slope(x, deg + 1) * (wt * np.asarray(t, dtype=float))[:, None]
    return pinv @ (-(dv @ c)) + np.linalg.solve(lhs.T @ lhs, dv.T @ r)


def _simple_fit(full, cov):
    if full or cov:
        unsupported("np.polyfit with full=True or cov=True")


@rrule(np.polyfit)
def polyfit_rrule(*args, **kw):
    x, y, deg, rcond, full, w, cov = _polyfit_args(*args, **kw)
    out = np.polyfit(*args, **kw)

    def polyfit_pullback(g):
        _simple_fit(full, cov)
        lhs, pinv, wt, _, _ = _polyfit_parts(x, y, deg, w)
        ct_y = (pinv * wt[None, :]).T @ g
        ct_x = polyfit_x_back(g, x, y, deg, w) if is_float(x) else None
        return (ct_x, match(ct_y, y)) + (None,) * (len(args) - 2)

    return out, polyfit_pullback


@frule(np.polyfit)
def polyfit_frule(tangents, *args, **kw):
    x, y, deg, rcond, full, w, cov = _polyfit_args(*args, **kw)
    out = np.polyfit(*args, **kw)
    tx, ty = tangents[0], tangents[1]
    if tx is None and ty is None:
        return out, None
    _simple_fit(full, cov)
    lhs, pinv, wt, _, _ = _polyfit_parts(x, y, deg, w)
    t = 0.0
    if ty is not None:
        t = t + pinv @ (np.asarray(ty, dtype=float) * (wt[:, None] if np.ndim(y) == 2 else wt))
    if tx is not None:
        t = t + polyfit_x_tangent(tx, x, y, deg, w)
    return out, t
