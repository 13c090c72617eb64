"""The rule table and the rule files that fill it.

Importing this package registers every built-in rule; NumPy rules are
registered when NumPy is importable.
"""

from wengert.rules.table import Rule, defjvp, defvjp, frule, get_rule, linear, nondiff, rrule

__all__ = ["Rule", "defjvp", "defvjp", "frule", "get_rule", "linear", "nondiff", "rrule"]
