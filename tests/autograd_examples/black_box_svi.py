"""autograd examples/black_box_svi.py: reparameterised black-box variational inference, diagonal Gaussian.

The target is the example's funnel density; 20 samples instead of 2000.
"""

import numpy as np
import numpy.random as npr
from scipy.stats import norm

from wengert import grad


def black_box_variational_inference(logprob, D, num_samples):
    """Implements http://arxiv.org/abs/1401.0118, and uses the
    local reparameterization trick from http://arxiv.org/abs/1506.02557"""

    def unpack_params(params):
        # Variational dist is a diagonal Gaussian.
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    rs = npr.RandomState(0)

    def variational_objective(params, t):
        """Provides a stochastic estimate of the variational lower bound."""
        mean, log_std = unpack_params(params)
        samples = rs.randn(num_samples, D) * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(logprob(samples, t))
        return -lower_bound

    gradient = grad(variational_objective)

    return variational_objective, gradient, unpack_params


# Specify an inference problem by its unnormalized log-density.
D = 2


def log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm.logpdf(log_sigma, 0, 1.35)
    mu_density = norm.logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


def checks():
    def gradient_at_init():
        objective, gradient, unpack_params = black_box_variational_inference(log_density, D, num_samples=20)
        init_mean = -1 * np.ones(D)
        init_log_std = -1 * np.ones(D)
        init_var_params = np.concatenate([init_mean, init_log_std])
        return gradient(init_var_params, 0)

    return {"grad": gradient_at_init}
