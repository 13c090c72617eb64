"""autograd examples/tanh.py: four nested derivatives of a vectorised tanh.

wengert has no elementwise_grad; `egrad` below is the loop the brief asks for (one scalar
grad per point), and the autograd run of this file uses the same loop with autograd's grad.
Plotting dropped; 7 points instead of 700.
"""

import numpy as np

from wengert import grad


def egrad(fun):
    def d_fun(x):
        if np.ndim(x) == 0:  # called by an outer egrad on one point
            return grad(fun)(x)
        return np.array([grad(fun)(xi) for xi in x])

    return d_fun


def tanh(x):
    return (1.0 - np.exp(-2 * x)) / (1.0 + np.exp(-(2 * x)))


x = np.linspace(-7, 7, 7)


def checks():
    return {
        "d1": lambda: egrad(tanh)(x),
        "d2": lambda: egrad(egrad(tanh))(x),
        "d4": lambda: egrad(egrad(egrad(egrad(tanh))))(x),
    }
