"""autograd examples/neural_net.py: an MLP classifier with an L2 prior, on random data shaped like a tiny MNIST.

Data: 20 random 16-pixel "images", 4 classes; layers [16, 8, 6, 4]; batch of 10.
"""

import itertools

import numpy as np
import numpy.random as npr
from scipy.special import logsumexp

from wengert import grad

from .flatten import flatten


def init_random_params(scale, layer_sizes, rs=None):
    """Build a list of (weights, biases) tuples,
    one for each layer in the net."""
    rs = rs if rs is not None else npr.RandomState(0)
    return [
        (
            scale * rs.randn(m, n),  # weight matrix
            scale * rs.randn(n),
        )  # bias vector
        for m, n in itertools.pairwise(layer_sizes)
    ]


def neural_net_predict(params, inputs):
    """Implements a deep neural network for classification.
    params is a list of (weights, bias) tuples.
    inputs is an (N x D) matrix.
    returns normalized class log-probabilities."""
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def l2_norm(params):
    """Computes l2 norm of params by flattening them into a vector."""
    flattened, _ = flatten(params)
    return np.dot(flattened, flattened)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


# Model parameters
layer_sizes = [16, 8, 6, 4]
L2_reg = 1.0
param_scale = 0.1
batch_size = 10

rs = npr.RandomState(1)
train_images = rs.rand(20, 16)
train_labels = np.array(rs.randint(4, size=20)[:, None] == np.arange(4)[None, :], dtype=int)
num_batches = int(np.ceil(len(train_images) / batch_size))


def batch_indices(iter):
    idx = iter % num_batches
    return slice(idx * batch_size, (idx + 1) * batch_size)


# Define training objective
def objective(params, iter):
    idx = batch_indices(iter)
    return -log_posterior(params, train_images[idx], train_labels[idx], L2_reg)


# Get gradient of objective using autograd.
objective_grad = grad(objective)


def checks():
    return {"grad": lambda: objective_grad(init_random_params(param_scale, layer_sizes), 1)}
