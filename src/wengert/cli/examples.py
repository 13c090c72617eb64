"""Small functions used by `wengert demo`, the README and the benchmarks.

They are ordinary Python, kept in a module file because wengert reads a
function's source (`inspect.getsource`); a function typed at the REPL has none.
"""

import math


def sin_log(x):
    """``5 sin(log x)``; its derivative is ``5 cos(log x) / x``."""
    return 5 * math.sin(math.log(x))


def pow(x, n):
    """``x**n`` for an integer ``n >= 0`` by repeated multiplication (the talk's example)."""
    r = 1
    while n > 0:
        n -= 1
        r *= x
    return r
