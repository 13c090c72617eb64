"""Effects on the heap: what a statement may write, and whether kinds survive the write.

Part of the analysis of `wengert.ir.activity` (which calls `effects` for every
operation): a write into a container taints the container's kind (values of that kind
may now hold a derivative, under every name); a write that may change what a slot
holds makes the analysis unsure of kinds read from the heap; a call the analysis
cannot see into may do both. Whether a Python callee writes anything its caller can
see is found by analysing it (`pure`).
"""

from __future__ import annotations

import builtins
import operator
import types
from typing import TYPE_CHECKING

from wengert import ir
from wengert.ir import callees
from wengert.errors import UnsupportedError
from wengert.ir.adjoint_kinds import HANDLE, PASS, PASS_LINEAR, NextKind
from wengert.ir.kinds import ANY, ARRAY, BOOL, FLOAT, INT, NONE, ConstKind, DictKind, ListKind, ObjKind, TupleKind, \
    join, obj_of, reachable_kinds
from wengert.rules.table import get_rule

if TYPE_CHECKING:
    from wengert.ir.activity import Info

HEAP = "heap"  # a marker in `tainted`: something on the heap may be active (values of kind any are)

PURE_CONTAINER_METHODS = frozenset({"get", "copy", "keys", "values", "items", "index", "count"})
KEEPS_KINDS = frozenset({"pop", "remove", "clear", "sort", "reverse", "popitem", "discard"})
PURE_BUILTINS = {builtins.range, builtins.len, builtins.slice, builtins.zip, builtins.enumerate,
                 builtins.reversed, builtins.list, builtins.tuple, builtins.sorted, builtins.isinstance,
                 builtins.print}
INPLACE_OPS = {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ifloordiv,
               operator.imod, operator.ipow, operator.imatmul}


def taint(info: Info, t) -> bool:
    """Containers of kind ``t`` (and what they reach) may now hold a derivative."""
    if info.tainted_all:
        return False
    if t is HEAP:
        if HEAP in info.tainted:
            return False
        info.tainted.add(HEAP)
        return True
    new = reachable_kinds(t) - info.tainted
    if ANY in new:
        info.tainted_all = True
        return True
    if new:
        info.tainted |= new
        return True
    return False


def unsure(info: Info) -> bool:
    if info.kinds_unsure:
        return False
    info.kinds_unsure = True
    return True


def fits(slot, k) -> bool:
    """Does storing a value of kind ``k`` into a slot of kind ``slot`` keep the slot's kind?"""
    return slot is not None and k is not None and join(slot, k) == slot and slot != ANY


def effects(s: ir.Op, info: Info) -> bool:
    """Taint and kind changes caused by ``s`` writing to the heap (or calling code that may)."""
    k = s.kind
    if k == "setitem" and info.type_of(s.args[0]) == HANDLE:
        return False  # into the Pass's dict (`PASS_LINEAR`: the handle made it active)
    if k in ("setattr", "setitem"):
        obj, val = s.args[0], s.args[-1]
        t = info.type_of(obj)
        if k == "setattr" and isinstance(t, ObjKind):
            slot = t.field(s.fn)
            kept = slot is None or fits(slot, info.type_of(val))
        elif t == ARRAY:
            kept = True
        else:
            slot = t.element() if isinstance(t, ListKind) and k == "setitem" else (
                t.value if isinstance(t, DictKind) and k == "setitem" else None)
            kept = fits(slot, info.type_of(val))
        return write(info, obj, kept, info.is_active(val))
    if k == "method":
        return _method(s, info)
    if k != "call":
        return False
    fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
    if "out" in s.kwargs:  # NumPy's out=: the result is written into that array
        ins = [*s.args, *(v for n, v in s.kwargs.items() if n != "out")]
        return write(info, s.kwargs["out"], info.type_of(s.kwargs["out"]) == ARRAY,
                     any(info.is_active(a) for a in ins))
    if fn in INPLACE_OPS and len(s.args) == 2 and not s.star:
        t0 = info.type_of(s.args[0])
        if t0 in (FLOAT, INT, BOOL, NONE) or isinstance(t0, TupleKind):
            return False
        kept = t0 == ARRAY or (isinstance(t0, ListKind)
                               and fits(t0.elem, info.elem(info.type_of(s.args[1]))))
        return write(info, s.args[0], kept, info.is_active(s.args[1]))
    if fn is not None and not s.star:
        rule = get_rule(fn)
        if rule is not None or fn in PURE_BUILTINS:
            return False  # rules and these builtins write nothing
        if isinstance(fn, types.FunctionType) and pure(fn, tuple(info.type_of(a) for a in s.args), info,
                                                        bool(s.kwargs)):
            return False
        if isinstance(fn, type) and constructed_kind(fn, [info.type_of(a) for a in s.args], s.kwargs,
                                                     info) is not None:
            return False  # a dataclass's generated __init__ stores its numbers in a new object
    ft = info.type_of(s.fn)
    if fn is None and not s.star and not s.kwargs and not s.args and isinstance(ft, NextKind):
        return False  # the next item of an iterator over a sequence: nothing is written
    if fn is None and not s.star and not s.kwargs and isinstance(ft, ObjKind):
        call = getattr(ft.cls, "__call__", None)  # a callable object of a known class (a layer, a model)
        if isinstance(call, types.FunctionType) and pure(call, (ft, *(info.type_of(a) for a in s.args)),
                                                         info, False):
            return False
    return opaque(info, s, [s.fn, *s.args, *s.kwargs.values()])


def _method(s: ir.Op, info: Info) -> bool:
    obj = s.args[0]
    t = info.type_of(obj)
    inputs = list(s.args[1:]) + list(s.kwargs.values())
    if t == PASS and s.fn in PASS_LINEAR and not s.kwargs:
        # writes only into the Pass's buffers: what is active there comes back out of them
        # (a handle is written through: its buffer may hold a derivative from then on)
        if not info.pass_active and (s.fn == "handle" or any(info.is_active(a) for a in inputs)):
            info.pass_active = True
            return True
        return False
    if t == HANDLE and s.fn in ("get", "pop") and not s.kwargs:
        return False  # reads (and empties) a slot of the Pass's dict
    if s.mutating and any(isinstance(v, ir.Value) and info.active.get(v.id, False) for v in s.kwargs.values()):
        raise UnsupportedError(f"{s.fn}: keyword argument carrying a derivative into a method that "
                               "changes its object; pass it positionally", info.filename, s.line)
    if s.mutating and obj.id not in info.fresh and not (t == ARRAY or isinstance(t, (ListKind, DictKind))):
        # `add`, `update`, ... of an object that may be a user class's: its own code runs
        changed = write(info, obj, False, any(info.is_active(a) for a in inputs))
        return opaque(info, s, [*s.args, *s.kwargs.values()]) or changed
    if s.mutating:
        kept = t == ARRAY or s.fn in KEEPS_KINDS
        if not kept and isinstance(t, ListKind) and s.args[1:]:
            vk = info.type_of(s.args[-1])
            kept = fits(t.elem, info.elem(vk) if s.fn == "extend" else vk)
        return write(info, obj, kept, any(info.is_active(a) for a in inputs))
    if t == ARRAY or (isinstance(t, (ListKind, DictKind, TupleKind)) and s.fn in PURE_CONTAINER_METHODS):
        return False
    if isinstance(t, ObjKind):
        meth = getattr(t.cls, s.fn, None)
        if isinstance(meth, types.FunctionType) and pure(meth, (t, *(info.type_of(a) for a in s.args[1:])),
                                                         info, bool(s.kwargs)):
            return False
    return opaque(info, s, [*s.args, *s.kwargs.values()])


def write(info: Info, obj, kept: bool, active: bool) -> bool:
    """A write into container ``obj`` of a value that is (``active``) differentiated and
    does (``kept``) or may not keep the kind recorded for the slot."""
    changed = False
    fresh = isinstance(obj, ir.Value) and obj.id in info.fresh
    if not fresh and not info.effects:
        info.effects = changed = True
    if active:
        changed |= taint(info, info.type_of(obj))
    if not kept and not fresh:
        changed |= unsure(info)
    return changed


def opaque(info: Info, s: ir.Op, operands) -> bool:
    """A call the analysis cannot see into: it may write anything it can reach (its
    arguments, their contents, its own closure, globals) into anything it can reach.
    Such a call gets an adjoint whenever an operand is active, used result or not."""
    changed = False
    info.effectful.add(id(s))
    if not info.effects:
        info.effects = changed = True
    kinds = [info.type_of(a) for a in operands]
    if any(info.is_active(a) for a in operands):
        changed |= taint(info, HEAP)
        for t in kinds:
            changed |= taint(info, t)
    if any(t is not None and t.is_container for t in kinds):
        changed |= unsure(info)
    return changed


def pure(fn, kinds: tuple, info: Info, has_kwargs: bool) -> bool:
    """Does calling Python function ``fn`` with arguments of ``kinds`` write nothing the
    caller can see (analysed from its source, callees included)?"""
    code = fn.__code__
    if has_kwargs or code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_argcount != len(kinds):
        return False
    if any(isinstance(k, ConstKind) for k in kinds):
        return False
    memo = info.ctx.setdefault("pure", {})
    key = (code, kinds)
    if key in memo:
        return memo[key]  # while in progress (recursion): no write found so far
    if not callees.has_source(fn):
        memo[key] = False
        return False
    memo[key] = True
    try:
        sub = info.analyse_callee(callees.get_ir(fn), kinds, dict(zip(code.co_freevars, callees.free_kinds(fn))))
        memo[key] = not sub.effects
    except Exception:  # noqa: BLE001 - not analysable: it may do anything
        memo[key] = False
    return memo[key]


def constructed_kind(cls, types_, kwargs, info: Info):
    """The kind of ``cls(...)`` for a dataclass whose generated __init__ stores number
    arguments in its fields (no __post_init__), else None."""
    import dataclasses

    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        return None
    if callees.has_source(cls.__init__):
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
    return obj_of(cls, ((f.name, kinds[f.name]) for f in fields))
