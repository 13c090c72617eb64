"""wengert: automatic differentiation of Python by source-to-source transformation.

>>> import wengert, math
>>> wengert.grad(lambda x: 5 * math.sin(math.log(x)))(1.0)
5.0
"""

from wengert.api import clear_cache, gradient, grad, pullback, show_adjoint, show_ir, value_and_grad, vjp
from wengert.api import derivative, hessian, jacobian, jvp, show_tangent
from wengert.dual import Dual
from wengert.errors import UnsupportedError
from wengert.rules.table import defjvp, defvjp, frule, linear, nondiff, rrule
from wengert.runtime import Tangent

__all__ = [
    "UnsupportedError", "Tangent", "clear_cache", "defjvp", "defvjp", "frule", "gradient", "grad",
    "linear", "nondiff", "pullback", "rrule", "show_adjoint", "show_ir", "value_and_grad", "vjp",
    "Dual", "derivative", "hessian", "jacobian", "jvp", "show_tangent",
]
