"""autograd examples/ode_net.py: a neural ODE, gradients through scipy.integrate.odeint.

5 time points instead of 30, hidden layer 6 instead of 150. The autograd run imports
autograd's odeint and autograd.builtins.tuple, as the example does.
"""

import itertools

import numpy as np
import numpy.random as npr
from scipy.integrate import odeint

from wengert import grad

N = 5  # Dataset size
D = 2  # Data dimension
max_T = 1.5


# Two-dimensional damped oscillator
def func(y, t0, A):
    return np.dot(y**3, A)


def nn_predict(inputs, t, params):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.maximum(0, outputs)
    return outputs


def init_nn_params(scale, layer_sizes, rs=None):
    """Build a list of (weights, biases) tuples, one for each layer."""
    rs = rs if rs is not None else npr.RandomState(0)
    return [
        (
            rs.randn(insize, outsize) * scale,  # weight matrix
            rs.randn(outsize) * scale,
        )  # bias vector
        for insize, outsize in itertools.pairwise(layer_sizes)
    ]


# Define neural ODE model.
def ode_pred(params, y0, t):
    return odeint(nn_predict, y0, t, tuple((params,)), rtol=0.01)


def L1_loss(pred, targets):
    return np.mean(np.abs(pred - targets))


# Generate data from true dynamics.
true_y0 = np.array([2.0, 0.0]).T
t = np.linspace(0.0, max_T, N)
true_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
true_y = odeint(func, true_y0, t, args=(true_A,))


def train_loss(params, iter):
    pred = ode_pred(params, true_y0, t)
    return L1_loss(pred, true_y)


def checks():
    return {"grad": lambda: grad(train_loss)(init_nn_params(0.1, layer_sizes=[D, 6, D]), 0)}
