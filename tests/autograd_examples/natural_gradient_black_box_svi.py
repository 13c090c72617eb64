"""autograd examples/natural_gradient_black_box_svi.py: black_box_svi's gradient preconditioned by the Fisher diagonal.

obs_dim 3 instead of 20, 5 samples instead of 2000.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import numpy as np
from scipy.stats import norm

from .black_box_svi import black_box_variational_inference

np.random.seed(42)
obs_dim = 3
Y = np.random.randn(obs_dim, obs_dim).dot(np.random.randn(obs_dim))


def log_density(x, t):
    mu, log_sigma = x[:, :obs_dim], x[:, obs_dim:]
    sigma_density = np.sum(norm.logpdf(log_sigma, 0, 1.35), axis=1)
    mu_density = np.sum(norm.logpdf(Y, mu, np.exp(log_sigma)), axis=1)
    return sigma_density + mu_density


# Build variational objective.
D = obs_dim * 2  # dimension of our posterior


def checks():
    def natural():
        objective, gradient, unpack_params = black_box_variational_inference(log_density, D, num_samples=5)

        def fisher_diag(lam):
            _mu, log_sigma = unpack_params(lam)
            return np.concatenate([np.exp(-2.0 * log_sigma), np.ones(len(log_sigma)) * 2])

        # simple! basically free!
        natural_gradient = lambda lam, i: (1.0 / fisher_diag(lam)) * gradient(lam, i)

        init_mean = -1 * np.ones(D)
        init_log_std = -1 * np.ones(D)
        init_var_params = np.concatenate([init_mean, init_log_std])
        return natural_gradient(init_var_params, 0)

    return {"natural_grad": natural}
