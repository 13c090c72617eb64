"""A run-time Wengert list: reverse mode by recording, driven by the rule table.

A `Var` wraps a float or array that a `Tape` tracks. Every operation on a Var
(operators, NumPy ufuncs and array functions, `tape_call`) looks its primitive
up in the rule table and appends a `Node` to the tape, in execution order: the
output's id, the primitive, the input ids, and what the reverse rule needs (the
argument values and output for ``vjps``, or the pullback an ``rrule`` returned).
Nondifferentiable primitives run on plain values and are not recorded.
`backward` walks the nodes in reverse, accumulating cotangents with
`wengert.runtime.cotangents.accum` and reducing broadcast ones with ``unbroadcast``.

This module records; `wengert.overload.tape_backward` runs the list in reverse and
`wengert.overload.tape` traces a function and shows the list (and re-exports all three).

This is the fallback for callables without source and a cross-check for the
source transform; `trace(f, *args)` shows the list in the talk's form::

    y1 = log(x)
    y2 = sin(y1)
    y3 = 5 * y2

`tape_call(fn, *args, **kwargs)` is the entry point generated code calls (the
same function as `wengert.overload.dual.dual_call`): plain ``fn(*args, **kwargs)`` when
no argument is tracked; otherwise the argument at the highest level decides, so
tapes nest inside tapes and Duals (each tape has its own level, like a Dual's
tag), and gradients of gradients are taken by running a backward pass on Vars
of an outer tape.

Only floats, complex numbers and inexact arrays (NumPy's, or any array-API
library's: torch, JAX, CuPy; or values already tracked at a lower level) are
tracked; ints, bools and strings get ``None`` cotangents. ``float(var)`` raises
rather than silently untracking. Lists, dicts and objects (instances of Python
classes) handed to `Tape.track` keep their identity: their items and fields
hold Vars while ``f`` runs and plain values after (`Tape.restore`), so aliases
(``[row, row]``, one object in two arguments) stay aliases and what ``f`` writes
into them stays; tuples are rebuilt. A structure reached by several paths gets
its whole gradient at the first one, ``None`` at the others, as in source mode;
an object's gradient has the source transform's shape (a dataclass for a
dataclass, a `Tangent` otherwise).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wengert.errors import UnsupportedError
from wengert.overload import routing
from wengert.overload.routing import lifted
from wengert.overload.tracked import (
    Tracked,
    base,
    dual_call,
    has_tracked,
    is_array,
    new_level,
    no_rule,
    qualified_name,
    rebuild,
)
from wengert.overload.dual import at_level
from wengert.rules.table import Rule, get_rule

__all__ = ["Node", "Tape", "Var", "tape_call", "value_of"]

tape_call = dual_call  # one entry point for every mode; the highest-level argument decides

_CONTAINERS = (tuple, list, dict)


@dataclass(slots=True)
class Node:
    """One recorded primitive call: ``out = fn(*args, **kwargs)``."""

    out: Any  # id of the output Var, or a structure of ids (None where untracked)
    fn: Any
    inputs: tuple  # per positional argument: a Var id, a structure of ids, or None
    args: tuple  # the argument values with this tape's Vars unwrapped: what the vjps read
    kwargs: dict
    value: Any  # the output value
    pullback: Callable | None  # from the rule's rrule, if it has one
    rule: Rule


@dataclass(slots=True, eq=False)
class Tape:
    """Nodes in execution order, at one perturbation level."""

    level: int = field(default_factory=new_level)
    nodes: list[Node] = field(default_factory=list)
    inputs: list = field(default_factory=list)  # one spec (id / structure of ids / None) per track()
    count: int = 0
    objects: dict = field(default_factory=dict)  # id of a list, dict or object tracked in place -> its spec
    mutables: list = field(default_factory=list)  # those lists, dicts and objects, in the order tracked
    patched: list = field(default_factory=list)  # (object, field, value before, what track put there)
    frozen: list = field(default_factory=list)  # NumPy arrays nodes read, read-only while f runs
    versions: list = field(default_factory=list)  # (tensor, its version counter) for other arrays nodes read
    first: tuple | None = None  # inputs whose gradients are gathered first (the arguments asked for)

    def var(self, value) -> Var:
        """A new Var of this tape holding ``value``."""
        self.count += 1
        return Var(value, self, self.count)

    def track(self, x):
        """``x`` with its differentiable leaves replaced by new input Vars (recorded in ``inputs``).

        Lists, dicts and objects are tracked in place and keep their identity, so aliases
        (``[row, row]``, one object in two arguments) stay aliases while ``f`` runs; each
        is tracked once, however many paths reach it. `restore` puts plain values back."""
        wrapped, spec = self._wrap(x, True)
        self.inputs.append(spec)
        return wrapped

    def _wrap(self, x, inputs: bool = False):
        if _differentiable(x):
            v = self.var(x)
            return v, v.id
        if inputs and isinstance(x, (list, dict)):
            return x, self._wrap_items(x)
        if isinstance(x, _CONTAINERS):
            parts = [self._wrap(v, inputs) for v in _items(x)]
            return rebuild(x, [w for w, _ in parts]), _spec(x, [s for _, s in parts])
        if inputs and _is_object(x):
            return x, self._wrap_fields(x)
        return x, None

    def _seen(self, x):
        """Whether mutable ``x`` was tracked already (then its spec is ``self.objects[id(x)]``)."""
        if id(x) in self.objects:
            return True
        self.objects[id(x)] = None  # a structure reachable from itself is wrapped once
        self.mutables.append(x)  # keeps x alive, so its id is not reused while f runs
        return False

    def _wrap_items(self, xs):
        """Track the items of list or dict ``xs`` in place."""
        if self._seen(xs):
            return self.objects[id(xs)]
        keys = list(xs) if isinstance(xs, dict) else range(len(xs))
        specs = []
        for k in keys:
            value = xs[k]
            wrapped, spec = self._wrap(value, True)
            if wrapped is not value:
                xs[k] = wrapped
            specs.append(spec)
        spec = self.objects[id(xs)] = _spec(xs, specs)
        return spec

    def _wrap_fields(self, obj):
        """Track ``obj``'s fields in place (the object keeps its identity, so aliases and
        ``is`` behave as without the tape); their old values come back in `restore`."""
        if self._seen(obj):
            return self.objects[id(obj)]
        specs = {}
        for name, value in _fields_of(obj).items():
            wrapped, spec = self._wrap(value, True)
            if spec is not None:
                if wrapped is not value:
                    self.patched.append((obj, name, value, wrapped))
                    object.__setattr__(obj, name, wrapped)
                specs[name] = spec
        spec = self.objects[id(obj)] = _Fields(obj, specs) if specs else None
        return spec

    def keep(self, values) -> None:
        """Make sure arrays a node read are not changed in place while ``f`` runs: the
        reverse pass reads them again. NumPy arrays are made read-only until `restore`
        (a write raises at once); tensors' version counters are checked by `backward`."""
        for v in values:
            if type(v) is np.ndarray:
                if v.flags.writeable:
                    v.flags.writeable = False
                    self.frozen.append(v)
            elif isinstance(v, (list, tuple)):
                self.keep(v)
            elif hasattr(v, "_version") and is_array(v):
                self.versions.append((v, v._version))

    def restore(self) -> None:
        """Plain values back in everything `track` tracked in place: a field ``f`` left as
        tracked gets its value before; elsewhere ``f``'s changes stay, with this tape's
        Vars replaced by their values (lists and dicts keep their identity)."""
        seen: set = set()
        for obj, name, before, wrapped in reversed(self.patched):
            now = getattr(obj, name, before)
            if now is wrapped:
                object.__setattr__(obj, name, before)
            else:
                plain = _plain(now, self, seen)
                if plain is not now:
                    object.__setattr__(obj, name, plain)
        for x in self.mutables:
            if isinstance(x, (list, dict)):
                _plain(x, self, seen)
            else:  # an object: fields f set or added
                for name, value in _fields_of(x).items():
                    plain = _plain(value, self, seen)
                    if plain is not value:
                        object.__setattr__(x, name, plain)
        self.patched.clear()
        for a in self.frozen:
            a.flags.writeable = True
        self.frozen.clear()


def _plain(x, tape: Tape, seen: set):
    """``x`` without this tape's Vars: lists and dicts changed in place, tuples rebuilt."""
    if isinstance(x, Var):
        return x.value if x.tape is tape else x
    if isinstance(x, (list, dict)):
        if id(x) not in seen:
            seen.add(id(x))
            for k, v in (list(x.items()) if isinstance(x, dict) else enumerate(x)):
                plain = _plain(v, tape, seen)
                if plain is not v:
                    x[k] = plain
        return x
    if isinstance(x, tuple) and has_tracked(x):
        parts = [_plain(v, tape, seen) for v in x]
        return x if all(p is v for p, v in zip(parts, x)) else rebuild(x, parts)
    return x


@dataclass(slots=True, eq=False)
class _Fields:
    """The spec of an object whose fields are tracked: field name -> spec."""

    like: Any
    fields: dict


def _is_object(x) -> bool:
    """An instance of a Python class whose fields may hold numbers (not a function, class,
    module, array or tracked value)."""
    t = type(x)
    if not t.__flags__ & (1 << 9) or isinstance(x, (Tracked, type, types.FunctionType, types.MethodType,
                                                    types.ModuleType)) or hasattr(x, "shape"):
        return False
    return hasattr(x, "__dict__") or hasattr(t, "__slots__")


def _fields_of(obj) -> dict:
    out = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    for klass in type(obj).__mro__[:-1]:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                out[name] = getattr(obj, name)
    return out


def _object_grad(spec: _Fields, fields: dict):
    """The gradient of a tracked object, shaped as the source transform shapes it."""
    import dataclasses

    from wengert.runtime.mutation import structure_like
    from wengert.rules.support import Tangent

    fields = {k: v for k, v in fields.items() if v is not None}
    if dataclasses.is_dataclass(spec.like):
        return structure_like(spec.like, fields)
    return Tangent(type(spec.like), **fields)


def _items(x):
    return list(x.values()) if isinstance(x, dict) else list(x)


def _spec(like, specs):
    return None if all(s is None for s in specs) else rebuild(like, specs)


def _differentiable(x) -> bool:
    if isinstance(x, Tracked):
        return True
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, complex)):
        return True
    if isinstance(x, (np.ndarray, np.generic)):
        return np.issubdtype(x.dtype, np.inexact)
    if is_array(x):
        return _inexact(x)  # torch, JAX, CuPy arrays: their functions reach the tape through rules
    return False


def _inexact(x) -> bool:
    """Whether array-API array ``x`` has a floating or complex dtype."""
    try:
        import array_api_compat

        return bool(array_api_compat.array_namespace(x).isdtype(x.dtype, ("real floating", "complex floating")))
    except Exception:  # noqa: BLE001 - an array library array_api_compat does not know
        return any(k in str(x.dtype) for k in ("float", "complex"))


class Var(Tracked):
    """A value tracked by a `Tape`: ``value`` (float or array, or a lower-level Dual/Var) and ``id``.

    >>> tape = Tape()
    >>> x = tape.track(3.0)
    >>> y = x * x
    >>> backward(tape, y, 1.0)
    (6.0,)
    """

    __slots__ = ("id", "tape", "value")

    def __init__(self, value: Any, tape: Tape, id: int):
        self.value = value
        self.tape = tape
        self.id = id

    @property
    def _level(self):
        return self.tape.level

    def _strip(self):
        return self.value

    def __repr__(self):
        return f"Var({self.value!r}, id={self.id})"

    def _wengert_call(self, fn, args, kwargs):
        return _record(self.tape, fn, args, kwargs)

    __array_namespace__ = routing.array_namespace


def _record(tape: Tape, fn, args, kwargs):
    rule = get_rule(fn)
    if rule is None or not rule.has_reverse:
        raise no_rule(fn, forward=False)
    if rule.nondiff:
        return fn(*base(args), **base(kwargs))
    if kwargs.get("out") is not None:
        # the result would be written into an array the tape does not track: its
        # derivative would be lost, so say so instead
        raise UnsupportedError(f"{qualified_name(fn)}(..., out=...) on the tape: the array written into "
                               "cannot carry a derivative; write c = f(...) instead (or give the function "
                               "source, where out= is differentiated)")
    for k, v in kwargs.items():
        if at_level(v, tape.level):
            raise UnsupportedError(
                f"{qualified_name(fn)}: keyword argument {k}= is tracked; pass it positionally"
            )
    values, inputs = [], []
    for a in args:
        v, s = _unwrap(a, tape)
        values.append(v)
        inputs.append(s)
    tape.keep(values)
    nested = has_tracked(values)
    pullback = None
    if rule.rrule is not None:
        y, pullback = (lifted(rule.rrule) if nested else rule.rrule)(*values, **kwargs)
    else:
        y = dual_call(fn, *values, **kwargs) if nested else fn(*values, **kwargs)
    out, ids = tape._wrap(y)
    tape.nodes.append(Node(ids, fn, tuple(inputs), tuple(values), kwargs, y, pullback, rule))
    return out


def _unwrap(a, tape):
    """(value, spec) of an argument: this tape's Vars replaced by their values and ids."""
    if isinstance(a, Var) and a.tape is tape:
        return a.value, a.id
    if isinstance(a, _CONTAINERS) and at_level(a, tape.level):
        parts = [_unwrap(v, tape) for v in _items(a)]
        return rebuild(a, [v for v, _ in parts]), _spec(a, [s for _, s in parts])
    return a, None


def _ids(y, tape):
    """The spec of an output: ids of this tape's Vars in ``y``, structured like ``y``."""
    if isinstance(y, Var) and y.tape is tape:
        return y.id
    if isinstance(y, _CONTAINERS):
        return _spec(y, [_ids(v, tape) for v in _items(y)])
    return None


def value_of(y, tape):
    """``y`` with this tape's Vars replaced by their values."""
    return _unwrap(y, tape)[0]
