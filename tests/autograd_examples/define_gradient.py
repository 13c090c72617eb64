"""autograd examples/define_gradient.py: a primitive logsumexp with a hand-written VJP.

autograd's `@primitive` + `defvjp(f, maker)` become wengert's `defvjp(f, rule)` with the rule
uncurried (g, ans, x); the autograd run maps the import back and uses the example's own form.
"""

import numpy as np
import numpy.random as npr

from wengert import grad


def logsumexp(x):
    """Numerically stable log(sum(exp(x))), also defined in scipy.special"""
    max_x = np.max(x)
    return max_x + np.log(np.sum(np.exp(x - max_x)))


def logsumexp_vjp(ans, x):
    x_shape = x.shape
    return lambda g: np.full(x_shape, g) * np.exp(x - np.full(x_shape, ans))


if np.__name__ == "autograd.numpy":  # the autograd run: the example as written
    from autograd.extend import defvjp, primitive

    logsumexp = primitive(logsumexp)
    defvjp(logsumexp, logsumexp_vjp)
else:  # wengert: the same rule, uncurried (g, ans, x)
    import wengert

    wengert.defvjp(logsumexp, lambda g, ans, x: logsumexp_vjp(ans, x)(g))


def example_func(y):
    z = y**2
    lse = logsumexp(z)
    return np.sum(lse)


grad_of_example = grad(example_func)


def checks():
    return {"grad": lambda: grad_of_example(npr.RandomState(0).randn(10))}
