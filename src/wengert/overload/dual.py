"""Forward mode by dual numbers, driven by the rule table.

A `Dual` is ``a + b·ε`` with ``ε² = 0``: ``primal`` is ``a``, ``tangent`` is ``b``,
either a scalar or an array. Every operation on a Dual (operators, NumPy ufuncs
and array functions, `dual_call`) looks its primitive up in the rule table and
uses its ``frule`` or ``jvps``; nothing else knows about derivatives.

Levels. Each Dual carries a ``tag``: an integer naming its perturbation ``ε``.
Nested derivatives use fresh, increasing tags, and a Dual's primal and tangent
only contain tags below its own. An operation acts on the highest tag among its
arguments and treats everything else as a constant; lower tags are handled
recursively when the rule computes with its inputs. This is what keeps
``d/dx [x * d/dy (x + y)]`` at 1 rather than 2 (Siskind & Pearlmutter,
"Perturbation confusion and referential transparency", 2005). The tape's `Var`
shares the level counter (`new_level`), so Duals and Vars nest in either order.

The single entry point for calls is `dual_call(fn, *args, **kwargs)` (the tape
calls the same function `tape_call`): with no tracked argument it is just
``fn(*args, **kwargs)``; otherwise the argument with the highest level decides
the mode. Generated code routes every call through it.

The operator-overloading core shared with the tape is `wengert.overload.tracked`; the
lifting of rule bodies for nested levels is `wengert.overload.routing` (both re-exported
here). What cannot work raises, never drops a tangent: ``float(dual)`` (so
``math.sin(dual)``), ``bool(dual)``, a primitive without a forward rule
(`UnsupportedError`), ``out=`` arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wengert.errors import UnsupportedError
from wengert.overload import routing
from wengert.overload.routing import (  # noqa: F401 - re-exported: the overload package's one front
    _LIFTED,
    _MODULES,
    _NAMESPACES,
    ROUTED_BUILTINS,
    RoutedNamespace,
    RoutedObject,
    _LazyLift,
    _route,
    _routed_module,
    lifted,
    substitute,
)
from wengert.overload.tracked import (  # noqa: F401 - re-exported
    _CONTAINERS,
    _SCAN,
    Tracked,
    _higher,
    _items,
    base,
    dual_call,
    has_tracked,
    is_array,
    new_level,
    no_rule,
    numeric,
    one_like,
    qualified_name,
    rebuild,
    routed,
    zero_like,
)
from wengert.rules.support import accum, getitem_grad, shape_of
from wengert.rules.table import get_rule

__all__ = ["Dual", "derivative", "dual_call", "dual_jvp", "new_level"]


# ---- Dual ----

class Dual(Tracked):
    """``primal + tangent·ε`` with ``ε² = 0``, at perturbation level ``tag``.

    Parts are scalars or arrays. Build one by hand with the default tag 0, or let
    `derivative` / `dual_jvp` pick fresh tags. Operators, ``np.sin`` and
    `dual_call` propagate the tangent through the rule table.

    >>> y = Dual(2.0, 1.0) ** 3
    >>> y.primal, y.tangent
    (8.0, 12.0)
    """

    __slots__ = ("primal", "tag", "tangent")

    def __init__(self, primal: Any, tangent: Any, tag: int = 0):
        for part in (primal, tangent):
            inner = _higher(None, part)
            if inner is not None and inner._level >= tag:
                raise ValueError(
                    f"a Dual with tag {tag} cannot hold a value at level {inner._level}; "
                    "nest Duals with increasing tags (wengert.overload.dual.new_level())"
                )
        if shape_of(tangent) != shape_of(primal):
            tangent = tangent + zero_like(primal)
            if shape_of(tangent) != shape_of(primal):
                raise ValueError(f"tangent of shape {shape_of(tangent)} for a primal of "
                                 f"shape {shape_of(primal)}")
        self.primal = primal
        self.tangent = tangent
        self.tag = tag

    @classmethod
    def _make(cls, primal, tangent, tag):
        d = object.__new__(cls)
        d.primal = primal
        d.tangent = tangent
        d.tag = tag
        return d

    @property
    def _level(self):
        return self.tag

    def _strip(self):
        return self.primal

    def __repr__(self):
        tag = f", tag={self.tag}" if self.tag else ""
        return f"Dual({self.primal!r}, {self.tangent!r}{tag})"

    def _wengert_call(self, fn, args, kwargs):
        return _forward(fn, args, kwargs, self.tag)

    __array_namespace__ = routing.array_namespace


def _forward(fn, args, kwargs, level):
    """Apply ``fn`` to ``args`` whose Duals at ``level`` carry the tangents."""
    rule = get_rule(fn)
    if rule is None or not rule.has_forward:
        raise no_rule(fn, forward=True)
    if rule.nondiff:
        return fn(*base(args), **base(kwargs))
    if kwargs.get("out") is not None:
        raise UnsupportedError(f"{qualified_name(fn)}(..., out=...) on dual numbers: the array written into "
                               "cannot carry a tangent; write c = f(...) instead")
    for k, v in kwargs.items():
        if at_level(v, level):
            raise UnsupportedError(
                f"{qualified_name(fn)}: keyword argument {k}= carries a tangent; "
                "pass it positionally"
            )
    primals, tangents = [], []
    for a in args:
        p, t = _split(a, level)
        primals.append(p)
        tangents.append(t)
    nested = has_tracked(primals) or has_tracked(tangents)
    if rule.frule is not None:
        frule = lifted(rule.frule) if nested else rule.frule
        y, t = frule(tuple(tangents), *primals, **kwargs)
        return _wrap(y, t, level)
    y = dual_call(fn, *primals, **kwargs) if nested else fn(*primals, **kwargs)
    t = None
    jvps = rule.jvps
    for i, ti in enumerate(tangents):
        if ti is None or i >= len(jvps) or jvps[i] is None:
            continue
        jvp = lifted(jvps[i]) if nested else jvps[i]
        c = jvp(ti, y, *primals, **kwargs)
        if c is not None:
            t = accum(t, c)
    if t is not None and rule.broadcast and shape_of(t) != shape_of(y):
        t = t + zero_like(y)  # a scalar's tangent spread over the broadcast output
    return _wrap(y, t, level)


def at_level(x, level) -> bool:
    top = _higher(None, x) if isinstance(x, _SCAN) else None
    return top is not None and top._level == level


def _split(a, level):
    """(primal, tangent) of ``a`` at ``level``; containers split elementwise, None = no tangent."""
    if isinstance(a, Dual) and a.tag == level:
        return a.primal, a.tangent
    if isinstance(a, _CONTAINERS) and at_level(a, level):
        parts = [_split(v, level) for v in _items(a)]
        return rebuild(a, [p for p, _ in parts]), rebuild(a, [t for _, t in parts])
    return a, None


def _wrap(y, t, level):
    """Output ``y`` with tangent ``t`` at ``level`` (containers elementwise)."""
    if t is None:
        return y
    if isinstance(y, _CONTAINERS) and not isinstance(y, Tracked):
        if isinstance(y, dict):
            return {k: _wrap(v, t.get(k) if isinstance(t, dict) else None, level)
                    for k, v in y.items()}
        return rebuild(y, [_wrap(v, tv, level) for v, tv in zip(y, t)])
    return Dual._make(y, t, level)


def tangent_at(y, level, fill: bool = True):
    """The tangent of ``y`` for perturbation ``level`` (plain zero where it has none, if ``fill``)."""
    if isinstance(y, Tracked):
        if y._level == level:
            return y.tangent
        if y._level > level:
            if not isinstance(y, Dual):
                raise UnsupportedError(
                    "a tape Var created inside a derivative escaped from it; "
                    "return plain values from the differentiated function")
            p, q = tangent_at(y.primal, level, False), tangent_at(y.tangent, level, False)
            if p is None and q is None:
                return zero_like(y) if fill else None
            return Dual._make(zero_like(y.primal) if p is None else p,
                              zero_like(y.tangent) if q is None else q, y.tag)
    elif isinstance(y, _CONTAINERS):
        return rebuild(y, [tangent_at(v, level, fill) for v in _items(y)])
    return zero_like(y) if fill and numeric(y) else None


def primal_at(y, level):
    """``y`` with the perturbation ``level`` removed."""
    if isinstance(y, Dual):
        if y.tag == level:
            return y.primal
        if y.tag > level:
            return Dual._make(primal_at(y.primal, level), primal_at(y.tangent, level), y.tag)
        return y
    if isinstance(y, _CONTAINERS):
        return rebuild(y, [primal_at(v, level) for v in _items(y)])
    return y


# ---- derivatives ----

def _seed(x, t, level):
    if t is None:
        return x
    if isinstance(x, _CONTAINERS) and not isinstance(x, Tracked):
        ts = _items(t) if isinstance(t, _CONTAINERS) else [None] * len(x)
        return rebuild(x, [_seed(v, tv, level) for v, tv in zip(_items(x), ts)])
    return Dual._make(x, t, level)


def dual_jvp(f: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(f(*primals), J·tangents)`` by one pass of dual numbers; ``None`` tangents are zero.

    >>> dual_jvp(lambda x, y: x * y, (3.0, 4.0), (1.0, 0.0))
    (12.0, 4.0)
    """
    level = new_level()
    args = [_seed(x, t, level) for x, t in zip(primals, tangents)]
    out = f(*args)
    return primal_at(out, level), tangent_at(out, level)


def derivative(f: Callable) -> Callable:
    """``x -> f'(x)`` for ``f`` of one scalar (for an array ``x``: the derivative along ones).

    Nests: ``derivative(derivative(f))`` is the second derivative.

    >>> derivative(lambda x: x ** 3)(2.0)
    12.0
    >>> derivative(derivative(lambda x: x ** 3))(2.0)
    12.0
    """

    def df(x, *args, **kwargs):
        level = new_level()
        y = f(Dual._make(x, one_like(x), level), *args, **kwargs)
        if not numeric(y) and not isinstance(y, _CONTAINERS):
            raise TypeError(f"derivative needs f to return numbers or arrays, not "
                            f"{type(y).__name__}")
        return tangent_at(y, level)

    df.__name__ = f"d_{getattr(f, '__name__', 'f')}"
    return df


# ---- rule helpers for Duals ----

def dual_getitem_grad(g, x, index):
    """`runtime.getitem_grad` for Duals: the scatter is linear in ``g``, so scatter its parts."""
    if isinstance(x, (list, tuple, dict)):
        return getitem_grad(g, x, index)  # places g in a structure: nothing to split
    if isinstance(g, Dual):
        return Dual._make(dual_getitem_grad(g.primal, x, index), dual_getitem_grad(g.tangent, x, index), g.tag)
    if has_tracked(g):
        return getitem_grad(g, x, index)  # structures: getitem_grad only places g
    return getitem_grad(g, base(x), index)


routing.SUBSTITUTES[getitem_grad] = dual_getitem_grad
