"""Which values the reverse transform must know about, before any plan is made.

- *Useful* values (`_useful`): those whose cotangent can be non-zero: the result,
  and backwards from it through every operation with a derivative (and through
  every write that may be read back under another name).
- *Re-read* values (`_rereadable`): globals, module attributes and inactive
  arithmetic on them, which the adjoint computes again instead of saving.
- Calls that may write their active operands where the analysis cannot see
  (`_may_write`): they get an adjoint whether or not their result is used.
"""

from __future__ import annotations

import operator

from wengert import ir
from wengert.ir.activity import Info, own_getitem
from wengert.ir.kinds import mutable
from wengert.rules.table import get_rule

_PURE_PRIMS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.neg, operator.pos, operator.lt, operator.le, operator.gt, operator.ge,
    operator.eq, operator.ne, operator.not_, operator.is_, operator.is_not, operator.getitem,
}


_INPLACE_PLAIN = {
    operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
    operator.itruediv: operator.truediv, operator.ifloordiv: operator.floordiv,
    operator.imod: operator.mod, operator.ipow: operator.pow, operator.imatmul: operator.matmul,
}



def _inputs(s: ir.Op) -> list:
    return [*((s.fn,) if s.kind == "call" else ()), *s.args, *s.kwargs.values()]


def _may_write(s: ir.Op, info: Info) -> bool:
    """A call (not a mutating method: those are logged) that code the analysis cannot
    see into runs with active operands: it may have written them anywhere, so it gets an
    adjoint (its pullback) whether or not its result is used."""
    return (s.kind in ("call", "method") and not s.mutating and id(s) in info.effectful
            and any(info.is_active(a) for a in _inputs(s)))


def _mutable_type(t) -> bool:
    return mutable(t)


def _rereadable(fn: ir.Function, info: Info) -> set[int]:
    """Values the adjoint computes again instead of saving: globals, module attributes,
    and arithmetic on those and on constants (``-DRAG``, ``0.5 * DT``) that carries no
    derivative (a global array may be an alias of a differentiated one: then its
    arithmetic is differentiated like any other)."""
    out: set[int] = set()
    for _, s in ir.walk(fn.body):
        if not isinstance(s, ir.Op) or len(s.outs) != 1:
            continue
        if s.kind == "global" or (s.kind == "attr" and s.outs[0].static is not None):
            out.add(s.outs[0].id)
        elif s.kind == "call" and isinstance(s.fn, ir.Const) and not s.kwargs and not s.star:
            try:
                pure = s.fn.value in _PURE_PRIMS
            except TypeError:
                pure = False
            if pure and all(isinstance(a, ir.Const) or a.id in out for a in s.args) \
                    and not info.is_active(s.outs[0]):
                # issue 10: an item of a global list or dict is no constant (D["x"] = x writes
                # it, and its read needs its pullback saved); of a tuple or string it is
                if s.fn.value is operator.getitem and not isinstance(
                        getattr(s.args[0], "static", None), (tuple, str, bytes, range, frozenset)):
                    continue
                out.add(s.outs[0].id)
    return out


# ---- which values can carry a non-zero cotangent ----


def _useful(fn: ir.Function, info: Info) -> set[int]:
    useful: set[int] = set()
    ret = fn.body.term.values[0]

    def mark(o) -> bool:
        if isinstance(o, ir.Value) and info.is_active(o) and o.id not in useful:
            useful.add(o.id)
            return True
        return False

    mark(ret)
    changed = True
    while changed:
        changed = _useful_block(fn.body, useful, mark, info)
    return useful


def _useful_block(block: ir.Block, useful, mark, info) -> bool:
    changed = False
    for s in reversed(block.stmts):
        if isinstance(s, ir.Op):
            if s.kind == "append":
                if s.args[0].id in useful:
                    changed |= mark(s.args[1])
                continue
            if s.kind in ("setitem", "setattr") or (s.kind == "method" and s.mutating):
                # the written value may be read back through any name of the object
                if any(info.is_active(a) for a in s.args[1:]) or any(info.is_active(v) for v in s.kwargs.values()):
                    for a in s.args:
                        changed |= mark(a)
                    for v in s.kwargs.values():
                        changed |= mark(v)
                    for o in s.outs:
                        changed |= mark(o)
                continue
            if (s.kind == "call" and isinstance(s.fn, ir.Const) and s.fn.value in _INPLACE_PLAIN
                    and _mutable_type(info.type_of(s.args[0])) and any(info.is_active(a) for a in s.args)):
                # x op= y on an object changes it under every name it has
                for a in s.args:
                    changed |= mark(a)
                for o in s.outs:
                    changed |= mark(o)
                continue
            if _may_write(s, info):
                for a in _inputs(s):
                    changed |= mark(a)
            if not any(o.id in useful for o in s.outs):
                continue
            if s.kind in ("global",):
                continue
            if s.kind == "call":
                fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
                rule = get_rule(fn) if fn is not None and not s.star else None
                if rule is not None and rule.nondiff:
                    continue
                if own_getitem(s, info, fn):
                    rule = None  # the container's own __getitem__ (see `_plan_op`)
                if rule is not None and rule.vjps is not None:
                    for i, a in enumerate(s.args):
                        if i < len(rule.vjps) and rule.vjps[i] is not None:
                            changed |= mark(a)
                    continue
                changed |= mark(s.fn)
            if s.kind == "closure":
                for a in s.args[2:]:
                    changed |= mark(a)
                continue
            for a in s.args:
                changed |= mark(a)
            for v in s.kwargs.values():
                changed |= mark(v)
        elif isinstance(s, ir.If):
            for b in (s.then, s.orelse):
                if b.term is not None and b.term.kind == "yield":
                    for o, v in zip(s.outs, b.term.values):
                        if o.id in useful:
                            changed |= mark(v)
                changed |= _useful_block(b, useful, mark, info)
        elif isinstance(s, ir.Loop):
            off = 1 if s.iterable is not None else 0
            for _ in range(2):
                for i, o in enumerate(s.outs):
                    group = [o, s.body.args[off + i]] + ([s.header.args[i]] if s.header is not None else [])
                    if any(g.id in useful for g in group):
                        for g in group:
                            changed |= mark(g)
                        changed |= mark(s.inits[i])
                        for t in ir.loop_terms(s.body):
                            changed |= mark(t.values[i])
                changed |= _useful_block(s.body, useful, mark, info)
            if off and s.body.args[0].id in useful:
                changed |= mark(s.iterable)
    return changed

