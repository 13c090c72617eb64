"""Type and activity inference over the IR, for one argument-type signature.

A value is *active* when it may carry a derivative: it depends on a
differentiable input through operations that have derivatives. Inactive
values (ints, bools, strings, comparisons, constants, globals) get no
cotangent and no adjoint code.

Types are small descriptors, enough to specialise the adjoint:
``"float"`` (a Python number: cotangent is a float, zero is ``0.0``, no
broadcasting), ``"int"``, ``"bool"``, ``"none"``, ``("seq", T)`` for lists
and iterables of T, ``("tuple", (T1, T2, ...))`` and ``"any"`` (arrays,
objects, unknown: cotangent may be ``None``, accumulated with
`runtime.accum`, reduced with `runtime.unbroadcast`).
"""

from __future__ import annotations

import builtins
import math
import operator
import types
from dataclasses import dataclass, field

from wengert import ir
from wengert.errors import UnsupportedError
from wengert.frontend.lower import UNDEFINED
from wengert.rules.table import get_rule

FLOAT, INT, BOOL, NONE, ANY = "float", "int", "bool", "none", "any"
ARRAY = "array"  # a float array of NumPy or an array-API library (or a NumPy scalar)
_ARRAY_MODULES = ("numpy", "torch", "jax", "jaxlib", "cupy", "array_api_strict")
_NUMBER_KINDS = {float: "float", int: "int", bool: "bool"}

# primitives that map Python numbers to Python numbers
_NUMERIC = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.neg, operator.pos, operator.abs, operator.iadd, operator.isub,
    operator.imul, operator.itruediv, operator.ifloordiv, operator.imod, operator.ipow,
    builtins.abs, builtins.pow, builtins.float, builtins.min, builtins.max,
}
_MATH = {getattr(math, n) for n in dir(math) if callable(getattr(math, n))}


def kind_of(x) -> object:
    """The type descriptor of a run-time value (for the specialisation key)."""
    t = type(x)
    if t is float:
        return FLOAT
    if t is bool:
        return BOOL
    if t is int:
        return INT
    if x is None:
        return NONE
    if t is str or isinstance(x, (types.ModuleType, type)) or t in _RANDOM_STATES:
        return NONE
    if t in (list, tuple) and 0 < len(x) <= _MAX_LEN and all(type(e) is float for e in x):
        return ("seq", FLOAT) if t is list else ("tuple", (FLOAT,) * len(x))
    if t is list and 0 < len(x) <= _MAX_LEN:
        first = _element_kind(x[0])
        if _nested_ok(first) and all(_element_kind(e) == first for e in x[1:]):
            return ("seq", first)  # a list of lists or tuples of floats, or of objects of one class
    if t is dict and 0 < len(x) <= 64 and all(type(v) is float for v in x.values()) \
            and all(type(k) is str for k in x):
        return ("dict", FLOAT)  # a dict of float parameters: reading one gives a float
    rec = _record_kind(x)
    if rec is not None:
        return rec
    if hasattr(x, "shape") and hasattr(x, "dtype") and t.__module__.split(".")[0] in _ARRAY_MODULES:
        kind = getattr(x.dtype, "kind", None)
        if kind is None:  # torch, jax dtypes
            kind = "f" if getattr(x.dtype, "is_floating_point", None) or "float" in str(x.dtype) else "i"
        return ARRAY if kind in "fc" else NONE
    return ANY


def _random_states():
    import random

    import numpy as np

    return frozenset({random.Random, np.random.RandomState, np.random.Generator})


_RANDOM_STATES = _random_states()  # their methods make numbers with no derivative
_MAX_LEN = 1024  # longer lists are not looked through at every call: kind `any`


def _element_kind(e):
    te = type(e)
    if te is list or (te is tuple and len(e) <= 16):
        return kind_of(e)
    return _record_kind(e)


def _record_kind(x):
    """``("obj", cls, ((field, kind), ...))`` for an object of a Python class whose
    instance fields are all Python numbers, or None. Reading such a field is then known
    to give a float (the fields' kinds are part of the specialisation)."""
    t = type(x)
    d = getattr(x, "__dict__", None)
    if d is None or not (t.__flags__ & (1 << 9)) or hasattr(x, "shape") or not 0 < len(d) <= 16:
        return None
    fields = []
    for name, v in d.items():
        k = _NUMBER_KINDS.get(type(v))
        if k is None and type(v) is list:
            k = kind_of(v)  # lists of floats, of lists of floats, of such objects
            if not _nested_ok(k):
                return None
        if k is None or isinstance(getattr(t, name, None), (property, types.MemberDescriptorType)):
            return None
        fields.append((name, k))
    return ("obj", t, tuple(fields))


def _nested_ok(k) -> bool:
    """Kinds a list element or an object field may have and stay specialised."""
    if k is None:
        return False
    if k == FLOAT:
        return True
    if isinstance(k, tuple) and k[0] == "tuple":
        return all(e in (FLOAT, INT) for e in k[1])
    return isinstance(k, tuple) and k[0] in ("seq", "obj")


def field_kind(t, name):
    if isinstance(t, tuple) and t[0] == "obj":
        for n, k in t[2]:
            if n == name:
                return k
    return None


def with_field(t, name, k):
    fields = dict(t[2])
    fields[name] = join(fields.get(name), k) if name in fields else k
    return ("obj", t[1], tuple(fields.items()))


def differentiable(t) -> bool:
    if t in (FLOAT, ANY, ARRAY):
        return True
    if isinstance(t, tuple):
        if t[0] in ("seq", "dict"):
            return differentiable(t[1])
        if t[0] == "obj":
            return any(differentiable(k) for _, k in t[2])
        return any(differentiable(e) for e in t[1])
    return False


def join(a, b):
    if a is None:
        return b
    if b is None or a == b:
        return a
    nums = {FLOAT, INT, BOOL}
    if a in nums and b in nums:
        return FLOAT if FLOAT in (a, b) else INT
    if (a == ARRAY and b in nums) or (b == ARRAY and a in nums):
        return ARRAY
    if isinstance(a, tuple) and isinstance(b, tuple):
        if a[0] == b[0] and a[0] in ("seq", "dict"):
            return (a[0], join(a[1], b[1]))
        if a[0] == b[0] == "tuple" and len(a[1]) == len(b[1]):
            return ("tuple", tuple(join(x, y) for x, y in zip(a[1], b[1])))
        if a[0] == b[0] == "obj" and a[1] is b[1]:
            fa, fb = dict(a[2]), dict(b[2])
            if fa.keys() == fb.keys():
                return ("obj", a[1], tuple((n, join(fa[n], fb[n])) for n in fa))
    return ANY


def element(t, index=None):
    if isinstance(t, tuple):
        if t[0] == "seq":
            return t[1]
        if t[0] == "dict":
            return NONE  # iterating a dict gives its keys (str)
        if t[0] == "tuple":
            if isinstance(index, int) and -len(t[1]) <= index < len(t[1]):
                return t[1][index]
            return _join_all(t[1])
    if t in (INT, BOOL, NONE, FLOAT):
        return ANY
    return ANY


def _join_all(ts):
    out = None
    for t in ts:
        out = join(out, t)
    return out or ANY


@dataclass
class Info:
    """Result of the analysis: per value id, its type and whether it is active.

    Heap soundness (type-based alias analysis): a mutable object may be reached
    through names the analysis cannot follow (an alias in a list, a field of
    another object, a callee's argument, a closure cell). So activity is also
    decided per *kind* of container: ``tainted`` holds the container kinds that
    may have received a value carrying a derivative through any name, and every
    value of such a kind (or of unknown kind ``any``) is active. ``tainted_all``
    says that any container may have (an unknown object was written, or code
    the analysis cannot see ran with active arguments). ``kinds_unsure`` says
    that a container may have been given an element or field of another kind
    than the one its kind records (a write the analysis cannot show to keep
    kinds, or a call that may write anything): reads from the heap are then
    typed ``any`` and checked at run time.
    """

    type: dict = field(default_factory=dict)
    active: dict = field(default_factory=dict)
    tainted: set = field(default_factory=set)
    tainted_all: bool = False
    kinds_unsure: bool = False
    effects: bool = False      # writes to objects it did not create, or calls that may
    fresh: set = field(default_factory=set)   # ids of containers made here (displays)
    effectful: set = field(default_factory=set)  # id() of calls that may write to the heap
    ranges: set = field(default_factory=set)  # ids of range(...) results (never written)
    const_params: set = field(default_factory=set)  # ids of parameters not differentiated
    untainted: set = field(default_factory=set)  # value ids no heap write can reach (fresh, inactive)
    filename: str | None = None  # of the function analysed (for errors)
    ctx: dict = field(default_factory=dict)   # shared by one analysis and its callees'

    def is_active(self, o) -> bool:
        if not isinstance(o, ir.Value):
            return False
        if self.active.get(o.id, False):
            return True
        return o.id not in self.untainted and self.heap_active(self.type.get(o.id))

    def heap_active(self, t) -> bool:
        """May a value of kind ``t`` reach a derivative stored on the heap?"""
        if t is None or not (self.tainted or self.tainted_all):
            return False
        if t == ANY:
            return True
        if not is_container(t) or (not differentiable(t) and not self.kinds_unsure):
            # a list of ints (or Nones) stays one unless a write may change kinds: then it
            # may hold floats now, and it is a container like any other
            return False
        return self.tainted_all or t in self.tainted

    def type_of(self, o):
        if isinstance(o, ir.Const):
            return const_type(o.value)
        return self.type.get(o.id, ANY)

    def elem(self, t, index=None):
        """The kind of an element read from a container of kind ``t`` (``any`` where a
        write the analysis could not follow may have changed it)."""
        if self.kinds_unsure and isinstance(t, tuple) and t[0] in ("seq", "obj", "dict"):
            return ANY
        return element(t, index)

    def field(self, t, name):
        if self.kinds_unsure:
            return None
        return field_kind(t, name)


def own_getitem(s: ir.Op, info: Info, fn) -> bool:
    """``c[i]`` whose index carries a derivative into a container that may have its own
    ``__getitem__`` (``np.r_[x, y]``): differentiated through that method, found at run time."""
    return (fn is operator.getitem and len(s.args) == 2 and info.is_active(s.args[1])
            and info.type_of(s.args[0]) in (NONE, ANY))


def is_container(t) -> bool:
    """Kinds whose values are references to mutable state (arrays included)."""
    if t in (ANY, ARRAY):
        return True
    return isinstance(t, tuple) and (t[0] in ("seq", "obj", "dict") or (
        t[0] == "tuple" and any(is_container(e) for e in t[1])))


def reachable_kinds(t, out=None) -> set:
    """Container kinds reachable from a value of kind ``t`` (itself included; ``any`` when an
    unknown object is reached)."""
    out = set() if out is None else out
    if not is_container(t) or t in out:
        return out
    if not (isinstance(t, tuple) and t[0] == "tuple"):
        out.add(t)  # `any` included: an unknown object may be any container
    if isinstance(t, tuple):
        subs = t[1] if t[0] == "tuple" else ((k for _, k in t[2]) if t[0] == "obj" else (t[1],))
        for e in subs:
            reachable_kinds(e, out)
    return out


def _taint(info: Info, t) -> bool:
    """Containers of kind ``t`` (and what they reach) may now hold a derivative."""
    if info.tainted_all:
        return False
    if t is _HEAP:
        if _HEAP in info.tainted:
            return False
        info.tainted.add(_HEAP)
        return True
    new = reachable_kinds(t) - info.tainted
    if ANY in new:
        info.tainted_all = True
        return True
    if new:
        info.tainted |= new
        return True
    return False


_HEAP = "heap"  # a marker in `tainted`: something on the heap may be active (values of kind any are)


def _unsure(info: Info) -> bool:
    if info.kinds_unsure:
        return False
    info.kinds_unsure = True
    return True


def _fits(slot, k) -> bool:
    """Does storing a value of kind ``k`` into a slot of kind ``slot`` keep the slot's kind?"""
    return slot is not None and k is not None and join(slot, k) == slot and slot != ANY


def const_type(v):
    if v is UNDEFINED:
        return None
    if isinstance(v, slice) or v is Ellipsis:
        return NONE
    if type(v) is float:
        return FLOAT
    if type(v) is int:
        return INT
    if type(v) is bool:
        return BOOL
    if v is None or type(v) is str:
        return NONE
    if type(v) is tuple and len(v) <= 64:
        return ("tuple", tuple(const_type(e) or ANY for e in v))
    return ANY


def analyse(fn: ir.Function, arg_kinds, free_kinds: dict, ctx: dict | None = None) -> Info:
    info = Info(ctx={} if ctx is None else ctx, filename=fn.filename)
    for _, st in ir.walk(fn.body):
        if isinstance(st, ir.Op) and st.kind in ("list", "dict", "newlist") and st.outs:
            info.fresh.add(st.outs[0].id)
    for p, k in zip(fn.params, arg_kinds):
        if isinstance(k, tuple) and k and k[0] == "const":  # an argument not differentiated
            info.type[p.id] = k[1]
            info.active[p.id] = False
            info.const_params.add(p.id)
            continue
        info.type[p.id] = k
        info.active[p.id] = differentiable(k)
        if info.active[p.id]:
            # what an argument holds may also be reached through another argument,
            # a closure cell or a global: every container of these kinds may be active
            _taint(info, k)
    for k in free_kinds.values():
        if differentiable(k):
            _taint(info, k)
    changed = True
    while changed:
        changed = _block(fn.body, info, free_kinds)
    return info


def _set(info: Info, v: ir.Value, t, active: bool) -> bool:
    old_t, old_a = info.type.get(v.id), info.active.get(v.id, False)
    new_t = join(old_t, t) if old_t is not None else t
    new_a = old_a or (active and differentiable(new_t))
    if new_t != old_t or new_a != old_a:
        info.type[v.id] = new_t
        info.active[v.id] = new_a
        return True
    return False


def _block(block: ir.Block, info: Info, free_kinds) -> bool:
    changed = False
    for s in block.stmts:
        if isinstance(s, ir.Op):
            changed |= _op(s, info, free_kinds)
        elif isinstance(s, ir.If):
            changed |= _block(s.then, info, free_kinds)
            changed |= _block(s.orelse, info, free_kinds)
            for b in (s.then, s.orelse):
                if b.term is not None and b.term.kind == "yield":
                    for o, v in zip(s.outs, b.term.values):
                        if isinstance(v, ir.Value) and v.id not in info.type:
                            continue
                        changed |= _set(info, o, info.type_of(v), info.is_active(v))
        elif isinstance(s, ir.Loop):
            changed |= _loop(s, info, free_kinds)
    return changed


def _loop_terms(block: ir.Block):
    for s in block.stmts:
        if isinstance(s, ir.If):
            yield from _loop_terms(s.then)
            yield from _loop_terms(s.orelse)
    if block.term is not None and block.term.kind in ("break", "continue"):
        yield block.term


def _loop(s: ir.Loop, info: Info, free_kinds) -> bool:
    changed = False
    off = 0
    if s.iterable is not None:
        off = 1
        item = s.body.args[0]
        it = info.type_of(s.iterable)
        # a range is never written: its items stay ints whatever the heap holds
        kind = element(it) if isinstance(s.iterable, ir.Value) and s.iterable.id in info.ranges else info.elem(it)
        changed |= _set(info, item, kind, info.is_active(s.iterable))
    carried_sets = [s.body.args[off:], s.outs] + ([s.header.args] if s.header is not None else [])
    for i, init in enumerate(s.inits):
        for group in carried_sets:
            changed |= _set(info, group[i], info.type_of(init), info.is_active(init))
    if s.header is not None:
        changed |= _block(s.header, info, free_kinds)
    changed |= _block(s.body, info, free_kinds)
    for t in _loop_terms(s.body):
        for i, v in enumerate(t.values):
            for group in carried_sets:
                changed |= _set(info, group[i], info.type_of(v), info.is_active(v))
    return changed


def _op(s: ir.Op, info: Info, free_kinds) -> bool:
    if any(isinstance(a, ir.Value) and a.id not in info.type for a in s.args):
        return False  # an argument not typed yet (a pending recursive call): wait
    changed = _effects(s, info)
    return _transfer(s, info, free_kinds) or changed


def _transfer(s: ir.Op, info: Info, free_kinds) -> bool:
    act = [info.is_active(a) for a in s.args] + [info.is_active(v) for v in s.kwargs.values()]
    any_active = any(act)
    k = s.kind
    out = s.outs[0] if s.outs else None
    if k == "global":
        obj = out.static
        return _set(info, out, NONE if callable(obj) or isinstance(obj, types.ModuleType)
                    else const_type(obj) or ANY, False)
    if k == "free":
        kind = free_kinds.get(s.fn, ANY)
        return _set(info, out, kind, differentiable(kind))
    if k == "attr":
        if out.static is not None:
            return _set(info, out, NONE, False)
        fk = info.field(info.type_of(s.args[0]), s.fn)
        if fk is not None:
            return _set(info, out, fk, any_active and differentiable(fk))
        if info.type_of(s.args[0]) == ARRAY:
            if s.fn in ("T", "mT", "real"):
                return _set(info, out, ARRAY, any_active)
            if s.fn in ("shape", "ndim", "size", "dtype", "device"):
                return _set(info, out, NONE, False)
        return _set(info, out, ANY, any_active)
    if k in ("tuple", "list"):
        ts = tuple(info.type_of(a) or ANY for a in s.args)
        t = ("tuple", ts) if k == "tuple" else ("seq", _join_all(ts) if ts else ANY)
        return _set(info, out, t, any_active)
    if k == "dict":
        return _set(info, out, ANY, any_active)
    if k == "unpack":
        src = s.args[0]
        st = info.type_of(src)
        changed = False
        for i, o in enumerate(s.outs):
            changed |= _set(info, o, info.elem(st, i), info.is_active(src))
        return changed
    if k == "closure":
        return _set(info, out, ANY, any_active)
    if k == "newlist":
        return _set(info, out, ("seq", None), False) if out.id not in info.type else False
    if k == "append":
        acc, elt = s.args
        t = ("seq", info.type_of(elt))
        return _set(info, acc, t, info.is_active(elt))
    if k == "method":
        changed = False
        if s.mutating and any(act[1:]) and isinstance(s.args[0], ir.Value):
            changed |= _set(info, s.args[0], ANY, True)
        if out is not None:
            t = ARRAY if (info.type_of(s.args[0]) == ARRAY and s.fn in _ARRAY_METHODS) else ANY
            if info.type_of(s.args[0]) == NONE and not any_active:
                # a method of a value with no derivative (a str, a random generator) handed
                # none: what it makes carries none, whatever the heap holds
                info.untainted.add(out.id)
            changed |= _set(info, out, t, any_active)
        return changed
    if k == "setattr" and isinstance(s.args[0], ir.Value) and info.type_of(s.args[0])[0:1] == ("obj",):
        obj, val = s.args
        t = with_field(info.type_of(obj), s.fn, info.type_of(val))
        if field_kind(t, s.fn) not in (FLOAT, INT, BOOL):
            t = ANY  # the field may now hold anything: the object is no longer a record of numbers
        return _set(info, obj, t, info.is_active(val) or info.is_active(obj))
    if k in ("setitem", "setattr"):
        obj, val = s.args[0], s.args[-1]
        if isinstance(obj, ir.Value) and info.is_active(val):
            t = info.type_of(obj)
            if isinstance(t, tuple) and t[0] == "seq":
                t = ("seq", join(t[1], info.type_of(val)))
            elif k == "setattr" or t not in (FLOAT, ARRAY):
                t = ANY if not (isinstance(t, tuple) and t[0] == "seq") else t
            return _set(info, obj, t, True)
        return False
    if k == "call":
        return _call(s, info, act, any_active)
    raise AssertionError(k)


# ---- effects on the heap: what a statement may write, and whether kinds survive it ----

_PURE_CONTAINER_METHODS = frozenset({"get", "copy", "keys", "values", "items", "index", "count"})
_KEEPS_KINDS = frozenset({"pop", "remove", "clear", "sort", "reverse", "popitem", "discard"})
_PURE_BUILTINS = {builtins.range, builtins.len, builtins.slice, builtins.zip, builtins.enumerate,
                  builtins.reversed, builtins.list, builtins.tuple, builtins.sorted, builtins.isinstance,
                  builtins.print}


def _effects(s: ir.Op, info: Info) -> bool:
    """Taint and kind changes caused by ``s`` writing to the heap (or calling code that may)."""
    k = s.kind
    if k in ("setattr", "setitem"):
        obj, val = s.args[0], s.args[-1]
        t = info.type_of(obj)
        if k == "setattr" and isinstance(t, tuple) and t[0] == "obj":
            slot = field_kind(t, s.fn)
            fits = slot is None or _fits(slot, info.type_of(val))
        elif t == ARRAY:
            fits = True
        else:
            slot = t[1] if isinstance(t, tuple) and t[0] in ("seq", "dict") and k == "setitem" else None
            fits = _fits(slot, info.type_of(val))
        return _write(info, obj, fits, info.is_active(val))
    if k == "method":
        obj = s.args[0]
        t = info.type_of(obj)
        inputs = list(s.args[1:]) + list(s.kwargs.values())
        if s.mutating and any(isinstance(v, ir.Value) and info.active.get(v.id, False) for v in s.kwargs.values()):
            raise UnsupportedError(f"{s.fn}: keyword argument carrying a derivative into a method that "
                                   "changes its object; pass it positionally", info.filename, s.line)
        if s.mutating and obj.id not in info.fresh and not (
                t == ARRAY or isinstance(t, tuple) and t[0] in ("seq", "dict")):
            # `add`, `update`, ... of an object that may be a user class's: its own code runs
            changed = _write(info, obj, False, any(info.is_active(a) for a in inputs))
            return _opaque(info, s, [*s.args, *s.kwargs.values()]) or changed
        if s.mutating:
            fits = t == ARRAY or s.fn in _KEEPS_KINDS
            if not fits and isinstance(t, tuple) and t[0] == "seq" and s.args[1:]:
                vk = info.type_of(s.args[-1])
                fits = _fits(t[1], info.elem(vk) if s.fn == "extend" else vk)
            return _write(info, obj, fits, any(info.is_active(a) for a in inputs))
        if t == ARRAY or (isinstance(t, tuple) and t[0] in ("seq", "dict", "tuple")
                          and s.fn in _PURE_CONTAINER_METHODS):
            return False
        if isinstance(t, tuple) and t[0] == "obj":
            meth = getattr(t[1], s.fn, None)
            if isinstance(meth, types.FunctionType) and _pure(meth, (t, *(info.type_of(a) for a in s.args[1:])),
                                                               info, bool(s.kwargs)):
                return False
        return _opaque(info, s, [*s.args, *s.kwargs.values()])
    if k != "call":
        return False
    fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
    if "out" in s.kwargs:  # NumPy's out=: the result is written into that array
        ins = [*s.args, *(v for n, v in s.kwargs.items() if n != "out")]
        return _write(info, s.kwargs["out"], info.type_of(s.kwargs["out"]) == ARRAY,
                      any(info.is_active(a) for a in ins))
    if fn in _INPLACE_OPS and len(s.args) == 2 and not s.star:
        t0 = info.type_of(s.args[0])
        if t0 in (FLOAT, INT, BOOL, NONE) or (isinstance(t0, tuple) and t0[0] == "tuple"):
            return False
        fits = t0 == ARRAY or (isinstance(t0, tuple) and t0[0] == "seq"
                               and _fits(t0[1], info.elem(info.type_of(s.args[1]))))
        return _write(info, s.args[0], fits, info.is_active(s.args[1]))
    if fn is not None and not s.star:
        rule = get_rule(fn)
        if rule is not None or fn in _PURE_BUILTINS:
            return False  # rules and these builtins write nothing
        if isinstance(fn, types.FunctionType) and _pure(fn, tuple(info.type_of(a) for a in s.args), info,
                                                         bool(s.kwargs)):
            return False
        if isinstance(fn, type) and _constructed_kind(fn, [info.type_of(a) for a in s.args], s.kwargs,
                                                      info) is not None:
            return False  # a dataclass's generated __init__ stores its numbers in a new object
    ft = info.type_of(s.fn)
    if fn is None and not s.star and not s.kwargs and isinstance(ft, tuple) and ft[0] == "obj":
        call = getattr(ft[1], "__call__", None)  # a callable object of a known class (a layer, a model)
        if isinstance(call, types.FunctionType) and _pure(call, (ft, *(info.type_of(a) for a in s.args)),
                                                          info, False):
            return False
    return _opaque(info, s, [s.fn, *s.args, *s.kwargs.values()])


def _write(info: Info, obj, fits: bool, active: bool) -> bool:
    """A write into container ``obj`` of a value that is (``active``) differentiated and
    does (``fits``) or may not keep the kind recorded for the slot."""
    changed = False
    fresh = isinstance(obj, ir.Value) and obj.id in info.fresh
    if not fresh and not info.effects:
        info.effects = changed = True
    if active:
        changed |= _taint(info, info.type_of(obj))
    if not fits and not fresh:
        changed |= _unsure(info)
    return changed


def _opaque(info: Info, s: ir.Op, operands) -> bool:
    """A call the analysis cannot see into: it may write anything it can reach (its
    arguments, their contents, its own closure, globals) into anything it can reach.
    Such a call gets an adjoint whenever an operand is active, used result or not."""
    changed = False
    info.effectful.add(id(s))
    if not info.effects:
        info.effects = changed = True
    kinds = [info.type_of(a) for a in operands]
    if any(info.is_active(a) for a in operands):
        changed |= _taint(info, _HEAP)
        for t in kinds:
            changed |= _taint(info, t)
    if any(is_container(t) for t in kinds):
        changed |= _unsure(info)
    return changed


def _pure(fn, kinds: tuple, info: Info, has_kwargs: bool) -> bool:
    """Does calling Python function ``fn`` with arguments of ``kinds`` write nothing the
    caller can see (analysed from its source, callees included)?"""
    code = fn.__code__
    if has_kwargs or code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_argcount != len(kinds):
        return False
    if any(isinstance(k, tuple) and k[0] == "const" for k in kinds):
        return False
    memo = info.ctx.setdefault("pure", {})
    key = (code, kinds)
    if key in memo:
        return memo[key]  # while in progress (recursion): no write found so far
    from wengert.dispatch.cache import _has_source, free_kinds, get_ir

    if not _has_source(fn):
        memo[key] = False
        return False
    memo[key] = True
    try:
        sub = analyse(get_ir(fn), kinds, dict(zip(code.co_freevars, free_kinds(fn))), info.ctx)
        memo[key] = not sub.effects
    except Exception:  # noqa: BLE001 - not analysable: it may do anything
        memo[key] = False
    return memo[key]


_INPLACE_OPS = {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ifloordiv,
                operator.imod, operator.ipow, operator.imatmul}


def _call(s: ir.Op, info: Info, act, any_active) -> bool:
    out = s.outs[0]
    fn0 = s.fn.value if isinstance(s.fn, ir.Const) else None
    if fn0 in _INPLACE_OPS and len(s.args) == 2 and isinstance(s.args[0], ir.Value):
        t0 = info.type_of(s.args[0])
        if t0 not in (FLOAT, INT, BOOL, NONE) and not (isinstance(t0, tuple) and t0[0] == "tuple") \
                and info.is_active(s.args[1]) and not info.is_active(s.args[0]):
            # a mutable object changed in place now holds a derivative, under every name
            return _set(info, s.args[0], t0, True)
    callee_active = info.is_active(s.fn)
    fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
    rule = get_rule(fn) if fn is not None else None
    if rule is not None and not rule.nondiff and not s.star:
        for k, v in s.kwargs.items():
            if isinstance(v, ir.Value) and info.active.get(v.id, False):
                # a rule gives cotangents to positional arguments only: a derivative
                # through a keyword would be lost (values active only because the heap
                # might hold a derivative are let through: a config value is no refusal)
                raise UnsupportedError(
                    f"{getattr(fn, '__qualname__', fn)}: keyword argument {k}= carries a derivative; "
                    f"pass it positionally", info.filename, s.line)
    types_ = [info.type_of(a) for a in s.args]
    if fn in (builtins.range, builtins.len):
        if fn is builtins.range:
            info.ranges.add(out.id)
        return _set(info, out, ("seq", INT) if fn is builtins.range else INT, False)
    if fn is builtins.slice:
        return _set(info, out, NONE, False)
    if rule is not None and rule.nondiff:
        # the type of a result is only claimed when it is certain: float-specialised
        # code must never meet an array
        nums = (INT, BOOL, FLOAT)
        numeric = all(x in nums for x in types_)
        if fn in (operator.not_, operator.truth, operator.contains, operator.is_, operator.is_not,
                  builtins.isinstance, builtins.callable, math.isnan, math.isinf, math.isfinite):
            t = BOOL
        elif fn in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
            t = BOOL if numeric else (NONE if ARRAY in types_ else ANY)
        elif fn in (math.floor, math.ceil, math.trunc, builtins.int, builtins.len) or (
                fn is builtins.round and len(types_) == 1):
            t = INT if numeric or fn in (builtins.int, builtins.len) else ANY
        elif fn is operator.floordiv and numeric:
            t = INT if all(x in (INT, BOOL) for x in types_) else FLOAT
        elif _is_numpy(fn):
            t = ARRAY
        else:
            t = ANY
        return _set(info, out, t, False)
    if fn is builtins.zip:
        return _set(info, out, ("seq", ("tuple", tuple(info.elem(t) for t in types_))), any_active)
    if fn is builtins.enumerate:
        return _set(info, out, ("seq", ("tuple", (INT, info.elem(types_[0]) if types_ else ANY))), any_active)
    if fn in (builtins.reversed, builtins.list, builtins.tuple, builtins.sorted):
        t = types_[0] if types_ else ANY
        t = ("seq", info.elem(t)) if isinstance(t, tuple) else ANY
        return _set(info, out, t, any_active)
    if rule is not None and ARRAY in types_ and not s.kwargs.get("__never__"):
        arrayish = all(t in (ARRAY, FLOAT, INT, BOOL, NONE) or (isinstance(t, tuple)) for t in types_)
        if arrayish and (fn in _NUMERIC or fn in _ARRAY_OPS or _is_numpy(fn)) and fn not in _MULTI_OUT:
            return _set(info, out, ARRAY, any_active)
    if rule is not None:
        if fn in _MATH or fn in _NUMERIC:
            nums = (FLOAT, INT, BOOL)
            if all(t in nums for t in types_) and all(info.type_of(v) in nums for v in s.kwargs.values()):
                t = FLOAT if (fn in _MATH or FLOAT in types_ or fn is operator.truediv
                              or fn is builtins.float) else INT
                return _set(info, out, t, any_active and t == FLOAT)
            if fn in (builtins.min, builtins.max, builtins.sum) and len(types_) == 1:
                return _set(info, out, info.elem(types_[0]), any_active)
        if fn is builtins.sum and len(types_) >= 1 and info.elem(types_[0]) == FLOAT:
            return _set(info, out, FLOAT, any_active)
        if fn is operator.getitem:
            idx = s.args[1]
            t = types_[0]
            if isinstance(idx, ir.Const) and isinstance(idx.value, slice):
                et = ("seq", info.elem(t)) if isinstance(t, tuple) and t[0] == "seq" else ANY
            elif isinstance(t, tuple) and t[0] == "dict":
                et = ANY if info.kinds_unsure else t[1]
            elif not isinstance(idx, ir.Const) and types_[1] not in (INT, BOOL):
                et = ANY  # a slice (or a tuple, an array) made at run time: not one element
            else:
                et = info.elem(t, idx.value if isinstance(idx, ir.Const) else None) \
                    if isinstance(t, tuple) else ANY
            # an object with its own __getitem__ (np.r_[x, y], a user class) may compute with
            # the index: its derivative flows through the index too
            own = t in (NONE, ANY) or (isinstance(t, tuple) and t[0] == "obj")
            return _set(info, out, et, bool(act and (act[0] or (own and len(act) > 1 and act[1]))))
        return _set(info, out, ANY, any_active)
    if isinstance(fn, type) and not s.star:
        made = _constructed_kind(fn, types_, s.kwargs, info)
        if made is not None:
            return _set(info, out, made, any_active)
    if isinstance(fn, types.FunctionType) and not s.kwargs and not s.star:
        ret = return_type(fn, tuple(types_))
        if ret is _PENDING:
            return False  # a recursive call: typed once the base cases are
        if ret is not None:
            return _set(info, out, ret, any_active or callee_active)
    return _set(info, out, ANY, any_active or callee_active)


def _is_numpy(fn) -> bool:
    mod = getattr(fn, "__module__", None) or ""
    return mod.split(".")[0] == "numpy" or type(fn).__name__ == "ufunc"


_ARRAY_OPS = {operator.matmul, operator.imatmul, operator.getitem, operator.neg, operator.pos}
_ARRAY_METHODS = {"sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "reshape",
                  "transpose", "swapaxes", "squeeze", "ravel", "flatten", "dot", "clip", "copy",
                  "astype", "take", "repeat", "__getitem__"}


def _multi_out():
    import numpy as np

    names = ["slogdet", "eigh", "svd", "qr", "split", "array_split", "meshgrid", "unique", "frexp",
             "modf", "divmod", "nonzero", "where", "histogram", "broadcast_arrays", "linalg"]
    out = set()
    for n in names:
        for mod in (np, np.linalg):
            f = getattr(mod, n, None)
            if f is not None and callable(f):
                out.add(f)
    out.discard(np.where)  # one output with three arguments
    return out


_MULTI_OUT = _multi_out()
def _constructed_kind(cls, types_, kwargs, info):
    """The kind of ``cls(...)`` for a dataclass whose generated __init__ stores number
    arguments in its fields (no __post_init__), else None."""
    import dataclasses

    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        return None
    from wengert.dispatch.cache import _has_source

    if _has_source(cls.__init__):
        return None
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if len(types_) + len(kwargs) != len(fields):
        return None
    kinds = dict(zip((f.name for f in fields), types_))
    for k, v in kwargs.items():
        kinds[k] = info.type_of(v)
    if set(kinds) != {f.name for f in fields} or not all(k in (FLOAT, INT, BOOL) for k in kinds.values()):
        return None
    if any(not f.init for f in dataclasses.fields(cls)):
        return None
    return ("obj", cls, tuple((f.name, kinds[f.name]) for f in fields))


_PENDING = object()
_RET: dict = {}  # (code, kinds) -> (return type, guards): fixpoints reached (cleared by clear_cache)
_IN_PROGRESS: dict = {}  # thread id -> that thread's fixpoints being iterated, outermost first


class _Fixpoint:
    """A return type being found by iteration: the approximation so far, the globals it was
    found with (``(globals dict or module, name, object)``), and whether it read another
    fixpoint's approximation (then it is not final, and not cached)."""

    __slots__ = ("key", "type", "guards", "tentative")

    def __init__(self, key):
        self.key = key
        self.type = _PENDING
        self.guards: dict = {}  # (id of where, name) -> (where, name, object)
        self.tentative = False


def _guards_hold(guards: dict) -> bool:
    for where, name, obj in guards.values():
        if isinstance(where, dict):
            cur = where.get(name, _PENDING)
            if cur is _PENDING:
                cur = getattr(builtins, name, _PENDING)
        else:
            cur = getattr(where, name, _PENDING)
        if cur is not obj:
            return False
    return True


class CalleeGuards:
    """``with CalleeGuards() as found:`` gathers the globals that the return types of the
    callees typed by the analyses in the block depend on (callees of callees included):
    ``found[(id of where, name)] = (where, name, object)``, where is a globals dict or a
    module. Code specialised to those types must be guarded by them too."""

    def __enter__(self) -> dict:
        import threading

        self.frame = _Fixpoint(None)
        _IN_PROGRESS.setdefault(threading.get_ident(), []).append(self.frame)
        return self.frame.guards

    def __exit__(self, *exc) -> None:
        import threading

        me = threading.get_ident()
        stack = _IN_PROGRESS[me]
        stack.remove(self.frame)
        if not stack:
            del _IN_PROGRESS[me]


def return_type(fn, kinds: tuple):
    """The type of what Python function ``fn`` returns for argument kinds ``kinds``
    (scalars only), by analysing it; recursion is resolved by iterating from the
    base cases. None when unknown.

    Each thread iterates its own fixpoints (another thread's approximations are never
    read); a result is cached only when final, with the globals it depends on (callees
    included), and is found again only while they hold."""
    if not all(k in (FLOAT, INT, BOOL, NONE) for k in kinds) or fn.__closure__:
        return None
    code = fn.__code__
    if code.co_argcount != len(kinds) or code.co_kwonlyargcount or code.co_flags & 0x0C:
        return None
    import threading

    key = (code, kinds)
    stack = _IN_PROGRESS.get(threading.get_ident())
    if stack:
        for depth, frame in enumerate(stack):
            if frame.key == key:  # recursion: the approximation so far
                for inner in stack[depth + 1:]:
                    inner.tentative = True
                return frame.type
    done = _RET.get(key)
    if done is not None and _guards_hold(done[1]):
        if stack:
            stack[-1].guards.update(done[1])
        return done[0]
    from wengert.dispatch.cache import _has_source, get_ir

    if not _has_source(fn):
        return None
    try:
        f_ir = get_ir(fn)
    except Exception:  # noqa: BLE001 - not analysable: unknown type
        return None
    frame = _Fixpoint(key)
    for name, obj in f_ir.globals_resolved.items():
        where, attr = (fn.__globals__, name) if isinstance(name, str) else name
        frame.guards[(id(where), attr)] = (where, attr, obj)
    if stack is None:
        stack = _IN_PROGRESS[threading.get_ident()] = []
    stack.append(frame)
    try:
        for _ in range(6):
            info = analyse(f_ir, kinds, {})
            r = f_ir.body.term.values[0]
            t = info.type_of(r) if isinstance(r, ir.Const) or r.id in info.type else _PENDING
            if t is _PENDING or t == frame.type:
                break
            frame.type = t
    finally:
        stack.pop()
        if not stack:
            del _IN_PROGRESS[threading.get_ident()]
    t = frame.type if frame.type in (FLOAT, INT, BOOL, NONE) else None
    if stack:
        stack[-1].guards.update(frame.guards)
    if not frame.tentative:
        _RET[key] = (t, frame.guards)
    return t
