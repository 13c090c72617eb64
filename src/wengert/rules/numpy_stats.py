"""Rules for NumPy's statistics: order statistics, NaN-ignoring reductions, averages, covariances.

``median``, ``quantile`` and ``percentile`` (and their ``nan`` forms) are a
weighted sum of at most two order statistics: the rule finds those weights by
sorting once (`quantile_weights`), so its cotangent goes to the elements that
were interpolated, and ties go to the one the stable sort put first. Methods
``linear`` (NumPy's default), ``lower``, ``higher``, ``nearest`` and
``midpoint`` are supported; the others raise ``NotImplementedError``.

The ``nan`` reductions treat NaN elements as absent: they get cotangent 0.
``average``'s ``weights`` get a gradient only when passed positionally (keyword
arguments never get gradients, see `wengert.rules.numpy`); ``cov`` and
``corrcoef`` differentiate their data, not ``fweights`` / ``aweights``.
"""

from __future__ import annotations

import numpy as np

from wengert.rules.numpy import cumprod_back, cumprod_tangent, cumsum_back, extremum_share, prod_others
from wengert.rules.numpy_shape import axes_of, expand, match
from wengert.rules.table import defjvp, defvjp, frule, rrule

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _keep(keepdims):
    return keepdims is True  # NumPy's nan functions default to np._NoValue


# ---- order statistics ----


def _moved(a, axis):
    """``(a with the reduced axes flattened last, axes)``."""
    a = np.asarray(a)
    axes = axes_of(axis, a.ndim)
    k = len(axes)
    moved = np.moveaxis(a, axes, tuple(range(a.ndim - k, a.ndim)))
    return moved.reshape(moved.shape[:a.ndim - k] + (-1,)), axes


def _positions(m, q, method, nan):
    """Sorted positions ``lo``, ``hi`` and weight ``frac`` of ``hi``, and the counts ``n``, per (q, row)."""
    if method not in _METHODS:
        raise NotImplementedError(f"no gradient for quantiles with method={method!r}; supported: {_METHODS}")
    n = np.sum(~np.isnan(m), axis=-1) if nan else np.full(m.shape[:-1], m.shape[-1])
    pos = q.reshape(q.shape + (1,) * (m.ndim - 1)) * (n - 1)
    lo = np.floor(pos)
    if method in ("lower", "higher", "nearest"):
        lo = hi = {"lower": lo, "higher": np.ceil(pos), "nearest": np.around(pos)}[method]
        return lo, hi, 0.0 * pos, n
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    return lo, hi, (pos - lo if method == "linear" else np.where(pos > lo, 0.5, 0.0)), n


def quantile_weights(a, q, axis=None, method="linear", nan=False):
    """``(W, axes)``: ``quantile(a, q, axis)`` is ``sum(W * m, -1)`` for ``m`` = `_moved` ``(a, axis)``.

    ``W`` has shape ``q.shape + m.shape``; NaN elements (sorted last) get weight 0.
    """
    m, axes = _moved(a, axis)
    perm = np.argsort(m, axis=-1, kind="stable")
    lo, hi, frac, n = _positions(m, np.asarray(q, dtype=float), method, nan)
    slots = np.arange(m.shape[-1])
    w_sorted = (slots == lo[..., None]) * (1 - frac)[..., None] + (slots == hi[..., None]) * frac[..., None]
    w_sorted = np.where((n > 0)[..., None], w_sorted, 0.0)
    inverse = np.broadcast_to(np.argsort(perm, axis=-1), w_sorted.shape)
    return np.take_along_axis(w_sorted, inverse, -1), axes


def quantile_q_slope(a, q, axis=None, method="linear", nan=False):
    """``d quantile(a, q) / dq`` per (q, row): the gap between the two order statistics times ``n - 1``."""
    m, _ = _moved(a, axis)
    q = np.asarray(q, dtype=float)
    lo, hi, _, n = _positions(m, q, method, nan)
    if method != "linear":
        return np.zeros(lo.shape)
    ordered = np.broadcast_to(np.sort(m, axis=-1), lo.shape + m.shape[-1:])
    at = lambda i: np.take_along_axis(ordered, np.maximum(i, 0).astype(np.intp)[..., None], -1)[..., 0]  # noqa: E731
    return (at(hi) - at(lo)) * np.maximum(n - 1, 0)


def quantile_q_back(g, y, a, q, axis=None, method="linear", nan=False, scale=1.0):
    """Cotangent of ``q`` for ``y = quantile(a, q * scale, axis)`` (any ``keepdims``)."""
    slope = quantile_q_slope(a, np.asarray(q) * scale, axis, method, nan) * scale
    ct = np.sum(np.reshape(g, slope.shape) * slope, axis=tuple(range(np.ndim(q), slope.ndim)))
    return match(ct, q)


def quantile_q_tangent(t, y, a, q, axis=None, method="linear", nan=False, scale=1.0):
    slope = quantile_q_slope(a, np.asarray(q) * scale, axis, method, nan) * scale
    t = np.reshape(t, np.shape(t) + (1,) * (slope.ndim - np.ndim(t)))
    return np.reshape(t * slope, np.shape(y))


def quantile_back(g, a, q, axis=None, method="linear", nan=False):
    """Cotangent of ``a`` for ``y = quantile(a, q, axis, method=method)`` (any ``keepdims``)."""
    w, axes = quantile_weights(a, q, axis, method, nan)
    qdims = np.ndim(q)
    g = np.reshape(g, w.shape[:-1] + (1,))
    ct = np.sum(g * w, axis=tuple(range(qdims)))
    shape = np.shape(a)
    k = len(axes)
    moved_shape = tuple(n for i, n in enumerate(shape) if i not in axes) + tuple(shape[i] for i in axes)
    ct = np.moveaxis(ct.reshape(moved_shape), tuple(range(len(shape) - k, len(shape))), axes)
    return match(ct, a)


def quantile_tangent(t, y, a, q, axis=None, method="linear", nan=False):
    w, _ = quantile_weights(a, q, axis, method, nan)
    tm, _ = _moved(np.broadcast_to(t, np.shape(a)), axis)
    return np.reshape(np.sum(w * tm, axis=-1), np.shape(y))


def _no_weights(weights):
    if weights is not None:
        raise NotImplementedError("no gradient for weighted quantiles (weights=)")


def _register_quantiles():
    for fn, nan, scale in ((np.quantile, False, 1.0), (np.nanquantile, True, 1.0),
                           (np.percentile, False, 0.01), (np.nanpercentile, True, 0.01)):
        defvjp(fn, lambda g, y, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, _nan=nan, _s=scale:
               _no_weights(weights) or quantile_back(g, a, np.asarray(q) * _s, axis, method, _nan),
               lambda g, y, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, _nan=nan, _s=scale:
               quantile_q_back(g, y, a, q, axis, method, _nan, _s))
        defjvp(fn, lambda t, y, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, _nan=nan, _s=scale:
               _no_weights(weights) or quantile_tangent(t, y, a, np.asarray(q) * _s, axis, method, _nan),
               lambda t, y, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, _nan=nan, _s=scale:
               quantile_q_tangent(t, y, a, q, axis, method, _nan, _s))
    for fn, nan in ((np.median, False), (np.nanmedian, True)):
        defvjp(fn, lambda g, y, a, axis=None, out=None, overwrite_input=False, keepdims=False, _nan=nan:
               quantile_back(g, a, 0.5, axis, "linear", _nan))
        defjvp(fn, lambda t, y, a, axis=None, out=None, overwrite_input=False, keepdims=False, _nan=nan:
               quantile_tangent(t, y, a, 0.5, axis, "linear", _nan))


_register_quantiles()

# ---- reductions that skip NaN ----


def _present(a):
    return ~np.isnan(a)


def _nan_count(a, axis):
    return np.sum(_present(a), axis=axis, keepdims=True)


def nanvar_slope(a, axis=None, ddof=0):
    """``d nanvar(a) / da``: ``2 (a - nanmean) / (n - ddof)`` on present elements, 0 on NaN."""
    axes = axes_of(axis, np.ndim(a))
    present = _present(a)
    mean = np.nanmean(a, axis=axes, keepdims=True)
    return np.where(present, 2 * (a - mean) / (_nan_count(a, axes) - ddof), 0.0)


def _nan_half_inverse(y):
    zero = y == 0
    return np.where(zero, 0.0, 0.5 / np.where(zero, 1.0, y))


def _filled(a, value):
    return np.where(_present(a), a, value)


defvjp(np.nanmean, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False, **kw:
       expand(g, a, axis, _keep(keepdims)) * _present(a) / _nan_count(a, axes_of(axis, np.ndim(a))))
defjvp(np.nanmean, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False, **kw:
       np.nanmean(np.where(_present(a), t, np.nan), axis=axis, keepdims=_keep(keepdims)))
for _f in (np.nanmax, np.nanmin):
    defvjp(_f, lambda g, y, a, axis=None, out=None, keepdims=False, **kw:
           expand(g, a, axis, _keep(keepdims)) * extremum_share(a, y, axis, _keep(keepdims)))
    defjvp(_f, lambda t, y, a, axis=None, out=None, keepdims=False, **kw:
           np.sum(t * extremum_share(a, y, axis, _keep(keepdims)), axis=axis, keepdims=_keep(keepdims)))
defvjp(np.nanprod, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False, **kw:
       expand(g, a, axis, _keep(keepdims)) * prod_others(_filled(a, 1.0), axis) * _present(a))
defjvp(np.nanprod, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False, **kw:
       np.sum(t * prod_others(_filled(a, 1.0), axis) * _present(a), axis=axis, keepdims=_keep(keepdims)))
defvjp(np.nanvar, lambda g, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw:
       expand(g, a, axis, _keep(keepdims)) * nanvar_slope(a, axis, ddof))
defjvp(np.nanvar, lambda t, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw:
       np.sum(t * nanvar_slope(a, axis, ddof), axis=axis, keepdims=_keep(keepdims)))
defvjp(np.nanstd, lambda g, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw:
       expand(g * _nan_half_inverse(y), a, axis, _keep(keepdims)) * nanvar_slope(a, axis, ddof))
defjvp(np.nanstd, lambda t, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw:
       np.sum(t * nanvar_slope(a, axis, ddof), axis=axis, keepdims=_keep(keepdims)) * _nan_half_inverse(y))
defvjp(np.nancumsum, lambda g, y, a, axis=None, dtype=None, out=None:
       cumsum_back(g, a, axis) * _present(a))
defjvp(np.nancumsum, lambda t, y, a, axis=None, dtype=None, out=None: np.cumsum(t * _present(a), axis))
defvjp(np.nancumprod, lambda g, y, a, axis=None, dtype=None, out=None:
       cumprod_back(g, y, _filled(a, 1.0), axis) * _present(a))
defjvp(np.nancumprod, lambda t, y, a, axis=None, dtype=None, out=None:
       cumprod_tangent(t * _present(a), y, _filled(a, 1.0), axis))


# ---- ranges and averages ----


def ptp_share(a, axis=None):
    """``d ptp(a) / da``: the share of the maximum minus the share of the minimum."""
    return (extremum_share(a, np.max(a, axis, keepdims=True), axis, True)
            - extremum_share(a, np.min(a, axis, keepdims=True), axis, True))


defvjp(np.ptp, lambda g, y, a, axis=None, out=None, keepdims=False:
       expand(g, a, axis, _keep(keepdims)) * ptp_share(a, axis))
defjvp(np.ptp, lambda t, y, a, axis=None, out=None, keepdims=False:
       np.sum(t * ptp_share(a, axis), axis=axis, keepdims=_keep(keepdims)))


def _average_weights(a, axis, weights):
    """``weights`` broadcast against ``a`` (1-d weights lie along ``axis``)."""
    if weights is None:
        return np.ones(np.shape(a))
    w = np.asarray(weights)
    if w.shape != np.shape(a) and w.ndim == 1 and axis is not None:
        shape = [1] * np.ndim(a)
        shape[axes_of(axis, np.ndim(a))[0]] = w.size
        w = w.reshape(shape)
    return np.broadcast_to(w, np.shape(a))


def _average_parts(a, axis, weights):
    w = _average_weights(a, axis, weights)
    axes = axes_of(axis, np.ndim(a))
    sw = np.sum(w, axis=axes, keepdims=True)
    mean = np.sum(w * a, axis=axes, keepdims=True) / sw
    return w, sw, mean


def _returned(returned):
    if returned:
        raise NotImplementedError("no gradient for np.average with returned=True")


def average_back(g, a, axis=None, weights=None, keepdims=False, which=0):
    """Cotangent of ``a`` (``which=0``) or ``weights`` (2) for ``y = average(a, axis, weights)``."""
    w, sw, mean = _average_parts(a, axis, weights)
    gx = expand(g, a, axis, _keep(keepdims)) / sw
    if which == 0:
        return match(gx * w, a)
    ct = gx * (a - mean)
    if np.shape(weights) != np.shape(a):
        ct = np.sum(ct, axis=tuple(i for i in range(np.ndim(a)) if i not in axes_of(axis, np.ndim(a))))
    return match(np.reshape(ct, np.shape(weights)), weights)


def average_tangent(t, a, axis=None, weights=None, keepdims=False, which=0):
    w, sw, mean = _average_parts(a, axis, weights)
    axes = axes_of(axis, np.ndim(a))
    part = t * w if which == 0 else _average_weights(a, axis, t) * (a - mean)
    out = np.sum(part, axis=axes, keepdims=True) / sw
    return out if _keep(keepdims) else np.squeeze(out, axis=axes)


defvjp(np.average, lambda g, y, a, axis=None, weights=None, returned=False, keepdims=False:
       _returned(returned) or average_back(g, a, axis, weights, keepdims, 0),
       None,
       lambda g, y, a, axis=None, weights=None, returned=False, keepdims=False:
       _returned(returned) or average_back(g, a, axis, weights, keepdims, 2))
defjvp(np.average, lambda t, y, a, axis=None, weights=None, returned=False, keepdims=False:
       _returned(returned) or average_tangent(t, a, axis, weights, keepdims, 0),
       None,
       lambda t, y, a, axis=None, weights=None, returned=False, keepdims=False:
       _returned(returned) or average_tangent(t, a, axis, weights, keepdims, 2))

# ---- counting ----

defvjp(np.bincount, None, lambda g, y, x, weights=None, minlength=0: match(np.asarray(g)[x], weights))
defjvp(np.bincount, None, lambda t, y, x, weights=None, minlength=0: np.bincount(x, t, minlength))

# ---- covariance and correlation ----


def _rows(m, rowvar):
    x = np.array(m, ndmin=2, dtype=float)
    return x.T if not rowvar and x.shape[0] != 1 else x


def _cov_data(m, y, rowvar):
    x = _rows(m, rowvar)
    return x if y is None else np.concatenate([x, _rows(y, rowvar)], axis=0)


def _cov_divisor(n, bias, ddof):
    return n - (ddof if ddof is not None else (0 if bias else 1))


def _cov_split(d, m, y, rowvar):
    """The cotangent ``d`` of the stacked variables handed back to ``m`` and ``y``."""
    rows = _rows(m, rowvar).shape[0]
    out = []
    for part, x in ((d[:rows], m), (d[rows:], y)):
        if x is None:
            out.append(None)
            continue
        part = part.T if not rowvar and np.array(x, ndmin=2).shape[0] != 1 else part
        out.append(match(np.reshape(part, np.shape(x)), x))
    return out


def _no_frequency(fweights, aweights):
    if fweights is not None or aweights is not None:
        raise NotImplementedError("no gradient for np.cov with fweights or aweights")


def _cov_args(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, **kw):
    return m, y, rowvar, bias, ddof, fweights, aweights


@rrule(np.cov)
def cov_rrule(*args, **kw):
    m, y, rowvar, bias, ddof, fweights, aweights = _cov_args(*args, **kw)
    out = np.cov(*args, **kw)

    def cov_pullback(g):
        _no_frequency(fweights, aweights)
        x = _cov_data(m, y, rowvar)
        xc = x - x.mean(axis=1, keepdims=True)
        gm = np.reshape(g, (x.shape[0], x.shape[0]))
        d = (gm + gm.T) @ xc / _cov_divisor(x.shape[1], bias, ddof)
        return (*_cov_split(d, m, y, rowvar), *(None,) * 5)[:len(args)]

    return out, cov_pullback


@frule(np.cov)
def cov_frule(tangents, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, **kw):
    out = np.cov(m, y, rowvar, bias, ddof, fweights, aweights, **kw)
    tm = tangents[0]
    ty = tangents[1] if len(tangents) > 1 else None
    if tm is None and ty is None:
        return out, None
    _no_frequency(fweights, aweights)
    x = _cov_data(m, y, rowvar)
    dx = _cov_data(np.zeros(np.shape(m)) if tm is None else tm,
                   None if y is None else (np.zeros(np.shape(y)) if ty is None else ty), rowvar)
    xc = x - x.mean(axis=1, keepdims=True)
    dxc = dx - dx.mean(axis=1, keepdims=True)
    d = (dxc @ xc.T + xc @ dxc.T) / _cov_divisor(x.shape[1], bias, ddof)
    return out, np.reshape(d, np.shape(out))


def corrcoef_cov_back(g, c):
    """Cotangent of the covariance ``c`` for ``r = c / outer(s, s)``, ``s = sqrt(diag(c))``."""
    s = np.sqrt(np.diag(c))
    r = c / np.outer(s, s)
    gc = g / np.outer(s, s)
    extra = -(np.sum(g * r, axis=1) + np.sum(g * r, axis=0)) / (2 * np.diag(c))
    return gc + np.diag(extra)


def _corrcoef_args(x, y=None, rowvar=True, **kw):
    return x, y, rowvar


@rrule(np.corrcoef)
def corrcoef_rrule(*args, **kw):
    x, y, rowvar = _corrcoef_args(*args, **kw)
    out = np.corrcoef(*args, **kw)

    def corrcoef_pullback(g):
        data = _cov_data(x, y, rowvar)
        c = np.atleast_2d(np.cov(data))
        gc = corrcoef_cov_back(np.reshape(g, c.shape), c)
        xc = data - data.mean(axis=1, keepdims=True)
        d = (gc + gc.T) @ xc / (data.shape[1] - 1)
        return (*_cov_split(d, x, y, rowvar), None)[:len(args)]

    return out, corrcoef_pullback


@frule(np.corrcoef)
def corrcoef_frule(tangents, x, y=None, rowvar=True, **kw):
    out = np.corrcoef(x, y, rowvar, **kw)
    tx = tangents[0]
    ty = tangents[1] if len(tangents) > 1 else None
    if tx is None and ty is None:
        return out, None
    _, dc = cov_frule((tx, ty), x, y, rowvar)
    c = np.atleast_2d(np.cov(_cov_data(x, y, rowvar)))
    dc = np.reshape(dc, c.shape)
    s = np.sqrt(np.diag(c))
    ds = np.diag(dc) / (2 * s)
    r = c / np.outer(s, s)
    dr = dc / np.outer(s, s) - r * (ds[:, None] / s[:, None] + ds[None, :] / s[None, :])
    return out, np.reshape(dr, np.shape(out))

