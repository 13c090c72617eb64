"""The rule table: one entry per primitive, read by every mode.

Reverse mode (generated code and `pullback`), forward mode (tangent code and
`Dual`), the tape and the interop layers all look primitives up here. A rule is
plain Python that runs on its own:

    defvjp(math.sin, lambda g, y, x: g * math.cos(x))
    defvjp(operator.mul, lambda g, z, x, y: g * y,
                         lambda g, z, x, y: g * x, broadcast=True)
    defjvp(math.sin, lambda t, y, x: t * math.cos(x))
    nondiff(math.floor, round, len)
    linear(operator.neg)

Conventions:

- ``vjp(g, y, *args, **kwargs)`` returns the cotangent of one positional
  argument, given the output cotangent ``g`` (never ``None``: callers skip the
  rule when the output has no cotangent), the output ``y`` and the inputs.
  A ``None`` entry in ``defvjp`` means that argument gets no gradient;
  arguments past the last entry get none either.
- ``jvp(t, y, *args, **kwargs)`` returns the output tangent contributed by one
  argument's tangent ``t``; contributions of several arguments are summed.
- ``broadcast=True`` marks an elementwise rule: each cotangent is reduced to
  its input's shape (`wengert.runtime.cotangents.unbroadcast`) by the caller, so the
  rule itself is written as if no broadcasting happened.
- The full forms share work between value and derivative (ChainRules'
  ``rrule``/``frule``): ``rrule(*args, **kw) -> (y, pullback)`` with
  ``pullback(g)`` returning one cotangent per positional argument, and
  ``frule(tangents, *args, **kw) -> (y, t)`` with one tangent (or ``None``)
  per positional argument.
- Lambdas given to `defvjp` / `defjvp` whose body is a single expression may
  be inlined by the code generator, so keep them free of side effects.

The table and the compile cache are wengert's only global state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Rule:
    """What wengert knows about one primitive."""

    fn: Any
    vjps: tuple | None = None
    jvps: tuple | None = None
    rrule: Callable | None = None
    frule: Callable | None = None
    nondiff: bool = False
    broadcast: bool = False
    scalar_vjps: tuple | None = None

    @property
    def has_reverse(self) -> bool:
        return self.nondiff or self.vjps is not None or self.rrule is not None

    @property
    def has_forward(self) -> bool:
        return self.nondiff or self.jvps is not None or self.frule is not None


_RULES: dict[Any, Rule] = {}


def _key(fn: Any) -> Any:
    try:
        hash(fn)
        return fn
    except TypeError:
        return ("id", id(fn))


def _entry(fn: Any) -> Rule:
    global VERSION
    VERSION += 1
    k = _key(fn)
    rule = _RULES.get(k)
    if rule is None:
        rule = _RULES[k] = Rule(fn)
    return rule


VERSION = 0  # counts registrations: code that cached a decision about a rule checks it


# Functions called when a lookup misses; each returns a `Rule` for ``fn`` (made on first use, then kept
# in the table) or ``None``. interop/ adds one for torch, so torch functions, tensor methods and
# nn.Modules get rules without wengert importing torch.
_PROVIDERS: list[Callable[[Any], Rule | None]] = []


def get_rule(fn: Any) -> Rule | None:
    """The rule registered for ``fn``, or ``None``."""
    try:
        rule = _RULES.get(fn)
    except TypeError:
        rule = _RULES.get(("id", id(fn)))
    if rule is None and _PROVIDERS:
        for provide in _PROVIDERS:
            rule = provide(fn)
            if rule is not None:
                _RULES[_key(fn)] = rule
                break
    return rule


def add_provider(provide: Callable[[Any], Rule | None]) -> None:
    """Have ``provide(fn) -> Rule | None`` make rules for callables the table does not know yet."""
    if provide not in _PROVIDERS:
        _PROVIDERS.append(provide)


def defvjp(fn: Any, *vjps: Callable | None, broadcast: bool = False) -> Any:
    """Register the reverse rule of ``fn``: one ``vjp(g, y, *args)`` per positional argument.

    >>> import math
    >>> defvjp(math.sin, lambda g, y, x: g * math.cos(x))  # doctest: +ELLIPSIS
    <built-in function sin>
    """
    rule = _entry(fn)
    rule.vjps = tuple(vjps)
    rule.nondiff = False
    rule.broadcast = rule.broadcast or broadcast
    return fn


def defvjp_scalar(fn: Any, *vjps: Callable | None) -> Any:
    """Register a faster reverse rule of ``fn`` valid when every argument is a Python number.

    Generated code specialised to float arguments inlines these instead of the
    general rule (which also handles arrays, sequences and in-place updates).
    """
    _entry(fn).scalar_vjps = tuple(vjps)
    return fn


def defjvp(fn: Any, *jvps: Callable | None, broadcast: bool = False) -> Any:
    """Register the forward rule of ``fn``: one ``jvp(t, y, *args)`` per positional argument."""
    rule = _entry(fn)
    rule.jvps = tuple(jvps)
    rule.nondiff = False
    rule.broadcast = rule.broadcast or broadcast
    return fn


def rrule(fn: Any) -> Callable[[Callable], Callable]:
    """Decorator registering the full reverse form ``(*args) -> (y, pullback)`` of ``fn``.

    >>> import numpy as np
    >>> @rrule(np.linalg.slogdet)
    ... def slogdet_rrule(a):
    ...     sign, logdet = np.linalg.slogdet(a)
    ...     def slogdet_pullback(g):
    ...         return (g[1] * np.linalg.inv(a).T,)
    ...     return (sign, logdet), slogdet_pullback
    """

    def register(impl: Callable) -> Callable:
        rule = _entry(fn)
        rule.rrule = impl
        rule.nondiff = False
        return impl

    return register


def frule(fn: Any) -> Callable[[Callable], Callable]:
    """Decorator registering the full forward form ``(tangents, *args) -> (y, t)`` of ``fn``."""

    def register(impl: Callable) -> Callable:
        rule = _entry(fn)
        rule.frule = impl
        rule.nondiff = False
        return impl

    return register


def nondiff(*fns: Any) -> None:
    """Declare ``fns`` to have no derivative (piecewise constant or integer valued)."""
    for fn in fns:
        rule = _entry(fn)
        rule.nondiff = True
        rule.vjps = rule.jvps = rule.rrule = rule.frule = None



def copy_rule(fn: Any, rule: Rule) -> None:
    """Give ``fn`` the forms of ``rule`` (another primitive's, same argument order)."""
    if rule.nondiff:
        nondiff(fn)
        return
    if rule.vjps is not None:
        defvjp(fn, *rule.vjps, broadcast=rule.broadcast)
    if rule.jvps is not None:
        defjvp(fn, *rule.jvps, broadcast=rule.broadcast)
    if rule.rrule is not None:
        rrule(fn)(rule.rrule)
    if rule.frule is not None:
        frule(fn)(rule.frule)

def linear(*fns: Any, broadcast: bool = False) -> None:
    """Declare single-argument ``fns`` linear and self-adjoint: ``vjp(g) = fn(g)``, ``jvp(t) = fn(t)``."""
    for fn in fns:
        defvjp(fn, lambda g, y, x, _fn=fn: _fn(g), broadcast=broadcast)
        defjvp(fn, lambda t, y, x, _fn=fn: _fn(t), broadcast=broadcast)


def registered() -> list[Rule]:
    """Every rule in the table (for tests and documentation)."""
    return list(_RULES.values())
