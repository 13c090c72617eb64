"""A run-time Wengert list: reverse mode by recording, driven by the rule table.

A `Var` wraps a float or array that a `Tape` tracks. Every operation on a Var
(operators, NumPy ufuncs and array functions, `tape_call`) looks its primitive
up in the rule table and appends a `Node` to the tape, in execution order: the
output's id, the primitive, the input ids, and what the reverse rule needs (the
argument values and output for ``vjps``, or the pullback an ``rrule`` returned).
Nondifferentiable primitives run on plain values and are not recorded.
`backward` walks the nodes in reverse, accumulating cotangents with
`wengert.runtime.cotangents.accum` and reducing broadcast ones with ``unbroadcast``.

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

import inspect
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wengert.overload.dual import (
    Tracked,
    at_level,
    base,
    dual_call,
    has_tracked,
    is_array,
    lifted,
    new_level,
    no_rule,
    numeric,
    one_like,
    qualified_name,
    rebuild,
)
from wengert.errors import UnsupportedError
from wengert.rules.table import Rule, get_rule
from wengert.rules.support import accum, shape_of, unbroadcast

__all__ = ["Node", "Tape", "Trace", "Var", "backward", "tape_call", "tape_grad",
           "tape_pullback", "trace"]

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


# ---- the reverse pass ----

def backward(tape: Tape, y, g) -> tuple:
    """Run ``tape`` in reverse from output ``y`` (a Var, an id, or a structure) with cotangent ``g``.

    Returns one cotangent per `Tape.track` call, shaped like what was tracked
    (``None`` where there is no gradient). A list, dict or object reached by several
    paths gets its whole cotangent at the first path, in argument order, and ``None``
    at the others (the source transform's convention).
    """
    spec = y if isinstance(y, int) and not isinstance(y, bool) else _ids(y, tape)
    return _backward(tape, spec, g)


def _backward(tape: Tape, spec, g) -> tuple:
    for t, version in tape.versions:
        if t._version != version:
            raise UnsupportedError(
                f"a {type(t).__name__} of shape {tuple(t.shape)} that the tape recorded was changed in place "
                "afterwards, so its gradient would be computed from the new values; copy it before "
                "changing it (t = t.clone()), or give the function source")
    grads: dict[int, Any] = {}
    _scatter(spec, g, grads, None, False)
    for node in reversed(tape.nodes):
        gy = _gather(node.out, grads, pop=True)
        if gy is None:
            continue
        if node.pullback is not None:
            cots = node.pullback(gy)
        else:
            cots = _vjps(node, gy)
        broadcast = node.rule.broadcast
        for s, c, x in zip(node.inputs, cots, node.args):
            if s is not None and c is not None:
                _scatter(s, c, grads, x, broadcast)
    seen: set = set()
    order = range(len(tape.inputs)) if tape.first is None else [
        *tape.first, *(i for i in range(len(tape.inputs)) if i not in tape.first)]
    out = [None] * len(tape.inputs)
    for i in order:  # an object reached by several paths: its gradient goes to the first gathered
        out[i] = _gather(tape.inputs[i], grads, pop=False, seen=seen)
    return tuple(out)


def _vjps(node: Node, gy) -> list:
    vjps = node.rule.vjps
    nested = has_tracked(gy) or has_tracked(node.args) or has_tracked(node.value)
    cots = []
    for i, s in enumerate(node.inputs):
        if s is None or i >= len(vjps) or vjps[i] is None:
            cots.append(None)
            continue
        vjp = lifted(vjps[i]) if nested else vjps[i]
        cots.append(vjp(gy, node.value, *node.args, **node.kwargs))
    return cots


def _scatter(spec, c, grads, x, broadcast):
    if spec is None or c is None:
        return
    if isinstance(spec, int):
        if broadcast:
            c = unbroadcast(c, x)
        grads[spec] = accum(grads.get(spec), c)
        return
    if isinstance(spec, _Fields):
        from wengert.runtime.mutation import _fields

        cs = _fields(c)
        for name, s in spec.fields.items():
            _scatter(s, cs.get(name), grads, None, False)
        return
    cs = _items(c) if not isinstance(spec, dict) else [c.get(k) for k in spec]
    xs = _items(x) if isinstance(x, _CONTAINERS) else [None] * len(cs)
    for s, ci, xi in zip(_items(spec), cs, xs):
        _scatter(s, ci, grads, xi, broadcast)


def _gather(spec, grads, pop, seen=None):
    """The cotangent structured like ``spec``; with ``seen`` (the ids of specs gathered
    already), a spec met again gathers ``None``: an aliased input's cotangent is counted once."""
    if spec is None:
        return None
    if isinstance(spec, int):
        return grads.pop(spec, None) if pop else grads.get(spec)
    if seen is not None:
        if id(spec) in seen:
            return None
        seen.add(id(spec))
    if isinstance(spec, _Fields):
        fields = {name: _gather(s, grads, pop, seen) for name, s in spec.fields.items()}
        return None if all(v is None for v in fields.values()) else _object_grad(spec, fields)
    parts = [_gather(s, grads, pop, seen) for s in _items(spec)]
    return None if all(p is None for p in parts) else rebuild(spec, parts)


# ---- traces, pullbacks, gradients ----

@dataclass(eq=False)
class Trace:
    """What `trace` recorded: the tape, the arguments as ``f`` saw them, and ``f``'s output."""

    tape: Tape
    inputs: tuple
    output: Any
    names: tuple[str, ...]
    spec: Any = None  # the ids of the Vars in ``output``, taken before `Tape.restore`

    @property
    def value(self):
        """``f``'s output as plain values (one level down)."""
        return value_of(self.output, self.tape)

    def backward(self, dy) -> tuple:
        """One cotangent per argument of ``f`` (``None`` for untracked ones) given ``dy``."""
        return _backward(self.tape, self.spec, dy)

    def __str__(self) -> str:
        names: dict[int, str] = {}
        for name, spec in zip(self.names, self.tape.inputs):
            _name(spec, name, names)
        lines = []
        for k, node in enumerate(self.tape.nodes, 1):
            lhs = f"y{k}"
            rhs = _expr(node, names)
            _name(node.out, lhs, names)
            lines.append(f"{lhs} = {rhs}")
        return "\n".join(lines)


def _name(spec, name, names):
    if spec is None:
        return
    if isinstance(spec, int):
        names[spec] = name
        return
    if isinstance(spec, _Fields):
        for field_name, s in spec.fields.items():
            _name(s, f"{name}.{field_name}", names)
        return
    keys = spec.keys() if isinstance(spec, dict) else range(len(spec))
    for k, s in zip(keys, _items(spec)):
        _name(s, f"{name}[{k!r}]", names)


_INFIX = {
    operator.add: "+", operator.iadd: "+", np.add: "+",
    operator.sub: "-", operator.isub: "-", np.subtract: "-",
    operator.mul: "*", operator.imul: "*", np.multiply: "*",
    operator.truediv: "/", operator.itruediv: "/", np.divide: "/",
    operator.floordiv: "//", operator.mod: "%", operator.imod: "%",
    operator.pow: "**", operator.ipow: "**", np.power: "**",
    operator.matmul: "@", operator.imatmul: "@", np.matmul: "@",
}
_PREFIX = {operator.neg: "-", np.negative: "-", operator.pos: "+"}


def _expr(node: Node, names) -> str:
    args = [_show(s, v, names) for s, v in zip(node.inputs, node.args)]
    fn = node.fn
    if not node.kwargs:
        if len(args) == 2 and _INFIX.get(fn):
            return f"{args[0]} {_INFIX[fn]} {args[1]}"
        if len(args) == 1 and _PREFIX.get(fn):
            return f"{_PREFIX[fn]}{args[0]}"
        if fn is operator.getitem:
            return f"{args[0]}[{_index(node.args[1])}]"
    args += [f"{k}={_const(v)}" for k, v in node.kwargs.items()]
    return f"{getattr(fn, '__name__', None) or qualified_name(fn)}({', '.join(args)})"


def _show(spec, value, names) -> str:
    if spec is None:
        return _const(value)
    if isinstance(spec, int):
        return names.get(spec, f"%{spec}")
    if isinstance(spec, dict):
        return "{" + ", ".join(f"{k!r}: {_show(s, value[k], names)}" for k, s in spec.items()) + "}"
    parts = [_show(s, v, names) for s, v in zip(spec, value)]
    if isinstance(spec, list):
        return "[" + ", ".join(parts) + "]"
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _const(v) -> str:
    if isinstance(v, np.ndarray) and (v.ndim > 1 or v.size > 4):
        return f"<array {v.dtype} {v.shape}>"
    if isinstance(v, (np.ndarray, np.generic)):
        return repr(v.tolist())
    text = repr(v)
    return text if len(text) <= 40 and "\n" not in text else f"<{type(v).__name__}>"


def _index(i) -> str:
    if isinstance(i, slice):
        return ":".join("" if p is None else repr(p) for p in (i.start, i.stop)) + \
            ("" if i.step is None else f":{i.step!r}")
    if isinstance(i, tuple):
        return ", ".join(_index(p) for p in i)
    if i is Ellipsis:
        return "..."
    return _const(i)


def _arg_names(f, n) -> tuple[str, ...]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            names += [f"{p.name}[{i}]" for i in range(n - len(names))]
    if len(names) < n:
        names = ["x"] if n == 1 else [f"x{i + 1}" for i in range(n)]
    return tuple(names[:n])


def trace(f: Callable, *args, argnums=None) -> Trace:
    """Run ``f`` on tracked copies of ``args`` and return the recorded Wengert list.

    ``argnums`` (an int or tuple) limits which arguments are tracked; all by default.

    >>> import numpy as np
    >>> print(trace(lambda x: 5 * np.sin(np.log(x)), 2.0))
    y1 = log(x)
    y2 = sin(y1)
    y3 = 5 * y2
    """
    tape = Tape()
    if isinstance(f, types.FunctionType):
        f = lifted(f)  # math.sin and other primitives called by name go through tape_call
    if argnums is not None:
        # lists, dicts and objects are tracked whether asked for or not (what f writes
        # into them is made plain again afterwards, and an object reached through several
        # arguments gets its gradient at the first one asked for)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        tape.first = tuple(i for i in nums if i < len(args))
        inputs = []
        for i, a in enumerate(args):
            if i in nums or isinstance(a, (list, dict)) or _is_object(a):
                inputs.append(tape.track(a))
            else:  # a number or an array not asked for: a constant
                inputs.append(a)
                tape.inputs.append(None)
    else:
        inputs = [tape.track(a) for a in args]
    try:
        output = f(*inputs)
        spec = _ids(output, tape)  # restore() takes the Vars out of lists f may return
    except TypeError as e:
        if "positional sub-pattern" in str(e):
            raise UnsupportedError(
                "a match class pattern with positional parts (case float(v)) on a value the tape "
                "tracks: Python matches it by the value's own type; give the function source, or "
                "write case float() as v") from e
        raise
    except ValueError as e:
        if "setting an array element with a sequence" in str(e) and tape.nodes:
            raise UnsupportedError(
                "a value the tape tracks was written into a plain array (NumPy cannot hold it); build "
                "a new array instead (np.where, np.concatenate, np.stack), or give the function "
                "source, where writes into arrays are differentiated") from e
        if tape.frozen and "read-only" in str(e):
            raise UnsupportedError(
                "an array the tape recorded was written in place afterwards (the tape makes such "
                "arrays read-only while the function runs: its gradient would be computed from the "
                "new values); copy it before writing (a = a.copy()), or give the function source, "
                "where writes into arrays are differentiated") from e
        raise
    finally:
        tape.restore()
    return Trace(tape, tuple(inputs), output, _arg_names(f, len(args)), spec)


def tape_pullback(f: Callable, *args, argnums=None) -> tuple[Any, Callable]:
    """``(f(*args), back)`` where ``back(dy)`` returns ``(None, *one cotangent per argument)``.

    The first entry is the cotangent for ``f`` itself (Zygote's convention);
    the tape does not see inside ``f``'s closure, so it is ``None``.

    >>> y, back = tape_pullback(lambda x, n: x ** n, 3.0, 2)
    >>> y, back(1.0)
    (9.0, (None, 6.0, None))
    """
    t = trace(f, *args) if argnums is None else trace(f, *args, argnums=argnums)

    def back(dy):
        return (None, *t.backward(dy))

    return t.value, back


def tape_grad(f: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The gradient of scalar-valued ``f`` with respect to argument(s) ``argnums``, by the tape.

    ``None`` is the gradient of an argument the output does not depend on (or an int).

    >>> tape_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (4.0, 3.0)
    """

    def grad_f(*args):
        t = trace(f, *args, argnums=argnums)
        y = t.value
        if shape_of(base(y)) != () or not numeric(y):
            raise TypeError(
                f"tape_grad needs f to return a scalar, got {type(base(y)).__name__} "
                f"of shape {shape_of(base(y))}; use tape_pullback for other outputs"
            )
        grads = t.backward(one_like(y))
        if isinstance(argnums, int):
            return grads[argnums]
        return tuple(grads[i] for i in argnums)

    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f
