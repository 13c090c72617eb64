"""The rule table and the rule files that fill it.

Importing this package registers every built-in rule: Python operators, the
``math`` module, builtins, and NumPy; SciPy's once a program imports it
(`wengert.rules.scipy`). The array API namespaces that share the NumPy rules
(`wengert.interop.array_api`, a layer above) are registered by ``import wengert``.
"""

from wengert.rules import builtins, containers, hooks, math, numpy, operators, scipy  # noqa: F401  (registers rules)
# the rest of NumPy, in files by concept (they use the helpers of `numpy`, so they come after it)
from wengert.rules import numpy_decomp, numpy_elementwise, numpy_fft, numpy_gather  # noqa: F401, I001
from wengert.rules import numpy_products, numpy_signal, numpy_stats  # noqa: F401
from wengert.rules.table import Rule, defjvp, defvjp, frule, get_rule, linear, nondiff, rrule

__all__ = ["Rule", "defjvp", "defvjp", "frule", "get_rule", "linear", "nondiff", "rrule"]
