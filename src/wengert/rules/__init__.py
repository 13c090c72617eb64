"""The rule table and the rule files that fill it.

Importing this package registers every built-in rule: Python operators, the
``math`` module, builtins, and NumPy.
"""

from wengert.rules import builtins, containers, hooks, math, numpy, operators  # noqa: F401  (registers rules)
from wengert.rules.table import Rule, defjvp, defvjp, frule, get_rule, linear, nondiff, rrule

__all__ = ["Rule", "defjvp", "defvjp", "frule", "get_rule", "linear", "nondiff", "rrule"]
