"""Rules for NumPy: elementwise functions, reductions, constructors and array methods.

Rules are registered on the NumPy functions user code calls, and on the
unbound ``np.ndarray`` methods (a method call ``x.sum(axis=0)`` is looked up as
``get_rule(np.ndarray.sum)`` and called with ``(x, axis=0)``). Their bodies go
through ``xp_of(...)`` (`wengert.rules.numpy_shape`), so the same derivative
code serves torch and JAX arrays. Products and linear algebra live in
`wengert.rules.numpy_linalg`, shapes, indexing and constructors from sequences
in `wengert.rules.numpy_shape`; importing this module registers all three.

Conventions beyond `wengert.rules.table`'s:

- Elementwise rules are ``broadcast=True``: the caller unbroadcasts their
  cotangents and broadcasts their tangents.
- Ties share the derivative evenly, as in JAX: ``maximum(x, x)`` gives each
  argument half, ``max`` over ``[2, 5, 5]`` gives each 5 half. ``clip`` is
  ``minimum(maximum(a, a_min), a_max)`` and ties the same way.
- ``abs``, ``norm`` and ``std`` take derivative 0 where they are 0 (a
  subgradient); ``sqrt`` and ``hypot`` are infinite there, as the true
  derivative is.
- ``prod`` and ``cumprod`` are exact with zeros (one zero or several); they
  never divide by an element.
- Keyword arguments never get gradients (``np.clip(x, a_min=lo)``: none for
  ``lo``); unsupported keywords (``where=`` of ufuncs) raise ``TypeError``.
- Constructors of fresh arrays (``zeros``, ``eye``, ...) have no derivative;
  ``full``, ``full_like``, ``arange`` and ``linspace`` pass gradients to their
  value arguments.
"""

from __future__ import annotations

import math

import numpy as np

from wengert.rules import numpy_linalg, numpy_shape  # noqa: F401  (registers rules)
from wengert.rules.numpy_shape import axes_of, expand, match, xp_of
from wengert.rules.table import copy_rule, defjvp, defvjp, get_rule, linear, nondiff
from wengert.rules.support import shape_of, unbroadcast

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

# ---- elementwise: arithmetic ----

linear(np.negative, np.positive, np.conjugate, broadcast=True)
defvjp(np.add, lambda g, y, a, b: g, lambda g, y, a, b: g, broadcast=True)
defjvp(np.add, lambda t, y, a, b: t, lambda t, y, a, b: t, broadcast=True)
defvjp(np.subtract, lambda g, y, a, b: g, lambda g, y, a, b: -g, broadcast=True)
defjvp(np.subtract, lambda t, y, a, b: t, lambda t, y, a, b: -t, broadcast=True)
defvjp(np.multiply, lambda g, y, a, b: g * b, lambda g, y, a, b: g * a, broadcast=True)
defjvp(np.multiply, lambda t, y, a, b: t * b, lambda t, y, a, b: a * t, broadcast=True)
defvjp(np.divide, lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b, broadcast=True)
defjvp(np.divide, lambda t, y, a, b: t / b, lambda t, y, a, b: -t * y / b, broadcast=True)
defvjp(np.remainder, lambda g, y, a, b: g, lambda g, y, a, b: -g * xp_of(a, b).floor(a / b), broadcast=True)
defjvp(np.remainder, lambda t, y, a, b: t, lambda t, y, a, b: -t * xp_of(a, b).floor(a / b), broadcast=True)
defvjp(np.fmod, lambda g, y, a, b: g, lambda g, y, a, b: -g * xp_of(a, b).trunc(a / b), broadcast=True)
defjvp(np.fmod, lambda t, y, a, b: t, lambda t, y, a, b: -t * xp_of(a, b).trunc(a / b), broadcast=True)


def power_dx(x, p):
    """``d x**p / dx = p * x**(p - 1)``, and 0 where ``p == 0`` (also at ``x == 0``)."""
    xp = xp_of(x, p)
    if isinstance(p, (int, float)) and hasattr(x, "shape"):  # a constant exponent: no where
        return xp.zeros_like(x) if p == 0 else (2 * x if p == 2 else p * x ** (p - 1))
    zero = p == 0
    return xp.where(zero, 0.0, p * x ** xp.where(zero, 1, p - 1))


def power_dp(y, x):
    """``d x**p / dp = x**p * log(x)``, and 0 where ``x == 0`` (the limit for ``p > 0``)."""
    xp = xp_of(x, y)
    zero = x == 0
    return xp.where(zero, 0.0, y * xp.log(xp.where(zero, 1.0, x)))


for _f in (np.power, np.float_power):
    defvjp(_f, lambda g, y, x, p: g * power_dx(x, p), lambda g, y, x, p: g * power_dp(y, x), broadcast=True)
    defjvp(_f, lambda t, y, x, p: t * power_dx(x, p), lambda t, y, x, p: t * power_dp(y, x), broadcast=True)
defvjp(np.square, lambda g, y, x: 2 * g * x, broadcast=True)
defjvp(np.square, lambda t, y, x: 2 * t * x, broadcast=True)
defvjp(np.sqrt, lambda g, y, x: g / (2 * y), broadcast=True)
defjvp(np.sqrt, lambda t, y, x: t / (2 * y), broadcast=True)
defvjp(np.cbrt, lambda g, y, x: g / (3 * y * y), broadcast=True)
defjvp(np.cbrt, lambda t, y, x: t / (3 * y * y), broadcast=True)
defvjp(np.reciprocal, lambda g, y, x: -g * y * y, broadcast=True)
defjvp(np.reciprocal, lambda t, y, x: -t * y * y, broadcast=True)
_TO_RADIANS, _TO_DEGREES = math.pi / 180, 180 / math.pi
for _f, _scale in ((np.deg2rad, _TO_RADIANS), (np.radians, _TO_RADIANS),
                   (np.rad2deg, _TO_DEGREES), (np.degrees, _TO_DEGREES)):
    defvjp(_f, lambda g, y, x, _s=_scale: g * _s, broadcast=True)
    defjvp(_f, lambda t, y, x, _s=_scale: t * _s, broadcast=True)

# ---- elementwise: exponentials and logarithms ----

defvjp(np.exp, lambda g, y, x: g * y, broadcast=True)
defjvp(np.exp, lambda t, y, x: t * y, broadcast=True)
defvjp(np.exp2, lambda g, y, x: g * y * _LN2, broadcast=True)
defjvp(np.exp2, lambda t, y, x: t * y * _LN2, broadcast=True)
defvjp(np.expm1, lambda g, y, x: g * (y + 1), broadcast=True)
defjvp(np.expm1, lambda t, y, x: t * (y + 1), broadcast=True)
defvjp(np.log, lambda g, y, x: g / x, broadcast=True)
defjvp(np.log, lambda t, y, x: t / x, broadcast=True)
defvjp(np.log2, lambda g, y, x: g / (x * _LN2), broadcast=True)
defjvp(np.log2, lambda t, y, x: t / (x * _LN2), broadcast=True)
defvjp(np.log10, lambda g, y, x: g / (x * _LN10), broadcast=True)
defjvp(np.log10, lambda t, y, x: t / (x * _LN10), broadcast=True)
defvjp(np.log1p, lambda g, y, x: g / (1 + x), broadcast=True)
defjvp(np.log1p, lambda t, y, x: t / (1 + x), broadcast=True)
defvjp(np.logaddexp, lambda g, y, a, b: g * xp_of(a, y).exp(a - y),
                     lambda g, y, a, b: g * xp_of(b, y).exp(b - y), broadcast=True)
defjvp(np.logaddexp, lambda t, y, a, b: t * xp_of(a, y).exp(a - y),
                     lambda t, y, a, b: t * xp_of(b, y).exp(b - y), broadcast=True)
defvjp(np.logaddexp2, lambda g, y, a, b: g * 2.0 ** (a - y),
                      lambda g, y, a, b: g * 2.0 ** (b - y), broadcast=True)
defjvp(np.logaddexp2, lambda t, y, a, b: t * 2.0 ** (a - y),
                      lambda t, y, a, b: t * 2.0 ** (b - y), broadcast=True)

# ---- elementwise: trigonometric and hyperbolic ----

defvjp(np.sin, lambda g, y, x: g * xp_of(x).cos(x), broadcast=True)
defjvp(np.sin, lambda t, y, x: t * xp_of(x).cos(x), broadcast=True)
defvjp(np.cos, lambda g, y, x: -g * xp_of(x).sin(x), broadcast=True)
defjvp(np.cos, lambda t, y, x: -t * xp_of(x).sin(x), broadcast=True)
defvjp(np.tan, lambda g, y, x: g * (1 + y * y), broadcast=True)
defjvp(np.tan, lambda t, y, x: t * (1 + y * y), broadcast=True)
defvjp(np.arcsin, lambda g, y, x: g / xp_of(x).sqrt(1 - x * x), broadcast=True)
defjvp(np.arcsin, lambda t, y, x: t / xp_of(x).sqrt(1 - x * x), broadcast=True)
defvjp(np.arccos, lambda g, y, x: -g / xp_of(x).sqrt(1 - x * x), broadcast=True)
defjvp(np.arccos, lambda t, y, x: -t / xp_of(x).sqrt(1 - x * x), broadcast=True)
defvjp(np.arctan, lambda g, y, x: g / (1 + x * x), broadcast=True)
defjvp(np.arctan, lambda t, y, x: t / (1 + x * x), broadcast=True)
defvjp(np.arctan2, lambda g, y, a, b: g * b / (a * a + b * b),
                   lambda g, y, a, b: -g * a / (a * a + b * b), broadcast=True)
defjvp(np.arctan2, lambda t, y, a, b: t * b / (a * a + b * b),
                   lambda t, y, a, b: -t * a / (a * a + b * b), broadcast=True)
defvjp(np.hypot, lambda g, y, a, b: g * a / y, lambda g, y, a, b: g * b / y, broadcast=True)
defjvp(np.hypot, lambda t, y, a, b: t * a / y, lambda t, y, a, b: t * b / y, broadcast=True)
defvjp(np.sinh, lambda g, y, x: g * xp_of(x).cosh(x), broadcast=True)
defjvp(np.sinh, lambda t, y, x: t * xp_of(x).cosh(x), broadcast=True)
defvjp(np.cosh, lambda g, y, x: g * xp_of(x).sinh(x), broadcast=True)
defjvp(np.cosh, lambda t, y, x: t * xp_of(x).sinh(x), broadcast=True)
defvjp(np.tanh, lambda g, y, x: g * (1 - y * y), broadcast=True)
defjvp(np.tanh, lambda t, y, x: t * (1 - y * y), broadcast=True)
defvjp(np.arcsinh, lambda g, y, x: g / xp_of(x).sqrt(x * x + 1), broadcast=True)
defjvp(np.arcsinh, lambda t, y, x: t / xp_of(x).sqrt(x * x + 1), broadcast=True)
defvjp(np.arccosh, lambda g, y, x: g / xp_of(x).sqrt(x * x - 1), broadcast=True)
defjvp(np.arccosh, lambda t, y, x: t / xp_of(x).sqrt(x * x - 1), broadcast=True)
defvjp(np.arctanh, lambda g, y, x: g / (1 - x * x), broadcast=True)
defjvp(np.arctanh, lambda t, y, x: t / (1 - x * x), broadcast=True)

# ---- elementwise: piecewise ----


def extremum_weight(x, other, greater=True):
    """Weight of ``x`` in ``maximum(x, other)`` (``greater``) or ``minimum``: 1, 0, or 1/2 at ties."""
    xp = xp_of(x, other)
    wins = x > other if greater else x < other
    if xp is np:
        return np.where(wins, 1.0, np.where(x == other, 0.5, 0.0))
    dtype = (x if hasattr(x, "dtype") else other).dtype  # the array API's where takes one scalar at most
    return xp.astype(wins, dtype) + 0.5 * xp.astype(x == other, dtype)


def fextremum_weight(x, other, greater=True):
    """As `extremum_weight` for ``fmax`` / ``fmin``, which ignore a NaN against a number."""
    xp = xp_of(x, other)
    return xp.where(xp.isnan(other) & ~xp.isnan(x), 1.0, extremum_weight(x, other, greater))


def clip_weights(a, lo=None, hi=None, kw=None):
    """Weights of ``(a, lo, hi)`` in ``clip(a, lo, hi) = minimum(maximum(a, lo), hi)``."""
    kw = kw or {}
    lo = kw.get("min") if lo is None else lo
    hi = kw.get("max") if hi is None else hi
    wa, wlo, whi = 1.0, None, None
    mid = a
    if lo is not None:
        wa, wlo = extremum_weight(a, lo), extremum_weight(lo, a)
        mid = xp_of(a, lo).maximum(a, lo)
    if hi is not None:
        w_mid = extremum_weight(mid, hi, greater=False)
        wa, whi = wa * w_mid, extremum_weight(hi, mid, greater=False)
        wlo = None if wlo is None else wlo * w_mid
    return wa, wlo, whi


def abs_slope(x):
    """``d |x| / dx``: ``sign(x)``, and ``conj(x) / |x|`` for complex ``x`` (JAX's convention), 0 at 0."""
    xp = xp_of(x)
    if not (isinstance(x, complex) or getattr(getattr(x, "dtype", None), "kind", "") == "c"):
        return xp.sign(x)
    mag = xp.abs(x)
    return xp.where(mag == 0, 0.0, xp.conj(x) / xp.where(mag == 0, 1.0, mag))


def abs_tangent(t, x):
    """Tangent of ``|x|``: ``Re(conj(x) t) / |x|`` (real also for complex ``x``)."""
    out = t * abs_slope(x)
    return xp_of(out).real(out) if getattr(getattr(out, "dtype", None), "kind", "") == "c" else out


defvjp(np.abs, lambda g, y, x: g * abs_slope(x), broadcast=True)
defjvp(np.abs, lambda t, y, x: abs_tangent(t, x), broadcast=True)
defvjp(np.fabs, lambda g, y, x: g * xp_of(x).sign(x), broadcast=True)
defjvp(np.fabs, lambda t, y, x: t * xp_of(x).sign(x), broadcast=True)
for _f, _weight, _greater in ((np.maximum, extremum_weight, True), (np.minimum, extremum_weight, False),
                              (np.fmax, fextremum_weight, True), (np.fmin, fextremum_weight, False)):
    defvjp(_f, lambda g, y, a, b, _w=_weight, _gt=_greater: g * _w(a, b, _gt),
               lambda g, y, a, b, _w=_weight, _gt=_greater: g * _w(b, a, _gt), broadcast=True)
    defjvp(_f, lambda t, y, a, b, _w=_weight, _gt=_greater: t * _w(a, b, _gt),
               lambda t, y, a, b, _w=_weight, _gt=_greater: t * _w(b, a, _gt), broadcast=True)
def scaled(g, w):
    """``g * w``, with ``None`` (no such argument) for ``w = None``."""
    return None if w is None else g * w


for _f in (np.clip, np.ndarray.clip):
    defvjp(_f, lambda g, y, a, a_min=None, a_max=None, **kw: g * clip_weights(a, a_min, a_max, kw)[0],
               lambda g, y, a, a_min=None, a_max=None, **kw: scaled(g, clip_weights(a, a_min, a_max, kw)[1]),
               lambda g, y, a, a_min=None, a_max=None, **kw: scaled(g, clip_weights(a, a_min, a_max, kw)[2]),
           broadcast=True)
    defjvp(_f, lambda t, y, a, a_min=None, a_max=None, **kw: t * clip_weights(a, a_min, a_max, kw)[0],
               lambda t, y, a, a_min=None, a_max=None, **kw: scaled(t, clip_weights(a, a_min, a_max, kw)[1]),
               lambda t, y, a, a_min=None, a_max=None, **kw: scaled(t, clip_weights(a, a_min, a_max, kw)[2]),
           broadcast=True)
defvjp(np.where, None, lambda g, y, c, a, b: xp_of(g).where(c, g, 0.0),
                       lambda g, y, c, a, b: xp_of(g).where(c, 0.0, g), broadcast=True)
defjvp(np.where, None, lambda t, y, c, a, b: xp_of(t).where(c, t, 0.0),
                       lambda t, y, c, a, b: xp_of(t).where(c, 0.0, t), broadcast=True)

nondiff(np.sign, np.floor, np.ceil, np.trunc, np.rint, np.fix, np.round, np.around, np.heaviside)
nondiff(np.floor_divide, np.signbit, np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose)
nondiff(np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal, np.array_equal)
nondiff(np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.any, np.all)
nondiff(np.ndarray.round, np.ndarray.any, np.ndarray.all)

# ---- reductions ----


def _count(x, axis):
    shape = tuple(np.shape(x)) if isinstance(x, (list, tuple)) else tuple(shape_of(x))
    return math.prod(shape[i] for i in axes_of(axis, len(shape)))


def sum_back(g, x, axis=None, keepdims=False, where=True):
    """Cotangent of ``x`` for ``y = sum(x, axis, keepdims=keepdims, where=where)``."""
    out = expand(g, x, axis, keepdims)
    return out if where is True else out * where


def prod_others(x, axis=None):
    """For each element, the product of the others in its reduction group (exact with zeros)."""
    xp = xp_of(x)
    x = xp.asarray(x)
    if x.ndim == 0:
        return xp.ones_like(x)
    axes = axes_of(axis, x.ndim)
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = kept + list(axes)
    rows = xp.reshape(xp.permute_dims(x, perm), tuple(x.shape[i] for i in kept) + (-1,))
    # products of the elements before and after each one: no division, so zeros are exact
    before = xp.cumulative_prod(rows, axis=-1, include_initial=True)[..., :-1]
    after = xp.flip(xp.cumulative_prod(xp.flip(rows, axis=-1), axis=-1, include_initial=True)[..., :-1], axis=-1)
    others = xp.reshape(before * after, tuple(x.shape[i] for i in perm))
    return xp.permute_dims(others, tuple(int(i) for i in np.argsort(perm)))


def extremum_share(x, y, axis=None, keepdims=False):
    """Where ``x`` attains the reduced max / min ``y``, divided by the number of ties."""
    xp = xp_of(x)
    x = xp.asarray(x)
    hit = xp.astype(x == expand(y, x, axis, keepdims), x.dtype)  # summable in the array API
    count = xp.sum(hit, axis=axes_of(axis, x.ndim), keepdims=True)
    return hit / xp.maximum(count, 1)  # count 0: ``initial=`` won


def _ddof(ddof, correction):
    return correction if correction is not None else ddof


def var_slope(x, axis=None, ddof=0):
    """``d var(x, axis, ddof) / dx`` elementwise: ``2 (x - mean) / (n - ddof)``."""
    xp = xp_of(x)
    x = xp.asarray(x)
    return 2 * (x - xp.mean(x, axis=axis, keepdims=True)) / (_count(x, axis) - ddof)


def half_inverse(y):
    """``1 / (2 y)`` for ``d std = d var / (2 std)``, and 0 where ``std == 0`` (as for ``abs`` at 0)."""
    xp = xp_of(y)
    zero = y == 0
    return xp.where(zero, 0.0, 0.5 / xp.where(zero, 1.0, y))


def _linear_tangent(t, weights, x, axis=None, keepdims=False):
    xp = xp_of(t, weights)
    return xp.sum(t * weights, axis=axes_of(axis, len(shape_of(x))), keepdims=keepdims)


def _reverse_cumsum(g, axis):
    xp = xp_of(g)
    return xp.flip(xp.cumulative_sum(xp.flip(g, axis=axis), axis=axis), axis=axis)


def cumsum_back(g, x, axis=None):
    """Cotangent of ``x`` for ``y = cumsum(x, axis)`` (``axis=None`` flattens)."""
    return match(_reverse_cumsum(g, 0 if axis is None else axis), x)


def _cumprod_parts(x, axis):
    """Masks before / at each group's first zero, safe divisors, and cumprod with that zero as 1."""
    xp = xp_of(x)
    zero = x == 0
    seen = xp.cumulative_sum(xp.astype(zero, xp.int64), axis=axis)
    before, first = seen == 0, zero & (seen == 1)
    return before, first, xp.where(before, x, 1.0), xp.cumulative_prod(xp.where(first, 1.0, x), axis=axis)


def cumprod_back(g, y, x, axis=None):
    """Cotangent of ``x`` for ``y = cumprod(x, axis)``, exact with zeros.

    Before a group's first zero ``z``, ``x_j``'s cotangent is ``sum_{i>=j} g_i y_i / x_j``;
    at ``z`` it is ``sum_{i>=z} g_i prod_{k<=i, k!=z} x_k``; after ``z`` every product has a zero.
    """
    xp = xp_of(g, x)
    flat, ax = (xp.reshape(xp.asarray(x), (-1,)), 0) if axis is None else (x, axis)
    before, first, safe, skip_zero = _cumprod_parts(flat, ax)
    out = xp.where(before, _reverse_cumsum(g * y, ax) / safe, xp.where(first, _reverse_cumsum(g * skip_zero, ax), 0.0))
    return match(out, x)


def cumprod_tangent(t, y, x, axis=None):
    """Tangent of ``y = cumprod(x, axis)``, exact with zeros (see `cumprod_back`)."""
    xp = xp_of(t, x)
    if axis is None:
        x, t, axis = xp.reshape(xp.asarray(x), (-1,)), xp.reshape(t, (-1,)), 0
    before, first, safe, skip_zero = _cumprod_parts(x, axis)
    at_zero = xp.sum(xp.where(first, t, 0.0), axis=axis, keepdims=True)
    return xp.where(before, y * xp.cumulative_sum(t / safe, axis=axis), at_zero * skip_zero)


def _without_initial(y, axis, include_initial):
    """``y`` of ``np.cumulative_*(..., include_initial=True)`` without its leading entry."""
    if not include_initial:
        return y
    ax = 0 if axis is None else axis % y.ndim
    return y[(slice(None),) * ax + (slice(1, None),)]


def _with_initial(t, axis, include_initial):
    """Tangent or cotangent ``t`` with a zero leading entry (for ``include_initial=True``)."""
    if not include_initial:
        return t
    ax = 0 if axis is None else axis % t.ndim
    first = np.zeros_like(t[(slice(None),) * ax + (slice(0, 1),)])
    return np.concatenate([first, t], axis=ax)


def _cumsum_back(g, axis):
    ax = 0 if axis is None else axis
    return np.flip(np.cumsum(np.flip(g, axis=ax), axis=ax), axis=ax)


# np.cumulative_* (NumPy 2.1): the reverse rule of prod uses cumulative_prod, so
# forward over reverse needs its tangent
defvjp(np.cumulative_prod, lambda g, y, x, axis=None, dtype=None, out=None, include_initial=False:
       cumprod_back(_without_initial(g, axis, include_initial), _without_initial(y, axis, include_initial),
                    x, axis))
defjvp(np.cumulative_prod, lambda t, y, x, axis=None, dtype=None, out=None, include_initial=False:
       _with_initial(cumprod_tangent(t, _without_initial(y, axis, include_initial), x, axis), axis,
                     include_initial))
defvjp(np.cumulative_sum, lambda g, y, x, axis=None, dtype=None, out=None, include_initial=False:
       _cumsum_back(_without_initial(g, axis, include_initial), axis))
defjvp(np.cumulative_sum, lambda t, y, x, axis=None, dtype=None, out=None, include_initial=False:
       np.cumulative_sum(t, axis=axis, include_initial=include_initial))


for _f in (np.sum, np.ndarray.sum):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True:
                   sum_back(g, a, axis, keepdims, where))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True:
                   np.sum(t, axis, keepdims=keepdims, where=where))
defvjp(np.nansum, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False:
                      sum_back(g, a, axis, keepdims, ~np.isnan(a)))
defjvp(np.nansum, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False:
                      np.sum(t, axis, keepdims=keepdims, where=~np.isnan(a)))
for _f in (np.mean, np.ndarray.mean):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False:
                   expand(g, a, axis, keepdims) / _count(a, axis))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False:
                   np.mean(t, axis, keepdims=keepdims))
for _f in (np.prod, np.ndarray.prod):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None, keepdims=False, initial=1:
                   expand(g, a, axis, keepdims) * prod_others(a, axis) * initial)
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None, keepdims=False, initial=1:
                   _linear_tangent(t, prod_others(a, axis), a, axis, keepdims) * initial)
for _f in (np.max, np.min, np.amax, np.amin, np.ndarray.max, np.ndarray.min):
    defvjp(_f, lambda g, y, a, axis=None, out=None, keepdims=False, initial=None:
                   expand(g, a, axis, keepdims) * extremum_share(a, y, axis, keepdims))
    defjvp(_f, lambda t, y, a, axis=None, out=None, keepdims=False, initial=None:
                   _linear_tangent(t, extremum_share(a, y, axis, keepdims), a, axis, keepdims))
for _f in (np.var, np.ndarray.var):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None:
                   expand(g, a, axis, keepdims) * var_slope(a, axis, _ddof(ddof, correction)))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None:
                   _linear_tangent(t, var_slope(a, axis, _ddof(ddof, correction)), a, axis, keepdims))
for _f in (np.std, np.ndarray.std):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None:
                   expand(g * half_inverse(y), a, axis, keepdims) * var_slope(a, axis, _ddof(ddof, correction)))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None:
                   _linear_tangent(t, var_slope(a, axis, _ddof(ddof, correction)), a, axis, keepdims) * half_inverse(y))
for _f in (np.cumsum, np.ndarray.cumsum):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None: cumsum_back(g, a, axis))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None: np.cumsum(t, axis))
for _f in (np.cumprod, np.ndarray.cumprod):
    defvjp(_f, lambda g, y, a, axis=None, dtype=None, out=None: cumprod_back(g, y, a, axis))
    defjvp(_f, lambda t, y, a, axis=None, dtype=None, out=None: cumprod_tangent(t, y, a, axis))

# ---- constructors ----

nondiff(np.zeros, np.ones, np.empty, np.eye, np.identity, np.zeros_like, np.ones_like, np.empty_like)
nondiff(np.tri, np.indices)
defvjp(np.full, None, lambda g, y, shape, fill_value, *args, **kw:
                          match(unbroadcast(g, fill_value), fill_value))
defjvp(np.full, None, lambda t, y, shape, fill_value, *args, **kw: np.broadcast_to(t, y.shape))
defvjp(np.full_like, None, lambda g, y, a, fill_value, *args, **kw:
                               match(unbroadcast(g, fill_value), fill_value))
defjvp(np.full_like, None, lambda t, y, a, fill_value, *args, **kw: np.broadcast_to(t, y.shape))

# arange(start, stop, step) is start + i * step; its length is piecewise constant
defvjp(np.arange, lambda g, y, start, *rest, **kw: match(np.sum(g), start) if rest else None,
                  None,
                  lambda g, y, start, stop, step, *rest, **kw: match(np.sum(g * np.arange(len(g))), step))
defjvp(np.arange, lambda t, y, start, *rest, **kw: np.broadcast_to(t, y.shape) if rest else None,
                  None,
                  lambda t, y, start, stop, step, *rest, **kw: t * np.arange(len(y)))


def linspace_weights(y, num, endpoint=True, axis=0):
    """``w`` with ``linspace(start, stop) = start + (stop - start) * w``, shaped to broadcast against ``y``."""
    w = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * np.ndim(y)
    shape[axis] = num
    return w.reshape(shape)


def linspace_back(g, y, bound, num=50, endpoint=True, retstep=False, dtype=None, axis=0, which=0):
    """Cotangent of ``start`` (``which=0``) or ``stop`` (1) for ``y = linspace(start, stop, num, ...)``."""
    if retstep:
        raise NotImplementedError("wengert differentiates np.linspace with retstep=False only")
    w = linspace_weights(y, num, endpoint, axis)
    return match(unbroadcast(np.sum(g * (1 - w if which == 0 else w), axis=axis), bound), bound)


def linspace_tangent(t, y, num, endpoint=True, axis=0, which=0):
    """Tangent of ``y = linspace(start, stop, ...)`` from the tangent of ``start`` (0) or ``stop`` (1)."""
    w = linspace_weights(y, num, endpoint, axis)
    return np.expand_dims(t, axis) * (1 - w if which == 0 else w)


defvjp(np.linspace, lambda g, y, start, stop, num=50, *args, **kw:
                        linspace_back(g, y, start, num, *args, **kw, which=0),
                    lambda g, y, start, stop, num=50, *args, **kw:
                        linspace_back(g, y, stop, num, *args, **kw, which=1))
defjvp(np.linspace, lambda t, y, start, stop, num=50, endpoint=True, *args, **kw:
                        linspace_tangent(t, y, num, endpoint, kw.get("axis", 0), which=0),
                    lambda t, y, start, stop, num=50, endpoint=True, *args, **kw:
                        linspace_tangent(t, y, num, endpoint, kw.get("axis", 0), which=1))

# ---- array methods the other rule files did not register ----


def _same_rule(method, fn):
    """Give the unbound method ``method`` the rule of ``fn`` (same argument order)."""
    copy_rule(method, get_rule(fn))


_same_rule(np.ndarray.conjugate, np.conjugate)
_same_rule(np.ndarray.conj, np.conjugate)

# the rest of NumPy is in files by concept, imported after this one by `wengert.rules`
