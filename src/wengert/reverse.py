"""IR -> adjoint program (reverse mode), written as Python source.

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
  `runtime.accum`, and broadcasting rules reduce with `runtime.unbroadcast`.
"""

from __future__ import annotations

import itertools
import operator
import types

from wengert import ir, runtime
from wengert.activity import FLOAT, Info
from wengert.codegen import Layout, Namer, assign_names, expr_of_call, literal
from wengert.errors import UnsupportedError
from wengert.frontend import SELF, UNDEFINED
from wengert.inline import instantiate, template, used_params
from wengert.rules.table import get_rule

RUNTIME_HELPERS = {
    "call_pullback": runtime.call_pullback,
    "method_pullback": runtime.method_pullback,
    "attr_grad": runtime.attr_grad,
    "accum": runtime.accum,
    "unbroadcast": runtime.unbroadcast,
    "nz": runtime.nz,
    "iter_grad": runtime.iter_grad,
    "unpack_grad": runtime.unpack_grad,
    "make_closure": runtime.make_closure,
    "rev_items": runtime.rev_items,
    "getitem_grad": runtime.getitem_grad,
}


class Plan:
    """What one op's adjoint does."""

    __slots__ = ("back", "mode", "rule", "scalar", "tmpl", "vjps")

    def __init__(self, mode, rule=None, tmpl=None, back=None, vjps=None, scalar=False):
        self.vjps = vjps
        self.scalar = scalar
        self.mode = mode      # 'vjp' (inline), 'vjpcall', 'rrule', 'generic', 'method', 'attr',
        self.rule = rule      # 'tuple', 'list', 'dict', 'unpack', 'closure', 'free', 'append'
        self.tmpl = tmpl      # per-argument templates for 'vjp'
        self.back = back      # synthetic value holding the pullback closure


class Generator:
    def __init__(self, fn: ir.Function, info: Info):
        self.fn = fn
        self.info = info
        self.layout = Layout(fn)
        self.plans: dict[int, Plan] = {}
        self.needs: set[int] = set()
        self.counts: dict[int, ir.Value] = {}       # id(loop) -> count value
        self.zipped: dict[int, list[ir.Value]] = {}  # id(loop) -> saved values read in its header
        self.comp_lists: dict[int, list[ir.Value]] = {}  # id(loop) -> comprehension lists appended inside
        self.helpers: dict[str, object] = {}
        self.helper_ids: dict[int, str] = {}
        self.ids = itertools.count(10_000_000)
        self.rev_stmts: set[int] = set()
        self.rev_loops: list = []
        self.known_floats: set[int] = set()
        self.reread = _rereadable(fn)
        self._synthetic: list[ir.Value] = []
        self.useful = _useful(fn, info)
        self.ret = fn.body.term.values[0]

    # ---- planning ----

    def route(self, v) -> str:
        """Where ``v``'s cotangent lives: ``float`` (a float variable), ``ssa`` (a
        variable, `accum`), ``buf`` (the pass's identity-keyed buffer, for objects
        that may be mutated or reached through other names)."""
        t = self.info.type_of(v)
        if t == FLOAT:
            return "float"
        if isinstance(t, tuple) and t[0] in ("seq", "obj"):
            return "buf"
        if t in ("any", "array") and self.may_mutate:
            return "buf"
        return "ssa"

    def plan(self):
        self.may_mutate = any(
            isinstance(s, ir.Op) and (s.kind in ("setitem", "setattr") or s.mutating
                                      or (s.kind == "attr" and s.outs[0].static is None
                                          and self.info.type_of(s.args[0]) == "any")
                                      or self._inplace_on_object(s) or self._passes_mutable(s))
            for _, s in ir.walk(self.fn.body))
        self._plan_block(self.fn.body)
        for vid in self.useful:
            v = self.layout.values.get(vid)
            if v is not None and self.route(v) == "buf":
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
        self.reverse_mode = False
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
                if r:
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
        info = self.info
        if s.kind == "append":
            lst, elt = s.args
            if self.is_useful(elt):
                self.plans[id(s)] = Plan("append")
                self.need(lst)
                self._note_comp(s, lst, block)
                return True
            return False
        if s.kind in ("setitem", "setattr") or (s.kind == "method" and s.mutating):
            # every logged mutation is undone by the adjoint, active or not
            self.plans[id(s)] = Plan(s.kind if s.kind != "method" else "mutmethod")
            for a in s.args:
                self.need(a)
            for v in s.kwargs.values():
                self.need(v)
            for o in s.outs:
                self.need(o)
            return True
        if self._inplace_on_object(s):
            self.plans[id(s)] = Plan("inplace")
            for a in s.args:
                self.need(a)
            self.need(s.outs[0])
            return True
        if not s.outs or not any(self.is_useful(o) for o in s.outs):
            if not self._passes_mutable(s):
                return False
        depth = self.layout.depth[s.outs[0].id]
        pos = self.layout.defpos[s.outs[0].id]
        k = s.kind
        if k == "newlist":
            return False
        if k == "free":
            self.plans[id(s)] = Plan("free")
            return True
        if k in ("tuple", "list", "dict"):
            self.plans[id(s)] = Plan(k)
            return True
        if k == "unpack":
            self.plans[id(s)] = Plan("unpack")
            self.need(s.args[0])
            return True
        if k == "closure":
            if info.is_active(s.args[0]) or info.is_active(s.args[1]):
                raise UnsupportedError("a default argument value of a nested function depends on a "
                                       "differentiated variable; pass it explicitly instead",
                                       self.fn.filename, s.line)
            self.plans[id(s)] = Plan("closure")
            return True
        if k == "attr":
            self.need(s.args[0])
            if self.info.type_of(s.args[0]) == "any":
                # may be a property: its getter is differentiated (decided at run time)
                back = self.synth(f"{s.outs[0].name or s.fn}_back", block, depth, pos)
                self.need(back)
                self.plans[id(s)] = Plan("getattr", back=back)
                return True
            self.plans[id(s)] = Plan("attr")
            return True
        if k == "method":
            back = self.synth(f"{s.outs[0].name or s.fn}_back", block, depth, pos)
            self.plans[id(s)] = Plan("method", back=back)
            self.need(back)
            return True
        assert k == "call", k
        fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
        rule = get_rule(fn) if fn is not None and not s.star else None
        if rule is not None and rule.nondiff:
            return False
        if rule is not None and rule.vjps is not None and fn in _OPERATOR_PRIMS and any(
                _is_obj(info.type_of(a)) for a in s.args):
            rule = None  # an object of a user class: its own __add__ (found at run time)
        if rule is not None and rule.vjps is not None and fn in _OPERATOR_PRIMS and any(
                info.type_of(a) == "any" for a in s.args):
            # an operand of unknown type may be a user object with its own __add__:
            # decided at run time. Floats take an inlined path, anything else
            # `transform.pullback_of` (user dunders, arrays, sequences)
            guarded = self._plan_guarded(s, rule, block)
            if guarded:
                return True
            rule = None
        if rule is not None and rule.vjps is not None:
            nums = (FLOAT, "int", "bool")
            scalar = rule.scalar_vjps is not None and not s.kwargs and all(
                info.type_of(a) in nums for a in s.args) and info.type_of(s.outs[0]) == FLOAT
            # numbers and arrays (no sequences): the simple form of the rule holds, with
            # cotangents reduced to each argument's shape
            numeric = rule.scalar_vjps is not None and not s.kwargs and all(
                info.type_of(a) in nums + ("array",) for a in s.args)
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
                self.plans[id(s)] = Plan("vjp", rule, tmpls, vjps=vjps, scalar=scalar)
                for i, t in enumerate(tmpls):
                    if t is None:
                        continue
                    used = used_params(t)
                    names = t.params
                    if names[1] in used:
                        self.need(s.outs[0])
                    for j, a in enumerate(s.args):
                        if names[2 + j] in used:
                            self.need(a)
                    for kw, v in s.kwargs.items():
                        if kw in used:
                            self.need(v)
                    if rule.broadcast and not scalar:
                        self.need(s.args[i])
                return True
            self.plans[id(s)] = Plan("vjpcall", rule, vjps=vjps, scalar=scalar)
            self.need(s.outs[0])
            for a in s.args:
                self.need(a)
            for v in s.kwargs.values():
                self.need(v)
            return True
        back = self.synth(f"{s.outs[0].name or 'y'}_back", block, depth, pos)
        self.need(back)
        if rule is not None and rule.rrule is not None:
            self.plans[id(s)] = Plan("rrule", rule, back=back)
        elif rule is None and self._direct_target(s, fn) is not None:
            self.plans[id(s)] = Plan("direct", rule=self._direct_target(s, fn), back=back)
        else:
            self.plans[id(s)] = Plan("generic", rule, back=back)
        return True

    def _direct_target(self, s: ir.Op, fn):
        """(function, kinds) when the callee is known now and its argument types are
        certain: the call then goes straight to its compiled pullback."""
        from wengert.transform import _has_source

        if not isinstance(fn, types.FunctionType) or s.star or s.kwargs or fn.__closure__:
            return None
        code = fn.__code__
        if code.co_argcount != len(s.args) or code.co_kwonlyargcount or code.co_flags & 0x0C:
            return None
        kinds = tuple(self.info.type_of(a) for a in s.args)
        if not all(k in (FLOAT, "int", "bool", "none") for k in kinds) or not _has_source(fn):
            return None
        return fn, kinds

    def _plan_guarded(self, s: ir.Op, rule, block) -> bool:
        if rule.scalar_vjps is None or s.kwargs or s.star or len(s.args) not in (1, 2):
            return False
        tmpls = []
        for i, a in enumerate(s.args):
            vjp = rule.scalar_vjps[i] if i < len(rule.scalar_vjps) else None
            if vjp is None or not self.is_useful(a):
                tmpls.append(None)
                continue
            t = template(vjp)
            if t is None or t.varkw or not self._fits(t, s):
                return False
            tmpls.append(t)
        depth = self.layout.depth[s.outs[0].id]
        pos = self.layout.defpos[s.outs[0].id]
        back = self.synth(f"{s.outs[0].name or 'y'}_back", block, depth, pos)
        self.need(back)
        self.plans[id(s)] = Plan("guarded", rule, tmpls, back=back, vjps=rule.scalar_vjps, scalar=True)
        for t in tmpls:
            if t is None:
                continue
            used = used_params(t)
            if t.params[1] in used:
                self.need(s.outs[0])
            for j, a in enumerate(s.args):
                if t.params[2 + j] in used:
                    self.need(a)
        return True

    def _inplace_on_object(self, s: ir.Op) -> bool:
        """``x op= y`` where x may be a mutable object (changed in place, logged)."""
        if s.kind != "call" or not isinstance(s.fn, ir.Const) or s.fn.value not in _INPLACE_PLAIN:
            return False
        return self.info.type_of(s.args[0]) not in (FLOAT, "int", "bool", "none") and not (
            isinstance(self.info.type_of(s.args[0]), tuple) and self.info.type_of(s.args[0])[0] == "tuple")

    def _passes_mutable(self, s: ir.Op) -> bool:
        """A call handing an active mutable object to code that may change it."""
        if s.kind not in ("call", "method") or s.mutating:
            return False
        if s.kind == "call":
            fn = s.static if isinstance(s.fn, ir.Value) else s.fn.value
            rule = get_rule(fn) if fn is not None else None
            if rule is not None or (fn is not None and not isinstance(fn, (types.FunctionType, type))
                                    and type(fn).__module__ == "builtins"):
                return False
        return any(self.info.is_active(a) and _mutable_type(self.info.type_of(a)) for a in s.args)

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

    # ---- names ----

    def name(self, v: ir.Value) -> str:
        if self.reverse_mode and v.id in self.rev_names:
            return self.rev_names[v.id]
        return self.names[v.id]

    def bar(self, v: ir.Value) -> str:
        n = self.names[v.id]
        b = self.bars.get(n)
        if b is None:
            b = self.bars[n] = self.namer.fresh(n + "_bar")
        return b

    def group_of(self, v: ir.Value):
        return self.groups.get(self.layout.block_of[v.id].id)

    def group_stack(self, bid: int) -> str:
        s = self.stack_names.get(("g", bid))
        if s is None:
            s = self.stack_names[("g", bid)] = self.namer.fresh("saved")
        return s

    def stack(self, v: ir.Value) -> str:
        s = self.stack_names.get(v.id)
        if s is None:
            s = self.stack_names[v.id] = self.namer.fresh(self.names[v.id] + "_stack")
        return s

    def helper(self, base: str, obj) -> str:
        key = id(obj)
        if key in self.helper_ids and self.helpers.get(self.helper_ids[key]) is obj:
            return self.helper_ids[key]
        base = base if base.isidentifier() else "_h"
        if base in self.helpers and self.helpers[base] is obj:
            return base
        name = self.namer.fresh(base)
        self.helpers[name] = obj
        self.helper_ids[key] = name
        return name

    def expr(self, o) -> str:
        if isinstance(o, ir.Const):
            v = o.value
            lit = literal(v)
            if lit is not None:
                return lit
            if v is UNDEFINED:
                return self.helper("UNDEFINED", v)
            if v is SELF:
                return self.helper("SELF", v)
            return self.helper(getattr(v, "__name__", "_c"), v)
        if self.reverse_mode and o.id in self.rev_names:
            return self.rev_names[o.id]
        return self.inline_expr.get(o.id) or self.names[o.id]

    def bare(self, o) -> str:
        e = self.expr(o)
        if isinstance(o, ir.Value) and o.id in self.inline_expr and e.startswith("(") and e.endswith(")"):
            return e[1:-1]
        return e

    def zero(self, v: ir.Value) -> str:
        return "0.0" if self.info.type_of(v) == FLOAT else "None"

    def saved_in_loop(self, v: ir.Value) -> bool:
        return v.id in self.needs and self.layout.depth[v.id] > 0

    # ---- forward ----

    def forward(self) -> list[str]:
        self.inline_expr: dict[int, str] = {}
        self.pushed_stacks: list[ir.Value] = []
        self.popped: set[int] = set()
        self.directs: dict[str, tuple] = {}
        self.group_seen: dict[int, set] = {}
        self.group_stacks: list[str] = []
        self.last_line = None
        self.use_counts = ir.uses(self.fn.body)
        out: list[str] = []
        self._fwd_block(self.fn.body, out, 0)
        inits = [f"{st} = []" for st in self.group_stacks] + [f"{self.stack(v)} = []" for v in self.pushed_stacks]
        return inits + out

    def _push(self, v: ir.Value, out, ind):
        if self.saved_in_loop(v) and self.group_of(v) is not None:
            bid = self.layout.block_of[v.id].id
            seen = self.group_seen.setdefault(bid, set())
            seen.add(v.id)
            group = self.groups[bid]
            if len(seen) == len(group):
                st = self.group_stack(bid)
                if st not in self.group_stacks:
                    self.group_stacks.append(st)
                names = ", ".join(self.name(x) for x in group)
                out.append("    " * ind + f"{st}.append(({names}))")
            return
        if self.saved_in_loop(v):
            if v not in self.pushed_stacks:
                self.pushed_stacks.append(v)
            zipped = any(v in vs for vs in self.zipped.values())
            out.append("    " * ind + f"{self.stack(v)}.append({self.name(v)})")
            if not zipped:
                self.popped.add(v.id)

    popped: set

    def _pure(self, s) -> bool:
        if not isinstance(s, ir.Op):
            return False
        if s.kind in ("global", "tuple", "list") or (s.kind == "attr" and s.outs[0].static is not None):
            return True
        if s.kind != "call" or id(s) in self.plans and self.plans[id(s)].mode not in ("vjp",):
            return False
        static = s.static if isinstance(s.fn, ir.Value) else s.fn.value
        try:
            return static in _PURE_PRIMS or getattr(static, "__module__", None) == "math"
        except TypeError:
            return False

    def _foldable(self, s, block: ir.Block, idx: int) -> bool:
        """A nameless operator result used once, later in the same block with only pure
        operations in between and not needed by the adjoint: written inline. (Any call
        with no adjoint folds into the statement right after it.)"""
        if isinstance(s, ir.Op) and len(s.outs) == 1 and s.outs[0] is self.ret:
            return False  # the fused gradient returns it after the adjoint ran: keep a name
        if (isinstance(s, ir.Op) and s.kind == "call" and len(s.outs) == 1 and id(s) not in self.plans
                and s.outs[0].name is None and s.outs[0].id not in self.needs and not s.star
                and self.use_counts.get(s.outs[0].id) == 1):
            nxt = block.stmts[idx + 1] if idx + 1 < len(block.stmts) else block.term
            if nxt is not None and not isinstance(nxt, ir.Loop) and any(o is s.outs[0] for o in ir.operands(nxt)):
                return True
        if not isinstance(s, ir.Op) or s.kind != "call" or len(s.outs) != 1 or s.kwargs:
            return False
        if id(s) in self.plans and self.plans[id(s)].mode != "vjp":
            return False
        v = s.outs[0]
        if v.name is not None or v.id in self.needs or self.use_counts.get(v.id) != 1:
            return False
        static = s.static if isinstance(s.fn, ir.Value) else s.fn.value
        try:
            if static not in _PURE_PRIMS and getattr(static, "__module__", None) != "math":
                return False
        except TypeError:
            return False
        for nxt in block.stmts[idx + 1:] + [block.term]:
            if nxt is None:
                return False
            if any(o is v for o in ir.operands(nxt)):
                return not isinstance(nxt, ir.Loop) or nxt.iterable is v
            if not self._pure(nxt):
                return False
        return False

    def _fwd_block(self, block: ir.Block, out: list[str], ind: int, loop=None):
        pad = "    " * ind
        for idx, s in enumerate(block.stmts):
            if isinstance(s, ir.Op) and len(s.outs) == 1 and s.outs[0].id in self.reread:
                self._fwd_op(s, out, ind)
                continue
            if self._foldable(s, block, idx):
                tmp: list[str] = []
                saved_line = self.last_line
                self._fwd_op(s, tmp, 0)
                self.last_line = saved_line
                rhs = tmp[0].split(" = ", 1)[1].split("  # line")[0]
                self.inline_expr[s.outs[0].id] = f"({rhs})"
                continue
            if isinstance(s, ir.Op):
                self._fwd_op(s, out, ind)
            elif isinstance(s, ir.If):
                out.append(f"{pad}if {self.bare(s.cond)}:")
                n0 = len(out)
                self._fwd_block(s.then, out, ind + 1, loop)
                self._fwd_yield(s, s.then, out, ind + 1)
                if len(out) == n0:
                    out.append(pad + "    pass")
                m0 = len(out)
                out.append(f"{pad}else:")
                self._fwd_block(s.orelse, out, ind + 1, loop)
                self._fwd_yield(s, s.orelse, out, ind + 1)
                if len(out) == m0 + 1:
                    out.pop()
                for o in s.outs:
                    self._push(o, out, ind)
            elif isinstance(s, ir.Loop):
                self._fwd_loop(s, out, ind)
        t = block.term
        if t is not None and t.kind in ("break", "continue"):
            self._fwd_carry(loop, t.values, out, ind)
            last = loop is not None and block is loop.body
            if t.kind == "break" or not last:
                out.append(f"{pad}{t.kind}")
        elif t is not None and t.kind == "raise":
            v = t.values[0]
            out.append(f"{pad}raise" + ("" if isinstance(v, ir.Const) and v.value is None else f" {self.bare(v)}")
                       + self.line_comment(t.line, force=True))

    def _fwd_yield(self, s: ir.If, b: ir.Block, out, ind):
        if b.term is not None and b.term.kind == "yield":
            self._parallel(out, ind, [(self.name(o), self.bare(v)) for o, v in zip(s.outs, b.term.values)])

    def _parallel(self, out, ind, pairs):
        pairs = [(t, e) for t, e in pairs if t != e]
        if not pairs:
            return
        pad = "    " * ind
        targets = {t for t, _ in pairs}
        if len(pairs) == 1 or not any(any(_mentions(e, t) for t in targets) for _, e in pairs):
            for t, e in pairs:
                out.append(f"{pad}{t} = {e}")
        else:
            out.append(f"{pad}{', '.join(t for t, _ in pairs)} = {', '.join(e for _, e in pairs)}")

    def _fwd_carry(self, loop: ir.Loop, values, out, ind):
        off = 1 if loop.iterable is not None else 0
        pairs = [(self.name(a), self.expr(v)) for a, v in zip(loop.body.args[off:], values)]
        self._parallel(out, ind, pairs)

    def _fwd_loop(self, s: ir.Loop, out, ind):
        pad = "    " * ind
        self._parallel(out, ind, [(self.name(o), self.expr(v)) for o, v in zip(s.outs, s.inits)])
        count = self.counts.get(id(s))
        if count is not None:
            out.append(f"{pad}{self.name(count)} = 0")
        if s.header is not None:
            hdr: list[str] = []
            self._fwd_block(s.header, hdr, ind + 1)
            cond = self.bare(s.header.term.values[0])
            if hdr:
                out.append(f"{pad}while True:")
                out.extend(hdr)
                out.append(f"{pad}    if not {cond}:")
                out.append(f"{pad}        break")
            else:
                out.append(f"{pad}while {cond}:")
        else:
            item = s.body.args[0]
            out.append(f"{pad}for {self.name(item)} in {self.expr(s.iterable)}:" + self.line_comment(s.line))
        n0 = len(out)
        if count is not None:
            out.append(f"{pad}    {self.name(count)} += 1")
        for a in s.body.args:
            self._push(a, out, ind + 1)
        self._fwd_block(s.body, out, ind + 1, loop=s)
        if len(out) == n0:
            out.append(pad + "    pass")
        if count is not None:
            self._push(count, out, ind)
        for o in s.outs:
            self._push(o, out, ind)

    def line_comment(self, line, force: bool = False) -> str:
        if not line or (line == self.last_line and not force):
            return ""
        self.last_line = line
        return f"  # line {line}"

    def _fwd_op(self, s: ir.Op, out, ind):
        pad = "    " * ind
        k = s.kind
        plan = self.plans.get(id(s))
        outs = s.outs
        comment = self.line_comment(s.line)
        if k == "global":
            self.inline_expr[outs[0].id] = s.fn
            return
        if k == "call" and outs and outs[0].id in self.reread:
            fobj = s.fn.value
            rhs = expr_of_call(fobj, "", [self.expr(a) for a in s.args], {})
            self.inline_expr[outs[0].id] = f"({rhs})"
            return
        if k == "attr" and outs[0].static is not None:
            self.inline_expr[outs[0].id] = f"{self.expr(s.args[0])}.{s.fn}"
            return
        if k == "free":
            i = self.fn.freevars.index(s.fn)
            rhs = f"_cells[{i}].cell_contents"
        elif k == "attr" and plan is not None and plan.mode == "getattr":
            back = self.name(plan.back)
            out.append(f"{pad}{self.name(outs[0])}, {back} = _pass.getattr({self.expr(s.args[0])}, {s.fn!r})"
                       + comment)
            self._push(outs[0], out, ind)
            self._push(plan.back, out, ind)
            return
        elif k == "attr":
            rhs = f"{self.expr(s.args[0])}.{s.fn}"
        elif k == "tuple":
            items = [self.expr(a) for a in s.args]
            rhs = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        elif k == "list":
            rhs = "[" + ", ".join(self.expr(a) for a in s.args) + "]"
        elif k == "dict":
            rhs = "{" + ", ".join(f"{k_!r}: {self.expr(v)}" for k_, v in zip(s.fn, s.args)) + "}"
        elif k == "newlist":
            rhs = "[]"
        elif k == "append":
            out.append(f"{pad}{self.expr(s.args[0])}.append({self.expr(s.args[1])})" + comment)
            return
        elif k == "unpack":
            targets = ", ".join(self.name(o) for o in outs) + ("," if len(outs) == 1 else "")
            out.append(f"{pad}{targets} = {self.expr(s.args[0])}" + comment)
            for o in outs:
                self._push(o, out, ind)
            return
        elif k == "closure":
            code = self.helper(f"{s.fn.co_name.strip('<>')}_code", s.fn)
            caps = [self.expr(a) for a in s.args[2:]]
            capt = "(" + ", ".join(caps) + ("," if len(caps) == 1 else "") + ")"
            rhs = f"make_closure({code}, globals(), {self.expr(s.args[0])}, {self.expr(s.args[1])}, {capt})"
        elif k == "setitem":
            obj, idx, val = (self.expr(a) for a in s.args)
            out.append(f"{pad}_pass.setitem({obj}, {idx}, {val})" + comment)
            return
        elif k == "setattr":
            obj, val = (self.expr(a) for a in s.args)
            out.append(f"{pad}_pass.setattr({obj}, {s.fn!r}, {val})" + comment)
            return
        elif k == "method" and plan is not None and plan.mode == "mutmethod":
            obj = self.expr(s.args[0])
            args = [self.expr(a) for a in s.args[1:]]
            kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
            out.append(f"{pad}{self.name(outs[0])} = _pass.method({obj}, {s.fn!r}, {_tuple(args)}, "
                       f"{_dict(kwargs)})" + comment)
            self._push(outs[0], out, ind)
            return
        elif k == "method":
            obj = self.expr(s.args[0])
            args = [self.expr(a) for a in s.args[1:]]
            kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
            if plan is not None:
                back = self.name(plan.back)
                out.append(f"{pad}{self.name(outs[0])}, {back} = method_pullback(_pass, {obj}, {s.fn!r}, "
                           f"{_tuple(args)}, {_dict(kwargs)})" + comment)
                self._push(outs[0], out, ind)
                self._push(plan.back, out, ind)
                return
            rhs = expr_of_call(None, f"{obj}.{s.fn}", args, kwargs)
            if not outs:
                out.append(pad + rhs + comment)
                return
        else:
            assert k == "call"
            fexpr = self.expr(s.fn)
            fobj = s.fn.value if isinstance(s.fn, ir.Const) else None
            if s.star:
                a, kw = self.expr(s.args[0]), self.expr(s.args[1])
                if plan is not None and plan.mode in ("generic", "rrule"):
                    back = self.name(plan.back)
                    out.append(f"{pad}{self.name(outs[0])}, {back} = call_pullback(_pass, {fexpr}, {a}, {kw})"
                               + comment)
                    self._push(outs[0], out, ind)
                    self._push(plan.back, out, ind)
                    return
                rhs = f"{fexpr}(*{a}, **{kw})"
            else:
                args = [self.expr(a) for a in s.args]
                kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
                if plan is not None and plan.mode == "inplace":
                    op = self.helper(s.fn.value.__name__, s.fn.value)
                    out.append(f"{pad}{self.name(outs[0])} = _pass.inplace({op}, {args[0]}, {args[1]})" + comment)
                    self._push(outs[0], out, ind)
                    return
                if plan is not None and plan.mode == "guarded":
                    checks = " and ".join(f"type({self.expr(a)}) is float" for a in s.args
                                          if self.info.type_of(a) == "any")
                    fast = expr_of_call(s.fn.value, fexpr, args, {})
                    back = self.name(plan.back)
                    out.append(f"{pad}{self.name(outs[0])}, {back} = ({fast}, None) if {checks} else "
                               f"call_pullback(_pass, {fexpr}, {_tuple(args)}, None)" + comment)
                    self._push(outs[0], out, ind)
                    self._push(plan.back, out, ind)
                    return
                if plan is not None and plan.mode == "direct":
                    fn, kinds = plan.rule
                    h = self.helper(f"{fn.__name__}_pullback", _DirectCall(fn, kinds))
                    self.directs[h] = (fn, kinds)
                    back = self.name(plan.back)
                    out.append(f"{pad}{self.name(outs[0])}, {back} = {h}(_pass, {', '.join(args)})" + comment)
                    self._push(outs[0], out, ind)
                    self._push(plan.back, out, ind)
                    return
                if plan is not None and plan.mode == "generic":
                    back = self.name(plan.back)
                    out.append(f"{pad}{self.name(outs[0])}, {back} = call_pullback(_pass, {fexpr}, {_tuple(args)}, "
                               f"{_dict(kwargs)})" + comment)
                    self._push(outs[0], out, ind)
                    self._push(plan.back, out, ind)
                    return
                if plan is not None and plan.mode == "rrule":
                    rr = self.helper(f"{getattr(plan.rule.fn, '__name__', 'f')}_rrule", plan.rule.rrule)
                    back = self.name(plan.back)
                    out.append(f"{pad}{self.name(outs[0])}, {back} = {expr_of_call(None, rr, args, kwargs)}"
                               + comment)
                    self._push(outs[0], out, ind)
                    self._push(plan.back, out, ind)
                    return
                static = s.static if isinstance(s.fn, ir.Value) else fobj
                rhs = expr_of_call(static if fobj is not None or s.static is not None else None,
                                   fexpr, args, kwargs)
        if outs:
            out.append(f"{pad}{self.name(outs[0])} = {rhs}" + comment)
            for o in outs:
                self._push(o, out, ind)
        else:
            out.append(pad + rhs + comment)


_PURE_PRIMS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.neg, operator.pos, operator.lt, operator.le, operator.gt, operator.ge,
    operator.eq, operator.ne, operator.not_, operator.is_, operator.is_not, operator.getitem,
}


_OPERATOR_PRIMS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
    operator.pow, operator.matmul, operator.neg, operator.pos, operator.abs, operator.iadd,
    operator.isub, operator.imul, operator.itruediv, operator.ifloordiv, operator.imod, operator.ipow,
    operator.imatmul, operator.getitem, operator.lt, operator.le, operator.gt, operator.ge,
}

_INPLACE_PLAIN = {
    operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
    operator.itruediv: operator.truediv, operator.ifloordiv: operator.floordiv,
    operator.imod: operator.mod, operator.ipow: operator.pow, operator.imatmul: operator.matmul,
}


def _is_obj(t) -> bool:
    return isinstance(t, tuple) and t[0] == "obj"


def _mutable_type(t) -> bool:
    return t not in (FLOAT, "int", "bool", "none") and not (isinstance(t, tuple) and t[0] == "tuple")


class _DirectCall:
    """The compiled pullback of ``fn`` for argument kinds ``kinds``, found on first use.

    `transform.compiled` replaces it in the generated code's closure by the
    compiled function itself once that exists (at once for self-recursion).
    """

    __slots__ = ("fn", "kinds")

    def __init__(self, fn, kinds):
        self.fn = fn
        self.kinds = kinds

    def __call__(self, _pass, *args):
        from wengert.transform import compiled

        return compiled(self.fn, self.kinds, ()).pullback(_pass, *args)


def _rereadable(fn: ir.Function) -> set[int]:
    """Values the adjoint computes again instead of saving: globals, module attributes,
    and arithmetic on those and on constants (``-DRAG``, ``0.5 * DT``)."""
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
            if pure and all(isinstance(a, ir.Const) or a.id in out for a in s.args):
                out.add(s.outs[0].id)
    return out


def _mentions(expr: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expr) is not None


def _tuple(items) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _dict(kwargs) -> str:
    if not kwargs:
        return "None"
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in kwargs.items()) + "}"


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
            if s.kind in ("call", "method") and any(
                    info.is_active(a) and _mutable_type(info.type_of(a)) for a in s.args) and not (
                    s.kind == "call" and get_rule(s.static if isinstance(s.fn, ir.Value) else s.fn.value)):
                for a in s.args:
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
                        for t in _terms(s.body):
                            changed |= mark(t.values[i])
                changed |= _useful_block(s.body, useful, mark, info)
            if off and s.body.args[0].id in useful:
                changed |= mark(s.iterable)
    return changed


def _terms(block: ir.Block):
    for s in block.stmts:
        if isinstance(s, ir.If):
            yield from _terms(s.then)
            yield from _terms(s.orelse)
    if block.term is not None and block.term.kind in ("break", "continue"):
        yield block.term


class _Conflict(AssertionError):
    pass


class Adjoint(Generator):
    """Writes the adjoint (see the module docstring) and assembles the functions."""

    # ---- contributions ----

    def contribute(self, out, ind, state, v: ir.Value, expr: str, generic: bool, via=None) -> None:
        """Add ``expr`` to ``v``'s cotangent. ``via`` = ("item", key) or ("attr", name) when
        ``expr`` is the cotangent of ``v[key]`` / ``v.name`` rather than of ``v``."""
        var = self.bar(v)
        owner = state.get(var)
        pad = "    " * ind
        if owner is not None and owner != v.id:
            raise _Conflict(f"cotangent variable {var} is shared by two live values")
        route = self.route(v)
        if route == "buf" and v.id in self.known_floats:
            route = "ssa"  # checked to be a float on this path: never buffered
        if route == "buf":
            prev = var if owner == v.id else "None"
            name = self.expr(v)
            if via is None:
                call = f"_pass.add({name}, {prev}, {expr})"
            elif via[0] == "item":
                call = f"_pass.add_item({name}, {prev}, {via[1]}, {expr})"
            else:
                call = f"_pass.add_attr({name}, {prev}, {via[1]!r}, {expr})"
            out.append(f"{pad}{var} = {call}")
            state[var] = v.id
            return
        if via is not None:
            helper = "getitem_grad" if via[0] == "item" else "attr_grad"
            key = via[1] if via[0] == "item" else repr(via[1])
            expr = f"{helper}({expr}, {self.expr(v)}, {key})"
            generic = True
        is_float = route == "float"
        if generic and is_float:
            expr = f"nz({expr})"
        if owner is None:
            out.append(f"{pad}{var} = {expr}")
            state[var] = v.id
        else:
            out.append(f"{pad}{var} += {expr}" if is_float else f"{pad}{var} = accum({var}, {expr})")

    def _emit_contribs(self, out, ind, state, g: str, contribs) -> None:
        """Emit contributions; those to ``g``'s own variable last, combined, since they overwrite it."""
        contribs = [c if len(c) == 4 else (*c, None) for c in contribs]
        contribs = [c for c in contribs if self.is_useful(c[0])]
        # x * x: the same contribution twice is computed once, doubled
        merged = []
        for c in contribs:
            twin = next((i for i, m in enumerate(merged) if m[0] is c[0] and m[1] == c[1] and m[3] is None
                         and c[3] is None), None)
            if twin is None:
                merged.append(c)
            else:
                m = merged[twin]
                merged[twin] = (m[0], f"2 * {m[1]}" if not m[1].startswith("2 * ") else m[1], m[2], m[3]) \
                    if True else m
        contribs = merged
        later = [c for c in contribs if self.bar(c[0]) == g]
        if later and (self.route(later[0][0]) == "buf" or any(c[3] is not None for c in later)):
            # buffered cotangents are never read back from the variable: no hazard
            later = []
        for v, e, gen, via in contribs:
            if self.bar(v) != g or not later:
                self.contribute(out, ind, state, v, e, gen, via)
        if later:
            v = later[0][0]
            is_float = self.info.type_of(v) == FLOAT
            exprs = [f"nz({e})" if gen and is_float else e for _, e, gen, _ in later]
            if is_float:
                total = " + ".join(exprs)
            else:
                total = exprs[0]
                for e in exprs[1:]:
                    total = f"accum({total}, {e})"
            if any(c[0] is not v for c in later):
                raise _Conflict(f"cotangent variable {g} shared by two arguments")
            if total != g:
                out.append("    " * ind + f"{g} = {total}")
            state[g] = v.id

    # ---- blocks ----

    def _rev_block(self, block: ir.Block, out, ind, state, loops, prologue=None):
        pad = "    " * ind
        zipped = ()
        loop = self.layout.loop_of_block.get(block.id)
        if loop is not None and block is loop.body:
            zipped = self.zipped.get(id(loop), ())
        group = self.groups.get(block.id)
        if group is not None and not zipped:
            names = ", ".join(self.name(v) for v in group)
            out.append(f"{pad}{names} = {self.group_pop(block.id)}()")
        elif group is None:
            for v in self.saved_in(block):
                if v not in zipped:
                    out.append(f"{pad}{self.name(v)} = {self.pop_name(v)}()")
        if prologue is not None:
            prologue(out, ind, state)
        t = block.term
        if t is not None and t.kind in ("break", "continue"):
            self._rev_exit(t, out, ind, state, loops[-1])
        for s in reversed(block.stmts):
            if isinstance(s, ir.Op):
                self._rev_op(s, out, ind, state)
            elif isinstance(s, ir.If):
                self._rev_if(s, out, ind, state, loops)
            elif isinstance(s, ir.Loop):
                self._rev_loop(s, out, ind, state, loops)

    def group_pop(self, bid: int) -> str:
        n = self.pop_names.get(("g", bid))
        if n is None:
            n = self.pop_names[("g", bid)] = self.namer.fresh(self.group_stack(bid) + "_pop")
        return n

    def pop_name(self, v: ir.Value) -> str:
        n = self.pop_names.get(v.id)
        if n is None:
            n = self.pop_names[v.id] = self.namer.fresh(self.name(v) + "_pop")
        return n

    def _reconcile(self, states, bodies, ind):
        merged = {}
        for var in set().union(*states):
            owners = {st.get(var) for st in states}
            real = owners - {None}
            if len(real) > 1:
                raise _Conflict(f"cotangent variable {var} owned by different values on two paths")
            if not real:
                continue
            owner = real.pop()
            merged[var] = owner
            for st, body in zip(states, bodies):
                if st.get(var) is None:
                    body.append("    " * ind + f"{var} = {self.zero(self.layout.values[owner])}")
                    st[var] = owner
        return merged

    def _rev_if(self, s: ir.If, out, ind, state, loops):
        if id(s) not in self.rev_stmts:
            return
        pad = "    " * ind
        live = [o for o in s.outs if state.get(self.bar(o)) == o.id]
        states, bodies = [], []
        for b in (s.then, s.orelse):
            st = dict(state)
            for o in live:
                del st[self.bar(o)]
            lines: list[str] = []

            def prologue(lines_, ind_, st_, b=b):
                if b.term is not None and b.term.kind == "yield":
                    claims = [(o, v) for o, v in zip(s.outs, b.term.values)
                              if o in live and self.is_useful(v) and self.bar(v) == self.bar(o)]
                    for o, v in claims:
                        if self.info.type_of(v) == FLOAT and self.info.type_of(o) != FLOAT:
                            lines_.append("    " * ind_ + f"{self.bar(o)} = nz({self.bar(o)})")
                        st_[self.bar(o)] = v.id
                    for o, v in zip(s.outs, b.term.values):
                        if o in live and self.is_useful(v) and self.bar(v) != self.bar(o):
                            self.contribute(lines_, ind_, st_, v, self.bar(o), self.info.type_of(o) != FLOAT)

            self._rev_block(b, lines, ind + 1, st, loops, prologue)
            states.append(st)
            bodies.append(lines)
        merged = self._reconcile(states, bodies, ind + 1)
        then, orelse = bodies
        if not then and not orelse:
            state.clear()
            state.update(merged)
            return
        out.append(f"{pad}if {self.expr_rev(s.cond)}:")
        out.extend(then or [pad + "    pass"])
        if orelse:
            out.append(f"{pad}else:")
            out.extend(orelse)
        state.clear()
        state.update(merged)

    def expr_rev(self, o) -> str:
        return self.expr(o)

    def _carried(self, loop: ir.Loop):
        off = 1 if loop.iterable is not None else 0
        return [i for i, o in enumerate(loop.outs)
                if self.is_useful(o) or self.is_useful(loop.body.args[off + i])], off

    def _rev_exit(self, t: ir.Term, out, ind, state, loop: ir.Loop):
        """The adjoint of ``continue``/``break``: the carried cotangents (one variable per
        carried value) go to the values the terminator passed, all at once."""
        carried, off = self._carried(loop)
        args = loop.body.args[off:]
        P = {i: self.bar(loop.outs[i]) for i in carried}
        # target value -> the carried cotangent variables it receives
        targets: dict[int, list[str]] = {}
        values: dict[int, ir.Value] = {}
        for i in carried:
            z = t.values[i]
            if isinstance(z, ir.Value) and (z in args or self.is_useful(z)):
                src = P[i]
                if self.info.type_of(z) == FLOAT and self.info.type_of(loop.outs[i]) != FLOAT:
                    src = f"nz({src})"  # a carried value that may be None, into a float
                targets.setdefault(z.id, []).append(src)
                values[z.id] = z
        before = dict(state)
        assigns = []       # (variable, expression, value)
        owners: dict[str, int] = {}
        for zid, srcs in targets.items():
            z = values[zid]
            var = self.bar(z)
            is_float = self.info.type_of(z) == FLOAT
            # a value from outside the loop keeps what it had; a body argument and a
            # value of this iteration start from nothing
            outside = z not in args and before.get(var) == z.id and var not in P.values()
            terms = ([var] if outside else []) + srcs
            if is_float:
                expr = " + ".join(terms)
            else:
                expr = terms[0]
                for e in terms[1:]:
                    expr = f"accum({expr}, {e})"
            if var in owners and owners[var] != zid:
                raise _Conflict(f"cotangent variable {var} shared by two values at a loop exit")
            owners[var] = zid
            if expr != var:
                assigns.append((var, expr, z))
        for var in P.values():
            if var not in owners:
                state.pop(var, None)
        for var, zid in owners.items():
            if before.get(var) not in (None, zid) and var not in P.values():
                raise _Conflict(f"cotangent variable {var} busy at a loop exit")
            state[var] = zid
        if assigns:
            pad = "    " * ind
            if len(assigns) == 1:
                out.append(f"{pad}{assigns[0][0]} = {assigns[0][1]}")
            else:
                out.append(f"{pad}{', '.join(a[0] for a in assigns)} = {', '.join(a[1] for a in assigns)}")

    def _touched_outside(self, loop: ir.Loop) -> list[ir.Value]:
        """Useful values from outside ``loop`` that its adjoint adds to."""
        from wengert.codegen import _defined_inside

        found: dict[int, ir.Value] = {}
        for _, s in ir.walk(loop.body):
            if isinstance(s, ir.Op) and id(s) not in self.plans:
                continue
            if isinstance(s, ir.If):
                continue
            for o in ir.operands(s):
                if isinstance(o, ir.Value) and self.is_useful(o) and not _defined_inside(self.layout, o, loop):
                    found[o.id] = o
        for _, s in ir.walk(loop.body):
            if isinstance(s, ir.Loop):
                for o in s.inits:
                    if isinstance(o, ir.Value) and self.is_useful(o) and not _defined_inside(self.layout, o, loop):
                        found[o.id] = o
        return list(found.values())

    def _rev_loop(self, s: ir.Loop, out, ind, state, loops):
        if id(s) not in self.rev_stmts:
            return
        pad = "    " * ind
        carried, off = self._carried(s)
        args = s.body.args[off:]
        P = {i: self.bar(s.outs[i]) for i in carried}
        for i in carried:
            owner = state.get(P[i])
            if owner is None:
                out.append(f"{pad}{P[i]} = {self.zero(s.outs[i])}")
            elif owner != s.outs[i].id:
                raise _Conflict(f"{P[i]} busy at loop")
            state[P[i]] = s.outs[i].id
        for v in self._touched_outside(s):
            var = self.bar(v)
            owner = state.get(var)
            if owner is None:
                out.append(f"{pad}{var} = {self.zero(v)}")
                state[var] = v.id
            elif owner != v.id:
                raise _Conflict(f"{var} busy at loop")
        for lst in self.comp_lists.get(id(s), []):
            lb = self.bar(lst)
            prev = lb if state.pop(lb, None) == lst.id else "None"
            it = self.namer.fresh(self.name(lst) + "_rev")
            out.append(f"{pad}{it} = rev_items(_pass.take({self.name(lst)}, {prev}), len({self.name(lst)}))")
            self.comp_iter[lst.id] = it
        items = None
        item = s.body.args[0] if off else None
        if off and self.is_useful(item):
            items = self.namer.fresh(self.name(item) + "_bars")
            out.append(f"{pad}{items} = []")
        zipped = self.zipped.get(id(s))
        if zipped and s.body.id in self.groups:
            targets = ", ".join(self.name(v) for v in zipped)
            head = f"for {targets} in reversed({self.group_stack(s.body.id)}):"
        elif zipped:
            targets = ", ".join(self.name(v) for v in zipped)
            if len(zipped) == 1:
                head = f"for {targets} in reversed({self.stack(zipped[0])}):"
            else:
                stacks = ", ".join(f"reversed({self.stack(v)})" for v in zipped)
                head = f"for {targets} in zip({stacks}):"
        else:
            head = f"for _ in range({self.name(self.counts[id(s)])}):"
        out.append(pad + head)
        body_state = dict(state)
        for i in carried:
            body_state[P[i]] = args[i].id
        lines: list[str] = []
        self._rev_block(s.body, lines, ind + 1, body_state, loops + [s])
        for i in carried:
            if body_state.get(P[i]) is None:
                lines.append(f"{pad}    {P[i]} = {self.zero(args[i])}")
            body_state[P[i]] = args[i].id
        if items is not None:
            ib = self.bar(item)
            val = ib if body_state.get(ib) == item.id else self.zero(item)
            lines.append(f"{pad}    {items}.append({val})")
            body_state.pop(ib, None)
        out.extend(lines or [pad + "    pass"])
        for var, owner in body_state.items():
            if var not in P.values():
                state[var] = owner
        for i in carried:
            state[P[i]] = args[i].id
        for i in carried:
            init = s.inits[i]
            if isinstance(init, ir.Value) and self.is_useful(init):
                if self.bar(init) == P[i]:
                    if self.info.type_of(init) == FLOAT and self.info.type_of(s.outs[i]) != FLOAT:
                        out.append(f"{pad}{P[i]} = nz({P[i]})")  # one variable, a float from here on
                    state[P[i]] = init.id
                else:
                    del state[P[i]]
                    self.contribute(out, ind, state, init, P[i], self.info.type_of(s.outs[i]) != FLOAT)
            else:
                state.pop(P[i], None)
        if items is not None:
            self.contribute(out, ind, state, s.iterable,
                            f"iter_grad({self.expr(s.iterable)}, {items}[::-1])", True)

    # ---- operations ----

    def _rev_op(self, s: ir.Op, out, ind, state):
        plan = self.plans.get(id(s))
        if plan is None:
            return
        mode = plan.mode
        pad = "    " * ind
        if mode == "append":
            it = self.comp_iter.get(s.args[0].id)
            if it is not None:
                self.contribute(out, ind, state, s.args[1], f"{it}()", True)
            return
        if mode in ("setitem", "setattr", "mutmethod", "inplace"):
            self._rev_mutation(s, plan, out, ind, state)
            return
        if mode == "guarded":
            self._rev_guarded(s, plan, out, ind, state)
            return
        if mode == "unpack":
            bars = []
            for o in s.outs:
                b = self.bar(o)
                if state.get(b) == o.id:
                    bars.append(b)
                    del state[b]
                else:
                    bars.append("None")
            if all(b == "None" for b in bars):
                return
            tup = "(" + ", ".join(bars) + ("," if len(bars) == 1 else "") + ")"
            self.contribute(out, ind, state, s.args[0], f"unpack_grad({self.expr(s.args[0])}, {tup})", True)
            return
        y = s.outs[0]
        g = self.bar(y)
        self._take_buffered(y, out, pad, state)
        if state.get(g) != y.id:
            return
        del state[g]
        always = mode in ("generic", "method", "direct")  # the callee may have mutations to undo
        guard = self.info.type_of(y) != FLOAT and not always
        body: list[str] = []
        bind = ind + 1 if guard else ind
        st = dict(state)
        contribs = self._contribs(s, plan, g, body, bind, st)
        self._emit_contribs(body, bind, st, g, contribs)
        if guard:
            out.append(f"{pad}if {g} is not None:")
            out.extend(body or [pad + "    pass"])
            other = dict(state)
            other.pop(g, None)
            else_lines: list[str] = []
            merged = self._reconcile([st, other], [body, else_lines], ind + 1)
            if else_lines:
                out.append(f"{pad}else:")
                out.extend(else_lines)
            state.clear()
            state.update(merged)
        else:
            out.extend(body)
            state.clear()
            state.update(st)

    def _take_buffered(self, y: ir.Value, out, pad: str, state) -> None:
        """For a result whose cotangent lives in the pass's buffers: its whole cotangent,
        including what reached it by other names (an item read back from a container
        that holds y gives it back to y's own buffer: nothing is lost)."""
        if self.route(y) == "buf":
            g = self.bar(y)
            prev = g if state.get(g) == y.id else "None"
            out.append(f"{pad}{g} = _pass.take({self.expr(y)}, {prev})")
            state[g] = y.id

    def _may_broadcast(self, s: ir.Op, i: int) -> bool:
        """Can the result of ``s`` have another shape than its argument ``i``? Not when
        every other argument is a Python number (or ``i`` is the only argument)."""
        if self.info.type_of(s.args[i]) == FLOAT:
            return True  # a float against an array result: summed
        return any(self.info.type_of(a) not in (FLOAT, "int", "bool", "none")
                   for j, a in enumerate(s.args) if j != i)

    def _rev_guarded(self, s: ir.Op, plan: Plan, out, ind, state):
        """Floats took the inlined path (no pullback saved); anything else the pullback."""
        pad = "    " * ind
        y = s.outs[0]
        g = self.bar(y)
        self._take_buffered(y, out, pad, state)
        if state.get(g) != y.id:
            out.append(f"{pad}{g} = None")
        state.pop(g, None)
        back = self.name(plan.back)
        # fast branch: floats, the scalar rule inlined (when there is a cotangent)
        st_fast = dict(state)
        inner: list[str] = []
        st_inner = dict(st_fast)
        contribs = self._contribs(s, Plan("vjp", plan.rule, plan.tmpl, vjps=plan.vjps, scalar=True),
                                  g, inner, ind + 2, st_inner)
        self.known_floats = {a.id for a in s.args if isinstance(a, ir.Value)}
        self._emit_contribs(inner, ind + 2, st_inner, g, contribs)
        self.known_floats = set()
        none_lines: list[str] = []
        st_fast = self._reconcile([st_inner, dict(st_fast)], [inner, none_lines], ind + 2)
        fast = [f"{pad}    if {g} is not None:"] + (inner or [pad + "        pass"])
        if none_lines:
            fast += [f"{pad}    else:"] + none_lines
        # other values: their pullback
        st_gen = dict(state)
        gen: list[str] = []
        contribs = self._contribs(s, Plan("generic", back=plan.back), g, gen, ind + 1, st_gen)
        self._emit_contribs(gen, ind + 1, st_gen, g, contribs)
        merged = self._reconcile([dict(st_fast), st_gen], [fast, gen], ind + 1)
        out.append(f"{pad}if {back} is None:")
        out.extend(fast)
        out.append(f"{pad}else:")
        out.extend(gen or [pad + "    pass"])
        state.clear()
        state.update(merged)

    def _consume(self, y: ir.Value, state) -> str:
        """The cotangent of ``y`` as an expression, consuming its variable (``None`` if it has none)."""
        g = self.bar(y)
        if state.get(g) == y.id:
            del state[g]
            return g
        return "None"

    def _rev_mutation(self, s: ir.Op, plan: Plan, out, ind, state):
        pad = "    " * ind
        mode = plan.mode
        args = [self.expr(a) for a in s.args]
        if mode == "setitem":
            call = f"_pass.back_setitem({args[0]}, {args[1]}, {args[2]})"
            targets = [(s.args[2], None)]
        elif mode == "setattr":
            call = f"_pass.back_setattr({args[0]}, {s.fn!r}, {args[1]})"
            targets = [(s.args[1], None)]
        elif mode == "mutmethod":
            g = self._consume(s.outs[0], state)
            kwargs = {k: self.expr(v) for k, v in s.kwargs.items()}
            call = f"_pass.back_method({args[0]}, {s.fn!r}, {_tuple(args[1:])}, {_dict(kwargs)}, {g})"
            targets = [(a, i) for i, a in enumerate(s.args[1:])]
        else:  # inplace
            y = s.outs[0]
            g = self._consume(y, state)
            op = self.helper(s.fn.value.__name__, s.fn.value)
            call = f"_pass.back_op({op}, {args[0]}, {args[1]}, {self.name(y)}, {g})"
            targets = [(s.args[0], 0), (s.args[1], 1)]
        useful = [(a, i) for a, i in targets if self.is_useful(a)]
        if not useful:
            out.append(pad + call)
            return
        if len(targets) == 1:
            i = useful[0][1]
            self.contribute(out, ind, state, useful[0][0], call if i is None else f"{call}[{i}]", True)
            return
        d = self.namer.fresh("_dm")
        out.append(f"{pad}{d} = {call}")
        for a, i in useful:
            self.contribute(out, ind, state, a, f"{d}[{i}]", True)

    def _contribs(self, s: ir.Op, plan: Plan, g: str, out, ind, state):
        pad = "    " * ind
        mode = plan.mode
        y = s.outs[0]
        if mode == "vjp":
            res = []
            for i, t in enumerate(plan.tmpl):
                if t is None:
                    continue
                if plan.rule.fn is operator.getitem and i == 0 and not plan.scalar:
                    res.append((s.args[0], g, True, ("item", self.expr(s.args[1]))))
                    continue
                mapping = {t.params[0]: g, t.params[1]: self.name(y)}
                for j, a in enumerate(s.args):
                    mapping[t.params[2 + j]] = self.expr(a)
                for k, v in s.kwargs.items():
                    mapping[k] = self.expr(v)
                e = instantiate(t, mapping, self.helper)
                a = s.args[i]
                c = s.args[1] if len(s.args) == 2 else None
                if (plan.rule.fn in (operator.pow, operator.ipow) and i == 0 and isinstance(c, ir.Const)
                        and type(c.value) in (int, float) and c.value >= 1):
                    # x ** c with a constant c >= 1: c * x ** (c - 1), written out
                    k = c.value
                    e = g if k == 1 else (f"{g} * {k!r} * {self.expr(a)}" if k == 2
                                          else f"{g} * {k!r} * {self.expr(a)} ** {k - 1!r}")
                if plan.rule.broadcast and not plan.scalar and self._may_broadcast(s, i):
                    e = f"unbroadcast({e}, {self.expr(a)})"
                res.append((a, e, self.info.type_of(y) != FLOAT and self.info.type_of(a) == FLOAT))
            return res
        if mode == "vjpcall":
            res = []
            args = [self.expr(a) for a in s.args]
            kw = [f"{k}={self.expr(v)}" for k, v in s.kwargs.items()]
            for i, a in enumerate(s.args):
                vjp = plan.vjps[i] if i < len(plan.vjps) else None
                if vjp is None:
                    continue
                h = self.helper(f"{getattr(plan.rule.fn, '__name__', 'f')}_vjp{i}", vjp)
                e = f"{h}({', '.join([g, self.name(y)] + args + kw)})"
                if plan.rule.broadcast and not plan.scalar:
                    e = f"unbroadcast({e}, {self.expr(a)})"
                res.append((a, e, True))
            return res
        if mode == "rrule":
            d = self.namer.fresh("_d")
            out.append(f"{pad}{d} = {self.name(plan.back)}({g})")
            return [(a, f"{d}[{i}]", True) for i, a in enumerate(s.args)]
        if mode == "direct":
            d = self.namer.fresh("_d")
            out.append(f"{pad}_, {d} = {self.name(plan.back)}({g})")
            return [(a, f"{d}[{i}]", True) for i, a in enumerate(s.args)]
        if mode in ("generic", "method"):
            f, a_, k_ = self.namer.fresh("_df"), self.namer.fresh("_da"), self.namer.fresh("_dk")
            out.append(f"{pad}{f}, {a_}, {k_} = {self.name(plan.back)}({g})")
            res = []
            if mode == "method":
                res.append((s.args[0], f, True))
                args = s.args[1:]
            else:
                if isinstance(s.fn, ir.Value):
                    res.append((s.fn, f, True))
                args = s.args
            if s.star:
                res.append((s.args[0], a_, True))
                res.append((s.args[1], k_, True))
                return res
            res += [(a, f"{a_}[{i}]", True) for i, a in enumerate(args)]
            res += [(v, f"{k_}[{k!r}]", True) for k, v in s.kwargs.items()]
            return res
        if mode == "attr":
            return [(s.args[0], g, True, ("attr", s.fn))]
        if mode == "getattr":
            obj = s.args[0]
            prev = self.bar(obj) if state.get(self.bar(obj)) == obj.id else "None"
            if self.is_useful(obj):
                out.append(f"{pad}{self.bar(obj)} = _pass.back_getattr({self.expr(obj)}, {prev}, {s.fn!r}, "
                           f"{self.name(plan.back)}, {g})")
                state[self.bar(obj)] = obj.id
            return []
        if mode in ("tuple", "list"):
            return [(a, f"{g}[{i}]", True) for i, a in enumerate(s.args)]
        if mode == "dict":
            return [(v, f"{g}.get({k!r})", True) for k, v in zip(s.fn, s.args)]
        if mode == "closure":
            names = s.fn.co_freevars
            return [(a, f"{g}.get({n!r})", True) for n, a in zip(names, s.args[2:])]
        if mode == "free":
            out.append(f"{pad}self_bar[{s.fn!r}] = accum(self_bar.get({s.fn!r}), {g})")
            self.uses_self_bar = True
            return []
        raise AssertionError(mode)

    # ---- assembling ----

    def generate(self):
        self.plan()
        self.pop_names: dict[int, str] = {}
        self.comp_iter: dict[int, str | None] = {}
        self.uses_self_bar = False
        fwd = self.forward()
        ret = self.ret
        state: dict = {}
        if self.is_useful(ret):
            retbar = self.bar(ret)
            state[retbar] = ret.id
        else:
            retbar = self.namer.fresh("_y_bar")
        rev: list[str] = []
        self.reverse_mode = True
        self._rev_block(self.fn.body, rev, 0, state, [])
        self.reverse_mode = False
        results = []
        for p in self.fn.params:
            b = self.bar(p)
            if self.is_useful(p) and self.route(p) == "buf":
                prev = b if state.get(b) == p.id else "None"
                results.append(f"_pass.take({self.name(p)}, {prev})")
            elif self.is_useful(p) and state.get(b) == p.id:
                results.append(b)
            elif self.info.is_active(p):
                results.append(self.zero(p))
            else:
                results.append("None")
        iters = []
        for key, pop in self.pop_names.items():
            st = self.group_stack(key[1]) if isinstance(key, tuple) else self.stack(self.layout.values[key])
            iters.append(f"{pop} = reversed({st}).__next__")
        head = []
        if self.is_useful(ret) and self.route(ret) == "buf":
            # the cotangent handed in joins the returned object's buffer, where the
            # adjoints of its mutations look for it
            head.append(f"{retbar} = _pass.add({self.expr(ret)}, None, {retbar})")
        if self.uses_self_bar:
            head.append("self_bar = {}")
        self_expr = "self_bar or None" if self.uses_self_bar else "None"
        grads = "(" + ", ".join(results) + ("," if len(results) == 1 else "") + ")"
        params = ["_pass"] + [self.name(p) for p in self.fn.params]
        if self.fn.freevars:
            params.append("_cells")
        fname = self.fn.name if self.fn.name.isidentifier() else "f"
        ret_expr = self.expr(ret)
        pb = [f"def {fname}_pullback({', '.join(params)}):"]
        pb += _ind(fwd, 1)
        pb.append(f"    def {fname}_back({retbar}):")
        if self.is_useful(ret) and self.info.type_of(ret) == FLOAT:
            head.insert(0, f"if {retbar} is None:\n    {retbar} = 0.0")
        pb += _ind(iters + "\n".join(head).splitlines() + rev, 2)
        pb.append(f"        return {self_expr}, {grads}")
        pb.append(f"    return {ret_expr}, {fname}_back")
        fused = [f"def {fname}_grad({', '.join(params + [retbar + '=1.0'])}):"]
        fused += _ind(fwd + iters + [h for h in head if not h.startswith("if ")] + rev, 1)
        fused.append(f"    return {ret_expr}, {self_expr}, {grads}")
        return "\n".join(pb) + "\n", "\n".join(fused) + "\n", f"{fname}_pullback", f"{fname}_grad"


def _ind(lines, n):
    pad = "    " * n
    return [pad + line for line in lines]
