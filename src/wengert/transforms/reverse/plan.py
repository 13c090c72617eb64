"""IR -> adjoint program (reverse mode): what to record and what the adjoint does.

This module plans (`Generator`): which plan each operation gets (a class of `plans`
or `calls`, which knows what its adjoint reads and writes that operation's primal and
adjoint code), how loops count, which blocks save a tuple. `useful` finds the values that can carry a
cotangent, `primal` writes the forward pass from the plan, and `adjoint` (with
`loops` and `records`) the reverse pass and the functions.

The shape follows Innes 2018, "Don't Unroll Adjoint": the primal program runs
first and records what the adjoint needs; the adjoint walks the program
backwards. Concretely, for one function and one argument-type signature:

- *Useful* values (`_useful`) are those whose cotangent can be non-zero: the
  result, and backwards from it through every operation with a derivative.
  Only their operations get adjoint code.
- Each adjoint operation needs some primal values (the ones its rule reads,
  found from the rule lambda's parameters, or the pullback closure of a call
  with no inlinable rule). A needed value defined outside every loop is just
  read by name. One defined inside a loop is pushed on its own stack right
  after it is computed, and popped at the start of the adjoint of its block:
  its uses are all inside that block (SSA dominance in structured code), and
  the block runs backwards once for each forward run, so pushes and pops
  match. Branch conditions are needed values like any other; loops record
  their trip count (or, outside other loops, read it off the length of a
  stack).
- The adjoint of a loop is a loop. Cotangents of carried values are carried
  backwards in one variable per carried value; the terminator that ended an
  iteration (``continue``/``break``) hands them to the values it passed.
- A cotangent variable is assigned by the first contribution and added to by
  later ones; a value that never received one has no adjoint at all.
  Float-typed values use ``0.0`` and ``+=``; others use ``None`` and
  `cotangents.accum`, and broadcasting rules reduce with `cotangents.unbroadcast`.
"""

from __future__ import annotations

import itertools
import operator
import types

from wengert import ir
from wengert.runtime import cotangents
from wengert.ir.activity import FLOAT, Info, own_getitem
from wengert.ir.kinds import ANY, ARRAY, NUMBERS, SCALARS, ObjKind, mutable
from wengert.backend.emit import Layout, Namer, assign_names
from wengert.errors import UnsupportedError
from wengert.transforms.inline import template
from wengert.rules.table import get_rule
from wengert.transforms.reverse import calls, plans
from wengert.transforms.reverse.useful import (
    _INPLACE_PLAIN,
    _may_write,
    _rereadable,
    _useful,
)

RUNTIME_HELPERS = {
    "call_pullback": cotangents.call_pullback,
    "method_pullback": cotangents.method_pullback,
    "attr_grad": cotangents.attr_grad,
    "accum": cotangents.accum,
    "unbroadcast": cotangents.unbroadcast,
    "nz": cotangents.nz,
    "iter_grad": cotangents.iter_grad,
    "unpack_grad": cotangents.unpack_grad,
    "make_closure": cotangents.make_closure,
    "rev_items": cotangents.rev_items,
    "getitem_grad": cotangents.getitem_grad,
    "fold_self": cotangents.fold_self,
}


class _Conflict(AssertionError):
    """Two live values claimed one cotangent variable (a naming or planning bug)."""


class Generator:
    def __init__(self, fn: ir.Function, info: Info, uncond: frozenset = frozenset()):
        """``uncond``: ids of the `ir.If`s of ``fn`` to plan without saving their condition
        (their branches were found to have the same adjoint, `adjoint.Adjoint.generate`)."""
        self.fn = fn
        self.info = info
        self.layout = Layout(fn)
        self.plans: dict[int, plans.Plan] = {}
        self.needs: set[int] = set()
        self.counts: dict[int, ir.Value] = {}       # id(loop) -> count value
        self.zipped: dict[int, list[ir.Value]] = {}  # id(loop) -> saved values read in its header
        self.comp_lists: dict[int, list[ir.Value]] = {}  # id(loop) -> comprehension lists appended inside
        self.helpers: dict[str, object] = {}
        self.helper_ids: dict[int, str] = {}
        self.ids = itertools.count(10_000_000)
        self.rev_stmts: set[int] = set()
        self.rev_loops: list = []
        self.reread = _rereadable(fn, info)
        self._synthetic: list[ir.Value] = []
        self.useful = _useful(fn, info)
        self.uncond = frozenset(uncond)  # id(If) whose branches have the same adjoint: condition not saved
        self.collapsed: set[int] = set()  # id(If) whose adjoint was written without its condition
        self.cond_of: dict[int, ir.Value | ir.Const] = {}
        self.ret = fn.body.term.values[0]

    # ---- planning ----

    def route(self, v) -> str:
        """Where ``v``'s cotangent lives: ``float`` (a float variable), ``ssa`` (a
        variable, `accum`), ``buf`` (the pass's identity-keyed buffer, for objects
        that may be mutated or reached through other names)."""
        t = self.info.type_of(v)
        if t == FLOAT:
            return "float"
        if t is not None and t.is_record:  # a list, dict or object whose parts' kinds are recorded
            return "buf"
        if t in (ANY, ARRAY) and self.may_mutate:
            return "buf"
        return "ssa"

    def plan(self):
        self.may_mutate = any(
            isinstance(s, ir.Op) and (s.kind in ("setitem", "setattr") or s.mutating
                                      or (s.kind == "attr" and s.outs[0].static is None
                                          and self.info.type_of(s.args[0]) == ANY)
                                      or self._inplace_on_object(s) or self._passes_mutable(s))
            for _, s in ir.walk(self.fn.body))
        self._plan_block(self.fn.body)
        for vid in self.useful:
            v = self.layout.values.get(vid)
            if v is not None and self.route(v) == "buf" and vid not in self.reread:
                self.needs.add(vid)
        for loop, block in self.rev_loops:
            self._plan_loop_count(loop, block)
        # a block that saves several values pushes them as one tuple, once per run,
        # right after the last of them is computed: they must stay live until then
        self.groups: dict[int, list[ir.Value]] = {}
        blocks = {self.layout.block_of[vid].id: self.layout.block_of[vid] for vid in self.needs
                  if self.layout.depth[vid] > 0}
        for bid, b in blocks.items():
            vals = self.saved_in(b)
            if len(vals) >= 2:
                self.groups[bid] = vals
                end = max(self.layout.defpos[v.id] for v in vals) + 1
                for v in vals:
                    self.layout.last[v.id] = max(self.layout.last[v.id], end)
        reserved = set(RUNTIME_HELPERS) | {k for k in self.fn.globals_resolved if isinstance(k, str)}
        reserved |= {"_cells", "self_bar"}
        fname = self.fn.name if self.fn.name.isidentifier() else "f"
        # the generated functions' own names: a helper (np.linalg.det's det_back) must not take them
        reserved |= {f"{fname}_pullback", f"{fname}_back", f"{fname}_grad"}
        self.names = assign_names(self.fn, self.layout, reserved, set(self.needs),
                                  kind=lambda vid: self.info.type.get(vid) == FLOAT)
        self.namer = Namer(set(self.names.values()) | reserved)
        for name, obj in RUNTIME_HELPERS.items():
            self.helpers[name] = obj
        for v in self._synthetic:
            self.names[v.id] = self.namer.fresh(v.name)
        self.bars = {}
        self.stack_names = {}
        # values popped in the adjoint get names no other value read there has
        self.rev_names: dict[int, str] = {}
        used = {self.names[vid] for vid in self.needs if self.layout.depth[vid] == 0}
        if isinstance(self.ret, ir.Value):
            used.add(self.names[self.ret.id])
        for vid in sorted(self.needs):
            if self.layout.depth[vid] > 0:
                n = self.names[vid]
                if n in used:
                    n = self.namer.fresh(n)
                used.add(n)
                self.rev_names[vid] = n

    _synthetic: list

    def synth(self, name, block, depth, pos) -> ir.Value:
        v = ir.Value(next(self.ids), name)
        self.layout.values[v.id] = v
        self.layout.defpos[v.id] = pos
        self.layout.last[v.id] = pos
        self.layout.depth[v.id] = depth
        self.layout.block_of[v.id] = block
        if not hasattr(self, "_synthetic"):
            self._synthetic = []
        self._synthetic.append(v)
        return v

    def need(self, o):
        # globals and module attributes are read again by name: no need to save them
        if isinstance(o, ir.Value) and o.id not in self.reread:
            self.needs.add(o.id)

    def is_useful(self, o) -> bool:
        return isinstance(o, ir.Value) and o.id in self.useful

    def _plan_block(self, block: ir.Block) -> bool:
        """Plan adjoints in ``block``; True when it has adjoint code."""
        if not hasattr(self, "_synthetic"):
            self._synthetic = []
        any_rev = False
        for s in block.stmts:
            if isinstance(s, ir.Op):
                any_rev |= self._plan_op(s, block)
            elif isinstance(s, ir.If):
                r = self._plan_block(s.then) | self._plan_block(s.orelse)
                r |= any(self.is_useful(o) for o in s.outs)
                # a branch that leaves the iteration hands on (or drops) the carried cotangents
                r |= any(b.term is not None and b.term.kind in ("break", "continue") and b.term.values
                         for b in (s.then, s.orelse))
                self.cond_of[id(s)] = s.cond
                if r:
                    if id(s) not in self.uncond:
                        self.need(s.cond)
                    self.rev_stmts.add(id(s))
                any_rev |= r
            elif isinstance(s, ir.Loop):
                r = self._plan_block(s.body)
                r |= any(self.is_useful(o) for o in s.outs)
                if s.iterable is not None and self.is_useful(s.body.args[0]):
                    r = True
                    self.need(s.iterable)
                if r:
                    self.rev_stmts.add(id(s))
                    self.rev_loops.append((s, block))  # innermost first
                any_rev |= r
        return any_rev

    def saved_in(self, block: ir.Block) -> list[ir.Value]:
        """Values defined in ``block`` (not below) that are pushed, in order of definition."""
        vals = [self.layout.values[vid] for vid in self.needs
                if self.layout.block_of.get(vid) is block and self.layout.depth[vid] > 0]
        return sorted(vals, key=lambda v: (self.layout.defpos[v.id], v.id))

    def _plan_loop_count(self, loop: ir.Loop, block: ir.Block):
        depth = self.layout.block_depth[block.id]
        saved_top = self.saved_in(loop.body)
        if depth == 0 and saved_top:
            self.zipped[id(loop)] = saved_top
            return
        c = self.synth(f"count_{loop.id}", block, depth, self.layout.stmt_pos[id(loop)])
        self.counts[id(loop)] = c
        self.needs.add(c.id)

    def _plan_op(self, s: ir.Op, block: ir.Block) -> bool:
        """Choose the plan of ``s`` (see `plans`); True when it has adjoint code."""
        plan = self._choose(s, block)
        if plan is None:
            return False
        self.plans[id(s)] = plan
        for o in plan.reads(self, s):
            self.need(o)
        if isinstance(plan, plans.Append):
            self._note_comp(s, s.args[0], block)
        return True

    def _choose(self, s: ir.Op, block: ir.Block):
        info = self.info
        if s.kind == "append":
            return plans.Append() if self.is_useful(s.args[1]) else None
        if s.kind in ("setitem", "setattr") or (s.kind == "method" and s.mutating):
            # every logged mutation is undone by the adjoint, active or not
            return {"setitem": plans.SetItem, "setattr": plans.SetAttr, "method": plans.MutatingMethod}[s.kind]()
        if self._inplace_on_object(s):
            return plans.InplaceOnObject()
        if not s.outs or not any(self.is_useful(o) for o in s.outs):
            if not self._passes_mutable(s):
                return None
        depth = self.layout.depth[s.outs[0].id]
        pos = self.layout.defpos[s.outs[0].id]
        k = s.kind
        if k in ("newlist", "global"):
            return None  # a global's cotangent stays in the pass's buffers: nothing to hand on
        if k == "free":
            return plans.FreeVar()
        if k in ("tuple", "list", "dict"):
            return {"tuple": plans.TupleAssemble, "list": plans.ListAssemble, "dict": plans.DictAssemble}[k]()
        if k == "unpack":
            return plans.Unpack()
        if k == "closure":
            if info.is_active(s.args[0]) or info.is_active(s.args[1]):
                raise UnsupportedError("a default argument value of a nested function depends on a "
                                       "differentiated variable; pass it explicitly instead",
                                       self.fn.filename, s.line)
            return plans.ClosureMake()
        if k == "attr":
            if self.info.type_of(s.args[0]) == ANY:
                # may be a property: its getter is differentiated (decided at run time)
                return calls.GetattrPullback(self.synth(f"{s.outs[0].name or s.fn}_back", block, depth, pos))
            return plans.AttrRead()
        if k == "method":
            return calls.MethodPullback(self.synth(f"{s.outs[0].name or s.fn}_back", block, depth, pos))
        assert k == "call", k
        fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
        rule = get_rule(fn) if fn is not None and not s.star else None
        if rule is not None and rule.nondiff:
            return None
        if rule is not None and rule.vjps is not None and fn in _OPERATOR_PRIMS and any(
                _is_obj(info.type_of(a)) for a in s.args):
            rule = None  # an object of a user class: its own __add__ (found at run time)
        if own_getitem(s, info, fn):
            rule = None  # an index that carries a derivative: the container's own __getitem__ (np.r_)
        if rule is not None and rule.vjps is not None and fn in _OPERATOR_PRIMS and any(
                info.type_of(a) == ANY for a in s.args):
            # an operand of unknown type may be a user object with its own __add__:
            # decided at run time. Floats take an inlined path, anything else
            # `transform.pullback_of` (user dunders, arrays, sequences)
            guarded = self._plan_guarded(s, rule, block)
            if guarded is not None:
                return guarded
            rule = None
        if rule is not None and rule.vjps is not None:
            nums = NUMBERS
            scalar = rule.scalar_vjps is not None and not s.kwargs and all(
                info.type_of(a) in nums for a in s.args) and info.type_of(s.outs[0]) == FLOAT
            # numbers and arrays (no sequences): the simple form of the rule holds, with
            # cotangents reduced to each argument's shape
            numeric = rule.scalar_vjps is not None and not s.kwargs and all(
                info.type_of(a) in nums + (ARRAY,) for a in s.args)
            vjps = rule.scalar_vjps if numeric else rule.vjps
            tmpls = []
            inl = True
            for i, a in enumerate(s.args):
                vjp = vjps[i] if i < len(vjps) else None
                if vjp is None or not self.is_useful(a):
                    tmpls.append(None)
                    continue
                t = template(vjp)
                if t is None or t.varkw or not self._fits(t, s):
                    inl = False
                tmpls.append(t)
            if inl:
                return calls.InlineVJP(rule, tmpls, vjps, scalar=scalar)
            return calls.RuleVJPCall(rule, vjps, scalar=scalar)
        back = self.synth(f"{s.outs[0].name or 'y'}_back", block, depth, pos)
        if rule is not None and rule.rrule is not None:
            return calls.RRuleCall(back, rule)
        direct = self._direct_target(s, fn) if rule is None else None
        if direct is not None:
            return calls.DirectPullback(back, *direct)
        return calls.GenericPullback(back, rule)

    def _direct_target(self, s: ir.Op, fn):
        """(function, kinds) when the callee is known now and its argument types are
        certain: the call then goes straight to its compiled pullback."""
        from wengert.frontend.program import has_source as _has_source

        if not isinstance(fn, types.FunctionType) or s.star or s.kwargs or fn.__closure__:
            return None
        code = fn.__code__
        if code.co_argcount != len(s.args) or code.co_kwonlyargcount or code.co_flags & 0x0C:
            return None
        kinds = tuple(self.info.type_of(a) for a in s.args)
        if not all(k in SCALARS for k in kinds) or not _has_source(fn):
            return None
        return fn, kinds

    def _plan_guarded(self, s: ir.Op, rule, block):
        if rule.scalar_vjps is None or s.kwargs or s.star or len(s.args) not in (1, 2):
            return None
        tmpls = []
        for i, a in enumerate(s.args):
            vjp = rule.scalar_vjps[i] if i < len(rule.scalar_vjps) else None
            if vjp is None or not self.is_useful(a):
                tmpls.append(None)
                continue
            t = template(vjp)
            if t is None or t.varkw or not self._fits(t, s):
                return None
            tmpls.append(t)
        depth = self.layout.depth[s.outs[0].id]
        pos = self.layout.defpos[s.outs[0].id]
        back = self.synth(f"{s.outs[0].name or 'y'}_back", block, depth, pos)
        return calls.GuardedVJP(back, rule, tmpls)

    def _inplace_on_object(self, s: ir.Op) -> bool:
        """``x op= y`` where x may be a mutable object (changed in place, logged)."""
        if s.kind != "call" or not isinstance(s.fn, ir.Const) or s.fn.value not in _INPLACE_PLAIN:
            return False
        return mutable(self.info.type_of(s.args[0]))

    def _passes_mutable(self, s: ir.Op) -> bool:
        """A call handing an active mutable object to code that may change it."""
        return _may_write(s, self.info)

    def _fits(self, t, s: ir.Op) -> bool:
        n = len(s.args) + 2
        if len(t.params) < n:
            return False
        rest = t.params[n:]
        return all(p in s.kwargs or p in t.defaults for p in rest) and all(k in t.params for k in s.kwargs)

    def _note_comp(self, s, lst: ir.Value, block: ir.Block):
        home = self.layout.block_of[lst.id]
        b = block
        loop = None
        while b is not None and b is not home:
            lp = self.layout.loop_of_block.get(b.id)
            if lp is not None and self.layout.parent_block.get(b.id) is home:
                loop = lp
            b = self.layout.parent_block.get(b.id)
        if loop is None:
            raise UnsupportedError("internal: comprehension append outside its loop", self.fn.filename, s.line)
        lists = self.comp_lists.setdefault(id(loop), [])
        if lst not in lists:
            lists.append(lst)


_OPERATOR_PRIMS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.matmul, operator.neg, operator.pos, operator.abs, operator.iadd,
    operator.isub, operator.imul, operator.itruediv, operator.ifloordiv, operator.imod, operator.ipow,
    operator.imatmul, operator.getitem, operator.lt, operator.le, operator.gt, operator.ge,
}


def _is_obj(t) -> bool:
    return isinstance(t, ObjKind)
