"""autograd examples/logistic_regression.py: logistic regression on a 4-point toy set (the example's own data)."""

import numpy as np

from wengert import grad


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1)


def logistic_predictions(weights, inputs):
    # Outputs probability of a label being true according to logistic model.
    return sigmoid(np.dot(inputs, weights))


def training_loss(weights):
    # Training loss is the negative log-likelihood of the training labels.
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities))


# Build a toy dataset.
inputs = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
targets = np.array([True, True, False, True])

# Build a function that returns gradients of training loss using autograd.
training_gradient_fun = grad(training_loss)


def train(num_iters=10):
    weights = np.array([0.0, 0.0, 0.0])
    for i in range(num_iters):
        weights -= training_gradient_fun(weights) * 0.01
    return weights


def checks():
    return {
        "grad": lambda: training_gradient_fun(np.array([0.1, -0.2, 0.3])),
        "train": lambda: train(10),
    }
