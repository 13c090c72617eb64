"""autograd examples/sinusoid.py: grad(grad(np.sin)) and grad(grad(.)) of a Taylor series with a data-dependent break.

The plotting is dropped; the derivatives are mapped over 9 points instead of 100.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import numpy as np

from wengert import grad


def fun(x):
    return np.sin(x)


d_fun = grad(fun)  # First derivative
dd_fun = grad(d_fun)  # Second derivative

x = np.linspace(-10, 10, 9)
sin_curves = lambda: (list(map(fun, x)), list(map(d_fun, x)), list(map(dd_fun, x)))


# Taylor approximation to sin function
def fun(x):
    currterm = x
    ans = currterm
    for i in range(1000):
        print(i, end=" ")
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        if np.abs(currterm) < 0.2:
            break  # (Very generous tolerance!)

    return ans


d_fun = grad(fun)
dd_fun = grad(d_fun)

taylor_curves = lambda: (list(map(fun, x)), list(map(d_fun, x)), list(map(dd_fun, x)))


def checks():
    return {"sin": sin_curves, "taylor": taylor_curves}
