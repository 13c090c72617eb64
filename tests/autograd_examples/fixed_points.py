"""autograd examples/fixed_points.py: sqrt(a) as the fixed point of an iteration, and its first two derivatives.

autograd.misc.fixed_points.fixed_point is a library function with an implicit-function VJP;
its forward loop is written out below (`fixed_point`), so both wengert and the autograd run
differentiate the loop itself (the same numbers; close to, not equal to, 1 / (2 sqrt a)).
"""

import numpy as np

from wengert import grad


def fixed_point(f, a, x0, distance, tol):
    _f = f(a)
    x, x_prev = _f(x0), x0
    while distance(x, x_prev) > tol:
        x, x_prev = _f(x), x
    return x


def newton_sqrt_iter(a):
    return lambda x: 0.5 * (x + a / x)


def grad_descent_sqrt_iter(a):
    return lambda x: x - 0.05 * (x**2 - a)


def sqrt(a, guess=10.0):
    # return fixed_point(newton_sqrt_iter, a, guess, distance, 1e-4)
    return fixed_point(grad_descent_sqrt_iter, a, guess, distance, 1e-4)


def distance(x, y):
    return np.abs(x - y)


def checks():
    return {
        "np_sqrt": lambda: (grad(np.sqrt)(2.0), grad(grad(np.sqrt))(2.0)),
        "grad": lambda: grad(sqrt)(2.0),
        "grad_grad": lambda: grad(grad(sqrt))(2.0),
    }
