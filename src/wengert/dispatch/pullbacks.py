"""Reverse mode's rungs of the dispatch ladder (`ladder.climb`) and `pullback_of`.

``pullback_of(fn, args, kwargs, _pass)`` is what generated adjoint code calls (through
`cotangents.call_pullback`) for every call it could not inline; it returns ``(y, back)``
with ``back(g) -> (fn_bar, args_bar, kwargs_bar)``.
"""

from __future__ import annotations

import builtins
import dataclasses
import operator as op
import types

from wengert.dispatch import ladder
from wengert.dispatch.cache import compiled
from wengert.dispatch.ladder import OVERLOAD, active, callable_name, climb, to_arguments
from wengert.runtime import binding
from wengert.errors import UnsupportedError
from wengert.frontend.program import has_source
from wengert.frontend.stdlib import python_version
from wengert.ir.kinds import ANY, BOOL, INT, NONE, ObjKind, kind_of
from wengert.rules.support import unbroadcast
from wengert import registry
from wengert.runtime import cotangents
from wengert.runtime.mutation import Pass, _fields

_PLAIN_TYPES = frozenset({float, int, bool})


def bind(fn, args: tuple, kwargs: dict):
    """Parameter values of ``fn`` in order (``*args`` as a tuple, ``**kw`` as a dict),
    and a function mapping per-parameter cotangents back to (args_bar, kwargs_bar)."""
    values, sources = binding.bind(fn, args, kwargs)
    n = len(args)
    return values, lambda bars: to_arguments(sources, bars, n)


def python_pullback(fn, args: tuple, kwargs: dict, _pass):
    """A Python function with source: its compiled adjoint, transformed on first use."""
    values, sources = binding.bind(fn, args, kwargs)
    kinds = tuple(kind_of(v) for v in values)
    c = compiled(fn, kinds)
    if fn.__code__.co_freevars:
        y, back = c.pullback(_pass, *values, fn.__closure__)
    else:
        y, back = c.pullback(_pass, *values)
    n = len(args)

    def fn_back(g):
        self_bar, bars = back(g)
        a, k = to_arguments(sources, bars, n)
        return self_bar, a, k

    return y, fn_back


def _no_grads(args, kwargs):
    return None, (None,) * len(args), ({k: None for k in kwargs} if kwargs else None)


def rule_pullback(fn, rule, args: tuple, kwargs: dict):
    if rule.nondiff:
        y = fn(*args, **kwargs)
        return y, lambda g: _no_grads(args, kwargs)
    nested = _tracked(args, kwargs)  # Duals (forward over reverse): rule bodies must route math.*
    if rule.rrule is not None and (rule.vjps is None or kwargs):
        y, pb = (OVERLOAD.lifted(rule.rrule) if nested else rule.rrule)(*args, **kwargs)

        def rrule_back(g):
            return None, tuple(pb(g)), None

        return y, rrule_back
    if rule.vjps is not None:
        y = OVERLOAD.dual_call(fn, *args, **kwargs) if nested else fn(*args, **kwargs)
        vjps = tuple(OVERLOAD.lifted(v) if v is not None else None for v in rule.vjps) if nested else rule.vjps
        broadcast = rule.broadcast

        def vjp_back(g):
            out = []
            for i, a in enumerate(args):
                vjp = vjps[i] if i < len(vjps) else None
                if vjp is None or g is None:
                    out.append(None)
                    continue
                c = vjp(g, y, *args, **kwargs)
                out.append(unbroadcast(c, a) if broadcast else c)
            return None, tuple(out), None

        return y, vjp_back
    raise UnsupportedError(f"{callable_name(fn)} has a forward rule only; register a reverse rule "
                           f"with wengert.defvjp({callable_name(fn)}, lambda g, y, x: ...)")


def _attr_pullback(fn, args: tuple, _pass):
    """``getattr(o, name[, default])`` and ``setattr(o, name, v)`` with a name known only at
    run time: the same buffers and mutation log as ``o.w`` and ``o.w = v``."""
    n = len(args)
    if fn is builtins.setattr:
        if n != 3:
            raise TypeError(f"setattr expected 3 arguments, got {n}")
        obj, name, value = args
        _pass.setattr(obj, name, value)

        def setattr_back(g):
            return None, (None, None, _pass.back_setattr(obj, name, value)), None

        return None, setattr_back
    if n not in (2, 3):
        raise TypeError(f"getattr expected 2 or 3 arguments, got {n}")
    obj, name = args[0], args[1]
    if n == 3 and not hasattr(obj, name):
        return args[2], lambda g: (None, (None, None, g), None)
    prop = getattr(type(obj), name, None)
    if isinstance(prop, property) and prop.fget is not None:
        y, back = pullback_of(prop.fget, (obj,), {}, _pass)

        def property_back(g):
            _, a, _ = back(g)
            return None, (a[0], None) + ((None,) * (n - 2)), None

        return y, property_back

    def getattr_back(g):
        return None, (_pass.add_attr(obj, None, name, g), None) + ((None,) * (n - 2)), None

    return getattr(obj, name), getattr_back


def _attempt_pullback(args: tuple, _pass):
    """``attempt(body, atomic)``: the body's pullback, or, when it raised, no derivative
    (refused where what ran before the exception would be lost: `cotangents.attempt_raised`)."""
    body, atomic = args[0], (args[1] if len(args) > 1 else True)
    before = len(_pass.log)
    try:
        y, back = pullback_of(body, (), {}, _pass)
    except UnsupportedError:
        raise
    except BaseException as e:  # noqa: BLE001 - the user's except clauses decide
        cotangents.attempt_raised(e, body, atomic, before, len(_pass.log))
        return (e, None), lambda g: (None, (None,) * len(args), None)

    def attempt_back(g):
        f_bar, _, _ = back(None if g is None else g[1])
        return None, (f_bar,) + (None,) * (len(args) - 1), None

    return (None, y), attempt_back


class Reverse(ladder.Mode):
    """The rungs of reverse mode; ``x`` is the differentiation's `Pass`."""

    hook = "_wengert_pullback"

    def special(self, fn, args, kwargs, _pass):
        if fn is cotangents.attempt:  # a statement of a try body (`normalize`)
            return _attempt_pullback(args, _pass)
        if (fn is builtins.getattr or fn is builtins.setattr) and not kwargs:
            return _attr_pullback(fn, args, _pass)
        py = python_version(fn)
        if py is not None:  # map, functools.reduce, ... handed around as values: their Python versions
            return pullback_of(py, args, kwargs, _pass)
        return None

    def rule(self, fn, rule, args, kwargs, _pass):
        if not rule.has_reverse:
            return None
        if fn in _DUNDERS and args and not kwargs and not all(type(a) in _PLAIN_TYPES for a in args):
            made = _dunder_pullback(fn, args, _pass)
            if made is not None:
                return made
        return rule_pullback(fn, rule, args, kwargs)

    def partial(self, fn, rule, args, kwargs, _pass):
        # after rules: dual.py registers partials of dual_call; a partial given only a forward
        # rule is a primitive of its own, refused below like any callable without a reverse rule
        return _partial_pullback(fn, args, kwargs, _pass) if rule is None else None

    def method(self, fn, args, kwargs, _pass):
        y, back = pullback_of(fn.__func__, (fn.__self__, *args), kwargs, _pass)

        def bound_back(g):
            _, a, k = back(g)
            return a[0], a[1:], k

        return y, bound_back

    def hooked(self, hook, args, kwargs, _pass):
        return hook(args, kwargs)

    def python(self, fn, args, kwargs, _pass):
        return python_pullback(fn, args, kwargs, _pass)

    def construct(self, fn, args, kwargs, _pass):
        if not any(active(a) for a in args) and not any(active(v) for v in kwargs.values()):
            return fn(*args, **kwargs), lambda g: _no_grads(args, kwargs)
        made = construct_pullback(fn, args, kwargs, _pass)
        if made is not None:
            return made
        if fn in (set, frozenset):
            raise UnsupportedError(
                f"a {fn.__name__} of values that carry a derivative: a set has no order to send "
                "their gradients back through (and merges equal values); use a list or a tuple")
        raise UnsupportedError(
            f"constructing {fn.__qualname__} from values that carry a derivative is not supported yet; "
            f"register a rule with wengert.defvjp({fn.__qualname__}, lambda g, y, x: ...)")

    def call_object(self, call, fn, args, kwargs, _pass):
        y, back = pullback_of(call, (fn, *args), kwargs, _pass)

        def call_back(g):
            _, a, k = back(g)
            return a[0], a[1:], k

        return y, call_back

    def fallback(self, fn, args, kwargs, _pass):
        """Reverse mode through a callable with no source: the tape (`wengert.overload`)."""
        if OVERLOAD.reverse is None:
            return self.unknown(fn, args, kwargs, _pass)
        return OVERLOAD.reverse(fn, args, kwargs)

    def unknown(self, fn, args, kwargs, _pass):
        owner = getattr(fn, "__self__", None)
        if not any(active(a) for a in args) and not any(active(v) for v in kwargs.values()) and (
                owner is None or not active(owner)):
            return fn(*args, **kwargs), lambda g: _no_grads(args, kwargs)
        name = callable_name(fn)
        raise UnsupportedError(f"no rule for {name} and no Python source to differentiate; "
                               f"{_fixit(fn, args, kwargs)}")


REVERSE = Reverse()


def pullback_of(fn, args: tuple, kwargs: dict, _pass=None):
    """``(y, back)`` with ``back(g) -> (fn_bar, args_bar, kwargs_bar)``.

    ``_pass`` is the `mutation.Pass` shared by one differentiation; without
    one, this is the outermost call: it makes one, and its ``back`` undoes
    and then redoes the mutations the forward pass made (see `mutation.Pass`).
    """
    if _pass is None:
        p = Pass()
        y, back = climb(REVERSE, fn, args, kwargs, p)

        def outer_back(g):
            p.start_backward()
            try:
                return back(g)
            finally:
                p.finish()

        return y, outer_back
    return climb(REVERSE, fn, args, kwargs, _pass)


def _fixit(fn, args, kwargs) -> str:
    """How to register the missing rule: `nondiff` when ``fn`` returns no float (an int,
    bool, string, None: no derivative), else `defvjp`. ``fn`` is called once to see: the
    differentiated program was about to call it anyway, and stops here."""
    name = callable_name(fn)
    try:
        y = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - only a hint is at stake
        y = 0.0
    if y is None:  # a writer (np.copyto) or a reporter (logging): nondiff is right only for the latter
        return (f"it returned None: if it changes its arguments in place, compute a new value instead "
                f"(its writes are invisible to wengert); if it only reports, declare it wengert.nondiff({name})")
    if isinstance(y, (bool, int, str, bytes)) or kind_of(y) in (INT, BOOL, NONE):
        return (f"it returned {type(y).__name__}, which has no derivative: declare it with "
                f"wengert.nondiff({name})")
    return (f"register one with wengert.defvjp({name}, lambda g, y, x: ...), or wengert.nondiff({name}) "
            "if its result carries no derivative")


def _partial_pullback(fn, args: tuple, kwargs: dict, _pass):
    """A `functools.partial` object called: its function with the stored arguments first.
    The partial's cotangent is ``{"args": ..., "keywords": ...}`` (what it holds)."""
    n = len(fn.args)
    y, back = pullback_of(fn.func, fn.args + tuple(args), {**fn.keywords, **kwargs}, _pass)

    def partial_back(g):
        func_bar, a, k = back(g)
        a = tuple(a) if a is not None else (None,) * (n + len(args))
        k = k or {}
        stored = {"func": func_bar, "args": a[:n],
                  "keywords": {key: k.get(key) for key in fn.keywords if key not in kwargs}}
        return stored, a[n:], ({key: k.get(key) for key in kwargs} if kwargs else None)

    return y, partial_back


def _tracked(args, kwargs) -> bool:
    if not kwargs and all(type(a) in _PLAIN_TYPES for a in args):
        return False
    return OVERLOAD.has_tracked(args) or (bool(kwargs) and OVERLOAD.has_tracked(kwargs))


def _dunders():
    names = {
        op.add: ("__add__", "__radd__"), op.sub: ("__sub__", "__rsub__"),
        op.mul: ("__mul__", "__rmul__"), op.truediv: ("__truediv__", "__rtruediv__"),
        op.floordiv: ("__floordiv__", "__rfloordiv__"), op.mod: ("__mod__", "__rmod__"),
        op.pow: ("__pow__", "__rpow__"), op.matmul: ("__matmul__", "__rmatmul__"),
        op.neg: ("__neg__", None), op.pos: ("__pos__", None), op.abs: ("__abs__", None),
        op.getitem: ("__getitem__", None),
        op.iadd: ("__iadd__", "__add__"), op.isub: ("__isub__", "__sub__"),
        op.imul: ("__imul__", "__mul__"), op.itruediv: ("__itruediv__", "__truediv__"),
        op.imatmul: ("__imatmul__", "__matmul__"), op.ipow: ("__ipow__", "__pow__"),
    }
    return names


_DUNDERS = _dunders()


def _python_method(obj, name):
    if name is None or OVERLOAD.is_tracked(obj):  # Duals and tape Vars carry their own rules
        return None
    k = kind_of(obj)
    if (k != ANY and not isinstance(k, ObjKind)) or hasattr(obj, "__array_namespace__"):
        return None  # numbers, sequences and arrays of array libraries: the operator's rule applies
    m = getattr(type(obj), name, None)
    return m if isinstance(m, types.FunctionType) else None


def _dunder_pullback(fn, args: tuple, _pass):
    """``a + b`` where ``a`` or ``b`` is an instance of a class defining ``__add__`` in
    Python: differentiate that method (Python's operator dispatch, NotImplemented included)."""
    first, second = _DUNDERS[fn]
    a = args[0]
    m = _python_method(a, first)
    inplace = first.startswith("__i") and first not in ("__invert__",)
    if m is None and inplace:
        m = _python_method(a, second)  # x += y falls back to x = x + y
    if m is not None:
        y, back = pullback_of(m, args, {}, _pass)
        if y is not NotImplemented:
            return y, back
    if len(args) == 2 and not inplace and second is not None:
        b = args[1]
        r = _python_method(b, second)
        if r is not None and type(b) is not type(a):
            y, back = pullback_of(r, (b, a), {}, _pass)
            if y is not NotImplemented:
                def reflected_back(g):
                    f, (gb, ga), k = back(g)
                    return f, (ga, gb), k
                return y, reflected_back
    return None


def construct_pullback(cls, args: tuple, kwargs: dict, _pass):
    """``cls(*args)`` for user classes, dataclasses and namedtuples; None if unknown."""
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        y = cls(*args, **kwargs)
        names = list(cls._fields)

        def namedtuple_back(g):
            fields = _as_fields(g, names)
            a = tuple(fields.get(n) for n in names[:len(args)])
            return None, a, {k: fields.get(k) for k in kwargs} or None

        return y, namedtuple_back
    init = cls.__init__
    if dataclasses.is_dataclass(cls) and isinstance(init, types.FunctionType) and not has_source(init):
        # the __init__ that dataclasses generated: it stores each argument in its field
        y = cls(*args, **kwargs)
        names = [f.name for f in dataclasses.fields(cls) if f.init]

        def dataclass_back(g):
            _pass.add(y, None, g)
            fields = _as_fields(_pass.take(y, None), names)
            a = tuple(fields.get(n) for n in names[:len(args)])
            return None, a, {k: fields.get(k) for k in kwargs} or None

        return y, dataclass_back
    init = cls.__init__
    if isinstance(init, types.FunctionType) and cls.__new__ is object.__new__:
        if not has_source(init):
            # the tape would store tracked values in the new object: refuse instead
            raise UnsupportedError(
                f"{cls.__qualname__}.__init__ has no Python source to differentiate; define the class "
                f"in a file or register a rule with wengert.rrule({cls.__qualname__})")
        obj = object.__new__(cls)
        _, init_back = pullback_of(init, (obj, *args), kwargs, _pass)

        def object_back(g):
            _pass.add(obj, None, g)
            _, a, k = init_back(None)
            return None, a[1:], k

        return obj, object_back
    return None


def _as_fields(g, names) -> dict:
    if g is None:
        return {}
    if isinstance(g, tuple) and not hasattr(g, "_fields"):
        return dict(zip(names, g))
    if isinstance(g, tuple):
        return dict(zip(names, g))
    return _fields(g)


registry.register(pullback_of=pullback_of)
