"""autograd examples/gmm.py: a Gaussian mixture fitted by gradient (a dict of parameters, zip(*...), logsumexp).

3 components instead of 10, pinwheel data with 10 points per class instead of 100. The
example hands grad and hessian_vector_product to Newton-CG; wengert has no
hessian_vector_product, so the check takes the Hessian-vector product as hessian(f)(x) @ v
(the autograd run: autograd.hessian, the same expression).
"""

import numpy as np
import numpy.random as npr
from scipy.special import logsumexp
from scipy.stats import multivariate_normal as mvn

from wengert import grad, hessian

from .data import make_pinwheel
from .flatten import flatten_func


def init_gmm_params(num_components, D, scale, rs=None):
    rs = rs if rs is not None else npr.RandomState(0)
    return {
        "log proportions": rs.randn(num_components) * scale,
        "means": rs.randn(num_components, D) * scale,
        "lower triangles": np.zeros((num_components, D, D)) + np.eye(D),
    }


def log_normalize(x):
    return x - logsumexp(x)


def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + mvn.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


init_params = init_gmm_params(num_components=3, D=2, scale=0.1)

data = make_pinwheel(radial_std=0.3, tangential_std=0.05, num_classes=3, num_per_class=10, rate=0.4)


def objective(params):
    return -gmm_log_likelihood(params, data)


flattened_obj, unflatten, flattened_init_params = flatten_func(objective, init_params)


def checks():
    v = np.linspace(-1.0, 1.0, len(flattened_init_params))
    return {
        "grad_dict": lambda: grad(objective)(init_params),
        "grad_flat": lambda: grad(flattened_obj)(flattened_init_params),
        # raveled: autograd's mvn.logpdf makes the objective's output shape (1,), so its Hessian
        # has a leading axis of 1 that wengert's (of a scalar) has not
        "hvp": lambda: np.ravel(np.dot(hessian(flattened_obj)(flattened_init_params), v)),
    }
