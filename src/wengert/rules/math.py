"""Rules for the `math` module: every differentiable function has a reverse and a forward rule.

`math` takes Python scalars, so the rules call `math` directly (no array
fallbacks). Piecewise-constant and integer-valued functions are `nondiff`.
Functions of a variable number of arguments or of sequences (``hypot``,
``dist``, ``prod``, ``fsum``, ``sumprod``) and those returning tuples
(``frexp``, ``modf``) have full `rrule` / `frule` forms; their sequence
cotangents match the input (list for list, tuple for tuple, else list).

Conventions at singular points:

- derivatives that are infinite (``sqrt`` at 0, ``asin`` at ±1) are ``inf``,
  not ``ZeroDivisionError``;
- ``fabs`` and ``copysign`` have derivative 0 at ``x == 0`` (JAX, PyTorch);
- ``hypot`` and ``dist`` at the origin have gradient 0; ``atan2`` at the
  origin has ``nan`` (it is discontinuous there);
- ``lgamma`` and ``gamma`` use `digamma`, defined here (``math`` has none).
"""

from __future__ import annotations

import math

from wengert.rules.operators import _like_seq, _pow_dx, _pow_dy, _sign
from wengert.rules.table import defjvp, defvjp, frule, linear, nondiff, rrule

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ---- helpers ----

def _inv(x):
    """1 / x, with the signed infinite limit at zero instead of ZeroDivisionError."""
    return 1.0 / x if x else math.copysign(math.inf, x)


def _over_r2(a, y, x):
    """a / (x**2 + y**2) without overflow; nan at the origin (atan2 is discontinuous there)."""
    r = math.hypot(y, x)
    return a / r / r if r else math.nan


def _quotient(x, y, z):
    """The integer n in z = x - n*y (fmod, remainder), read off the result exactly."""
    return float(round((x - z) / y))


def digamma(x):
    """The digamma function psi(x) = d/dx log Gamma(x), for real x (nan at the poles).

    Recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series
    (Abramowitz & Stegun 6.3.18) to x**-14, whose truncation error there is below 1e-17;
    reflection psi(x) = psi(1 - x) - pi / tan(pi x) for x <= 0.

    >>> round(digamma(1.0), 12)  # minus the Euler-Mascheroni constant
    -0.577215664902
    """
    x = float(x)
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan
        # tan has period pi, and x - round(x) is exact, so large |x| loses nothing here.
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * (x - round(x)))
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    w = 1.0 / (x * x)
    tail = w * (1 / 12 - w * (1 / 120 - w * (1 / 252 - w * (1 / 240 - w * (
        1 / 132 - w * (691 / 32760 - w / 12))))))
    return acc + math.log(x) - 0.5 / x - tail


# ---- trigonometric ----

defvjp(math.sin, lambda g, y, x: g * math.cos(x))
defjvp(math.sin, lambda t, y, x: t * math.cos(x))
defvjp(math.cos, lambda g, y, x: -g * math.sin(x))
defjvp(math.cos, lambda t, y, x: -t * math.sin(x))
defvjp(math.tan, lambda g, y, x: g * (1.0 + y * y))
defjvp(math.tan, lambda t, y, x: t * (1.0 + y * y))
defvjp(math.asin, lambda g, y, x: g * _inv(math.sqrt((1.0 - x) * (1.0 + x))))
defjvp(math.asin, lambda t, y, x: t * _inv(math.sqrt((1.0 - x) * (1.0 + x))))
defvjp(math.acos, lambda g, y, x: -g * _inv(math.sqrt((1.0 - x) * (1.0 + x))))
defjvp(math.acos, lambda t, y, x: -t * _inv(math.sqrt((1.0 - x) * (1.0 + x))))
defvjp(math.atan, lambda g, y, x: g / (1.0 + x * x))
defjvp(math.atan, lambda t, y, x: t / (1.0 + x * x))
defvjp(math.atan2, lambda g, z, y, x: _over_r2(g * x, y, x), lambda g, z, y, x: _over_r2(-g * y, y, x))
defjvp(math.atan2, lambda t, z, y, x: _over_r2(t * x, y, x), lambda t, z, y, x: _over_r2(-t * y, y, x))
linear(math.degrees, math.radians)

# ---- hyperbolic ----

defvjp(math.sinh, lambda g, y, x: g * math.cosh(x))
defjvp(math.sinh, lambda t, y, x: t * math.cosh(x))
defvjp(math.cosh, lambda g, y, x: g * math.sinh(x))
defjvp(math.cosh, lambda t, y, x: t * math.sinh(x))
defvjp(math.tanh, lambda g, y, x: g * (1.0 - y * y))
defjvp(math.tanh, lambda t, y, x: t * (1.0 - y * y))
defvjp(math.asinh, lambda g, y, x: g / math.hypot(x, 1.0))
defjvp(math.asinh, lambda t, y, x: t / math.hypot(x, 1.0))
defvjp(math.acosh, lambda g, y, x: g * _inv(math.sqrt((x - 1.0) * (x + 1.0))))
defjvp(math.acosh, lambda t, y, x: t * _inv(math.sqrt((x - 1.0) * (x + 1.0))))
defvjp(math.atanh, lambda g, y, x: g / ((1.0 - x) * (1.0 + x)))
defjvp(math.atanh, lambda t, y, x: t / ((1.0 - x) * (1.0 + x)))

# ---- exponentials and logarithms ----

defvjp(math.exp, lambda g, y, x: g * y)
defjvp(math.exp, lambda t, y, x: t * y)
defvjp(math.expm1, lambda g, y, x: g * (y + 1.0))
defjvp(math.expm1, lambda t, y, x: t * (y + 1.0))
if hasattr(math, "exp2"):  # Python 3.11+
    defvjp(math.exp2, lambda g, y, x: g * y * _LN2)
    defjvp(math.exp2, lambda t, y, x: t * y * _LN2)
# math.log(x, base) == log(x) / log(base)
defvjp(math.log, lambda g, y, x, base=None: g / x if base is None else g / (x * math.log(base)),
                 lambda g, y, x, base=None: -g * y / (base * math.log(base)))
defjvp(math.log, lambda t, y, x, base=None: t / x if base is None else t / (x * math.log(base)),
                 lambda t, y, x, base=None: -t * y / (base * math.log(base)))
defvjp(math.log2, lambda g, y, x: g / (x * _LN2))
defjvp(math.log2, lambda t, y, x: t / (x * _LN2))
defvjp(math.log10, lambda g, y, x: g / (x * _LN10))
defjvp(math.log10, lambda t, y, x: t / (x * _LN10))
defvjp(math.log1p, lambda g, y, x: g / (1.0 + x))
defjvp(math.log1p, lambda t, y, x: t / (1.0 + x))

# ---- powers and roots ----

defvjp(math.sqrt, lambda g, y, x: g * 0.5 * _inv(y))
defjvp(math.sqrt, lambda t, y, x: t * 0.5 * _inv(y))
if hasattr(math, "cbrt"):  # Python 3.11+
    defvjp(math.cbrt, lambda g, y, x: g * _inv(3.0 * y * y))
    defjvp(math.cbrt, lambda t, y, x: t * _inv(3.0 * y * y))
defvjp(math.pow, lambda g, z, x, y: g * _pow_dx(x, y), lambda g, z, x, y: g * _pow_dy(z, x))
defjvp(math.pow, lambda t, z, x, y: t * _pow_dx(x, y), lambda t, z, x, y: t * _pow_dy(z, x))
defvjp(math.ldexp, lambda g, y, x, i: math.ldexp(g, i), None)  # x * 2**i, linear in x
defjvp(math.ldexp, lambda t, y, x, i: math.ldexp(t, i), None)

# ---- special functions ----

defvjp(math.erf, lambda g, y, x: g * _TWO_OVER_SQRT_PI * math.exp(-x * x))
defjvp(math.erf, lambda t, y, x: t * _TWO_OVER_SQRT_PI * math.exp(-x * x))
defvjp(math.erfc, lambda g, y, x: -g * _TWO_OVER_SQRT_PI * math.exp(-x * x))
defjvp(math.erfc, lambda t, y, x: -t * _TWO_OVER_SQRT_PI * math.exp(-x * x))
# lgamma is log|Gamma(x)|, whose derivative is digamma for negative x as well.
defvjp(math.lgamma, lambda g, y, x: g * digamma(x))
defjvp(math.lgamma, lambda t, y, x: t * digamma(x))
defvjp(math.gamma, lambda g, y, x: g * y * digamma(x))
defjvp(math.gamma, lambda t, y, x: t * y * digamma(x))

# ---- sign, remainders, floats ----

defvjp(math.fabs, lambda g, y, x: g * _sign(x))
defjvp(math.fabs, lambda t, y, x: t * _sign(x))
# copysign(x, y) == |x| * sgn(y): y only picks a sign, a piecewise-constant dependence.
defvjp(math.copysign, lambda g, z, x, y: g * _sign(x) * math.copysign(1.0, y), None)
defjvp(math.copysign, lambda t, z, x, y: t * _sign(x) * math.copysign(1.0, y), None)
# fmod(x, y) == x - trunc(x / y) * y, remainder(x, y) == x - round_half_even(x / y) * y.
defvjp(math.fmod, lambda g, z, x, y: g, lambda g, z, x, y: -g * _quotient(x, y, z))
defjvp(math.fmod, lambda t, z, x, y: t, lambda t, z, x, y: -t * _quotient(x, y, z))
defvjp(math.remainder, lambda g, z, x, y: g, lambda g, z, x, y: -g * _quotient(x, y, z))
defjvp(math.remainder, lambda t, z, x, y: t, lambda t, z, x, y: -t * _quotient(x, y, z))
# nextafter(x, y) is x moved by one ulp: it follows x, and y only picks the direction.
defvjp(math.nextafter, lambda g, z, x, y: g, None)
defjvp(math.nextafter, lambda t, z, x, y: t, None)
if hasattr(math, "fma"):  # Python 3.13+: x * y + z
    defvjp(math.fma, lambda g, w, x, y, z: g * y, lambda g, w, x, y, z: g * x,
                     lambda g, w, x, y, z: g)
    defjvp(math.fma, lambda t, w, x, y, z: t * y, lambda t, w, x, y, z: t * x,
                     lambda t, w, x, y, z: t)


@rrule(math.frexp)
def frexp_rrule(x):
    m, e = math.frexp(x)  # x == m * 2**e with e locally constant

    def frexp_pullback(g):
        return (None if g[0] is None else math.ldexp(g[0], -e),)

    return (m, e), frexp_pullback


@frule(math.frexp)
def frexp_frule(tangents, x):
    m, e = math.frexp(x)
    t = tangents[0]
    return (m, e), (None if t is None else math.ldexp(t, -e), None)


@rrule(math.modf)
def modf_rrule(x):
    y = math.modf(x)  # (fractional part x - trunc(x), integral part): slopes 1 and 0

    def modf_pullback(g):
        return (g[0],)

    return y, modf_pullback


@frule(math.modf)
def modf_frule(tangents, x):
    return math.modf(x), (tangents[0], None)


# ---- several arguments and sequences ----

@rrule(math.hypot)
def hypot_rrule(*coords):
    r = math.hypot(*coords)

    def hypot_pullback(g):
        s = g / r if r else 0.0 * g  # gradient 0 at the origin (a subgradient of the norm)
        return tuple(s * c for c in coords)

    return r, hypot_pullback


@frule(math.hypot)
def hypot_frule(tangents, *coords):
    r = math.hypot(*coords)
    if not r:
        return r, None
    return r, sum(c * t for c, t in zip(coords, tangents) if t is not None) / r


def _items(t, n):
    """The ``n`` element tangents of a sequence tangent ``t`` (``None`` is all zero)."""
    return [None] * n if t is None else list(t)


@rrule(math.dist)
def dist_rrule(p, q):
    d = math.dist(p, q)

    def dist_pullback(g):
        # gradient 0 where p == q (a subgradient of the norm)
        diff = [g * (a - b) / d if d else 0.0 * g for a, b in zip(p, q)]
        return _like_seq(diff, p), _like_seq([-v for v in diff], q)

    return d, dist_pullback


@frule(math.dist)
def dist_frule(tangents, p, q):
    d = math.dist(p, q)
    tp, tq = _items(tangents[0], len(p)), _items(tangents[1], len(q))
    dots = [(a - b) * ((0.0 if u is None else u) - (0.0 if v is None else v))
            for a, b, u, v in zip(p, q, tp, tq) if u is not None or v is not None]
    return d, (math.fsum(dots) / d if d and dots else None)


@rrule(math.prod)
def prod_rrule(iterable, *, start=1):
    xs = list(iterable)
    y = math.prod(xs, start=start)

    def prod_pullback(g):
        # d y / d x_i = start * prod(x[:i]) * prod(x[i+1:]), exact when some x_j are zero.
        n = len(xs)
        suffix = [1] * (n + 1)
        for i in range(n - 1, -1, -1):
            suffix[i] = xs[i] * suffix[i + 1]
        out, prefix = [], start
        for i in range(n):
            out.append(g * prefix * suffix[i + 1])
            prefix = prefix * xs[i]
        return (_like_seq(out, iterable),)

    return y, prod_pullback


@frule(math.prod)
def prod_frule(tangents, iterable, *, start=1):
    xs = list(iterable)
    y, back = prod_rrule(xs, start=start)
    ts = _items(tangents[0], len(xs))
    parts = [d * t for d, t in zip(back(1.0)[0], ts) if t is not None]
    return y, (sum(parts) if parts else None)


@rrule(math.fsum)
def fsum_rrule(iterable):
    xs = list(iterable)

    def fsum_pullback(g):
        return (_like_seq([g] * len(xs), iterable),)

    return math.fsum(xs), fsum_pullback


@frule(math.fsum)
def fsum_frule(tangents, iterable):
    xs = list(iterable)
    ts = [t for t in _items(tangents[0], len(xs)) if t is not None]
    return math.fsum(xs), (math.fsum(ts) if ts else None)


if hasattr(math, "sumprod"):  # Python 3.12+: sum(p_i * q_i)

    @rrule(math.sumprod)
    def sumprod_rrule(p, q):
        ps, qs = list(p), list(q)

        def sumprod_pullback(g):
            return _like_seq([g * b for b in qs], p), _like_seq([g * a for a in ps], q)

        return math.sumprod(ps, qs), sumprod_pullback

    @frule(math.sumprod)
    def sumprod_frule(tangents, p, q):
        ps, qs = list(p), list(q)
        tp, tq = _items(tangents[0], len(ps)), _items(tangents[1], len(qs))
        parts = [u * b for u, b in zip(tp, qs) if u is not None]
        parts += [a * v for a, v in zip(ps, tq) if v is not None]
        return math.sumprod(ps, qs), (math.fsum(parts) if parts else None)


# ---- no derivative: piecewise constant, integer valued, predicates ----

nondiff(math.floor, math.ceil, math.trunc, math.ulp)
nondiff(math.isnan, math.isinf, math.isfinite, math.isclose)
nondiff(math.factorial, math.comb, math.perm, math.gcd, math.lcm, math.isqrt)
