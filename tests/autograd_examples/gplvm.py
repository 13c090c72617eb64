"""autograd examples/gplvm.py: a GP latent-variable model (latents and GP hyperparameters optimised together).

Pinwheel data with 4 points per class instead of 30.
"""

import numpy as np
import numpy.random as npr
from scipy.stats import norm

from wengert import value_and_grad

from .data import make_pinwheel
from .gaussian_process import make_gp_funs, rbf_covariance

data_dimension = 2  # Normally the data dimension would be much higher.
latent_dimension = 2

# Build model and objective function.
params_per_gp, predict, log_marginal_likelihood = make_gp_funs(rbf_covariance, num_cov_params=latent_dimension + 1)
total_gp_params = data_dimension * params_per_gp

data = make_pinwheel(radial_std=0.3, tangential_std=0.05, num_classes=3, num_per_class=4, rate=0.4)
datalen = data.shape[0]

num_latent_params = datalen * latent_dimension


def unpack_params(params):
    gp_params = np.reshape(params[:total_gp_params], (data_dimension, params_per_gp))
    latents = np.reshape(params[total_gp_params:], (datalen, latent_dimension))
    return gp_params, latents


def objective(params):
    gp_params, latents = unpack_params(params)
    gp_likelihood = sum(
        [log_marginal_likelihood(gp_params[i], latents, data[:, i]) for i in range(data_dimension)]
    )
    latent_prior_likelihood = np.sum(norm.logpdf(latents))
    return -gp_likelihood - latent_prior_likelihood


def checks():
    init_params = npr.RandomState(1).randn(total_gp_params + num_latent_params) * 0.1
    return {"value_and_grad": lambda: value_and_grad(objective)(init_params)}
