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
from wengert.rules.support import Tangent
from wengert.overload.tape import trace

# Wiring: the pieces below the api reach the ones above through registration, never by
# importing them (tests/test_layout.py): the dispatch ladder's two modes register the
# dispatcher (`wengert.registry`), `dispatch.overloading` plugs the overload
# package's fallback rungs and dual variant into the ladder and the cache, and here the
# public pullback and the rules for making `grad` functions inside differentiated code.
from wengert.dispatch import jvps as _jvps, pullbacks as _pullbacks  # noqa: E402, F401  (register themselves)
from wengert.dispatch import overloading as _overloading  # noqa: E402, F401  (plugs in the overload package)
from wengert.interop import array_api as _array_api  # noqa: E402, F401  (array API namespaces share the rules)
from wengert import registry as _registry  # noqa: E402
from wengert.api_higher import register_maker_rules as _register_maker_rules  # noqa: E402

_registry.register(pullback=pullback)
_register_maker_rules(grad)

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
