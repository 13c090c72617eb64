"""autograd examples/negative_binomial_maxlike.py: maximum likelihood by Newton's method with grad and grad(grad(...)).

50 samples instead of 1000. The fit needs third derivatives of gammaln.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import numpy as np
import numpy.random as npr
import scipy.optimize
from scipy.special import gammaln

from wengert import grad


def newton(f, x0):
    # wrap scipy.optimize.newton with our automatic derivatives
    return scipy.optimize.newton(f, x0, fprime=grad(f), fprime2=grad(grad(f)))


def negbin_loglike(r, p, x):
    # the negative binomial log likelihood we want to maximize
    return gammaln(r + x) - gammaln(r) - gammaln(x + 1) + x * np.log(p) + r * np.log(1 - p)


def negbin_sample(r, p, size):
    # a negative binomial is a gamma-compound-Poisson
    return npr.poisson(npr.gamma(r, p / (1 - p), size=size))


def fit_maxlike(x, r_guess):
    # follows Wikipedia's section on negative binomial max likelihood
    assert np.var(x) > np.mean(x), "Likelihood-maximizing parameters don't exist!"
    loglike = lambda r, p: np.sum(negbin_loglike(r, p, x))
    p = lambda r: np.sum(x) / np.sum(r + x)
    rprime = lambda r: grad(loglike)(r, p(r))
    r = newton(rprime, r_guess)
    return r, p(r)


npr.seed(0)
data = negbin_sample(r=5, p=0.5, size=50)


def checks():
    loglike = lambda r, p: np.sum(negbin_loglike(r, p, data))
    return {
        "grad_both": lambda: grad(loglike, (0, 1))(3.0, 0.4),
        "fit": lambda: fit_maxlike(data, r_guess=1.0),
    }
