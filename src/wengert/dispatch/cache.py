"""Transforming functions on demand, the compile cache, and `pullback_of` dispatch.

A Python function is lowered (`frontend`), analysed for one argument-type
signature (`activity`), written out (`reverse`), compiled (`codegen`) and
cached per code object and signature. The transform-time resolutions of
global names (which rules were inlined) are guarded: when a global is
rebound, the next call transforms again, so gradients follow the program as
it is when they run.

`pullback_of(fn, args, kwargs)` is what generated code calls for every call
it could not inline. It dispatches, in this order: a registered rule, a
bound method, the compiled adjoint of a Python function, a callable object's
``__call__``, the tape for callables without source, and a clear error.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import functools
import inspect
import threading
import types
from dataclasses import dataclass, field

import wengert.rules  # noqa: F401  (registers the rule files)
from wengert import ir
from wengert.ir.activity import ANY, CalleeGuards, analyse, kind_of
from wengert.backend.emit import compile_source
from wengert.errors import UnsupportedError
from wengert.frontend.lower import lower
from wengert.transforms.reverse.adjoint import Adjoint
from wengert.rules.table import get_rule
from wengert.runtime import cotangents
from wengert.runtime.cotangents import Pass, unbroadcast
from wengert.frontend.stdlib import python_version

# The compile cache. Lookups take no lock; transforming, publishing and clearing hold
# `LOCK` (re-entrant, for recursion), so one thread transforms at a time (a transform
# is pure Python: the GIL serialises it anyway) and an entry is published only complete.
LOCK = threading.RLock()
_IR: dict = {}     # code -> (IR, the globals it was lowered for)
_CACHE: dict = {}  # code -> {(kinds, free kinds): Compiled}, complete entries only
_BUILDING: dict = {}  # (code, key) -> Compiled still being linked, seen only by the thread holding LOCK
_EPOCH = [0]  # bumped by clear_cache: every Compiled made before is invalid (fast paths hold some)


@dataclass
class Compiled:
    ir: ir.Function
    pullback: object
    grad: object
    source_pullback: str
    source_grad: str
    guards: list = field(default_factory=list)
    globals: dict = field(default_factory=dict)
    helpers: dict = field(default_factory=dict)     # closure variables of the generated code
    fn: object = None                                # a function object of this code
    variants: dict = field(default_factory=dict)     # variant name -> Compiled (see `variant`)
    directs: dict = field(default_factory=dict)      # direct-call helper name -> (callee, kinds)
    epoch: int = field(default_factory=lambda: _EPOCH[0])

    def valid(self) -> bool:
        """Do the globals and module attributes the code was specialised to still hold
        (and has `clear_cache` not run since)?"""
        check = self._check
        if check is None or self._checked != len(self.guards):
            n = len(self.guards)
            check = self._check = _guard_check(self.guards, self.globals, self.epoch)
            self._checked = n
        return check()

    _check: object = None
    _checked: int = -1

    @property
    def uses_pass(self) -> bool:
        """Does the generated code use its ``_pass`` (mutation, calls)?"""
        u = self.__dict__.get("_uses_pass")
        if u is None:
            body = self.source_grad.split("\n", 1)[1]
            u = self.__dict__["_uses_pass"] = "_pass" in body
        return u


def _guard_check(guards: list, g: dict, epoch: int):
    """One compiled expression testing every guard (faster than a loop)."""
    ns = {"g": g, "MISSING": _MISSING, "EPOCH": _EPOCH}
    terms = [f"EPOCH[0] == {epoch}"]
    for i, (key, obj) in enumerate(guards):
        ns[f"o{i}"] = obj
        if isinstance(key, str):
            ns[f"b{i}"] = getattr(builtins, key, _MISSING)
            terms.append(f"g.get({key!r}, b{i}) is o{i}")
        elif isinstance(key[0], dict):  # a name in another module's globals
            ns[f"m{i}"] = key[0]
            ns[f"b{i}"] = getattr(builtins, key[1], _MISSING)
            terms.append(f"m{i}.get({key[1]!r}, b{i}) is o{i}")
        else:
            ns[f"m{i}"] = key[0]
            terms.append(f"getattr(m{i}, {key[1]!r}, MISSING) is o{i}")
    return eval("lambda: " + " and ".join(terms), ns)


def guards_of(f_ir: ir.Function, found: dict, g: dict) -> list:
    """The guards of code made from ``f_ir`` for globals ``g``: the objects its global names
    and module attributes resolved to, and what the return types of its callees depend on
    (``found`` by `activity.CalleeGuards`). A name in ``g`` is a string; one elsewhere
    ``(globals dict or module, name)``."""
    guards = list(f_ir.globals_resolved.items())
    add_guards(guards, g, [(name if where is g else (where, name), obj) for where, name, obj in found.values()], g)
    return guards


def add_guards(guards: list, g: dict, more, more_g: dict) -> None:
    """Add guards ``more`` (names relative to globals ``more_g``) to ``guards`` (relative to ``g``)."""
    seen = {_guard_id(key, obj, g) for key, obj in guards}
    for key, obj in more:
        if isinstance(key, str) and more_g is not g:
            key = (more_g, key)
        k = _guard_id(key, obj, g)
        if k not in seen:
            seen.add(k)
            guards.append((key, obj))


def _guard_id(key, obj, g: dict) -> tuple:
    if isinstance(key, str):
        return id(g), key, id(obj)
    return id(key[0]), key[1], id(obj)


_MISSING = object()


# ---- variants: the same generated code compiled against other helpers ----

_VARIANT: contextvars.ContextVar = contextvars.ContextVar("wengert_variant", default=None)
VARIANT_BUILDERS: dict = {}


@contextlib.contextmanager
def variant(name: str):
    """Within this block, `compiled` returns the ``name`` variant of every function.

    A variant builder (registered in ``VARIANT_BUILDERS[name]``) takes a
    `Compiled` and returns another whose ``pullback``/``grad`` run the same
    source against different helpers or globals (e.g. ones that accept dual
    numbers, for forward-over-reverse).
    """
    token = _VARIANT.set(name)
    try:
        yield
    finally:
        _VARIANT.reset(token)


def _with_variant(c: Compiled) -> Compiled:
    name = _VARIANT.get()
    if name is None:
        return c
    v = c.variants.get(name)
    if v is None:
        with LOCK:
            v = c.variants.get(name)
            if v is None:
                v = c.variants[name] = VARIANT_BUILDERS[name](c)
    return v


def clear_cache() -> None:
    """Forget every transformed function and every cache derived from one (the next call
    transforms again). Safe while other threads differentiate: it waits for transforms
    in progress, and code they already hold finishes with what it has."""
    from wengert import higher
    from wengert.ir import activity
    from wengert.overload import dual
    from wengert.transforms import forward
    from wengert.transforms import inline
    from wengert.runtime import mutation
    from wengert.runtime import cotangents
    from wengert.frontend import source

    with LOCK:
        _EPOCH[0] += 1
        for cache in (_IR, _CACHE, _SOURCE, forward._CACHE, activity._RET, inline._CACHE, source._TREES,
                      higher._GLOBALS, dual._MODULES, dual._NAMESPACES, dual._LIFTED, mutation._RECORD,
                      mutation._GETTERS, cotangents._FIELD_NAMES):
            cache.clear()


def get_ir(fn) -> ir.Function:
    """The IR of ``fn``, lowered again when a global it resolved (a callee) was rebound."""
    code = fn.__code__
    entry = _IR.get(code)
    if entry is None or entry[1] is not fn.__globals__ or not entry[2]():
        with LOCK:  # lowering normalises the cached source tree in place
            entry = _IR.get(code)
            if entry is None or entry[1] is not fn.__globals__ or not entry[2]():
                f_ir = lower(fn)
                check = _guard_check(list(f_ir.globals_resolved.items()), fn.__globals__, _EPOCH[0])
                entry = _IR[code] = (f_ir, fn.__globals__, check)
    return entry[0]


def free_kinds(fn) -> tuple:
    cells = fn.__closure__ or ()
    out = []
    for c in cells:
        try:
            v = c.cell_contents
        except ValueError:
            out.append("none")
            continue
        if isinstance(v, types.FunctionType):
            out.append(ANY if v.__closure__ else "none")
        else:
            out.append(kind_of(v))
    return tuple(out)


def lookup(cache: dict, fn, key):
    """The complete, still valid entry of ``cache`` for ``fn`` and ``key``, or None (no lock)."""
    per_code = cache.get(fn.__code__)
    c = per_code.get(key) if per_code is not None else None
    if c is not None and c.globals is fn.__globals__ and c.valid():
        return c
    return None


def build(cache: dict, building: dict, fn, key, make, link):
    """``cache``'s entry for ``fn`` and ``key``, made by ``make()`` and linked by ``link(c)``
    if needed, under `LOCK`. While linking, the entry is in ``building`` (so a function
    that calls itself finds itself); the outermost build publishes every entry it made
    at once, when all are linked, and none if it fails."""
    with LOCK:
        code = fn.__code__
        c = building.get((code, key))
        if c is not None and c.globals is fn.__globals__:
            return c
        c = lookup(cache, fn, key)  # another thread may have made it meanwhile
        if c is not None:
            return c
        if key in cache.get(code, ()):  # other globals, or a guard failed: lower the source again too
            _IR.pop(code, None)
        outermost = not building
        token = _VARIANT.set(None)  # the plain code is made and linked first; variants derive from it
        try:
            c = make()
            building[(code, key)] = c
            link(c)
            if outermost:
                for (code_, key_), made in building.items():
                    cache.setdefault(code_, {})[key_] = made
        finally:
            _VARIANT.reset(token)
            if outermost:
                building.clear()
        return c


def compiled(fn, kinds: tuple, fkinds: tuple | None = None) -> Compiled:
    """The compiled adjoint of Python function ``fn`` for parameter kinds ``kinds``."""
    if fkinds is None:
        fkinds = free_kinds(fn)
    key = (kinds, fkinds)
    c = lookup(_CACHE, fn, key)
    if c is None:
        c = build(_CACHE, _BUILDING, fn, key, lambda: _make(fn, kinds, fkinds), _link)
    return _with_variant(c)


def _make(fn, kinds: tuple, fkinds: tuple) -> Compiled:
    code = fn.__code__
    f_ir = get_ir(fn)
    with CalleeGuards() as found:
        info = analyse(f_ir, kinds, dict(zip(code.co_freevars, fkinds)))
    gen = Adjoint(f_ir, info)
    src_pb, src_grad, name_pb, name_grad = gen.generate()
    pb, _ = compile_source(src_pb, name_pb, f_ir.filename, gen.helpers, fn.__globals__)
    gr, _ = compile_source(src_grad, name_grad, f_ir.filename, gen.helpers, fn.__globals__)
    c = Compiled(f_ir, pb, gr, src_pb, src_grad, guards_of(f_ir, found, fn.__globals__), fn.__globals__,
                 dict(gen.helpers), fn)
    c.directs = gen.directs
    return c


def _link(c: Compiled) -> None:
    """Point direct-call helpers of ``c``'s code at their targets' compiled pullbacks."""
    for name, (target, kinds) in c.directs.items():
        try:
            t = compiled(target, kinds, ())
        except Exception:  # noqa: BLE001 - the helper keeps transforming on first use
            continue
        for f in (c.pullback, c.grad):
            names = f.__code__.co_freevars
            if name in names:
                f.__closure__[names.index(name)].cell_contents = t.pullback
        if t is not c:
            add_guards(c.guards, c.globals, t.guards, t.globals)


# ---- binding call arguments to parameters ----


def bind(fn, args: tuple, kwargs: dict):
    """Parameter values of ``fn`` in order (``*args`` as a tuple, ``**kw`` as a dict),
    and a function mapping per-parameter cotangents back to (args_bar, kwargs_bar)."""
    code = fn.__code__
    npos = code.co_argcount
    flags = code.co_flags
    has_var = bool(flags & inspect.CO_VARARGS)
    has_kw = bool(flags & inspect.CO_VARKEYWORDS)
    if not kwargs and not has_var and not has_kw and len(args) == npos and not code.co_kwonlyargcount:
        return list(args), _identity
    sig = inspect.signature(fn, follow_wrapped=False)
    ba = sig.bind(*args, **kwargs)
    ba.apply_defaults()
    params = list(sig.parameters.values())
    values = [ba.arguments[p.name] for p in params]
    n_args = len(args)

    def mapper(bars):
        args_bar = [None] * n_args
        kw_bar = {}
        pos_i = 0
        for p, b in zip(params, bars):
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                if p.name in kwargs:
                    kw_bar[p.name] = b
                elif pos_i < n_args:
                    args_bar[pos_i] = b
                pos_i += 1 if p.name not in kwargs else 0
            elif p.kind == p.VAR_POSITIONAL:
                extra = ba.arguments.get(p.name, ())
                for j in range(len(extra)):
                    args_bar[pos_i + j] = b[j] if b is not None else None
            elif p.kind == p.KEYWORD_ONLY:
                if p.name in kwargs:
                    kw_bar[p.name] = b
            elif p.kind == p.VAR_KEYWORD and b is not None:
                for k2, v2 in b.items():
                    kw_bar[k2] = v2
        return tuple(args_bar), kw_bar

    return values, mapper


def _identity(bars):
    return tuple(bars), None


def python_pullback(fn, args: tuple, kwargs: dict, _pass):
    values, mapper = bind(fn, args, kwargs)
    kinds = tuple(kind_of(v) for v in values)
    c = compiled(fn, kinds)
    if fn.__code__.co_freevars:
        y, back = c.pullback(_pass, *values, fn.__closure__)
    else:
        y, back = c.pullback(_pass, *values)

    def fn_back(g):
        self_bar, bars = back(g)
        a, k = mapper(bars)
        return self_bar, a, k

    return y, fn_back


# ---- dispatch ----


def _no_grads(args, kwargs):
    return None, (None,) * len(args), ({k: None for k in kwargs} if kwargs else None)


def rule_pullback(fn, rule, args: tuple, kwargs: dict):
    if rule.nondiff:
        y = fn(*args, **kwargs)
        return y, lambda g: _no_grads(args, kwargs)
    nested = _tracked(args, kwargs)  # Duals (forward over reverse): rule bodies must route math.*
    if rule.rrule is not None and (rule.vjps is None or kwargs):
        y, pb = (_lifted(rule.rrule) if nested else rule.rrule)(*args, **kwargs)

        def rrule_back(g):
            return None, tuple(pb(g)), None

        return y, rrule_back
    if rule.vjps is not None:
        y = _dual_call(fn, *args, **kwargs) if nested else fn(*args, **kwargs)
        vjps = tuple(_lifted(v) if v is not None else None for v in rule.vjps) if nested else rule.vjps
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
    raise UnsupportedError(f"{_callable_name(fn)} has a forward rule only; register a reverse rule "
                           f"with wengert.defvjp({_callable_name(fn)}, lambda g, y, x: ...)")


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


def pullback_of(fn, args: tuple, kwargs: dict, _pass=None):
    """``(y, back)`` with ``back(g) -> (fn_bar, args_bar, kwargs_bar)``.

    ``_pass`` is the `cotangents.Pass` shared by one differentiation; without
    one, this is the outermost call: it makes one, and its ``back`` undoes
    and then redoes the mutations the forward pass made (see `cotangents.Pass`).
    """
    if _pass is None:
        p = Pass()
        y, back = pullback_of(fn, args, kwargs, p)

        def outer_back(g):
            p.start_backward()
            try:
                return back(g)
            finally:
                p.finish()

        return y, outer_back
    if fn is cotangents.attempt:  # a statement of a try body (`normalize`)
        return _attempt_pullback(args, _pass)
    if (fn is builtins.getattr or fn is builtins.setattr) and not kwargs:
        return _attr_pullback(fn, args, _pass)
    py = python_version(fn)
    if py is not None:  # map, functools.reduce, ... handed around as values: their Python versions
        return pullback_of(py, args, kwargs, _pass)
    rule = get_rule(fn)
    if rule is not None and rule.has_reverse:
        if fn in _DUNDERS and args and not kwargs and not all(type(a) in _PLAIN_TYPES for a in args):
            made = _dunder_pullback(fn, args, _pass)
            if made is not None:
                return made
        return rule_pullback(fn, rule, args, kwargs)
    if isinstance(fn, functools.partial):
        # after rules: dual.py registers partials of dual_call; a partial given only a forward
        # rule is a primitive of its own, refused below like any callable without a reverse rule
        if rule is None:
            return _partial_pullback(fn, args, kwargs, _pass)
    if isinstance(fn, types.MethodType):
        y, back = pullback_of(fn.__func__, (fn.__self__, *args), kwargs, _pass)

        def bound_back(g):
            _, a, k = back(g)
            return a[0], a[1:], k

        return y, bound_back
    if isinstance(fn, types.FunctionType):
        hook = fn.__dict__.get("_wengert_pullback")  # functions made by grad/derivative (higher.py)
        if hook is not None:
            return hook(args, kwargs)
        if _has_source(fn):
            return python_pullback(fn, args, kwargs, _pass)
        return _tape_pullback(fn, args, kwargs)
    if isinstance(fn, type):
        if not any(_active(a) for a in args) and not any(_active(v) for v in kwargs.values()):
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
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        y, back = pullback_of(call, (fn, *args), kwargs, _pass)

        def call_back(g):
            _, a, k = back(g)
            return a[0], a[1:], k

        return y, call_back
    owner = getattr(fn, "__self__", None)
    if not any(_active(a) for a in args) and not any(_active(v) for v in kwargs.values()) and (
            owner is None or not _active(owner)):
        return fn(*args, **kwargs), lambda g: _no_grads(args, kwargs)
    name = _callable_name(fn)
    raise UnsupportedError(f"no rule for {name} and no Python source to differentiate; {_fixit(fn, args, kwargs)}")


def _fixit(fn, args, kwargs) -> str:
    """How to register the missing rule: `nondiff` when ``fn`` returns no float (an int,
    bool, string, None: no derivative), else `defvjp`. ``fn`` is called once to see: the
    differentiated program was about to call it anyway, and stops here."""
    name = _callable_name(fn)
    try:
        y = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - only a hint is at stake
        y = 0.0
    if y is None:  # a writer (np.copyto) or a reporter (logging): nondiff is right only for the latter
        return (f"it returned None: if it changes its arguments in place, compute a new value instead "
                f"(its writes are invisible to wengert); if it only reports, declare it wengert.nondiff({name})")
    if isinstance(y, (bool, int, str, bytes)) or kind_of(y) in ("int", "bool", "none"):
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


_PLAIN_TYPES = frozenset({float, int, bool})


def _tracked(args, kwargs) -> bool:
    if not kwargs and all(type(a) in _PLAIN_TYPES for a in args):
        return False
    from wengert.overload.dual import has_tracked

    return has_tracked(args) or (bool(kwargs) and has_tracked(kwargs))


def _dual_call(fn, *args, **kwargs):
    from wengert.overload.dual import dual_call

    return dual_call(fn, *args, **kwargs)


def _lifted(fn):
    from wengert.overload.dual import lifted

    return lifted(fn)


def _dunders():
    import operator as op

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
    from wengert.overload.dual import Tracked

    if name is None or isinstance(obj, Tracked):  # Duals and tape Vars carry their own rules
        return None
    k = kind_of(obj)
    if (k != ANY and not (isinstance(k, tuple) and k[0] == "obj")) or hasattr(obj, "__array_namespace__"):
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
    import dataclasses

    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        y = cls(*args, **kwargs)
        names = list(cls._fields)

        def namedtuple_back(g):
            fields = _as_fields(g, names)
            a = tuple(fields.get(n) for n in names[:len(args)])
            return None, a, {k: fields.get(k) for k in kwargs} or None

        return y, namedtuple_back
    init = cls.__init__
    if dataclasses.is_dataclass(cls) and isinstance(init, types.FunctionType) and not _has_source(init):
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
        if not _has_source(init):
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
    from wengert.runtime.mutation import _fields

    if g is None:
        return {}
    if isinstance(g, tuple) and not hasattr(g, "_fields"):
        return dict(zip(names, g))
    if isinstance(g, tuple):
        return dict(zip(names, g))
    return _fields(g)


def _active(x) -> bool:
    return kind_of(x) not in ("int", "bool", "none")


def _callable_name(fn) -> str:
    mod = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{name}" if mod and mod != "builtins" else name


_SOURCE: dict = {}


def _has_source(fn) -> bool:
    code = fn.__code__
    ok = _SOURCE.get(code)
    if ok is None:
        try:
            inspect.getsourcelines(fn)
            ok = True
        except (OSError, TypeError):
            ok = False
        _SOURCE[code] = ok
    return ok


def _tape_pullback(fn, args, kwargs):
    """Reverse mode through a callable with no source, on the run-time tape."""
    from wengert.overload.tape import tape_pullback

    if kwargs:
        def call(*a):
            return fn(*a, **kwargs)
    else:
        call = fn
    y, back = tape_pullback(call, *args)

    def tape_back(g):
        res = back(g)
        return None, tuple(res[1:]), ({k: None for k in kwargs} if kwargs else None)

    return y, tape_back
