"""Rules for builtins: ``abs``, ``float``, ``pow``, ``min``, ``max``, ``sum``, ``divmod``.

Like the operator rules, these work for Python scalars and for NumPy (or any
array-API) arrays. ``min``, ``max``, ``sum`` and ``divmod`` have variable
signatures or tuple outputs and use the full `rrule` / `frule` forms; a
sequence argument's cotangent matches it (list for list, tuple for tuple,
array for array, list for other iterables). Keyword arguments (``key=``,
``default=``, ``start=`` passed by keyword) get no gradient, as everywhere in
the rule table. Integer-valued builtins and predicates are `nondiff`.
"""

from __future__ import annotations

import builtins
import cmath
from functools import reduce

from wengert.rules.operators import _NUMBERS, _like_seq, _pow_dx, _pow_dy, _sign, _xp
from wengert.rules.table import defjvp, defvjp, frule, nondiff, rrule
from wengert.rules.support import accum, getitem_grad, unbroadcast

# ---- helpers ----

def _float_grad(g, x):
    """Cotangent of ``x`` in ``float(x)``: ``g`` as ``x``'s type; none for strings."""
    if isinstance(x, _NUMBERS):
        return g
    if isinstance(x, (str, bytes)):
        return None
    if hasattr(x, "shape"):
        xp = _xp(x)
        return xp.reshape(xp.asarray(g, dtype=x.dtype), x.shape)
    return g


def _abs_slope(x):
    """``d|x|/dx``: ``sign(x)``; ``conj(z)/|z|`` for a complex number (JAX's convention, below)."""
    if isinstance(x, complex):
        return x.conjugate() / abs(x) if x else 0.0
    return _sign(x)


def _abs_tangent(t, x):
    """Tangent of ``|x|``: ``t * sign(x)``; ``Re(conj(z) t) / |z|`` for a complex number."""
    if isinstance(x, complex):
        return (x.conjugate() * t).real / abs(x) if x else 0.0
    return t * _sign(x)


def _position(xs, y):
    """Index of ``y`` in ``xs`` by identity: min/max return an element, the first of any ties."""
    return next((i for i, v in enumerate(xs) if v is y), None)


def _extremum_rrule(fn, args, kw):
    if len(args) != 1:  # max(a, b, ...)
        y = fn(*args, **kw)
        i = _position(args, y)

        def extremum_pullback(g):
            return tuple(g if j == i else None for j in range(len(args)))

        return y, extremum_pullback
    iterable = args[0]  # max(iterable): iterate once, whatever it is
    xs = list(iterable)
    y = fn(xs, **kw)
    i = _position(xs, y)  # None: the iterable was empty and default= was returned

    def extremum_iter_pullback(g):
        if i is None:
            return (None,)
        if hasattr(iterable, "shape") or isinstance(iterable, tuple):
            return (getitem_grad(g, iterable, i),)
        out = [None] * len(xs)
        out[i] = g
        return (out,)

    return y, extremum_iter_pullback


def _extremum_frule(fn, tangents, args, kw):
    if len(args) != 1:
        y = fn(*args, **kw)
        return y, tangents[_position(args, y)]
    xs = list(args[0])
    y = fn(xs, **kw)
    i, t = _position(xs, y), tangents[0]
    if i is None or t is None:
        return y, None
    return y, t.get(i) if isinstance(t, dict) else t[i]


# ---- scalar functions ----

defvjp(abs, lambda g, y, x: g * _abs_slope(x), broadcast=True)
defjvp(abs, lambda t, y, x: _abs_tangent(t, x), broadcast=True)
defvjp(float, lambda g, y, x: _float_grad(g, x))  # identity on numbers; float("1.5") has none
defjvp(float, lambda t, y, x: float(t))
# pow(x, y) as x ** y; pow(x, y, mod) is integer arithmetic and has no derivative.
defvjp(pow, lambda g, z, x, y, mod=None: g * _pow_dx(x, y) if mod is None else None,
            lambda g, z, x, y, mod=None: g * _pow_dy(z, x) if mod is None else None,
            None, broadcast=True)
defjvp(pow, lambda t, z, x, y, mod=None: t * _pow_dx(x, y) if mod is None else None,
            lambda t, z, x, y, mod=None: t * _pow_dy(z, x) if mod is None else None,
            None, broadcast=True)
nondiff(int, bool, round, len, range, isinstance, issubclass, type, str, repr, hash, id)
nondiff(callable, hasattr, any, all, ord, chr, bin, oct, hex)


# ---- strings and printing: no derivative ----
# f-strings lower to `format_value` per replacement field and `join_str` (frontend), so a
# debugging print(f"{x:.3f}") inside a differentiated loop runs and costs no gradient.

_CONVERSIONS = {-1: None, ord("s"): str, ord("r"): repr, ord("a"): ascii}


def format_value(value, conversion=-1, spec=""):
    """One replacement field ``{value!r:spec}`` of an f-string."""
    convert = _CONVERSIONS[conversion]
    return format(value if convert is None else convert(value), spec)


def join_str(*parts):
    """The pieces of an f-string, joined."""
    return "".join(parts)


# ---- complex numbers: JAX's convention (as numpy_elementwise.py) ----
# The cotangent of z = x + iy is dL/dx - i dL/dy (JAX's, not PyTorch's conjugate
# dL/dx + i dL/dy): rules of holomorphic functions are the real ones unchanged (g * f'(z)),
# conj's cotangent is conj(g), and a real input takes the real part of what reaches it.
# grad of a complex number z gives dL/dx - i dL/dy.

def _real_input(c, x):
    """Cotangent ``c`` for input ``x``: its real part when ``x`` is a real number."""
    if c is None or isinstance(x, complex) or not isinstance(c, complex):
        return c
    return c.real


defvjp(complex, lambda g, y, real=0.0, imag=0.0: _real_input(g, real),
       lambda g, y, real=0.0, imag=0.0: _real_input(g * 1j, imag))
defjvp(complex, lambda t, y, real=0.0, imag=0.0: complex(t),
       lambda t, y, real=0.0, imag=0.0: t * 1j)
defvjp(complex.conjugate, lambda g, y, z: g.conjugate())
defjvp(complex.conjugate, lambda t, y, z: t.conjugate())


def _cmath_rule(fn, slope):
    """A holomorphic ``cmath`` function: ``vjp = g * f'(z)``, ``jvp = t * f'(z)``."""
    defvjp(fn, lambda g, y, z: _real_input(g * slope(y, z), z))
    defjvp(fn, lambda t, y, z: t * slope(y, z))


_cmath_rule(cmath.exp, lambda y, z: y)
_cmath_rule(cmath.log, lambda y, z: 1 / z)  # log(z, base) has a second argument: not covered
_cmath_rule(cmath.sqrt, lambda y, z: 0.5 / y)
_cmath_rule(cmath.sin, lambda y, z: cmath.cos(z))
_cmath_rule(cmath.cos, lambda y, z: -cmath.sin(z))
_cmath_rule(cmath.tanh, lambda y, z: 1 - y * y)
# phase(z) = atan2(Im z, Re z), real valued: d/dx = -Im z/|z|^2, d/dy = Re z/|z|^2
defvjp(cmath.phase, lambda g, y, z: _real_input(-1j * g * complex(z).conjugate() / abs(z) ** 2, z))
defjvp(cmath.phase, lambda t, y, z: (complex(z).conjugate() * t).imag / abs(z) ** 2)


# ---- NumPy scalar types: float(x) and int(x) by other names ----
# np.float64(x) (and float32, ...) is float(x): the cotangent is g, as x's type; the integer and
# bool types have no derivative; np.complex128(x) is complex(x). On an array they convert it.

def _numpy_scalar_rules():
    import numpy as np

    for t in (np.float64, np.float32, np.float16, np.longdouble):
        defvjp(t, lambda g, y, x=0.0: _float_grad(g, x))
        defjvp(t, lambda t_, y, x=0.0, _t=t: _t(t_))
    for t in (np.complex128, np.complex64, np.clongdouble):
        defvjp(t, lambda g, y, x=0.0: _real_input(g, x) if isinstance(x, (float, int)) else g)
        defjvp(t, lambda t_, y, x=0.0, _t=t: _t(t_))
    nondiff(np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
            np.intp, np.bool_)
    defvjp(np.generic.item, lambda g, y, x, *index: g)  # np.float32(x).item(): a Python float
    defjvp(np.generic.item, lambda t, y, x, *index: t)


_numpy_scalar_rules()


# ---- imports inside a function ----
# `import m`, `import m as n` and `from m import x` inside a differentiated function lower to a
# call of `import_name` (the frontend), which runs the import when that line runs (so an import
# in a branch not taken never runs) and has no derivative.

def import_name(module, attr=None, package=None):
    """What an import statement binds: ``attr=None`` the top package (``import a.b`` binds
    ``a``), ``attr=""`` the module itself (``import a.b as m``), else ``from module import attr``."""
    import importlib

    m = importlib.import_module(module, package)
    if attr is None:
        return importlib.import_module(module.split(".")[0])  # `import` is never relative
    if attr == "":
        return m
    try:
        return getattr(m, attr)
    except AttributeError:
        return importlib.import_module(f"{m.__name__}.{attr}")


nondiff(import_name)
nondiff(format_value, join_str, format, print, ascii, str.format, str.join, str.__mod__, str.lower,
        str.upper, str.strip, str.split, str.replace, str.startswith, str.endswith)


# ---- min and max: the gradient goes to the selected element ----
# Ties: Python returns the first of equal extreme elements, and so the whole cotangent goes to
# that first one (the others get none). `key=` only selects; it is not differentiated.

@rrule(max)
def max_rrule(*args, **kw):
    return _extremum_rrule(builtins.max, args, kw)


@frule(max)
def max_frule(tangents, *args, **kw):
    return _extremum_frule(builtins.max, tangents, args, kw)


@rrule(min)
def min_rrule(*args, **kw):
    return _extremum_rrule(builtins.min, args, kw)


@frule(min)
def min_frule(tangents, *args, **kw):
    return _extremum_frule(builtins.min, tangents, args, kw)


# ---- sum and divmod ----

def _split_concat(g, parts):
    """The cotangents of ``parts`` from the cotangent ``g`` of their concatenation."""
    out, k = [], 0
    for p in parts:
        out.append(_like_seq(g[k:k + len(p)], p))
        k += len(p)
    return out


@rrule(sum)
def sum_rrule(iterable, *rest, **kw):
    xs = list(iterable)
    y = builtins.sum(xs, *rest, **kw)
    start = rest[0] if rest else kw.get("start", 0)

    def sum_pullback(g):
        if isinstance(y, (list, tuple)):  # sum(lists, []) concatenates: split g into the parts
            start_ct, *item_cts = _split_concat(g, [start, *xs])
        else:  # each element (and the start) gets g, reduced to its own shape
            start_ct, item_cts = unbroadcast(g, start), [unbroadcast(g, x) for x in xs]
        return (_like_seq(item_cts, iterable),) + ((start_ct,) if rest else ())

    return y, sum_pullback


@frule(sum)
def sum_frule(tangents, iterable, *rest, **kw):
    xs = list(iterable)
    y = builtins.sum(xs, *rest, **kw)
    t_items = [None] * len(xs) if tangents[0] is None else list(tangents[0])
    t_start = tangents[1] if rest else None
    if isinstance(y, (list, tuple)):
        start = rest[0] if rest else kw.get("start", 0)
        parts = [[None] * len(p) if t is None else list(t)
                 for p, t in zip([start, *xs], [t_start, *t_items])]
        return y, _like_seq([v for part in parts for v in part], y)
    return y, reduce(accum, [t_start, *t_items], None)


@rrule(divmod)
def divmod_rrule(x, y):
    q, r = divmod(x, y)  # r == x - q * y, q piecewise constant

    def divmod_pullback(g):
        gr = g[1]
        if gr is None:
            return None, None
        return unbroadcast(gr, x), unbroadcast(-gr * q, y)

    return (q, r), divmod_pullback


@frule(divmod)
def divmod_frule(tangents, x, y):
    q, r = divmod(x, y)
    tx, ty = tangents
    tr = accum(tx, None if ty is None else -ty * q)
    return (q, r), (None if tr is None else (None, tr))
