"""scipy.special and scipy.stats rules against float64 central differences (skipped without SciPy)."""

import subprocess
import sys

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values
from _fd import assert_nondiff, vjp

sc = pytest.importorskip("scipy.special")
st = pytest.importorskip("scipy.stats")

import wengert  # noqa: E402
from wengert.rules import scipy as scipy_rules  # noqa: E402

scipy_rules.load()

X = values((2, 3), 1)           # in [-2, 2)
POS = values((2, 3), 2, 0.3, 3)  # positive
UNIT = values((2, 3), 3, 0.05, 0.95)

SPECIAL = [  # (function, args)
    (sc.erf, (X,)), (sc.erfc, (X,)), (sc.erfcx, (X,)), (sc.erfinv, (UNIT * 1.8 - 0.9,)), (sc.erfcinv, (UNIT * 1.8,)),
    (sc.dawsn, (X,)), (sc.ndtr, (X,)), (sc.log_ndtr, (X * 4,)), (sc.ndtri, (UNIT,)),
    (sc.gamma, (POS,)), (sc.gammaln, (POS,)), (sc.loggamma, (POS,)), (sc.rgamma, (POS,)), (sc.digamma, (POS,)),
    (sc.psi, (POS,)), (sc.polygamma, (2, POS)), (sc.multigammaln, (POS + 2, 3)),
    (sc.beta, (POS, POS[::-1])), (sc.betaln, (POS, 1.5)), (sc.poch, (POS, 1.3)), (sc.binom, (POS + 3, POS)),
    (sc.gammainc, (3, POS)), (sc.gammaincc, (2, POS)), (sc.betainc, (2, 3, UNIT)), (sc.zeta, (3, POS)),
    (sc.factorial, (POS,)),
    (sc.expit, (X,)), (sc.logit, (UNIT,)), (sc.log_expit, (X,)), (sc.softplus, (X,)),
    (sc.xlogy, (X, POS)), (sc.xlog1py, (X, POS)), (sc.entr, (POS,)), (sc.rel_entr, (POS, POS[::-1])),
    (sc.kl_div, (POS, POS[::-1])), (sc.exp1, (POS,)), (sc.expi, (POS,)), (sc.exp2, (X,)), (sc.exp10, (X,)),
    (sc.expm1, (X,)), (sc.log1p, (POS,)), (sc.cosm1, (X,)), (sc.cbrt, (POS,)), (sc.sindg, (X * 50,)),
    (sc.cosdg, (X * 50,)), (sc.huber, (1.0, X)), (sc.pseudo_huber, (0.7, X)),
    (sc.i0, (X,)), (sc.i1, (X,)), (sc.i0e, (X,)), (sc.i1e, (X,)), (sc.j0, (X,)), (sc.j1, (X,)), (sc.y0, (POS,)),
    (sc.y1, (POS,)), (sc.k0, (POS,)), (sc.k1, (POS,)), (sc.iv, (2, X)), (sc.jv, (1, X)), (sc.yv, (0, POS)),
    (sc.kv, (3, POS)), (sc.ive, (1, X)), (sc.kve, (2, POS)),
]


@pytest.mark.parametrize(("fn", "args"), SPECIAL, ids=lambda p: getattr(p, "__name__", ""))
def test_special(fn, args):
    check_array_rule(fn, *args, rtol=1e-5)


def test_huber_pieces():
    r = np.array([-2.0, -0.3, 0.4, 1.7])
    check_array_rule(sc.huber, np.array([1.0, 1.0, 0.5, 0.5]), r)


@pytest.mark.parametrize(("fn", "kwargs"), [
    (sc.logsumexp, {}), (sc.logsumexp, {"axis": 1}), (sc.logsumexp, {"axis": 0, "keepdims": True}),
    (sc.softmax, {}), (sc.softmax, {"axis": 1}), (sc.log_softmax, {"axis": 0}), (sc.log_softmax, {}),
])
def test_reductions(fn, kwargs):
    check_array_rule(fn, X, kwargs=kwargs)


def test_logsumexp_weights():
    check_array_rule(sc.logsumexp, X, 1, POS)
    check_array_rule(sc.logsumexp, X, None, POS[0])


def test_unsupported_derivatives_raise():
    with pytest.raises(NotImplementedError, match="gammainc with respect to a"):
        vjp(sc.gammainc, 0, np.ones(3), np.array([1.0, 2.0, 3.0]), np.ones(3))
    with pytest.raises(NotImplementedError, match="order"):
        vjp(sc.jv, 0, 1.0, 0.5, 1.0)
    with pytest.raises(NotImplementedError, match="return_sign"):
        vjp(sc.logsumexp, 0, 1.0, X, return_sign=True)
    assert_nondiff(sc.comb, sc.gammasgn)


# ---- scipy.stats: rules live on the unbound methods, called with the distribution first ----

C, D = st.rv_continuous, st.rv_discrete
MVN = type(st.multivariate_normal)
MU, SIGMA = values((2, 3), 4, -1, 1), values((2, 3), 5, 0.5, 2)

STATS = [  # (method, args)
    (C.logpdf, (st.norm, X, MU, SIGMA)), (C.pdf, (st.norm, X, 0.3)), (C.logpdf, (st.norm, X)),
    (C.cdf, (st.norm, X, MU, SIGMA)), (C.logcdf, (st.norm, X, 0.2, 1.5)), (C.sf, (st.norm, X, MU)),
    (C.logsf, (st.norm, X * 3, MU, SIGMA)), (C.ppf, (st.norm, UNIT, MU, SIGMA)),
    (C.logpdf, (st.t, X, POS + 1, MU, SIGMA)), (C.pdf, (st.t, X, 3.5)),
    (C.logpdf, (st.gamma, POS, 2.5)), (C.logpdf, (st.gamma, POS + 1, POS, 0.2, 1.5)), (C.pdf, (st.gamma, POS, 1.7)),
    (C.logpdf, (st.beta, UNIT, 2.0, 3.0)), (C.logpdf, (st.beta, UNIT * 0.5 + 0.2, POS, POS[::-1], 0.1, 1.2)),
    (C.pdf, (st.beta, UNIT, 1.5, 2.5)),
    (C.logpdf, (st.expon, POS, 0.1, SIGMA)), (C.logpdf, (st.laplace, X, MU + 0.01, SIGMA)),
]


@pytest.mark.parametrize(("method", "args"), STATS, ids=lambda p: getattr(p, "__name__", ""))
def test_stats(method, args):
    check_array_rule(method, *args, rtol=1e-5)


def test_poisson_rate():
    k = np.array([0.0, 1.0, 4.0, 2.0])
    check_array_rule(D.logpmf, st.poisson, k, values((4,), 1, 0.5, 3), wrt=[2])
    check_array_rule(D.pmf, st.poisson, k, 2.5, wrt=[2])


@pytest.mark.parametrize("cov", ["full", "diag", "scalar"])
def test_multivariate_normal(cov):
    a = values((3, 3), 1)
    covs = {"full": a @ a.T + np.eye(3), "diag": values((3,), 2, 0.5, 2), "scalar": 1.7}
    wrt = [1, 2] if cov == "full" else None  # a full covariance is read as symmetric: see below
    check_array_rule(MVN.logpdf, st.multivariate_normal, values((4, 3), 3), values((3,), 4), covs[cov], rtol=1e-5,
                     wrt=wrt)
    check_array_rule(MVN.logpdf, st.multivariate_normal, values((3,), 3), values((3,), 4), covs[cov], rtol=1e-5,
                     wrt=wrt)
    check_array_rule(MVN.pdf, st.multivariate_normal, values((2, 3), 3) * 0.3, values((3,), 4) * 0.3, covs[cov],
                     wrt=wrt)


def test_multivariate_normal_full_covariance_along_symmetric_directions():
    a = values((3, 3), 1)
    cov, x, mean = a @ a.T + np.eye(3), values((4, 3), 3), values((3,), 4)
    v = values((3, 3), 5)
    v = v + v.T
    f = lambda c: np.sum(st.multivariate_normal.logpdf(x, mean, c))  # noqa: E731
    h = 1e-5
    fd = (f(cov + h * v) - f(cov - h * v)) / (2 * h)
    ct = vjp(MVN.logpdf, 3, np.ones(4), st.multivariate_normal, x, mean, cov)
    np.testing.assert_allclose(ct, ct.T)
    np.testing.assert_allclose(np.sum(ct * v), fd, rtol=1e-6)


def test_unsupported_distribution_named():
    with pytest.raises(NotImplementedError, match="cauchy.logpdf"):
        vjp(C.logpdf, 1, np.ones(3), st.cauchy, np.ones(3))


# ---- end to end, through wengert's reverse and forward modes ----


def model(mu, log_sigma, x):
    sigma = np.exp(log_sigma)
    lp = np.sum(st.norm.logpdf(x, mu, sigma)) + np.sum(st.t.logpdf(x, 4.0, mu, sigma))
    return lp + sc.logsumexp(sc.gammaln(x * x + 1.0)) + np.sum(sc.expit(x) * sc.erf(x))


def test_model_against_finite_differences():
    from wengert.testing import check_grads

    check_grads(model, 0.3, -0.2, values((5,), 1), modes=("source",))
    x = values((5,), 1)
    _, t = wengert.jvp(lambda m: model(m, -0.2, x), (0.3,), (1.0,))
    np.testing.assert_allclose(t, wengert.grad(model)(0.3, -0.2, x), rtol=1e-9)


def test_importing_wengert_does_not_import_scipy():
    code = "import sys, wengert; assert not any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_against_jax():
    jsp = pytest.importorskip("jax.scipy.special")
    jst = pytest.importorskip("jax.scipy.stats")
    for name in ("erf", "gammaln", "digamma", "expit", "logit", "ndtr", "log_ndtr", "i0e", "entr"):
        arg = UNIT if name == "logit" else (POS if name in ("gammaln", "digamma", "entr") else X)
        jax_check(getattr(sc, name), getattr(jsp, name), arg)
    jax_check(sc.xlogy, jsp.xlogy, X, POS)
    jax_check(sc.logsumexp, jsp.logsumexp, X, kwargs={"axis": 1})
    jax_check(sc.softmax, jax_softmax(), X, kwargs={"axis": 0})
    jax_check(C.logpdf, lambda d, *a: jst.norm.logpdf(*a), st.norm, X, MU, SIGMA)
    jax_check(C.logpdf, lambda d, *a: jst.t.logpdf(*a), st.t, X, 3.0, MU, SIGMA, wrt=[1, 3, 4])
    jax_check(C.logpdf, lambda d, *a: jst.gamma.logpdf(*a), st.gamma, POS, 2.5, wrt=[1, 2])


def jax_softmax():
    import jax

    return jax.nn.softmax
