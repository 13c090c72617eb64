"""Rules for NumPy's sequence, signal and polynomial functions.

Differences (``diff``, ``ediff1d``, ``gradient``), integration (``trapezoid``),
interpolation (``interp``), products that build new axes (``kron``, ``cross``,
``convolve``, ``correlate``), polynomials (``polyval``, ``polyadd``,
``polymul``, ``polyder``, ``polyint``, ``polyfit`` in ``y``, ``vander``) and
geometric grids (``logspace``, ``geomspace``).

Most are linear in each argument; their cotangents are written as the
transposed operation. ``gradient``'s spacing and ``interp``'s sample points
differentiate when they are scalars / arrays passed positionally; what is not
supported (``interp`` with ``period=``, ``logspace`` with an array base) raises
``NotImplementedError`` rather than returning a zero.
"""

from __future__ import annotations

import numpy as np

from wengert.rules.numpy_shape import is_float, match
from wengert.rules.table import defjvp, defvjp, frule, rrule
from wengert.rules.support import unbroadcast

_NO = np._NoValue


def unsupported(what):
    raise NotImplementedError(f"wengert has no derivative for {what}")


# ---- differences ----


def _pad_len(extra, a, axis):
    if extra is _NO or extra is None:
        return 0
    return 1 if np.ndim(extra) == 0 else np.shape(extra)[axis]


def diff_transpose(g, n=1, axis=-1):
    """The transpose of ``n`` differences along ``axis``: one element longer per difference."""
    for _ in range(n):
        zero = np.zeros_like(np.take(g, [0], axis=axis))
        g = np.concatenate([zero, g], axis=axis) - np.concatenate([g, zero], axis=axis)
    return g


def diff_back(g, a, n=1, axis=-1, prepend=_NO, append=_NO):
    """Cotangent of ``a`` for ``y = diff(a, n, axis, prepend=..., append=...)``."""
    axis %= np.ndim(a)
    full = diff_transpose(g, n, axis)
    start = _pad_len(prepend, a, axis)
    return match(np.take(full, np.arange(start, start + np.shape(a)[axis]), axis=axis), a)


def diff_tangent(t, a, n=1, axis=-1, prepend=_NO, append=_NO):
    pad = {k: np.zeros_like(np.asarray(v, dtype=float)) for k, v in (("prepend", prepend), ("append", append))
           if v is not _NO and v is not None}
    return np.diff(np.broadcast_to(t, np.shape(a)), n, axis, **pad)


defvjp(np.diff, lambda g, y, a, n=1, axis=-1, prepend=_NO, append=_NO: diff_back(g, a, n, axis, prepend, append))
defjvp(np.diff, lambda t, y, a, n=1, axis=-1, prepend=_NO, append=_NO: diff_tangent(t, a, n, axis, prepend, append))


def _length(v):
    return 0 if v is None else np.size(v)


def ediff1d_back(g, ary, to_end=None, to_begin=None, which=0):
    """Cotangent of ``ary`` (0), ``to_end`` (1) or ``to_begin`` (2) for ``y = ediff1d(ary, to_end, to_begin)``."""
    b, e = _length(to_begin), _length(to_end)
    if which == 0:
        return match(np.reshape(diff_transpose(g[b:len(g) - e]), np.shape(ary)), ary)
    part, x = (g[len(g) - e:], to_end) if which == 1 else (g[:b], to_begin)
    return match(np.reshape(part, np.shape(x)), x)


def ediff1d_tangent(t, ary, to_end=None, to_begin=None, which=0):
    b, e = _length(to_begin), _length(to_end)
    if which == 0:
        return np.concatenate([np.zeros(b), np.diff(np.ravel(t)), np.zeros(e)])
    n = np.size(ary) - 1 if np.size(ary) else 0
    pieces = [np.zeros(b), np.zeros(n), np.ravel(t)] if which == 1 else [np.ravel(t), np.zeros(n), np.zeros(e)]
    return np.concatenate(pieces)


defvjp(np.ediff1d, *(lambda g, y, ary, to_end=None, to_begin=None, _w=w: ediff1d_back(g, ary, to_end, to_begin, _w)
                     for w in range(3)))
defjvp(np.ediff1d, *(lambda t, y, ary, to_end=None, to_begin=None, _w=w:
                     ediff1d_tangent(t, ary, to_end, to_begin, _w) for w in range(3)))


def _gradient_setup(f, varargs, axis, edge_order):
    """``(axes, spacing per axis, matrix per axis)``: ``gradient`` along an axis is a matrix product."""
    nd = np.ndim(f)
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in np.atleast_1d(axis))
    spacing = list(varargs) * len(axes) if len(varargs) == 1 else list(varargs) or [1.0] * len(axes)
    mats = [np.gradient(np.eye(np.shape(f)[ax]), h, axis=0, edge_order=edge_order) for ax, h in zip(axes, spacing)]
    return axes, spacing, mats


def _along(m, x, ax):
    """``m`` applied to ``x`` along axis ``ax``."""
    return np.moveaxis(np.tensordot(m, x, axes=([1], [ax])), 0, ax)


_STEP = 1e-30  # complex step: f(x + i h t) = f(x) + i h f'(x) t + O(h^2), exact in float64


def coordinates_back(g, f, varargs, k, ax, edge_order):
    """Cotangent of the coordinate array ``varargs[k]`` (used along axis ``ax``) of ``gradient(f, ...)``.

    Each output depends on the coordinates at most two places away, so coordinates five apart
    can be perturbed together: five complex-step evaluations give the whole cotangent.
    """
    x = np.asarray(varargs[k], dtype=float)
    n = len(x)
    out = np.zeros(n)
    for color in range(5):
        mask = (np.arange(n) % 5) == color
        shifted = list(varargs)
        shifted[k] = x + 1j * _STEP * mask
        jac = np.imag(np.gradient(np.asarray(f, dtype=complex), *shifted, axis=ax, edge_order=edge_order)) / _STEP
        per_row = np.sum(g * jac, axis=tuple(i for i in range(np.ndim(f)) if i != ax))
        out[mask] = np.convolve(per_row, np.ones(5), "same")[mask]  # rows within two places of each
    return match(out, varargs[k])


@rrule(np.gradient)
def gradient_rrule(f, *varargs, axis=None, edge_order=1):
    y = np.gradient(f, *varargs, axis=axis, edge_order=edge_order)

    def gradient_pullback(g):
        axes, spacing, mats = _gradient_setup(f, varargs, axis, edge_order)
        outs, gs = (y, g) if isinstance(y, (list, tuple)) else ((y,), (g,))
        ct = 0.0
        cts = [None] * len(varargs)
        for k, (ax, m, yk, gk) in enumerate(zip(axes, mats, outs, gs)):
            if gk is None:
                continue
            ct = ct + _along(m.T, gk, ax)
            i = 0 if len(varargs) == 1 else k
            if varargs and is_float(spacing[k]):
                if np.ndim(spacing[k]):
                    add = coordinates_back(gk, f, [spacing[k]], 0, ax, edge_order)
                else:
                    add = match(-float(np.sum(gk * yk)) / spacing[k], spacing[k])
                cts[i] = add if cts[i] is None else cts[i] + add
        ct = match(np.broadcast_to(ct, np.shape(f)) * 1.0, f)
        return (ct, *cts)

    return y, gradient_pullback


@frule(np.gradient)
def gradient_frule(tangents, f, *varargs, axis=None, edge_order=1):
    y = np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    t = None
    if tangents[0] is not None:
        t = np.gradient(np.broadcast_to(tangents[0], np.shape(f)), *varargs, axis=axis, edge_order=edge_order)
    if any(ti is not None for ti in tangents[1:]):
        shifted = [v if ti is None else np.asarray(v, dtype=float) + 1j * _STEP * np.asarray(ti)
                   for v, ti in zip(varargs, tangents[1:])]
        dy = np.gradient(np.asarray(f, dtype=complex), *shifted, axis=axis, edge_order=edge_order)
        dy = [np.imag(d) / _STEP for d in dy] if isinstance(dy, (list, tuple)) else np.imag(dy) / _STEP
        t = dy if t is None else ([a + b for a, b in zip(t, dy)] if isinstance(dy, list) else
                                  (tuple(a + b for a, b in zip(t, dy)) if isinstance(dy, tuple) else t + dy))
    return y, t


# ---- integration and interpolation ----


def _trapezoid_widths(y, x=None, dx=1.0, axis=-1):
    """The weight of each sample of ``y`` (shaped to broadcast against ``y``)."""
    n = np.shape(y)[axis]
    if x is None:
        w = np.full(n, float(dx))
        w[0] = w[-1] = dx / 2
        shape = [1] * np.ndim(y)
        shape[axis] = n
        return w.reshape(shape)
    d = np.diff(x, axis=axis if np.ndim(x) > 1 else -1)
    if np.ndim(x) == 1:
        shape = [1] * np.ndim(y)
        shape[axis] = n - 1
        d = d.reshape(shape)
    zero = np.zeros_like(np.take(d, [0], axis=axis))
    return (np.concatenate([zero, d], axis=axis) + np.concatenate([d, zero], axis=axis)) / 2


def trapezoid_x_back(g, y, x, axis=-1):
    """Cotangent of the sample points ``x`` for ``trapezoid(y, x, axis=axis)``."""
    axis %= np.ndim(y)
    gy = np.expand_dims(g, axis) * 1.0
    avg = (np.take(y, np.arange(1, y.shape[axis]), axis) + np.take(y, np.arange(y.shape[axis] - 1), axis)) / 2
    dd = gy * avg  # cotangent of each interval width
    zero = np.zeros_like(np.take(dd, [0], axis=axis))
    ct = np.concatenate([zero, dd], axis=axis) - np.concatenate([dd, zero], axis=axis)
    if np.ndim(x) == 1:
        ct = np.sum(ct, axis=tuple(i for i in range(ct.ndim) if i != axis))
    return match(unbroadcast(ct, x) if np.ndim(x) > 1 else ct, x)


def _trapezoid_args(y, x=None, dx=1.0, axis=-1):
    return y, x, dx, axis


@rrule(np.trapezoid)
def trapezoid_rrule(*args, **kw):
    y, x, dx, axis = _trapezoid_args(*args, **kw)
    out = np.trapezoid(*args, **kw)

    def trapezoid_pullback(g):
        yy = np.asarray(y, dtype=float)
        ct_y = match(np.expand_dims(g, axis % yy.ndim) * _trapezoid_widths(yy, x, dx, axis), y)
        ct_x = trapezoid_x_back(g, yy, x, axis) if x is not None and is_float(x) else None
        ct_dx = match(float(np.sum(g * out)) / dx, dx) if x is None and is_float(dx) and dx != 0 else None
        return (ct_y, ct_x, ct_dx, None)[:len(args)]

    return out, trapezoid_pullback


@frule(np.trapezoid)
def trapezoid_frule(tangents, *args, **kw):
    y, x, dx, axis = _trapezoid_args(*args, **kw)
    out = np.trapezoid(*args, **kw)
    t = None
    ty = tangents[0]
    if ty is not None:
        t = np.sum(np.broadcast_to(ty, np.shape(y)) * _trapezoid_widths(np.asarray(y, float), x, dx, axis), axis)
    if len(tangents) > 1 and tangents[1] is not None:
        yy = np.asarray(y, dtype=float)
        avg = (np.take(yy, np.arange(1, yy.shape[axis]), axis) + np.take(yy, np.arange(yy.shape[axis] - 1), axis)) / 2
        tx = np.diff(tangents[1], axis=axis if np.ndim(x) > 1 else -1)
        if np.ndim(x) == 1:
            tx = np.reshape(tx, [-1 if i == axis % yy.ndim else 1 for i in range(yy.ndim)])
        t = (0 if t is None else t) + np.sum(avg * tx, axis)
    if len(tangents) > 2 and tangents[2] is not None and x is None:
        t = (0 if t is None else t) + tangents[2] * out / dx
    return out, t


def _segments(x, xp):
    """Index ``i`` of the segment ``[xp[i], xp[i+1]]`` each ``x`` falls in, and where ``x`` is inside."""
    xp = np.asarray(xp, dtype=float)
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    inside = (np.asarray(x) >= xp[0]) & (np.asarray(x) <= xp[-1])
    return i, inside


def _interp_parts(x, xp, fp):
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)
    i, inside = _segments(x, xp)
    d = xp[i + 1] - xp[i]
    return i, inside, d, (fp[i + 1] - fp[i]) / d, (np.asarray(x) - xp[i]) / d


def _no_period(period):
    if period is not None:
        unsupported("np.interp with period=")


def interp_back(g, x, xp, fp, which):
    """Cotangent of ``x`` (0), ``xp`` (1) or ``fp`` (2) for ``y = interp(x, xp, fp)``."""
    if len(xp) < 2:
        return match(np.zeros(np.shape((x, xp, fp)[which])), (x, xp, fp)[which])
    i, inside, d, slope, frac = _interp_parts(x, xp, fp)
    g = np.broadcast_to(g, np.shape(i))
    if which == 0:
        return match(np.where(inside, g * slope, 0.0), x)
    n = len(xp)
    if which == 2:
        w_lo, w_hi = g * (1 - frac) * inside, g * frac * inside
    else:
        w_lo, w_hi = g * slope * (frac - 1) * inside, -g * slope * frac * inside
    out = np.bincount(np.ravel(i), np.ravel(w_lo), minlength=n) + np.bincount(np.ravel(i) + 1, np.ravel(w_hi),
                                                                                minlength=n)
    if which == 2:  # left / right defaults are fp[0] / fp[-1]
        below, above = np.asarray(x) < xp[0], np.asarray(x) > xp[-1]
        out[0] += np.sum(g * below)
        out[-1] += np.sum(g * above)
    return match(out, (x, xp, fp)[which])


def interp_tangent(t, x, xp, fp, which):
    if len(xp) < 2:
        return np.zeros(np.shape(x)) if which != 2 else np.broadcast_to(np.asarray(t)[0], np.shape(x)) * 1.0
    i, inside, d, slope, frac = _interp_parts(x, xp, fp)
    if which == 0:
        return np.where(inside, t * slope, 0.0)
    t = np.asarray(t, dtype=float)
    if which == 2:
        below, above = np.asarray(x) < xp[0], np.asarray(x) > xp[-1]
        return np.where(inside, t[i] * (1 - frac) + t[i + 1] * frac, np.where(below, t[0], np.where(above, t[-1], 0)))
    return np.where(inside, slope * ((frac - 1) * t[i] - frac * t[i + 1]), 0.0)


defvjp(np.interp, *(lambda g, y, x, xp, fp, left=None, right=None, period=None, _w=w:
                    _no_period(period) or _interp_back_lr(g, x, xp, fp, _w, left, right)
                    for w in range(3)))
defjvp(np.interp, *(lambda t, y, x, xp, fp, left=None, right=None, period=None, _w=w:
                    _no_period(period) or _interp_tangent_lr(t, x, xp, fp, _w, left, right)
                    for w in range(3)))


def _interp_back_lr(g, x, xp, fp, which, left, right):
    ct = interp_back(g, x, xp, fp, which)
    if which == 2 and (left is not None or right is not None):  # the constants replaced fp[0] / fp[-1] outside
        xa, xpa = np.asarray(x), np.asarray(xp, dtype=float)
        arr = np.array(ct, dtype=float)
        gb = np.broadcast_to(g, np.shape(xa))
        if left is not None:
            arr[0] -= np.sum(gb * (xa < xpa[0]))
        if right is not None:
            arr[-1] -= np.sum(gb * (xa > xpa[-1]))
        ct = match(arr, fp)
    return ct


def _interp_tangent_lr(t, x, xp, fp, which, left, right):
    out = interp_tangent(t, x, xp, fp, which)
    if which == 2:
        xa, xpa = np.asarray(x), np.asarray(xp, dtype=float)
        if left is not None:
            out = np.where(xa < xpa[0], 0.0, out)
        if right is not None:
            out = np.where(xa > xpa[-1], 0.0, out)
    return out


# ---- geometric grids ----


def _grid_slopes(y, start, stop, num, endpoint, axis, log_scale):
    """``(dy/dstart, dy/dstop)`` for ``y = exp(log_scale * ((1 - w) s + w e))``-shaped grids."""
    from wengert.rules.numpy import linspace_weights

    w = linspace_weights(y, num, endpoint, axis)
    if log_scale is None:  # geomspace: y = start**(1 - w) * stop**w
        s, e = (np.expand_dims(np.asarray(v, dtype=float), axis) for v in (start, stop))
        return y * (1 - w) / s, y * w / e
    return y * log_scale * (1 - w), y * log_scale * w


def grid_back(g, y, start, stop, num, endpoint, axis, log_scale, which):
    slope = _grid_slopes(y, start, stop, num, endpoint, axis, log_scale)[which]
    x = (start, stop)[which]
    return match(unbroadcast(np.sum(g * slope, axis=axis), x), x)


def grid_tangent(t, y, start, stop, num, endpoint, axis, log_scale, which):
    return np.expand_dims(t, axis) * _grid_slopes(y, start, stop, num, endpoint, axis, log_scale)[which]


def _log_base(base):
    if np.ndim(base):
        unsupported("np.logspace with an array base")
    return float(np.log(base))


def base_slope(y, base):
    """``d base**e / d base = e base**(e - 1) = y log(y) / (log(base) base)``."""
    return y * np.log(y) / (_log_base(base) * base)


defvjp(np.logspace, *(lambda g, y, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, _w=w:
                      grid_back(g, y, start, stop, num, endpoint, axis, _log_base(base), _w) for w in range(2)),
       None, None, lambda g, y, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0:
       match(float(np.sum(g * base_slope(y, base))), base))
defjvp(np.logspace, *(lambda t, y, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, _w=w:
                      grid_tangent(t, y, start, stop, num, endpoint, axis, _log_base(base), _w) for w in range(2)),
       None, None, lambda t, y, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0:
       t * base_slope(y, base))
defvjp(np.geomspace, *(lambda g, y, start, stop, num=50, endpoint=True, dtype=None, axis=0, _w=w:
                       grid_back(g, y, start, stop, num, endpoint, axis, None, _w) for w in range(2)))
defjvp(np.geomspace, *(lambda t, y, start, stop, num=50, endpoint=True, dtype=None, axis=0, _w=w:
                       grid_tangent(t, y, start, stop, num, endpoint, axis, None, _w) for w in range(2)))
