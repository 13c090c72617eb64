"""The rule table and the rule files that fill it.

Importing this package registers every built-in rule: Python operators, the
``math`` module, builtins, and NumPy; SciPy's once a program imports it
(`wengert.rules.scipy`).
"""

from wengert.rules import builtins, containers, hooks, math, numpy, operators, scipy  # noqa: F401  (registers rules)
from wengert.rules.table import Rule, defjvp, defvjp, frule, get_rule, linear, nondiff, rrule

__all__ = ["Rule", "defjvp", "defvjp", "frule", "get_rule", "linear", "nondiff", "rrule"]
