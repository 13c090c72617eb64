"""autograd examples/bayesian_neural_net.py: a Bayesian MLP by black_box_svi, vectorised over weight samples.

Layers [1, 5, 5, 1] instead of [1, 20, 20, 1], 10 data points instead of 40, 4 samples instead of 20.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import itertools

import numpy as np
import numpy.random as npr

from .black_box_svi import black_box_variational_inference


def make_nn_funs(layer_sizes, L2_reg, noise_variance, nonlinearity=np.tanh):
    """These functions implement a standard multi-layer perceptron,
    vectorized over both training examples and weight samples."""
    shapes = list(itertools.pairwise(layer_sizes))
    num_weights = sum((m + 1) * n for m, n in shapes)

    def unpack_layers(weights):
        num_weight_sets = len(weights)
        for m, n in shapes:
            yield (
                weights[:, : m * n].reshape((num_weight_sets, m, n)),
                weights[:, m * n : m * n + n].reshape((num_weight_sets, 1, n)),
            )
            weights = weights[:, (m + 1) * n :]

    def predictions(weights, inputs):
        """weights is shape (num_weight_samples x num_weights)
        inputs  is shape (num_datapoints x D)"""
        inputs = np.expand_dims(inputs, 0)
        for W, b in unpack_layers(weights):
            outputs = np.einsum("mnd,mdo->mno", inputs, W) + b
            inputs = nonlinearity(outputs)
        return outputs

    def logprob(weights, inputs, targets):
        log_prior = -L2_reg * np.sum(weights**2, axis=1)
        preds = predictions(weights, inputs)
        log_lik = -np.sum((preds - targets) ** 2, axis=1)[:, 0] / noise_variance
        return log_prior + log_lik

    return num_weights, predictions, logprob


def build_toy_dataset(n_data=40, noise_std=0.1):
    D = 1
    rs = npr.RandomState(0)
    inputs = np.concatenate([np.linspace(0, 2, num=n_data // 2), np.linspace(6, 8, num=n_data // 2)])
    targets = np.cos(inputs) + rs.randn(n_data) * noise_std
    inputs = (inputs - 4.0) / 4.0
    inputs = inputs.reshape((len(inputs), D))
    targets = targets.reshape((len(targets), D))
    return inputs, targets


# Specify inference problem by its unnormalized log-posterior.
rbf = lambda x: np.exp(-(x**2))
relu = lambda x: np.maximum(x, 0.0)
num_weights, predictions, logprob = make_nn_funs(
    layer_sizes=[1, 5, 5, 1], L2_reg=0.1, noise_variance=0.01, nonlinearity=rbf
)

inputs, targets = build_toy_dataset(n_data=10)
log_posterior = lambda weights, t: logprob(weights, inputs, targets)


def checks():
    def gradient():
        # Build variational objective.
        objective, gradient, unpack_params = black_box_variational_inference(log_posterior, num_weights, num_samples=4)
        rs = npr.RandomState(0)
        init_mean = rs.randn(num_weights)
        init_log_std = -5 * np.ones(num_weights)
        init_var_params = np.concatenate([init_mean, init_log_std])
        return gradient(init_var_params, 0)

    return {"grad": gradient}
