"""wengert: automatic differentiation of Python by source-to-source transformation."""

from wengert.errors import UnsupportedError
from wengert.rules.table import defjvp, defvjp, frule, linear, nondiff, rrule

__all__ = ["UnsupportedError", "defjvp", "defvjp", "frule", "linear", "nondiff", "rrule"]
