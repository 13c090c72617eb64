"""Rules for the `operator` module: what Python's operators lower to.

The frontend turns ``x * y`` into ``operator.mul(x, y)``, ``x += y`` into
``operator.iadd(x, y)`` and ``x[i]`` into ``operator.getitem(x, i)``, so these
rules see Python scalars, NumPy arrays (or any array-API array) and sequences.

- Arithmetic rules are elementwise (``broadcast=True``): the caller reduces
  each cotangent to its input's shape. Small helpers (`_sign`, `_pow_dx`,
  `_pow_dy`) take a fast path for Python numbers and fall back to NumPy or the
  array's own array-API namespace.
- ``+`` and ``*`` on lists and tuples are concatenation and repetition; their
  rules split or sum the cotangent instead of treating it as a number.
- In-place operators share the rules of their plain versions. An in-place
  update of a mutable array destroys an operand the rule may need; a rule that
  needs it raises `UnsupportedError` rather than return a wrong gradient.
- Conventions at non-smooth points follow JAX and PyTorch: ``abs'(0) = 0``,
  ``d(x**y)/dx = 0`` where ``y == 0``, ``d(x**y)/dy = 0`` where ``x == 0`` and
  ``nan`` where ``x < 0`` (no real logarithm).
- ``operator.matmul`` is registered with the NumPy rules.
"""

from __future__ import annotations

import math
import cmath
import operator
from functools import reduce

import numpy as np

from wengert.errors import UnsupportedError
from wengert.rules.table import defjvp, defvjp, defvjp_scalar, linear, nondiff
from wengert.rules import support as cotangents
from wengert.rules.support import accum, getitem_grad

_NUMBERS = (float, int)
_COMPLEX = (float, int, complex)
_SEQS = (list, tuple)
_IMMUTABLE = (float, int, complex, str, bytes, tuple, np.generic)


# ---- helpers: scalars fast, arrays through their namespace ----

def _xp(*xs):
    """The array namespace of the arrays among ``xs`` (NumPy, or the array API's)."""
    arrays = [x for x in xs if not isinstance(x, _NUMBERS)]
    if all(isinstance(x, (np.ndarray, np.generic)) for x in arrays):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def _sign(x):
    """sign(x) with sign(0) = 0 (the subgradient JAX and PyTorch pick); nan stays nan."""
    if isinstance(x, _NUMBERS):
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0 * x)
    return _xp(x).sign(x)


def _pow_dx(x, y):
    """d(x**y)/dx = y * x**(y-1); 0 where y == 0, +inf at x == 0 for 0 < y < 1."""
    if isinstance(x, _NUMBERS) and isinstance(y, _NUMBERS):
        if y == 0:
            return 0.0
        if x == 0 and y < 1:
            return math.inf * y
        return y * x ** (y - 1)
    if isinstance(x, _COMPLEX) and isinstance(y, _COMPLEX):  # holomorphic (rules/builtins.py)
        return 0.0 if y == 0 else y * x ** (y - 1)
    xp = _xp(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = y * x ** (y - 1)
        if isinstance(y, _NUMBERS):
            return xp.zeros_like(d) if y == 0 else d
        return xp.where(y == 0, xp.zeros_like(d), d)


def _pow_dy(z, x):
    """d(x**y)/dy = x**y * log(x); 0 where x == 0, nan where x < 0 (no real log)."""
    if isinstance(x, _NUMBERS):
        return z * (math.log(x) if x > 0 else (0.0 if x == 0 else math.nan))
    if isinstance(x, complex):  # holomorphic in y (rules/builtins.py: JAX's convention)
        return 0.0 if x == 0 else z * cmath.log(x)
    xp = _xp(x)
    with np.errstate(invalid="ignore"):
        logx = xp.log(xp.where(x > 0, x, xp.ones_like(x)))
        return z * xp.where(x < 0, xp.full_like(logx, math.nan), logx)


def _unmutated(v, z):
    """``v``, unless an in-place operator overwrote it (it is the output ``z`` and mutable)."""
    if v is z and not isinstance(v, _IMMUTABLE):
        raise UnsupportedError(
            f"an in-place operator overwrote an operand of type {type(v).__name__} that its "
            "gradient needs; write `x = x * y` instead of `x *= y` for arrays and lists"
        )
    return v


# ---- helpers: sequences (+ is concatenation, * is repetition) ----

def _like_seq(vals, ref):
    """``vals`` as a cotangent for the sequence ``ref``: list, tuple, namedtuple or array."""
    if isinstance(ref, list):
        return list(vals)
    if isinstance(ref, tuple):
        return type(ref)(*vals) if hasattr(ref, "_fields") else tuple(vals)
    if isinstance(ref, (np.ndarray, np.generic)):
        return np.asarray(vals)
    if hasattr(ref, "shape"):
        xp = _xp(ref)
        return xp.stack([xp.asarray(v) for v in vals])
    if cotangents._python_iterable(ref):  # a user object iterated by its __iter__: a structure of its fields
        return cotangents.object_items_grad(ref, list(vals))
    return list(vals)


def _concat_left(g, x, y):
    """Cotangent of ``x`` in ``z = x + y`` for sequences: the first ``len(z) - len(y)`` slots."""
    return _like_seq(g[: len(g) - len(y)], x)


def _concat_right(g, y):
    """Cotangent of ``y`` in ``z = x + y`` for sequences: the last ``len(y)`` slots."""
    return _like_seq(g[len(g) - len(y):], y)


def _pad_tangent(t, z, left):
    """Tangent of ``z = x + y`` contributed by one part's tangent ``t`` (zeros elsewhere)."""
    pad = [None] * (len(z) - len(t))
    return _like_seq(list(t) + pad if left else pad + list(t), z)


def _repeat_grad(g, z, n):
    """Cotangent of ``x`` in ``z = x * n`` (repetition): the ``n`` copies' cotangents summed."""
    if not isinstance(n, int) or n <= 0:
        return None  # `n` is the sequence (the int operand has no gradient), or z is empty
    k = len(g) // n
    return _like_seq([reduce(accum, (g[j * k + i] for j in range(n))) for i in range(k)], z)


def _index_tangent(t, i):
    """The tangent of ``x[i]`` given ``x``'s tangent (dicts may omit untouched keys)."""
    return t.get(i) if isinstance(t, dict) else t[i]


# ---- arithmetic ----

defvjp(operator.add, lambda g, z, x, y: g if not isinstance(z, _SEQS) else _concat_left(g, x, y),
                     lambda g, z, x, y: g if not isinstance(z, _SEQS) else _concat_right(g, y),
                     broadcast=True)
defjvp(operator.add, lambda t, z, x, y: t if not isinstance(z, _SEQS) else _pad_tangent(t, z, True),
                     lambda t, z, x, y: t if not isinstance(z, _SEQS) else _pad_tangent(t, z, False),
                     broadcast=True)
defvjp(operator.concat, lambda g, z, x, y: _concat_left(g, x, y),
                        lambda g, z, x, y: _concat_right(g, y))
defjvp(operator.concat, lambda t, z, x, y: _pad_tangent(t, z, True),
                        lambda t, z, x, y: _pad_tangent(t, z, False))
defvjp(operator.sub, lambda g, z, x, y: g, lambda g, z, x, y: -g, broadcast=True)
defjvp(operator.sub, lambda t, z, x, y: t, lambda t, z, x, y: -t, broadcast=True)
defvjp(operator.mul, lambda g, z, x, y: g * y if not isinstance(z, _SEQS) else _repeat_grad(g, z, y),
                     lambda g, z, x, y: g * x if not isinstance(z, _SEQS) else _repeat_grad(g, z, x),
                     broadcast=True)
# A sequence's tangent repeated n times is the tangent of the repetition, so `t * n` is right.
defjvp(operator.mul, lambda t, z, x, y: t * y, lambda t, z, x, y: t * x, broadcast=True)
defvjp(operator.truediv, lambda g, z, x, y: g / y, lambda g, z, x, y: -g * z / y, broadcast=True)
defjvp(operator.truediv, lambda t, z, x, y: t / y, lambda t, z, x, y: -t * z / y, broadcast=True)
# x % y == x - y * (x // y), and x // y is floor(x / y), piecewise constant, for Python's and
# NumPy's sign conventions alike (the result takes the sign of y).
defvjp(operator.mod, lambda g, z, x, y: g, lambda g, z, x, y: -g * (x // y), broadcast=True)
defjvp(operator.mod, lambda t, z, x, y: t, lambda t, z, x, y: -t * (x // y), broadcast=True)
# Each argument's rule is evaluated only when that argument needs a gradient, so `x ** 2` with
# x < 0 never touches log(x).
defvjp(operator.pow, lambda g, z, x, y: g * _pow_dx(x, y), lambda g, z, x, y: g * _pow_dy(z, x),
       broadcast=True)
defjvp(operator.pow, lambda t, z, x, y: t * _pow_dx(x, y), lambda t, z, x, y: t * _pow_dy(z, x),
       broadcast=True)
linear(operator.neg, operator.pos, broadcast=True)
defvjp(operator.abs, lambda g, y, x: g * _sign(x), broadcast=True)
defjvp(operator.abs, lambda t, y, x: t * _sign(x), broadcast=True)
nondiff(operator.floordiv)  # piecewise constant: zero gradient

# ---- in-place arithmetic: the plain rules, guarding operands an update may have overwritten ----

defvjp(operator.iadd,
       lambda g, z, x, y: g if not isinstance(z, _SEQS) else _concat_left(g, x, _unmutated(y, z)),
       lambda g, z, x, y: g if not isinstance(z, _SEQS) else _concat_right(g, _unmutated(y, z)),
       broadcast=True)
defjvp(operator.iadd, lambda t, z, x, y: t if not isinstance(z, _SEQS) else _pad_tangent(t, z, True),
                      lambda t, z, x, y: t if not isinstance(z, _SEQS) else _pad_tangent(t, z, False),
                      broadcast=True)
defvjp(operator.iconcat, lambda g, z, x, y: _concat_left(g, x, _unmutated(y, z)),
                         lambda g, z, x, y: _concat_right(g, _unmutated(y, z)))
defjvp(operator.iconcat, lambda t, z, x, y: _pad_tangent(t, z, True),
                         lambda t, z, x, y: _pad_tangent(t, z, False))
defvjp(operator.isub, lambda g, z, x, y: g, lambda g, z, x, y: -g, broadcast=True)
defjvp(operator.isub, lambda t, z, x, y: t, lambda t, z, x, y: -t, broadcast=True)
defvjp(operator.imul,
       lambda g, z, x, y: g * _unmutated(y, z) if not isinstance(z, _SEQS) else _repeat_grad(g, z, y),
       lambda g, z, x, y: g * _unmutated(x, z) if not isinstance(z, _SEQS) else _repeat_grad(g, z, x),
       broadcast=True)
defjvp(operator.imul, lambda t, z, x, y: t * _unmutated(y, z), lambda t, z, x, y: t * _unmutated(x, z),
       broadcast=True)
defvjp(operator.itruediv, lambda g, z, x, y: g / _unmutated(y, z),
                          lambda g, z, x, y: -g * z / _unmutated(y, z), broadcast=True)
defjvp(operator.itruediv, lambda t, z, x, y: t / _unmutated(y, z),
                          lambda t, z, x, y: -t * z / _unmutated(y, z), broadcast=True)
defvjp(operator.imod, lambda g, z, x, y: g,
                      lambda g, z, x, y: -g * (_unmutated(x, z) // _unmutated(y, z)), broadcast=True)
defjvp(operator.imod, lambda t, z, x, y: t,
                      lambda t, z, x, y: -t * (_unmutated(x, z) // _unmutated(y, z)), broadcast=True)
defvjp(operator.ipow, lambda g, z, x, y: g * _pow_dx(_unmutated(x, z), _unmutated(y, z)),
                      lambda g, z, x, y: g * _pow_dy(z, _unmutated(x, z)), broadcast=True)
defjvp(operator.ipow, lambda t, z, x, y: t * _pow_dx(_unmutated(x, z), _unmutated(y, z)),
                      lambda t, z, x, y: t * _pow_dy(z, _unmutated(x, z)), broadcast=True)
nondiff(operator.ifloordiv)

# ---- containers ----

defvjp(operator.getitem, lambda g, y, x, i: getitem_grad(g, x, i), None)

# ---- Python numbers (float-specialised code inlines these) ----

for _add in (operator.add, operator.iadd):
    defvjp_scalar(_add, lambda g, z, x, y: g, lambda g, z, x, y: g)
for _sub in (operator.sub, operator.isub):
    defvjp_scalar(_sub, lambda g, z, x, y: g, lambda g, z, x, y: -g)
for _mul in (operator.mul, operator.imul):
    defvjp_scalar(_mul, lambda g, z, x, y: g * y, lambda g, z, x, y: g * x)
for _div in (operator.truediv, operator.itruediv):
    defvjp_scalar(_div, lambda g, z, x, y: g / y, lambda g, z, x, y: -g * z / y)
for _pow in (operator.pow, operator.ipow):
    defvjp_scalar(_pow, lambda g, z, x, y: g * _pow_dx(x, y), lambda g, z, x, y: g * _pow_dy(z, x))
defvjp_scalar(operator.neg, lambda g, y, x: -g)
defvjp_scalar(operator.pos, lambda g, y, x: g)
defjvp(operator.getitem, lambda t, y, x, i: _index_tangent(t, i), None)

# ---- comparisons, logic, bits, identity: no derivative ----

nondiff(operator.lt, operator.le, operator.eq, operator.ne, operator.ge, operator.gt)
nondiff(operator.not_, operator.truth, operator.is_, operator.is_not, operator.contains)
nondiff(operator.index, operator.countOf, operator.indexOf, operator.length_hint)
nondiff(operator.and_, operator.or_, operator.xor, operator.invert, operator.inv,
        operator.lshift, operator.rshift)
nondiff(operator.iand, operator.ior, operator.ixor, operator.ilshift, operator.irshift)
