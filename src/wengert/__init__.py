"""wengert: automatic differentiation of Python by source-to-source transformation.

>>> import wengert, math
>>> wengert.grad(lambda x: 5 * math.sin(math.log(x)))(1.0)
5.0
"""

from wengert.api import (
    clear_cache,
    derivative,
    grad,
    gradient,
    hessian,
    jacobian,
    jvp,
    pullback,
    show_adjoint,
    show_ir,
    show_tangent,
    value_and_grad,
    vjp,
)
from wengert.overload.dual import Dual
from wengert.errors import UnsupportedError
from wengert.rules.table import defjvp, defvjp, frule, linear, nondiff, rrule
from wengert.rules.hooks import checkpoint, hook, stop_gradient
from wengert.interop import to_jax, to_torch
from wengert.runtime.cotangents import Tangent
from wengert.overload.tape import trace

__all__ = [
    "Dual",
    "Tangent",
    "UnsupportedError",
    "checkpoint",
    "clear_cache",
    "defjvp",
    "defvjp",
    "derivative",
    "frule",
    "grad",
    "gradient",
    "hessian",
    "hook",
    "jacobian",
    "jvp",
    "linear",
    "nondiff",
    "pullback",
    "rrule",
    "show_adjoint",
    "show_ir",
    "show_tangent",
    "stop_gradient",
    "to_jax",
    "to_torch",
    "trace",
    "value_and_grad",
    "vjp",
]
