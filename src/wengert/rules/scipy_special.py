"""Rules for ``scipy.special``: error and gamma functions, logistic functions, log-sum-exp, Bessel functions.

Imported by `wengert.rules.scipy` once a program has imported ``scipy.special``
(``import wengert`` never imports SciPy). Elementwise rules are
``broadcast=True``. Integer orders (``polygamma``'s ``n``, Bessel orders) get no
gradient; derivatives SciPy has no closed form for (``gammainc`` in ``a``,
``betainc`` in ``a`` and ``b``, ``zeta`` in ``x``, Bessel functions in their order)
raise ``NotImplementedError`` instead of returning zero.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from wengert.rules.numpy_shape import expand, match
from wengert.rules.table import defjvp, defvjp, nondiff

_SQRT_PI = math.sqrt(math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def unsupported(what):
    raise NotImplementedError(f"wengert has no derivative for {what}")


def elementwise(fn, *slopes):
    """Register ``fn``'s rules from its partial derivatives ``slope(y, *args)`` (``None``: no gradient)."""
    defvjp(fn, *(None if d is None else (lambda g, y, *args, _d=d: g * _d(y, *args)) for d in slopes),
           broadcast=True)
    defjvp(fn, *(None if d is None else (lambda t, y, *args, _d=d: t * _d(y, *args)) for d in slopes),
           broadcast=True)


# ---- error functions and the normal distribution ----

elementwise(sc.erf, lambda y, x: 2 / _SQRT_PI * np.exp(-x * x))
elementwise(sc.erfc, lambda y, x: -2 / _SQRT_PI * np.exp(-x * x))
elementwise(sc.erfcx, lambda y, x: 2 * x * y - 2 / _SQRT_PI)
elementwise(sc.erfinv, lambda y, x: _SQRT_PI / 2 * np.exp(y * y))
elementwise(sc.erfcinv, lambda y, x: -_SQRT_PI / 2 * np.exp(y * y))
elementwise(sc.dawsn, lambda y, x: 1 - 2 * x * y)
elementwise(sc.ndtr, lambda y, x: np.exp(-x * x / 2 - _LOG_SQRT_2PI))
elementwise(sc.log_ndtr, lambda y, x: np.exp(-x * x / 2 - _LOG_SQRT_2PI - y))
elementwise(sc.ndtri, lambda y, x: np.exp(y * y / 2 + _LOG_SQRT_2PI))

# ---- gamma and beta functions ----

elementwise(sc.gamma, lambda y, x: y * sc.digamma(x))
elementwise(sc.gammaln, lambda y, x: sc.digamma(x))
elementwise(sc.loggamma, lambda y, x: sc.digamma(x))
elementwise(sc.rgamma, lambda y, x: -y * sc.digamma(x))
elementwise(sc.digamma, lambda y, x: sc.polygamma(1, x))
elementwise(sc.psi, lambda y, x: sc.polygamma(1, x))
elementwise(sc.polygamma, None, lambda y, n, x: sc.polygamma(np.asarray(n) + 1, x))
elementwise(sc.multigammaln, lambda y, a, d: sum(sc.digamma(np.asarray(a) - j / 2) for j in range(d)), None)
elementwise(sc.beta, lambda y, a, b: y * (sc.digamma(a) - sc.digamma(a + b)),
                     lambda y, a, b: y * (sc.digamma(b) - sc.digamma(a + b)))
elementwise(sc.betaln, lambda y, a, b: sc.digamma(a) - sc.digamma(a + b),
                       lambda y, a, b: sc.digamma(b) - sc.digamma(a + b))
elementwise(sc.poch, lambda y, z, m: y * (sc.digamma(z + m) - sc.digamma(z)),
                     lambda y, z, m: y * sc.digamma(z + m))
elementwise(sc.binom, lambda y, n, k: y * (sc.digamma(n + 1) - sc.digamma(n - k + 1)),
                      lambda y, n, k: y * (sc.digamma(n - k + 1) - sc.digamma(k + 1)))


def _gammainc_x(y, a, x):
    return np.exp((a - 1) * np.log(x) - x - sc.gammaln(a))


elementwise(sc.gammainc, lambda y, a, x: unsupported("scipy.special.gammainc with respect to a"),
                         lambda y, a, x: _gammainc_x(y, a, x))
elementwise(sc.gammaincc, lambda y, a, x: unsupported("scipy.special.gammaincc with respect to a"),
                          lambda y, a, x: -_gammainc_x(y, a, x))
elementwise(sc.betainc, lambda y, a, b, x: unsupported("scipy.special.betainc with respect to a"),
                        lambda y, a, b, x: unsupported("scipy.special.betainc with respect to b"),
                        lambda y, a, b, x: np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - sc.betaln(a, b)))
elementwise(sc.zeta, lambda y, x, q=None: unsupported("scipy.special.zeta with respect to x"),
                     lambda y, x, q=None: -x * sc.zeta(x + 1, q))
nondiff(sc.gammasgn, sc.comb, sc.perm)


def _factorial_slope(y, n, exact=False):
    return sc.gamma(np.asarray(n, dtype=float) + 1) * sc.digamma(np.asarray(n, dtype=float) + 1)


defvjp(sc.factorial, lambda g, y, n, exact=False: match(g * _factorial_slope(y, n), n))
defjvp(sc.factorial, lambda t, y, n, exact=False: t * _factorial_slope(y, n))

# ---- logistic functions and entropies ----

elementwise(sc.expit, lambda y, x: y * (1 - y))
elementwise(sc.logit, lambda y, x: 1 / (x * (1 - x)))
elementwise(sc.log_expit, lambda y, x: sc.expit(-x))
elementwise(sc.softplus, lambda y, x: sc.expit(x))
elementwise(sc.xlogy, lambda y, x, z: np.where(x == 0, 0.0, np.log(z)), lambda y, x, z: x / z)
elementwise(sc.xlog1py, lambda y, x, z: np.where(x == 0, 0.0, np.log1p(z)), lambda y, x, z: x / (1 + z))
elementwise(sc.entr, lambda y, x: -(np.log(x) + 1))
elementwise(sc.rel_entr, lambda y, x, z: np.log(x / z) + 1, lambda y, x, z: -x / z)
elementwise(sc.kl_div, lambda y, x, z: np.log(x / z), lambda y, x, z: 1 - x / z)
elementwise(sc.exp1, lambda y, x: -np.exp(-x) / x)
elementwise(sc.expi, lambda y, x: np.exp(x) / x)
elementwise(sc.exp2, lambda y, x: y * math.log(2))
elementwise(sc.exp10, lambda y, x: y * math.log(10))
elementwise(sc.expm1, lambda y, x: y + 1)
elementwise(sc.log1p, lambda y, x: 1 / (1 + x))
elementwise(sc.cosm1, lambda y, x: -np.sin(x))
elementwise(sc.cbrt, lambda y, x: 1 / (3 * y * y))
elementwise(sc.sindg, lambda y, x: np.cos(np.deg2rad(x)) * math.pi / 180)
elementwise(sc.cosdg, lambda y, x: -np.sin(np.deg2rad(x)) * math.pi / 180)


def _huber_parts(delta, r):
    inside = np.abs(r) <= delta
    return inside, np.where(inside, r, delta * np.sign(r)), np.where(inside, 0.0, np.abs(r) - delta)


elementwise(sc.huber, lambda y, d, r: _huber_parts(d, r)[2], lambda y, d, r: _huber_parts(d, r)[1])
elementwise(sc.pseudo_huber, lambda y, d, r: 2 * y / d - r * r / (d * np.sqrt(1 + (r / d) ** 2)),
                             lambda y, d, r: r / np.sqrt(1 + (r / d) ** 2))

# ---- reductions: log-sum-exp and softmax ----


def _no_sign(return_sign):
    if return_sign:
        unsupported("scipy.special.logsumexp with return_sign=True")


def logsumexp_weights(y, a, axis=None, b=None, keepdims=False):
    """``d logsumexp(a, b=b) / da = b exp(a - y)`` (0 where ``b`` is 0)."""
    w = np.exp(a - expand(y, a, axis, keepdims))
    return w if b is None else w * b


defvjp(sc.logsumexp,
       lambda g, y, a, axis=None, b=None, keepdims=False, return_sign=False:
       _no_sign(return_sign) or match(expand(g, a, axis, keepdims) * logsumexp_weights(y, a, axis, b, keepdims), a),
       None,
       lambda g, y, a, axis=None, b=None, keepdims=False, return_sign=False:
       match(_reduce_to(expand(g, a, axis, keepdims) * np.exp(a - expand(y, a, axis, keepdims)), b), b))
defjvp(sc.logsumexp,
       lambda t, y, a, axis=None, b=None, keepdims=False, return_sign=False:
       _no_sign(return_sign) or np.sum(t * logsumexp_weights(y, a, axis, b, keepdims), axis=axis, keepdims=keepdims),
       None,
       lambda t, y, a, axis=None, b=None, keepdims=False, return_sign=False:
       np.sum(t * np.exp(a - expand(y, a, axis, keepdims)), axis=axis, keepdims=keepdims))


def _reduce_to(c, x):
    from wengert.rules.support import unbroadcast

    return unbroadcast(np.broadcast_to(c, np.broadcast_shapes(np.shape(c), np.shape(x))), x)


defvjp(sc.softmax, lambda g, y, x, axis=None: y * (g - np.sum(g * y, axis=axis, keepdims=True)))
defjvp(sc.softmax, lambda t, y, x, axis=None: y * (t - np.sum(t * y, axis=axis, keepdims=True)))
defvjp(sc.log_softmax, lambda g, y, x, axis=None: g - np.exp(y) * np.sum(g, axis=axis, keepdims=True))
defjvp(sc.log_softmax, lambda t, y, x, axis=None: t - np.sum(t * np.exp(y), axis=axis, keepdims=True))

# ---- Bessel functions (derivatives in the argument; orders get none) ----


def _order(name):
    return lambda y, v, x: unsupported(f"scipy.special.{name} with respect to its order")


elementwise(sc.i0, lambda y, x: sc.i1(x))
elementwise(sc.i1, lambda y, x: sc.i0(x) - np.where(x == 0, 0.5, sc.i1(x) / np.where(x == 0, 1.0, x)))
elementwise(sc.i0e, lambda y, x: sc.i1e(x) - np.sign(x) * y)
elementwise(sc.i1e, lambda y, x: sc.i0e(x) - y * (np.sign(x) + np.where(x == 0, 0.0, 1 / np.where(x == 0, 1.0, x)))
            - np.where(x == 0, 0.5, 0.0))
elementwise(sc.j0, lambda y, x: -sc.j1(x))
elementwise(sc.j1, lambda y, x: (sc.j0(x) - sc.jv(2, x)) / 2)
elementwise(sc.y0, lambda y, x: -sc.y1(x))
elementwise(sc.y1, lambda y, x: (sc.y0(x) - sc.yv(2, x)) / 2)
elementwise(sc.k0, lambda y, x: -sc.k1(x))
elementwise(sc.k1, lambda y, x: -(sc.k0(x) + sc.kv(2, x)) / 2)
elementwise(sc.iv, _order("iv"), lambda y, v, x: (sc.iv(v - 1, x) + sc.iv(v + 1, x)) / 2)
elementwise(sc.jv, _order("jv"), lambda y, v, x: (sc.jv(v - 1, x) - sc.jv(v + 1, x)) / 2)
elementwise(sc.yv, _order("yv"), lambda y, v, x: (sc.yv(v - 1, x) - sc.yv(v + 1, x)) / 2)
elementwise(sc.kv, _order("kv"), lambda y, v, x: -(sc.kv(v - 1, x) + sc.kv(v + 1, x)) / 2)
elementwise(sc.ive, _order("ive"), lambda y, v, x: (sc.ive(v - 1, x) + sc.ive(v + 1, x)) / 2 - np.sign(x) * y)
elementwise(sc.kve, _order("kve"), lambda y, v, x: -(sc.kve(v - 1, x) + sc.kve(v + 1, x)) / 2 + y)
