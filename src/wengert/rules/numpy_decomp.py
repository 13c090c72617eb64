"""Rules for NumPy's decompositions and the linear algebra built on them.

``svd``, ``svdvals``, ``pinv``, ``qr``, ``lstsq``, ``eig``, ``eigvals``,
``matrix_power``, ``multi_dot``, ``cond``, ``vector_norm``, ``matrix_norm``,
``tensorinv``, ``tensorsolve``, ``matvec``, ``vecmat``; the array API aliases ``np.linalg.outer`` and
``np.linalg.tensordot`` share the top-level rules. Real inputs only, stacked
(batched) matrices where NumPy allows them. The caveats of
`wengert.rules.numpy_linalg` hold: singular vectors and eigenvectors are defined
up to sign (or phase), so their gradients are right for losses that do not
depend on that choice, and the pair terms of repeated singular values or
eigenvalues are dropped.

- ``svd`` differentiates ``full_matrices=False`` and square matrices; the extra
  columns of a non-square ``full_matrices=True`` factor are not unique and raise
  ``NotImplementedError`` when they get a nonzero cotangent.
- ``pinv`` and ``lstsq`` assume the rank does not change (Golub & Pereyra 1973).
- ``qr`` differentiates ``mode="reduced"`` / ``"r"`` for ``m >= n`` (TensorFlow's
  ``QrGrad``, JAX's ``qr_jvp_rule``).
- ``eig`` / ``eigvals`` follow JAX: eigenvectors are normalised to unit length,
  cotangents pair with tangents as ``Re(sum(g * t))`` and a real input's
  cotangent is the real part (Boeddeker et al. 2017, arXiv:1701.00392).
"""

from __future__ import annotations

import numpy as np

from wengert.rules.numpy_linalg import _mT, norm_back, norm_weights
from wengert.rules.numpy_shape import match
from wengert.rules.table import defjvp, defvjp, frule, get_rule, nondiff, rrule
from wengert.rules.support import unbroadcast


def unsupported(what):
    raise NotImplementedError(f"wengert has no derivative for {what}")


def _or_zeros(g, like):
    return np.zeros(np.shape(like), dtype=np.result_type(like, float)) if g is None else g


# ---- singular values ----


def _pair_factor(s):
    """``F[i, j] = 1 / (s_j^2 - s_i^2)``, 0 on the diagonal and for repeated values."""
    d = s[..., None, :] ** 2 - s[..., :, None] ** 2
    same = d == 0
    return np.where(same, 0.0, 1.0 / np.where(same, 1.0, d))


def svd_back(gu, gs, gvh, a, u, s, vh):
    """Cotangent of ``a`` for reduced ``u, s, vh = svd(a)`` (autograd's ``grad_svd``)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    v = _mT(vh)
    gu, gs = _or_zeros(gu, u), _or_zeros(gs, s)
    gv = _mT(_or_zeros(gvh, vh))
    f = _pair_factor(s)
    utgu, vtgv = _mT(u) @ gu, _mT(v) @ gv
    inner = f * (utgu - _mT(utgu)) * s[..., None, :] + np.eye(k) * gs[..., :, None] \
        + s[..., :, None] * (f * (vtgv - _mT(vtgv)))
    out = u @ inner @ vh
    s_inv = np.where(s == 0, 0.0, 1.0 / np.where(s == 0, 1.0, s))
    if m > k:
        out = out + (np.eye(m) - u @ _mT(u)) @ (gu * s_inv[..., None, :]) @ vh
    if n > k:
        out = out + (u * s_inv[..., None, :]) @ _mT(gv) @ (np.eye(n) - v @ vh)
    return out


def svd_tangent(t, a, u, s, vh):
    """``(ds, du, dvh)`` of reduced ``svd(a)`` along ``t`` (JAX's ``svd_jvp_rule``, real case)."""
    v = _mT(vh)
    ds_mat = _mT(u) @ t @ v
    ds = np.diagonal(ds_mat, axis1=-2, axis2=-1)
    f = _pair_factor(s)
    dss, sds = s[..., None, :] * ds_mat, s[..., :, None] * ds_mat
    du = u @ (f * (dss + _mT(dss)))
    dv = v @ (f * (sds + _mT(sds)))
    m, n = a.shape[-2:]
    s_inv = np.where(s == 0, 0.0, 1.0 / np.where(s == 0, 1.0, s))
    if m > n:
        dav = t @ v
        du = du + (dav - u @ (_mT(u) @ dav)) * s_inv[..., None, :]
    if n > m:
        dahu = _mT(t) @ u
        dv = dv + (dahu - v @ (vh @ dahu)) * s_inv[..., None, :]
    return ds, du, _mT(dv)


def _reduced(gu, gvh, k):
    """Cotangents of a ``full_matrices=True`` factorisation cut to the reduced one."""
    for g, extra in ((gu, None if gu is None else gu[..., :, k:]), (gvh, None if gvh is None else gvh[..., k:, :])):
        if extra is not None and extra.size and np.any(extra != 0):
            unsupported("np.linalg.svd with full_matrices=True of a non-square matrix (use full_matrices=False)")
    return (None if gu is None else gu[..., :, :k]), (None if gvh is None else gvh[..., :k, :])


def _svd_args(a, full_matrices=True, compute_uv=True, hermitian=False):
    return full_matrices, compute_uv, hermitian


@rrule(np.linalg.svd)
def svd_rrule(a, *args, **kw):
    full, compute_uv, hermitian = _svd_args(a, *args, **kw)
    y = np.linalg.svd(a, *args, **kw)
    u, s, vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)

    def svd_pullback(g):
        if not compute_uv:
            return (u @ (g[..., :, None] * vh),) + (None,) * len(args)
        gu, gvh = _reduced(g[0], g[2], s.shape[-1]) if full else (g[0], g[2])
        return (svd_back(gu, g[1], gvh, a, u, s, vh),) + (None,) * len(args)

    return y, svd_pullback


@frule(np.linalg.svd)
def svd_frule(tangents, a, *args, **kw):
    full, compute_uv, hermitian = _svd_args(a, *args, **kw)
    y = np.linalg.svd(a, *args, **kw)
    t = tangents[0]
    if t is None:
        return y, None
    m, n = a.shape[-2:]
    if full and compute_uv and m != n:
        unsupported("np.linalg.svd with full_matrices=True of a non-square matrix (use full_matrices=False)")
    ds, du, dvh = svd_tangent(t, a, *np.linalg.svd(a, full_matrices=False, hermitian=hermitian))
    return y, type(y)(du, ds, dvh) if compute_uv else ds


@rrule(np.linalg.svdvals)
def svdvals_rrule(x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return s, lambda g: (u @ (g[..., :, None] * vh),)


@frule(np.linalg.svdvals)
def svdvals_frule(tangents, x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    t = tangents[0]
    return s, None if t is None else np.diagonal(_mT(u) @ t @ _mT(vh), axis1=-2, axis2=-1)


# ---- pseudo-inverse and least squares ----


def pinv_back(g, a, p):
    """Cotangent of ``a`` for ``p = pinv(a)`` of constant rank (Golub & Pereyra)."""
    m, n = a.shape[-2:]
    proj_out = np.eye(m) - a @ p   # I - A A+
    proj_in = np.eye(n) - p @ a    # I - A+ A
    return -_mT(p) @ g @ _mT(p) + proj_out @ _mT(g) @ p @ _mT(p) + _mT(p) @ p @ _mT(g) @ proj_in


def pinv_tangent(t, a, p):
    m, n = a.shape[-2:]
    return -p @ t @ p + p @ _mT(p) @ _mT(t) @ (np.eye(m) - a @ p) + (np.eye(n) - p @ a) @ _mT(t) @ _mT(p) @ p


defvjp(np.linalg.pinv, lambda g, y, a, *args, **kw: pinv_back(g, a, y))
defjvp(np.linalg.pinv, lambda t, y, a, *args, **kw: pinv_tangent(t, a, y))


@rrule(np.linalg.lstsq)
def lstsq_rrule(a, b, *args, **kw):
    x, residuals, rank, s = y = np.linalg.lstsq(a, b, *args, **kw)
    p = np.linalg.pinv(a)
    vec = np.ndim(b) == 1

    def lstsq_pullback(g):
        gx, gres, _, gs = g
        col = (lambda z: z[:, None]) if vec else (lambda z: z)
        ga, gb = np.zeros(np.shape(a)), np.zeros(np.shape(b))
        if gx is not None:  # x = pinv(a) @ b
            ga = ga + pinv_back(col(gx) @ _mT(col(b)), a, p)
            gb = gb + (p.T @ col(gx)).reshape(np.shape(b))
        if gres is not None and np.size(residuals):  # residuals = |b - a x|^2 per column, x optimal
            r = col(b) - a @ col(x)
            w = np.reshape(gres, (1, -1))
            ga = ga - 2 * (r * w) @ _mT(col(x))
            gb = gb + (2 * r * w).reshape(np.shape(b))
        if gs is not None:
            u, _, vh = np.linalg.svd(a, full_matrices=False)
            ga = ga + u @ (gs[:, None] * vh)
        return (match(ga, a), match(gb, b)) + (None,) * len(args)

    return y, lstsq_pullback


@frule(np.linalg.lstsq)
def lstsq_frule(tangents, a, b, *args, **kw):
    x, residuals, rank, s = y = np.linalg.lstsq(a, b, *args, **kw)
    ta, tb = tangents[0], tangents[1]
    if ta is None and tb is None:
        return y, None
    p = np.linalg.pinv(a)
    dx = 0.0
    dres = None
    if tb is not None:
        dx = dx + p @ tb
    if ta is not None:
        dx = dx + pinv_tangent(ta, a, p) @ b
    if np.size(residuals):
        r = b - a @ x
        dr = (0 if tb is None else tb) - (0 if ta is None else ta @ x)
        dres = np.atleast_1d(2 * np.sum(r * dr, axis=0))
    ds = None
    if ta is not None:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        ds = np.diagonal(u.T @ ta @ vh.T)
    return y, (dx, dres, None, ds)


# ---- QR ----


def _qr_mode(a, mode):
    m, n = a.shape[-2:]
    if mode not in ("reduced", "r", "complete") or m < n or (mode == "complete" and m != n):
        unsupported(f"np.linalg.qr with mode={mode!r} of a {m}x{n} matrix (supported: m >= n, "
                    "mode 'reduced' or 'r', or 'complete' of a square matrix)")


def qr_back(gq, gr, q, r):
    """Cotangent of ``a`` for ``q, r = qr(a)`` with ``m >= n`` (TensorFlow's ``QrGrad``)."""
    gq, gr = _or_zeros(gq, q), _or_zeros(gr, r)
    qdq = _mT(q) @ gq
    rdr = r @ _mT(gr)
    low = np.tril(qdq - _mT(qdq) + rdr - _mT(rdr))
    r_inv_t = lambda x: _mT(np.linalg.solve(r, _mT(x)))  # noqa: E731  x @ inv(r).T
    return q @ (gr + r_inv_t(low)) + r_inv_t(gq - q @ qdq)


def qr_tangent(t, q, r):
    """``(dq, dr)`` of ``qr(a)`` along ``t`` (JAX's ``qr_jvp_rule``, real case)."""
    dx_rinv = _mT(np.linalg.solve(_mT(r), _mT(t)))  # t @ inv(r)
    qt_dx_rinv = _mT(q) @ dx_rinv
    low = np.tril(qt_dx_rinv, -1)
    skew = low - _mT(low)
    return q @ (skew - qt_dx_rinv) + dx_rinv, (qt_dx_rinv - skew) @ r


@rrule(np.linalg.qr)
def qr_rrule(a, *args, **kw):
    mode = (args or (kw.get("mode", "reduced"),))[0]
    _qr_mode(a, mode)
    y = np.linalg.qr(a, mode=mode)
    q, r = np.linalg.qr(a)

    def qr_pullback(g):
        gq, gr = (None, g) if mode == "r" else g
        return (qr_back(gq, gr, q, r),) + (None,) * len(args)

    return y, qr_pullback


@frule(np.linalg.qr)
def qr_frule(tangents, a, mode="reduced"):
    _qr_mode(a, mode)
    y = np.linalg.qr(a, mode=mode)
    t = tangents[0]
    if t is None:
        return y, None
    dq, dr = qr_tangent(t, *np.linalg.qr(a))
    return y, dr if mode == "r" else type(y)(dq, dr)


# ---- eigenvalues of general matrices ----


def _gap_factor(w):
    """``F[i, j] = 1 / (w_j - w_i)``, 0 on the diagonal and for repeated eigenvalues."""
    d = w[..., None, :] - w[..., :, None]
    same = d == 0
    return np.where(same, 0.0, 1.0 / np.where(same, 1.0, d))


def eig_back(gw, gv, a, w, v):
    """Cotangent of real ``a`` for ``w, v = eig(a)``: ``Re(V^-T (diag(gw) + F * (V^T gv')) V^T)``."""
    inner = 0
    if gw is not None:
        inner = gw[..., :, None] * np.eye(w.shape[-1])
    if gv is not None:
        c = np.real(np.sum(gv * v, axis=-2))  # unit-norm eigenvectors: drop the part along each v
        gv = gv - np.conj(v) * c[..., None, :]
        inner = inner + _gap_factor(w) * (_mT(v) @ gv)
    return np.real(np.linalg.solve(_mT(v), inner @ _mT(v)))


def eig_tangent(t, w, v):
    """``(dw, dv)`` of ``eig(a)`` along ``t`` (JAX's ``eig_jvp_rule``)."""
    vinv_t_v = np.linalg.solve(v, t @ v)
    dw = np.diagonal(vinv_t_v, axis1=-2, axis2=-1)
    dv = v @ (_gap_factor(w) * vinv_t_v)
    dv = dv - v * np.real(np.sum(np.conj(v) * dv, axis=-2))[..., None, :]
    return dw, dv


@rrule(np.linalg.eig)
def eig_rrule(a):
    w, v = y = np.linalg.eig(a)
    return y, lambda g: (eig_back(g[0], g[1], a, w, v),)


@frule(np.linalg.eig)
def eig_frule(tangents, a):
    w, v = y = np.linalg.eig(a)
    t = tangents[0]
    if t is None:
        return y, None
    dw, dv = eig_tangent(t, w, v)
    return y, type(y)(dw if np.iscomplexobj(w) else np.real(dw), dv if np.iscomplexobj(v) else np.real(dv))


@rrule(np.linalg.eigvals)
def eigvals_rrule(a):
    w, v = np.linalg.eig(a)
    return w, lambda g: (eig_back(g, None, a, w, v),)


@frule(np.linalg.eigvals)
def eigvals_frule(tangents, a):
    w, v = np.linalg.eig(a)
    t = tangents[0]
    if t is None:
        return w, None
    dw = eig_tangent(t, w, v)[0]
    return w, dw if np.iscomplexobj(w) else np.real(dw)


# ---- powers and chains of products ----


def matrix_power_back(g, a, n):
    """Cotangent of ``a`` for ``y = matrix_power(a, n)``: ``sum_k (A^T)^k G (A^T)^(n-1-k)``."""
    if n < 0:
        inv = np.linalg.inv(a)
        gi = matrix_power_back(g, inv, -n)
        return -_mT(inv) @ gi @ _mT(inv)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    return sum((_mT(powers[k]) @ g @ _mT(powers[n - 1 - k]) for k in range(n)), np.zeros(a.shape))


def matrix_power_tangent(t, a, n):
    if n < 0:
        inv = np.linalg.inv(a)
        return matrix_power_tangent(-inv @ t @ inv, inv, -n)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    return sum((powers[k] @ t @ powers[n - 1 - k] for k in range(n)), np.zeros(a.shape))


defvjp(np.linalg.matrix_power, lambda g, y, a, n: matrix_power_back(g, a, n))
defjvp(np.linalg.matrix_power, lambda t, y, a, n: matrix_power_tangent(t, a, n))


def _chain(arrays):
    """The operands of ``multi_dot`` as matrices (a 1-d first is a row, a 1-d last a column)."""
    mats = [np.asarray(x, dtype=float) for x in arrays]
    mats[0] = mats[0][None, :] if mats[0].ndim == 1 else mats[0]
    mats[-1] = mats[-1][:, None] if mats[-1].ndim == 1 else mats[-1]
    return mats


@rrule(np.linalg.multi_dot)
def multi_dot_rrule(arrays, *, out=None):
    y = np.linalg.multi_dot(arrays, out=out)

    def multi_dot_pullback(g):
        mats = _chain(arrays)
        gm = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
        before = [np.eye(mats[0].shape[0])]
        for m in mats[:-1]:
            before.append(before[-1] @ m)
        after = [np.eye(mats[-1].shape[1])]
        for m in reversed(mats[1:]):
            after.append(m @ after[-1])
        after.reverse()
        cts = [match(np.reshape(before[i].T @ gm @ after[i].T, np.shape(x)), x) for i, x in enumerate(arrays)]
        return (cts if isinstance(arrays, list) else tuple(cts),)

    return y, multi_dot_pullback


@frule(np.linalg.multi_dot)
def multi_dot_frule(tangents, arrays, *, out=None):
    y = np.linalg.multi_dot(arrays)
    ts = tangents[0]
    if ts is None:
        return y, None
    mats = _chain(arrays)
    t = 0.0
    for i, ti in enumerate(ts):
        if ti is not None:
            parts = list(mats)
            parts[i] = np.reshape(ti, mats[i].shape)
            t = t + np.linalg.multi_dot(parts)
    return y, np.reshape(t, np.shape(y))


# ---- norms and condition numbers ----


def _flat_axes(x, axis):
    """``x`` with the axes of ``axis`` (None: all) moved last and flattened, and how to undo it."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else tuple(a % x.ndim for a in np.atleast_1d(axis))
    k = len(axes)
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - k, x.ndim)))
    flat = moved.reshape(moved.shape[:x.ndim - k] + (-1,))
    return flat, lambda f: np.moveaxis(f.reshape(moved.shape), tuple(range(x.ndim - k, x.ndim)), axes), axes


def vector_norm_weights(x, axis=None, ord=2):
    flat, undo, _ = _flat_axes(x, axis)
    return undo(norm_weights(flat, ord, -1))


def _expand_norm(g, x, axes, keepdims):
    if keepdims:
        return g
    return np.expand_dims(g, axes) if np.ndim(x) else g


defvjp(np.linalg.vector_norm, lambda g, y, x, *, axis=None, keepdims=False, ord=2:
       match(_expand_norm(g, x, _flat_axes(x, axis)[2], keepdims) * vector_norm_weights(x, axis, ord), x))
defjvp(np.linalg.vector_norm, lambda t, y, x, *, axis=None, keepdims=False, ord=2:
       np.sum(t * vector_norm_weights(x, axis, ord), axis=_flat_axes(x, axis)[2], keepdims=keepdims))
defvjp(np.linalg.matrix_norm, lambda g, y, x, *, keepdims=False, ord="fro":
       norm_back(g, x, ord, (-2, -1), keepdims))
defjvp(np.linalg.matrix_norm, lambda t, y, x, *, keepdims=False, ord="fro":
       np.sum(t * norm_weights(x, ord, (-2, -1)), axis=(-2, -1), keepdims=keepdims))


def cond_back(g, x, p=None):
    """Cotangent of ``x`` for ``y = cond(x, p)``: ``norm(x) norm(inv(x))``, or ``s_max / s_min`` for 2-norms."""
    if p in (None, 2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        hi, lo = (0, -1) if p != -2 else (-1, 0)
        top = u[..., :, hi, None] * vh[..., None, hi, :]
        bottom = u[..., :, lo, None] * vh[..., None, lo, :]
        sh, sl = s[..., hi, None, None], s[..., lo, None, None]
        return np.asarray(g)[..., None, None] * (top / sl - sh / sl ** 2 * bottom)
    inv = np.linalg.inv(x)
    nx, ni = np.linalg.norm(x, p, axis=(-2, -1)), np.linalg.norm(inv, p, axis=(-2, -1))
    wx, wi = norm_weights(x, p, (-2, -1)), norm_weights(inv, p, (-2, -1))
    g = np.asarray(g)[..., None, None]
    return g * (ni[..., None, None] * wx - nx[..., None, None] * (_mT(inv) @ wi @ _mT(inv)))


defvjp(np.linalg.cond, lambda g, y, x, p=None: cond_back(g, x, p))
defjvp(np.linalg.cond, lambda t, y, x, p=None: np.sum(t * cond_back(np.ones(np.shape(y)), x, p), axis=(-2, -1)))

# ---- tensor inverses and solves ----


def _tensor_matrix(a, ind):
    rows = int(np.prod(a.shape[:ind]))
    return np.reshape(a, (rows, -1))


defvjp(np.linalg.tensorinv, lambda g, y, a, ind=2:
       np.reshape(-_mT(_tensor_matrix(y, a.ndim - ind)) @ _tensor_matrix(g, a.ndim - ind)
                  @ _mT(_tensor_matrix(y, a.ndim - ind)), a.shape))
defjvp(np.linalg.tensorinv, lambda t, y, a, ind=2:
       np.reshape(-_tensor_matrix(y, a.ndim - ind) @ _tensor_matrix(t, ind) @ _tensor_matrix(y, a.ndim - ind),
                  y.shape))


def _no_axes(axes):
    if axes is not None:
        unsupported("np.linalg.tensorsolve with axes= (move the axes first)")


def tensorsolve_back(g, x, a, b, which):
    """Cotangent of ``a`` (0) or ``b`` (1) for ``x = tensorsolve(a, b)``."""
    am = np.reshape(a, (np.size(b), -1))
    gb = np.linalg.solve(am.T, np.ravel(g))
    if which == 1:
        return match(np.reshape(gb, np.shape(b)), b)
    return np.reshape(-np.outer(gb, np.ravel(x)), a.shape)


defvjp(np.linalg.tensorsolve, lambda g, y, a, b, axes=None: _no_axes(axes) or tensorsolve_back(g, y, a, b, 0),
                              lambda g, y, a, b, axes=None: _no_axes(axes) or tensorsolve_back(g, y, a, b, 1))
defjvp(np.linalg.tensorsolve, lambda t, y, a, b, axes=None:
       _no_axes(axes) or np.linalg.tensorsolve(a, -np.reshape(np.reshape(t, (np.size(b), -1)) @ np.ravel(y),
                                                              np.shape(b))),
       lambda t, y, a, b, axes=None: _no_axes(axes) or np.linalg.tensorsolve(a, t))

# ---- matrix-vector products, array API aliases, and what has no derivative ----

defvjp(np.matvec, lambda g, y, x1, x2: unbroadcast(g[..., :, None] * x2[..., None, :], x1),
                  lambda g, y, x1, x2: unbroadcast(np.matvec(_mT(x1), g), x2))
defjvp(np.matvec, lambda t, y, x1, x2: np.matvec(t, x2), lambda t, y, x1, x2: np.matvec(x1, t))
defvjp(np.vecmat, lambda g, y, x1, x2: unbroadcast(np.matvec(x2, g), x1),
                  lambda g, y, x1, x2: unbroadcast(x1[..., :, None] * g[..., None, :], x2))
defjvp(np.vecmat, lambda t, y, x1, x2: np.vecmat(t, x2), lambda t, y, x1, x2: np.vecmat(x1, t))

for _alias, _fn in ((np.linalg.outer, np.outer), (np.linalg.tensordot, np.tensordot), (np.row_stack, np.vstack)):
    _rule = get_rule(_fn)
    defvjp(_alias, *_rule.vjps)
    defjvp(_alias, *_rule.jvps)
nondiff(np.linalg.matrix_rank)
