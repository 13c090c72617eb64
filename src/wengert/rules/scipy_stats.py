"""Rules for the densities of ``scipy.stats`` used in models.

Imported by `wengert.rules.scipy` once a program has imported ``scipy.stats``.
A call ``scipy.stats.norm.logpdf(x, mu, sigma)`` is a method call, looked up as
the unbound ``rv_continuous.logpdf`` (shared by every continuous distribution)
and called with the distribution first. The rules registered there dispatch on
the distribution's name to a table of the derivatives of its log density in
each positional argument: the point, the shape parameters, ``loc`` and
``scale`` (SciPy's order: ``t.logpdf(x, df, loc, scale)``). Distributions
outside the table raise ``NotImplementedError`` naming them.

Keyword arguments get no gradient (as everywhere in the rule table): write
``norm.logpdf(x, mu, sigma)``, not ``norm.logpdf(x, loc=mu, scale=sigma)``, when
``mu`` and ``sigma`` are differentiated. Frozen distributions
(``norm(mu, sigma).logpdf(x)``) have no rules. ``poisson.logpmf(k, mu)``
differentiates in the rate ``mu`` (``k`` is an integer count).
``multivariate_normal.logpdf(x, mean, cov)`` takes a full covariance matrix
(cotangent: a symmetric matrix), a vector (its diagonal) or a scalar.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc
import scipy.stats as st

from wengert.rules.numpy_shape import match
from wengert.rules.table import defjvp, defvjp, frule, rrule

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _loc_scale(args, nshapes):
    """``(shapes, loc, scale)`` from the positional arguments after the point."""
    shapes = args[:nshapes]
    rest = args[nshapes:]
    return shapes, (rest[0] if rest else 0.0), (rest[1] if len(rest) > 1 else 1.0)


_PARTIALS: dict = {}  # (distribution name, method name) -> (number of shape parameters, partials, kind)
_LOG_KIND = {"logpdf": "log", "pdf": "exp", "logcdf": "log", "cdf": "exp", "logsf": "log", "sf": "exp",
             "logpmf": "log", "pmf": "exp"}


def density(dist, method, nshapes, partials):
    """Give ``dist.method(x, *shapes, loc, scale)`` the derivatives ``partials(x, *shapes, loc, scale)``.

    ``partials`` are those of the log of what ``method`` returns; ``pdf``, ``cdf`` and ``sf``
    multiply them by the value.
    """
    _PARTIALS[(dist.name, method)] = (nshapes, partials, _LOG_KIND[method])


def density_slope(method, y, dist, x, args, kw, i):
    """``d dist.method(x, *args) / d (x, *args)[i]``."""
    entry = _PARTIALS.get((getattr(dist, "name", None), method))
    if entry is None:
        supported = sorted(f"{d}.{m}" for d, m in _PARTIALS)
        raise NotImplementedError(f"wengert has no derivative for scipy.stats.{getattr(dist, 'name', dist)}.{method}; "
                                  f"supported: {', '.join(supported)}")
    nshapes, partials, kind = entry
    shapes, loc, scale = _loc_scale(args, nshapes)
    d = partials(x, *shapes, kw.get("loc", loc), kw.get("scale", scale))[i]
    return d if kind == "log" else d * y


def _register(method, owner):
    fn = getattr(owner, method)
    n = 1 + 2 + 2  # the point, up to two shape parameters, loc, scale
    defvjp(fn, None, *(lambda g, y, dist, x, *args, _i=i, _m=method, **kw:
                       g * density_slope(_m, y, dist, x, args, kw, _i) for i in range(n)), broadcast=True)
    defjvp(fn, None, *(lambda t, y, dist, x, *args, _i=i, _m=method, **kw:
                       t * density_slope(_m, y, dist, x, args, kw, _i) for i in range(n)), broadcast=True)


for _method in ("logpdf", "pdf", "logcdf", "cdf", "logsf", "sf"):
    _register(_method, st.rv_continuous)
for _method in ("logpmf", "pmf"):
    _register(_method, st.rv_discrete)


# ---- the normal distribution ----


def _std_pdf(z):
    return np.exp(-z * z / 2 - _LOG_SQRT_2PI)


def norm_partials(x, loc, scale):
    z = (x - loc) / scale
    return -z / scale, z / scale, (z * z - 1) / scale


def _cdf_partials(ratio):
    """Partials of ``log cdf`` given ``ratio = pdf(z) / cdf(z)``, for ``z = (x - loc) / scale``."""
    def partials(x, loc, scale):
        z = (x - loc) / scale
        r = ratio(z)
        return r / scale, -r / scale, -r * z / scale
    return partials


_log_cdf_ratio = _cdf_partials(lambda z: np.exp(-z * z / 2 - _LOG_SQRT_2PI - sc.log_ndtr(z)))
_log_sf_ratio = _cdf_partials(lambda z: -np.exp(-z * z / 2 - _LOG_SQRT_2PI - sc.log_ndtr(-z)))

for _method, _partials in (("logpdf", norm_partials), ("pdf", norm_partials), ("logcdf", _log_cdf_ratio),
                           ("cdf", _log_cdf_ratio), ("logsf", _log_sf_ratio), ("sf", _log_sf_ratio)):
    density(st.norm, _method, 0, _partials)


def ppf_slopes(dist, q, loc=0.0, scale=1.0):
    """``d ppf / d (q, loc, scale)`` of the normal distribution: ``scale / pdf(z)``, 1, ``z``."""
    if getattr(dist, "name", None) != "norm":
        raise NotImplementedError(f"wengert has no derivative for scipy.stats.{getattr(dist, 'name', dist)}.ppf "
                                  "(only norm.ppf)")
    z = sc.ndtri(q)
    return scale / _std_pdf(z), 1.0, z


defvjp(st.rv_continuous.ppf, None, *(lambda g, y, dist, q, *args, _i=i, **kw: g * ppf_slopes(dist, q, *args, **kw)[_i]
                                     for i in range(3)), broadcast=True)
defjvp(st.rv_continuous.ppf, None, *(lambda t, y, dist, q, *args, _i=i, **kw: t * ppf_slopes(dist, q, *args, **kw)[_i]
                                     for i in range(3)), broadcast=True)

# ---- Student's t, gamma, beta, exponential, Laplace ----


def t_partials(x, df, loc, scale):
    z = (x - loc) / scale
    dz = -(df + 1) * z / (df + z * z)
    ddf = 0.5 * (sc.digamma((df + 1) / 2) - sc.digamma(df / 2) - 1 / df - np.log1p(z * z / df)) \
        + (df + 1) * z * z / (2 * df * (df + z * z))
    return dz / scale, ddf, -dz / scale, (-1 - z * dz) / scale


def gamma_partials(x, a, loc, scale):
    y = (x - loc) / scale
    dy = (a - 1) / y - 1
    return dy / scale, np.log(y) - sc.digamma(a), -dy / scale, (-1 - y * dy) / scale


def beta_partials(x, a, b, loc, scale):
    y = (x - loc) / scale
    dy = (a - 1) / y - (b - 1) / (1 - y)
    both = sc.digamma(a + b)
    return dy / scale, np.log(y) - sc.digamma(a) + both, np.log1p(-y) - sc.digamma(b) + both, \
        -dy / scale, (-1 - y * dy) / scale


def expon_partials(x, loc, scale):
    return -1 / scale + 0 * x, 1 / scale + 0 * x, ((x - loc) / scale - 1) / scale


def laplace_partials(x, loc, scale):
    z = (x - loc) / scale
    return -np.sign(z) / scale, np.sign(z) / scale, (np.abs(z) - 1) / scale


for _dist, _n, _partials in ((st.t, 1, t_partials), (st.gamma, 1, gamma_partials), (st.beta, 2, beta_partials),
                             (st.expon, 0, expon_partials), (st.laplace, 0, laplace_partials)):
    density(_dist, "logpdf", _n, _partials)
    density(_dist, "pdf", _n, _partials)

# ---- Poisson counts ----


def poisson_partials(k, mu, loc, scale):
    """Partials of ``poisson.logpmf(k, mu, loc)`` (``scale`` is always 1; ``k`` is an integer)."""
    return 0 * k, (k - loc) / mu - 1, 0 * mu, 0 * mu


density(st.poisson, "logpmf", 1, poisson_partials)
density(st.poisson, "pmf", 1, poisson_partials)

# ---- the multivariate normal ----


def _mvn_args(x, mean=None, cov=1, allow_singular=False):
    return x, mean, cov


def _full_cov(cov, k):
    cov = np.asarray(cov, dtype=float)
    return cov * np.eye(k) if cov.ndim == 0 else (np.diag(cov) if cov.ndim == 1 else cov)


def _mvn_parts(x, mean, cov):
    """``(centred points d, inv(cov) d, inv(cov), batch shape)`` of ``multivariate_normal.logpdf``."""
    x = np.asarray(x, dtype=float)
    k = next((np.shape(v)[0] for v in (mean, cov) if v is not None and np.ndim(v) >= 1), 1)  # SciPy's dimension
    full = _full_cov(cov, k)
    d = np.reshape(x, (-1, k)) - (0.0 if mean is None else np.asarray(mean, dtype=float))
    inv = np.linalg.inv(full)
    return d, d @ inv, inv


def _cov_cotangent(c, cov):
    """A full-matrix cotangent ``c`` of the covariance as the cotangent of how ``cov`` was given."""
    if np.ndim(cov) == 2:
        return match(c, cov)
    if np.ndim(cov) == 1:
        return match(np.diag(c).copy(), cov)
    return match(float(np.trace(c)), cov)


_MVN = type(st.multivariate_normal)


@rrule(_MVN.logpdf)
def mvn_logpdf_rrule(dist, *args, **kw):
    x, mean, cov = _mvn_args(*args, **kw)
    y = dist.logpdf(*args, **kw)

    def mvn_logpdf_pullback(g):
        d, sd, inv = _mvn_parts(x, mean, cov)
        gb = np.reshape(np.broadcast_to(g, np.shape(y)), (-1, 1)) * np.ones((d.shape[0], 1))
        gx = -gb * sd
        ct_x = match(np.reshape(gx, np.shape(x)), x)
        ct_mean = None if mean is None else match(np.reshape(-np.sum(gx, axis=0), np.shape(mean)), mean)
        c = -0.5 * (np.sum(gb) * inv - (gb * sd).T @ sd)
        return (None, *(ct_x, ct_mean, _cov_cotangent(c, cov), None)[:len(args)])

    return y, mvn_logpdf_pullback


@frule(_MVN.logpdf)
def mvn_logpdf_frule(tangents, dist, *args, **kw):
    x, mean, cov = _mvn_args(*args, **kw)
    y = dist.logpdf(*args, **kw)
    tx, tmean, tcov = (list(tangents[1:]) + [None] * 3)[:3]
    if tx is None and tmean is None and tcov is None:
        return y, None
    d, sd, inv = _mvn_parts(x, mean, cov)
    t = np.zeros(d.shape[0])
    if tx is not None:
        t = t - np.sum(sd * np.reshape(tx, d.shape), axis=1)
    if tmean is not None:
        t = t + sd @ np.asarray(tmean, dtype=float)
    if tcov is not None:
        dc = _full_cov(tcov, d.shape[1])
        t = t - 0.5 * (np.trace(inv @ dc) - np.sum((sd @ dc) * sd, axis=1))
    return y, np.reshape(t, np.shape(y))


@rrule(_MVN.pdf)
def mvn_pdf_rrule(dist, *args, **kw):
    logp, back = mvn_logpdf_rrule(dist, *args, **kw)
    y = np.exp(logp)
    return y, lambda g: back(g * y)


@frule(_MVN.pdf)
def mvn_pdf_frule(tangents, dist, *args, **kw):
    logp, t = mvn_logpdf_frule(tangents, dist, *args, **kw)
    y = np.exp(logp)
    return y, None if t is None else t * y
