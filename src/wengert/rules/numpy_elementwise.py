"""More elementwise NumPy rules: sinc, complex parts, float decompositions, and what has no derivative.

The arithmetic, exponential and trigonometric ufuncs live in `wengert.rules.numpy`;
this module adds the rest of NumPy's elementwise functions and declares
``nondiff`` the integer-valued, boolean and bitwise ones, NumPy's queries of
types, shapes and memory, and its printing, I/O and configuration functions
(their results carry no gradient; they are not numbers in the model).

Complex numbers follow JAX: a cotangent pairs with a tangent as
``Re(sum(g * t))`` without conjugation, so the cotangent of ``np.real(z)`` is
``g``, of ``np.imag(z)`` is ``-1j * g``, and a real input's cotangent is the
real part. ``np.angle`` of a real array is piecewise constant (0 or pi).
"""

from __future__ import annotations

import math

import numpy as np

from wengert.rules.numpy_shape import match, xp_of
from wengert.rules.table import defjvp, defvjp, frule, nondiff, rrule

# ---- sinc and Bessel ----


def sinc_slope(x):
    """``d sinc(x) / dx = (cos(pi x) - sinc(x)) / x``, and 0 at 0."""
    xp = xp_of(x)
    zero = x == 0
    safe = xp.where(zero, 1.0, x)
    return xp.where(zero, 0.0, (xp.cos(math.pi * safe) - np.sinc(safe)) / safe)


def bessel_i1(x):
    """The modified Bessel function ``I1 = I0'`` by its power series (positive terms: no cancellation)."""
    x = np.asarray(x, dtype=float)
    half = x / 2
    n = int(np.max(np.abs(x), initial=0.0)) + 30  # terms keep growing up to k ~ |x| / 2
    term = half.copy()
    total = term.copy()
    for k in range(1, n):
        term = term * half * half / (k * (k + 1))
        total = total + term
    return total


defvjp(np.sinc, lambda g, y, x: g * sinc_slope(x), broadcast=True)
defjvp(np.sinc, lambda t, y, x: t * sinc_slope(x), broadcast=True)
defvjp(np.i0, lambda g, y, x: match(g * bessel_i1(x), x))
defjvp(np.i0, lambda t, y, x: t * bessel_i1(x))

# ---- complex parts ----


def imag_back(g, x):
    """Cotangent of ``x`` for ``y = imag(x)``: ``-1j g`` (JAX's convention); 0 for a real ``x``."""
    return match(-1j * g, x) if np.iscomplexobj(x) else match(np.zeros(np.shape(x)), x)


def angle_slope(x):
    """``(d angle / d Re, d angle / d Im)`` packed as ``-1j / z`` (the cotangent of g = 1); 0 for real ``x``."""
    if not np.iscomplexobj(x):
        return np.zeros(np.shape(x))
    zero = x == 0
    return np.where(zero, 0.0, -1j / np.where(zero, 1.0, x))


def angle_tangent(t, x):
    """Tangent of ``angle(x)``: ``Im(conj(x) t) / |x|^2``; 0 for a real ``x``."""
    if not np.iscomplexobj(x):
        return np.zeros(np.broadcast_shapes(np.shape(t), np.shape(x)))
    mag2 = np.abs(x) ** 2
    zero = mag2 == 0
    return np.where(zero, 0.0, np.imag(np.conj(x) * t) / np.where(zero, 1.0, mag2))


def real_part(c, x):
    """``c`` as the cotangent of ``x``: its real part when ``x`` is real."""
    return match(c if np.iscomplexobj(x) else np.real(c), x)


defvjp(np.real, lambda g, y, val: real_part(g, val))
defjvp(np.real, lambda t, y, val: np.real(t))
defvjp(np.imag, lambda g, y, val: imag_back(g, val))
defjvp(np.imag, lambda t, y, val: np.imag(t))
defvjp(np.angle, lambda g, y, z, deg=False: real_part(g * angle_slope(z) * (180 / math.pi if deg else 1), z))
defjvp(np.angle, lambda t, y, z, deg=False: angle_tangent(t, z) * (180 / math.pi if deg else 1))
defvjp(np.real_if_close, lambda g, y, a, tol=100: real_part(g, a))
defjvp(np.real_if_close, lambda t, y, a, tol=100: np.real(t) if not np.iscomplexobj(y) else t)

# ---- sign and float decompositions ----


def copysign_slope(a, b):
    """``d copysign(a, b) / da``: +1 where ``a`` and ``b`` have the same sign bit, else -1."""
    return np.where(np.signbit(a) == np.signbit(b), 1.0, -1.0)


defvjp(np.copysign, lambda g, y, a, b: g * copysign_slope(a, b), None, broadcast=True)
defjvp(np.copysign, lambda t, y, a, b: t * copysign_slope(a, b), None, broadcast=True)
defvjp(np.ldexp, lambda g, y, x, i: g * np.ldexp(1.0, i), None, broadcast=True)
defjvp(np.ldexp, lambda t, y, x, i: t * np.ldexp(1.0, i), None, broadcast=True)
defvjp(np.nan_to_num, lambda g, y, x, *args, **kw: match(g * np.isfinite(x), x))
defjvp(np.nan_to_num, lambda t, y, x, *args, **kw: t * np.isfinite(x))
defvjp(np.unwrap, lambda g, y, p, *args, **kw: match(g, p))  # adds a piecewise constant multiple of the period
defjvp(np.unwrap, lambda t, y, p, *args, **kw: t)


@rrule(np.frexp)
def frexp_rrule(x):
    mantissa, exponent = np.frexp(x)

    def frexp_pullback(g):
        return (None if g[0] is None else match(g[0] * np.ldexp(1.0, -exponent), x),)

    return (mantissa, exponent), frexp_pullback


@frule(np.frexp)
def frexp_frule(tangents, x):
    mantissa, exponent = np.frexp(x)
    t = tangents[0]
    return (mantissa, exponent), None if t is None else (t * np.ldexp(1.0, -exponent), None)


@rrule(np.modf)
def modf_rrule(x):
    y = np.modf(x)
    return y, lambda g: (None if g[0] is None else match(np.broadcast_to(g[0], np.shape(x)), x),)


@frule(np.modf)
def modf_frule(tangents, x):
    t = tangents[0]
    return np.modf(x), None if t is None else (t, None)


@rrule(np.divmod)
def divmod_rrule(a, b):
    q, r = np.divmod(a, b)

    def divmod_pullback(g):
        # remainder: a - b * floor(a / b); the quotient is piecewise constant
        from wengert.rules.support import unbroadcast

        gr = g[1]
        if gr is None:
            return None, None
        return match(unbroadcast(gr, a), a), match(unbroadcast(-gr * q, b), b)

    return (q, r), divmod_pullback


@frule(np.divmod)
def divmod_frule(tangents, a, b):
    q, r = np.divmod(a, b)
    ta, tb = tangents
    t = None
    if ta is not None:
        t = np.broadcast_to(ta, np.shape(r)) * 1.0
    if tb is not None:
        t = (0 if t is None else t) - tb * q
    return (q, r), None if t is None else (None, t)


def _complex_sort_perm(a):
    b = np.array(a, copy=True)
    return b, np.argsort(b, axis=-1, kind="stable")


@rrule(np.sort_complex)
def sort_complex_rrule(a):
    b, perm = _complex_sort_perm(a)
    y = np.sort_complex(a)

    def sort_complex_pullback(g):
        return (real_part(np.take_along_axis(g, np.argsort(perm, axis=-1), -1), a),)

    return y, sort_complex_pullback


@frule(np.sort_complex)
def sort_complex_frule(tangents, a):
    _, perm = _complex_sort_perm(a)
    t = tangents[0]
    y = np.sort_complex(a)
    return y, None if t is None else np.take_along_axis(np.asarray(t), perm, -1).astype(y.dtype)


# ---- no derivative: integer, boolean and bitwise results ----

nondiff(np.nextafter, np.spacing, np.gcd, np.lcm, np.isneginf, np.isposinf, np.iscomplex, np.isreal, np.isnat)
nondiff(np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.bitwise_not, np.bitwise_invert, np.bitwise_count)
nondiff(np.bitwise_left_shift, np.bitwise_right_shift, np.left_shift, np.right_shift, np.invert)
nondiff(np.packbits, np.unpackbits, np.array_equiv, np.isin, np.digitize)
nondiff(np.nanargmax, np.nanargmin, np.lexsort, np.histogram_bin_edges)
nondiff(np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string, np.datetime_data)

# ---- no derivative: queries of types, shapes and memory ----

nondiff(np.iscomplexobj, np.isrealobj, np.isscalar, np.isfortran, np.isdtype, np.issubdtype, np.iterable)
nondiff(np.can_cast, np.common_type, np.min_scalar_type, np.mintypecode, np.promote_types, np.result_type)
nondiff(np.broadcast_shapes, np.may_share_memory, np.shares_memory, np.typename, np.einsum_path)

# ---- no derivative: printing, I/O and configuration ----

nondiff(np.array2string, np.array_repr, np.array_str, np.base_repr, np.binary_repr)
nondiff(np.format_float_positional, np.format_float_scientific, np.info, np.show_config, np.show_runtime)
nondiff(np.get_printoptions, np.set_printoptions, np.printoptions, np.getbufsize, np.setbufsize)
nondiff(np.geterr, np.seterr, np.geterrcall, np.seterrcall, np.get_include)
nondiff(np.save, np.savez, np.savez_compressed, np.savetxt, np.load, np.loadtxt, np.genfromtxt)
nondiff(np.fromfile, np.fromregex, np.fromstring, np.frombuffer)

# window functions of a length (np.kaiser's beta is differentiable: it has no rule)
nondiff(np.bartlett, np.blackman, np.hamming, np.hanning)

# ---- conversions that copy ----

for _f in (np.asarray_chkfinite, np.require, np.from_dlpack):
    defvjp(_f, lambda g, y, a, *args, **kw: match(g, a))
    defjvp(_f, lambda t, y, a, *args, **kw: t)
