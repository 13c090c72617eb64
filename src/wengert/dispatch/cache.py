"""The compile cache, for both modes: one store, one build protocol, one guard check.

A Python function is lowered (`frontend.program.get_ir`), analysed for one argument-type
signature (`ir.activity`), written out (`transforms.reverse` for the adjoint,
`transforms.forward` for the tangent code), compiled (`backend.emit`) and cached per code
object and key ``(mode, kinds, free kinds)``. The transform-time resolutions of global
names (which rules were inlined) are guarded: when a global is rebound, the next call
transforms again, so derivatives follow the program as it is when they run.

`compiled(fn, kinds)` (reverse) and `compiled_jvp(fn, kinds)` (forward) are thin names
over `lookup` (no lock) and `build` (under `program.LOCK`, publishing complete entries
only, so threads never see half a result).
"""

from __future__ import annotations

import contextlib
import contextvars
import dis
import types
from dataclasses import dataclass, field

import wengert.rules  # noqa: F401  (registers the rule files)
from wengert import ir
from wengert.backend.emit import compile_source
from wengert.frontend import program, source
from wengert.frontend.program import LOCK, guard_check
from wengert.frontend.program import EPOCH as _EPOCH
from wengert.frontend.program import free_kinds, get_ir  # noqa: F401  (re-exported)
from wengert.frontend.program import has_source as _has_source  # noqa: F401  (re-exported)
from wengert.ir import activity
from wengert.ir.activity import CalleeGuards, analyse
from wengert.rules import support
from wengert import registry
from wengert.runtime import mutation
from wengert.transforms import forward, inline
from wengert.transforms.reverse.adjoint import Adjoint

REVERSE, FORWARD = "reverse", "forward"
_CACHE: dict = {}     # code -> {(mode, kinds, free kinds): entry}, complete entries only
_BUILDING: dict = {}  # (code, key) -> entry still being linked, seen only by the thread holding LOCK
_CLEAR: list = []     # more stores derived from transformed code (`on_clear`)



@dataclass
class Entry:
    """What both modes cache: the IR, the guards and globals the code was specialised to,
    the helpers it closes over, and the direct calls to link (helper name -> (callee, kinds))."""

    ir: ir.Function
    guards: list
    globals: dict
    helpers: dict
    directs: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)     # variant name -> entry (see `variant`)
    epoch: int = field(default_factory=lambda: _EPOCH[0])

    def valid(self) -> bool:
        """Do the globals and module attributes the code was specialised to still hold
        (and has `clear_cache` not run since)?"""
        check = self.__dict__.get("_check")
        if check is None or self.__dict__["_checked"] != len(self.guards):
            self.__dict__["_checked"] = len(self.guards)
            check = self.__dict__["_check"] = guard_check(self.guards, self.globals, self.epoch)
        return check()

    def functions(self) -> tuple:
        """The compiled functions (whose closures `_link` fills)."""
        raise NotImplementedError


@dataclass
class Compiled(Entry):
    """Reverse mode: ``pullback(_pass, *params) -> (y, back)`` and the fused ``grad``."""

    pullback: object = None
    grad: object = None
    source_pullback: str = ""
    source_grad: str = ""
    fn: object = None  # a function object of this code
    mode = REVERSE

    @property
    def uses_pass(self) -> bool:
        """Does the generated code use its ``_pass`` (mutation, calls)?"""
        u = self.__dict__.get("_uses_pass")
        if u is None:
            u = self.__dict__["_uses_pass"] = _reads(self.grad.__code__, "_pass")
        return u

    def functions(self) -> tuple:
        return (self.pullback, self.grad)


def _reads(code, name: str) -> bool:
    """Does compiled ``code`` (or a function nested in it) read the local or cell ``name``?"""
    for ins in dis.get_instructions(code):
        if ins.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")) and \
                (ins.argval == name or isinstance(ins.argval, tuple) and name in ins.argval):
            return True
    return any(_reads(c, name) for c in code.co_consts if isinstance(c, types.CodeType))


@dataclass
class CompiledJVP(Entry):
    """Forward mode: ``fn(*params, *tangents) -> (y, y_dot)``."""

    fn: object = None
    source: str = ""
    mode = FORWARD

    def functions(self) -> tuple:
        return (self.fn,)


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


# ---- variants: the same generated code compiled against other helpers ----

_VARIANT: contextvars.ContextVar = contextvars.ContextVar("wengert_variant", default=None)
VARIANT_BUILDERS: dict = {}  # (name, mode) -> builder(entry) -> entry


@contextlib.contextmanager
def variant(name: str):
    """Within this block, `compiled` returns the ``name`` variant of every function.

    A variant builder (registered in ``VARIANT_BUILDERS[(name, mode)]``) takes an entry
    and returns another whose functions run the same source against different helpers or
    globals (e.g. ones that accept dual numbers, for forward-over-reverse).
    """
    token = _VARIANT.set(name)
    try:
        yield
    finally:
        _VARIANT.reset(token)


def variant_of(c: Entry, name: str) -> Entry:
    """The ``name`` variant of entry ``c``, built once."""
    v = c.variants.get(name)
    if v is None:
        with LOCK:
            v = c.variants.get(name)
            if v is None:
                v = c.variants[name] = VARIANT_BUILDERS[(name, c.mode)](c)
    return v


def _with_variant(c: Entry) -> Entry:
    name = _VARIANT.get()
    return c if name is None else variant_of(c, name)


# ---- the store ----


def on_clear(*stores) -> None:
    """Stores (with a ``clear`` method) derived from transformed code, emptied by `clear_cache`."""
    _CLEAR.extend(stores)


def clear_cache() -> None:
    """Forget every transformed function and every cache derived from one (the next call
    transforms again). Safe while other threads differentiate: it waits for transforms
    in progress, and code they already hold finishes with what it has."""
    with LOCK:
        program.clear()
        for store in (_CACHE, activity._RET, inline._CACHE, source._TREES, mutation._RECORD, mutation._GETTERS,
                      support._FIELD_NAMES, *_CLEAR):
            store.clear()


def lookup(fn, key):
    """The complete, still valid entry for ``fn`` and ``key``, or None (no lock)."""
    per_code = _CACHE.get(fn.__code__)
    c = per_code.get(key) if per_code is not None else None
    if c is not None and c.globals is fn.__globals__ and c.valid():
        return c
    return None


def last_kinds(code, mode: str = REVERSE):
    """The argument kinds ``code`` was last compiled for in ``mode``, or None."""
    keys = [k for k in _CACHE.get(code, ()) if k[0] == mode]
    return keys[-1][1] if keys else None


def build(fn, key, make, link=None):
    """The entry for ``fn`` and ``key``, made by ``make()`` and linked by ``link(c)``
    if needed, under `LOCK`. While linking, the entry is in ``_BUILDING`` (so a function
    that calls itself finds itself); the outermost build publishes every entry it made
    at once, when all are linked, and none if it fails."""
    link = link or _link
    with LOCK:
        code = fn.__code__
        c = _BUILDING.get((code, key))
        if c is not None and c.globals is fn.__globals__:
            return c
        c = lookup(fn, key)  # another thread may have made it meanwhile
        if c is not None:
            return c
        if key in _CACHE.get(code, ()):  # other globals, or a guard failed: lower the source again too
            program.forget_ir(code)
        outermost = not _BUILDING
        token = _VARIANT.set(None)  # the plain code is made and linked first; variants derive from it
        try:
            c = make()
            _BUILDING[(code, key)] = c
            link(c)
            if outermost:
                for (code_, key_), made in _BUILDING.items():
                    _CACHE.setdefault(code_, {})[key_] = made
        finally:
            _VARIANT.reset(token)
            if outermost:
                _BUILDING.clear()
        return c


def _link(c: Entry) -> None:
    """Point direct-call helpers of ``c``'s code at their targets' compiled code."""
    get = compiled if c.mode == REVERSE else compiled_jvp
    for name, (target, kinds) in c.directs.items():
        try:
            t = get(target, kinds, ())
        except Exception:  # noqa: BLE001, S112 - the helper transforms on first use, and reports then
            continue
        for f in c.functions():
            names = f.__code__.co_freevars
            if name in names:
                f.__closure__[names.index(name)].cell_contents = t.functions()[0]
        if t is not c:
            add_guards(c.guards, c.globals, t.guards, t.globals)


def compiled(fn, kinds: tuple, fkinds: tuple | None = None) -> Compiled:
    """The compiled adjoint of Python function ``fn`` for parameter kinds ``kinds``."""
    if fkinds is None:
        fkinds = free_kinds(fn)
    key = (REVERSE, kinds, fkinds)
    c = lookup(fn, key)
    if c is None:
        c = build(fn, key, lambda: _make(fn, kinds, fkinds))
    return _with_variant(c)


def compiled_jvp(fn, kinds: tuple, fkinds: tuple | None = None) -> CompiledJVP:
    """The compiled tangent code of Python function ``fn`` for parameter kinds ``kinds``."""
    if fkinds is None:
        fkinds = free_kinds(fn) if fn.__closure__ else ()
    key = (FORWARD, kinds, fkinds)
    c = lookup(fn, key)
    if c is None:
        c = build(fn, key, lambda: _make_jvp(fn, kinds, fkinds))
    return c


def _make(fn, kinds: tuple, fkinds: tuple) -> Compiled:
    code = fn.__code__
    f_ir = get_ir(fn)
    with CalleeGuards() as found:
        info = analyse(f_ir, kinds, dict(zip(code.co_freevars, fkinds)))
    gen = Adjoint(f_ir, info)
    src_pb, src_grad, name_pb, name_grad = gen.generate()
    pb, _ = compile_source(src_pb, name_pb, f_ir.filename, gen.helpers, fn.__globals__)
    gr, _ = compile_source(src_grad, name_grad, f_ir.filename, gen.helpers, fn.__globals__)
    return Compiled(f_ir, guards_of(f_ir, found, fn.__globals__), fn.__globals__, dict(gen.helpers),
                    directs=gen.directs, pullback=pb, grad=gr, source_pullback=src_pb, source_grad=src_grad, fn=fn)


def _make_jvp(fn, kinds: tuple, fkinds: tuple) -> CompiledJVP:
    code = fn.__code__
    f_ir = get_ir(fn)
    if fn.__closure__ and forward.generated(fn):
        forward.resolve_cells(f_ir, fn)  # generated code's helpers: constants
    with CalleeGuards() as found:
        info, float_globals = forward._analyse(f_ir, kinds, dict(zip(code.co_freevars, fkinds)), fn.__globals__)
    gen = forward.TangentWriter(f_ir, info)
    src, name = gen.generate()
    compiled_fn, _ = compile_source(src, name, f_ir.filename, gen.helpers, fn.__globals__)
    guards = guards_of(f_ir, found, fn.__globals__) + float_globals
    return CompiledJVP(f_ir, guards, fn.__globals__, dict(gen.helpers), directs=gen.directs, fn=compiled_fn,
                       source=src)


def dual_variant(c: CompiledJVP) -> CompiledJVP:
    """The same tangent code compiled against routed globals and helpers (see `overloading`)."""
    return variant_of(c, "dual")


registry.register(compiled=compiled, compiled_jvp=compiled_jvp, variant=variant_of)
