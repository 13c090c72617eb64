"""Kinds and activity over the IR, for one argument-type signature.

A value is *active* when it may carry a derivative: it depends on a
differentiable input through operations that have derivatives. Inactive
values (ints, bools, strings, comparisons, constants, globals) get no
cotangent and no adjoint code.

Each value also gets a kind (`wengert.ir.kinds`: ``float``, ``int``, ``array``,
``list[k]``, ``dict[k]``, ``obj C{f: k}``, ``any``, ...), enough to specialise the
adjoint: a ``float`` has a float cotangent, zero ``0.0`` and no broadcasting; ``any``
(arrays, objects, unknown) has a cotangent that may be ``None``, accumulated with
`accum` and reduced with `unbroadcast`.

The analysis is a fixpoint over the structured IR (`analyse`); what statements write to
the heap is `wengert.ir.effects`, the return kinds of callees `wengert.ir.returns`.
"""

from __future__ import annotations

import builtins
import math
import operator
import types
from dataclasses import dataclass, field

from wengert import ir
from wengert.errors import UnsupportedError
from wengert.ir.core import UNDEFINED
from wengert.ir import effects as fx
from wengert.ir.adjoint_kinds import HANDLE, PASS, PASS_LINEAR, NextKind
from wengert.ir.effects import INPLACE_OPS, constructed_kind
from wengert.ir.kinds import (  # noqa: F401  (kinds re-exported: the analysis's vocabulary)
    ANY,
    ARRAY,
    BOOL,
    FLOAT,
    INT,
    NONE,
    Compound,
    DictKind,
    Kind,
    ListKind,
    ObjKind,
    TupleKind,
    as_kind,
    differentiable,
    element,
    field_kind,
    is_container,
    join,
    join_all,
    kind_of,
    list_of,
    reachable_kinds,
    tuple_of,
    with_field,
)
from wengert.ir.returns import _IN_PROGRESS, _RET, PENDING, CalleeGuards  # noqa: F401  (cleared by clear_cache)
from wengert.ir.returns import return_type as _return_type
from wengert.rules.table import get_rule

# primitives that map Python numbers to Python numbers
_NUMERIC = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.neg, operator.pos, operator.abs, operator.iadd, operator.isub,
    operator.imul, operator.itruediv, operator.ifloordiv, operator.imod, operator.ipow,
    builtins.abs, builtins.pow, builtins.float, builtins.min, builtins.max,
}
_MATH = {getattr(math, n) for n in dir(math) if callable(getattr(math, n))}


def const_type(v) -> Kind | None:
    """The kind of a constant in the IR (None for the marker of a value not defined yet)."""
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
        return TupleKind(const_type(e) or ANY for e in v)
    return ANY


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
    pass_active: bool = False  # a `PASS` buffer may hold a derivative (see `PASS_LINEAR`)
    private: set = field(default_factory=set)  # ids of stacks: see `private_lists`
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
        if self.kinds_unsure and t is not None and t.is_record:
            return ANY
        return element(t, index)

    def field(self, t, name):
        """The kind of field ``name`` read from an object of kind ``t`` (None: not known)."""
        if self.kinds_unsure:
            return None
        return field_kind(t, name)

    def analyse_callee(self, fn: ir.Function, arg_kinds, free_kinds: dict) -> Info:
        """The analysis of a callee, sharing this analysis's context (`effects.pure`)."""
        return analyse(fn, arg_kinds, free_kinds, self.ctx)


def show_kinds(fn: ir.Function, info: Info) -> str:
    """``fn``'s IR with the kind the analysis gave each value, and ``active`` where it may
    carry a derivative (``show_ir(f, *args)``)."""
    def note(v) -> str:
        return repr(info.type.get(v.id)) + (" active" if info.is_active(v) else "")
    return ir.format_function(fn, note)


def own_getitem(s: ir.Op, info: Info, fn) -> bool:
    """``c[i]`` whose index carries a derivative into a container that may have its own
    ``__getitem__`` (``np.r_[x, y]``): differentiated through that method, found at run time."""
    return (fn is operator.getitem and len(s.args) == 2 and info.is_active(s.args[1])
            and info.type_of(s.args[0]) in (NONE, ANY))


def private_lists(body: ir.Block) -> set:
    """Ids of the lists made empty here (``saved = []``) that never escape: every use of
    one appends one item to it (``saved.append(v)``), pops its last item, reads it
    (``saved[i]``, ``len``, ``reversed``, ``iter``, a for loop over it), nothing else: it
    is never stored, passed, returned or carried, so no other name can reach it and
    every write into it is an append the analysis sees. Such a list (the stacks of
    generated adjoint code) has the kind ``list[the join of the appended kinds]``."""
    cands = {st.outs[0].id for _, st in ir.walk(body)
             if isinstance(st, ir.Op) and st.kind == "list" and not st.args and st.outs}
    if not cands:
        return cands
    ok_calls = (builtins.reversed, builtins.len, builtins.iter)
    for _, st in ir.walk(body):
        ops = ir.operands(st)
        if not any(isinstance(o, ir.Value) and o.id in cands for o in ops):
            continue
        if isinstance(st, ir.Loop):
            ops = list(st.inits)  # the iterable is a read
        elif isinstance(st, ir.Op) and st.kind == "method" and not st.kwargs and (
                (st.fn == "append" and len(st.args) == 2) or (st.fn == "pop" and len(st.args) == 1)):
            ops = st.args[1:]
        elif isinstance(st, ir.Op) and st.kind == "call" and not st.star and not st.kwargs and (
                (st.static in ok_calls and len(st.args) == 1) or
                (st.static is operator.getitem and len(st.args) == 2)):
            ops = [st.fn, *st.args[1:]]
        for o in ops:
            if isinstance(o, ir.Value):
                cands.discard(o.id)
    return cands


def analyse(fn: ir.Function, arg_kinds, free_kinds: dict, ctx: dict | None = None) -> Info:
    info = Info(ctx={} if ctx is None else ctx, filename=fn.filename)
    info.private = private_lists(fn.body)
    for _, st in ir.walk(fn.body):
        if isinstance(st, ir.Op) and st.kind in ("list", "dict", "newlist") and st.outs:
            info.fresh.add(st.outs[0].id)
    free_kinds = {name: as_kind(k) for name, k in free_kinds.items()}
    for p, k in zip(fn.params, arg_kinds):
        k = as_kind(k)
        if k.is_const:  # an argument not differentiated
            info.type[p.id] = k.kind
            info.active[p.id] = False
            info.const_params.add(p.id)
            continue
        info.type[p.id] = k
        info.active[p.id] = differentiable(k)
        if info.active[p.id]:
            # what an argument holds may also be reached through another argument,
            # a closure cell or a global: every container of these kinds may be active
            fx.taint(info, k)
    for k in free_kinds.values():
        if differentiable(k):
            fx.taint(info, k)
    changed = True
    while changed:
        changed = _block(fn.body, info, free_kinds)
    return info


def _set(info: Info, v: ir.Value, t, active: bool) -> bool:
    old_t, old_a = info.type.get(v.id), info.active.get(v.id, False)
    new_t = join(old_t, t)
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
    for t in ir.loop_terms(s.body):
        for i, v in enumerate(t.values):
            for group in carried_sets:
                changed |= _set(info, group[i], info.type_of(v), info.is_active(v))
    return changed


def _op(s: ir.Op, info: Info, free_kinds) -> bool:
    if any(isinstance(a, ir.Value) and a.id not in info.type for a in s.args):
        return False  # an argument not typed yet (a pending recursive call): wait
    changed = fx.effects(s, info)
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
        t0 = info.type_of(s.args[0])
        if s.fn == "__next__" and isinstance(t0, ListKind):
            # ``it.__next__`` of an iterator over a sequence (``reversed(stack).__next__``)
            return _set(info, out, NextKind(info.elem(t0)), any_active)
        fk = info.field(t0, s.fn)
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
        if k == "list" and not ts and out.id in info.private:
            return _set(info, out, ListKind(None), False) if out.id not in info.type else False
        t = TupleKind(ts) if k == "tuple" else ListKind(join_all(ts))
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
        return _set(info, out, ListKind(None), False) if out.id not in info.type else False
    if k == "append":
        acc, elt = s.args
        return _set(info, acc, ListKind(info.type_of(elt)), info.is_active(elt))
    if k == "method" and info.type_of(s.args[0]) == PASS and s.fn in PASS_LINEAR:
        if s.fn == "handle":
            return _set(info, out, HANDLE, True) if out is not None else False
        # a cotangent made by linear operations on cotangents (and what the buffers hold)
        return _set(info, out, ANY, any(act[1:]) or info.pass_active) if out is not None else False
    if k == "method" and info.type_of(s.args[0]) == HANDLE and s.fn in ("get", "pop"):
        return _set(info, out, ANY, True) if out is not None else False  # a cotangent in the buffer
    if k == "setitem" and info.type_of(s.args[0]) == HANDLE:
        return False  # it stays the Pass's dict
    if k == "method":
        changed = False
        t0 = info.type_of(s.args[0])
        if s.mutating and s.fn == "append" and len(s.args) == 2 and not s.kwargs \
                and isinstance(s.args[0], ir.Value) and isinstance(t0, ListKind):
            # still a list: of what it held and the new item (active or not)
            changed |= _set(info, s.args[0], ListKind(info.type_of(s.args[1])), any(act[1:]))
        elif s.mutating and any(act[1:]) and isinstance(s.args[0], ir.Value):
            changed |= _set(info, s.args[0], ANY, True)
        if out is not None:
            t = ARRAY if (info.type_of(s.args[0]) == ARRAY and s.fn in _ARRAY_METHODS) else ANY
            if info.type_of(s.args[0]) == NONE and not any_active:
                # a method of a value with no derivative (a str, a random generator) handed
                # none: what it makes carries none, whatever the heap holds
                info.untainted.add(out.id)
            changed |= _set(info, out, t, any_active)
        return changed
    if k == "setattr" and isinstance(s.args[0], ir.Value) and isinstance(info.type_of(s.args[0]), ObjKind):
        obj, val = s.args
        t = info.type_of(obj).with_field(s.fn, info.type_of(val))
        if t.field(s.fn) not in (FLOAT, INT, BOOL):
            t = ANY  # the field may now hold anything: the object is no longer a record of numbers
        return _set(info, obj, t, info.is_active(val) or info.is_active(obj))
    if k in ("setitem", "setattr"):
        obj, val = s.args[0], s.args[-1]
        if isinstance(obj, ir.Value) and info.is_active(val):
            t = info.type_of(obj)
            if isinstance(t, ListKind):
                t = ListKind(join(t.elem, info.type_of(val)))
            elif k == "setattr" or t not in (FLOAT, ARRAY):
                t = ANY
            return _set(info, obj, t, True)
        return False
    if k == "call":
        return _call(s, info, act, any_active)
    raise AssertionError(k)


def _call(s: ir.Op, info: Info, act, any_active) -> bool:
    out = s.outs[0]
    fn0 = s.fn.value if isinstance(s.fn, ir.Const) else None
    if fn0 in INPLACE_OPS and len(s.args) == 2 and isinstance(s.args[0], ir.Value):
        t0 = info.type_of(s.args[0])
        if t0 not in (FLOAT, INT, BOOL, NONE) and not isinstance(t0, TupleKind) \
                and info.is_active(s.args[1]) and not info.is_active(s.args[0]):
            # a mutable object changed in place now holds a derivative, under every name
            return _set(info, s.args[0], t0, True)
    callee_active = info.is_active(s.fn)
    ft = info.type_of(s.fn)
    if isinstance(ft, NextKind) and not s.args and not s.kwargs and not s.star:
        return _set(info, out, ft.elem, callee_active)  # the next item of the iterator
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
        return _set(info, out, ListKind(INT) if fn is builtins.range else INT, False)
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
        return _set(info, out, ListKind(TupleKind(info.elem(t) for t in types_)), any_active)
    if fn is builtins.enumerate:
        return _set(info, out, ListKind(TupleKind((INT, info.elem(types_[0]) if types_ else ANY))), any_active)
    if fn in (builtins.reversed, builtins.list, builtins.tuple, builtins.sorted):
        t = types_[0] if types_ else ANY
        t = ListKind(info.elem(t)) if isinstance(t, Compound) else ANY
        return _set(info, out, t, any_active)
    if rule is not None and ARRAY in types_ and not s.kwargs.get("__never__"):
        arrayish = all(t in (ARRAY, FLOAT, INT, BOOL, NONE) or isinstance(t, Compound) for t in types_)
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
                et = ListKind(info.elem(t)) if isinstance(t, ListKind) else ANY
            elif isinstance(t, DictKind):
                et = ANY if info.kinds_unsure else t.value
            elif not isinstance(idx, ir.Const) and types_[1] not in (INT, BOOL):
                et = ANY  # a slice (or a tuple, an array) made at run time: not one element
            else:
                et = info.elem(t, idx.value if isinstance(idx, ir.Const) else None) \
                    if isinstance(t, Compound) else ANY
            # an object with its own __getitem__ (np.r_[x, y], a user class) may compute with
            # the index: its derivative flows through the index too
            own = t in (NONE, ANY) or isinstance(t, ObjKind)
            return _set(info, out, et, bool(act and (act[0] or (own and len(act) > 1 and act[1]))))
        return _set(info, out, ANY, any_active)
    if isinstance(fn, type) and not s.star:
        made = constructed_kind(fn, types_, s.kwargs, info)
        if made is not None:
            return _set(info, out, made, any_active)
    if isinstance(fn, types.FunctionType) and not s.kwargs and not s.star:
        ret = return_type(fn, tuple(types_))
        if ret is PENDING:
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


def return_type(fn, kinds: tuple):
    """The kind Python function ``fn`` returns for number argument ``kinds`` (None: unknown)."""
    return _return_type(fn, kinds, analyse)
