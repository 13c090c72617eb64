"""autograd examples/rosenbrock.py: value_and_grad handed to scipy.optimize.minimize (CG)."""

import numpy as np
from scipy.optimize import minimize

from wengert import value_and_grad


def rosenbrock(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


# Build a function that also returns gradients using autograd.
rosenbrock_with_grad = value_and_grad(rosenbrock)


def checks():
    return {
        "value_and_grad": lambda: rosenbrock_with_grad(np.array([-0.5, 0.7])),
        "minimize": lambda: minimize(rosenbrock_with_grad, x0=np.array([0.0, 0.0]), jac=True, method="CG").x,
    }
