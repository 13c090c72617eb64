"""Traces, pullbacks and gradients by the run-time tape.

`trace(f, *args)` runs ``f`` on tracked copies of its arguments (`wengert.overload.tape_record`)
and returns the recorded Wengert list, which prints in the talk's form::

    y1 = log(x)
    y2 = sin(y1)
    y3 = 5 * y2

`tape_pullback` and `tape_grad` run the reverse pass on it (`wengert.overload.tape_backward`).
The tape's pieces are re-exported here: `Tape`, `Var`, `Node`, `tape_call`, `backward`.
"""

from __future__ import annotations

import inspect
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wengert.errors import UnsupportedError
from wengert.overload.routing import lifted
from wengert.overload.tape_backward import _backward, backward
from wengert.overload.tape_record import Node, Tape, Var, _Fields, _ids, _is_object, _items, tape_call, value_of
from wengert.overload.tracked import base, numeric, one_like, qualified_name
from wengert.rules.support import shape_of

__all__ = ["Node", "Tape", "Trace", "Var", "backward", "tape_call", "tape_grad",
           "tape_pullback", "trace"]

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
