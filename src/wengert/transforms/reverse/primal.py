"""The forward pass of generated gradients: the primal program, plus pushes.

`Primal` extends the planning of `reverse.Generator` with naming helpers and the
emission of the forward pass as Python source: the user's program as it is (loops
as loops, operators infix, globals read by name), with each saved value pushed
(one tuple per run of a block that saves several), pullback closures kept where a
call could not be inlined (written by the op's plan, `plans.Plan.emit_primal`), and
single-use pure temporaries folded into the expression that uses them.
"""

from __future__ import annotations

import contextlib

from wengert import ir
from wengert.ir.activity import FLOAT
from wengert.ir.kinds import NUMBERS, ObjKind
from wengert.backend.emit import HelperNames, _mentions, expr_of_call, write_if
from wengert.transforms.reverse.plan import Generator
from wengert.transforms.reverse.useful import _PURE_PRIMS


class Primal(Generator, HelperNames):
    """Naming helpers and the forward pass (see the module docstring)."""

    in_adjoint = False  # only within `writing_adjoint`

    @contextlib.contextmanager
    def writing_adjoint(self):
        """The scope in which the adjoint pass is written: a value popped there is read
        under its own name (`rev_names`), and every top-level statement of the forward
        pass has run (`bound`). Planning and the forward pass are written outside it."""
        self.in_adjoint = True
        try:
            yield
        finally:
            self.in_adjoint = False

    def name(self, v: ir.Value) -> str:
        if self.in_adjoint and v.id in self.rev_names:
            return self.rev_names[v.id]
        return self.names[v.id]

    def bound(self, v: ir.Value) -> bool:
        return self.in_adjoint  # the adjoint runs after the whole forward pass

    def bar(self, v: ir.Value) -> str:
        # one cotangent variable per Python variable and kind: a float's (zero 0.0) is
        # never the variable of a value whose cotangent may be None
        n = self.names[v.id]
        key = (n, self.info.type_of(v) == FLOAT)
        b = self.bars.get(key)
        if b is None:
            b = self.bars[key] = self.namer.fresh(n + "_bar")
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

    def expr(self, o) -> str:
        if isinstance(o, ir.Const):
            return self.const_expr(o.value)
        if self.in_adjoint and o.id in self.rev_names:
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
        self.impure_inline: set[int] = set()
        self.pushed_stacks: list[ir.Value] = []
        self.directs: dict[str, tuple] = {}
        self.group_seen: dict[int, set] = {}
        self.group_stacks: list[str] = []
        self.last_line = None
        self.use_counts = ir.uses(self.fn.body)
        out: list[str] = []
        self._fwd_block(self.fn.body, out, 0)
        inits = [f"{st} = []" for st in self.group_stacks] + [f"{self.stack(v)} = []" for v in self.pushed_stacks]
        return inits + out

    def push(self, v: ir.Value, out, ind):
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
            out.append("    " * ind + f"{self.stack(v)}.append({self.name(v)})")

    def _pure(self, s) -> bool:
        if not isinstance(s, ir.Op):
            return False
        if s.kind in ("global", "tuple", "list") or (s.kind == "attr" and s.outs[0].static is not None):
            return True
        if s.kind != "call" or id(s) in self.plans and not self.plans[id(s)].foldable:
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
        if id(s) in self.plans and not self.plans[id(s)].foldable:
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
                if not self._pure(s):
                    self.impure_inline.add(s.outs[0].id)
                continue
            if isinstance(s, ir.Op):
                self._fwd_op(s, out, ind)
            elif isinstance(s, ir.If):
                def branch(b, s=s):
                    self._fwd_block(b, out, ind + 1, loop)
                    self._fwd_yield(s, b, out, ind + 1)

                head = f"{pad}if {self.bare(s.cond)}:"
                at = write_if(out, pad, head, lambda: branch(s.then), lambda: branch(s.orelse))
                if out[at:] == [head, pad + "    pass"] and self._idle_test(s.cond):
                    del out[at:]  # `if c: pass`, and testing c can neither fail nor act
                for o in s.outs:
                    self.push(o, out, ind)
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

    def _idle_test(self, c) -> bool:
        """Is ``if c:`` free of effects? A number's truth cannot fail (an array's can), and
        ``c`` must not be a call written inline that does something."""
        if isinstance(c, ir.Const):
            return True
        return self.info.type_of(c) in NUMBERS and c.id not in self.impure_inline

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
            self.push(a, out, ind + 1)
        self._fwd_block(s.body, out, ind + 1, loop=s)
        if len(out) == n0:
            out.append(pad + "    pass")
        if count is not None:
            self.push(count, out, ind)
        for o in s.outs:
            self.push(o, out, ind)

    def float_field_write(self, s: ir.Op) -> bool:
        """``o.x = v`` with float ``v`` into a field known to hold floats: written plainly,
        not logged. Nothing reads a float field back in the adjoint (the values it needs
        are saved), so it needs no undo; its cotangent slot is taken as usual."""
        t = self.info.type_of(s.args[0])
        # (no call here may log a write to the same field, which a redo would replay over this one)
        return (not self.info.kinds_unsure and not self.info.effectful and isinstance(t, ObjKind)
                and t.field(s.fn) == FLOAT and self.info.type_of(s.args[1]) == FLOAT
                and s.fn.isidentifier() and not s.fn.startswith("__"))

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
        if plan is not None and plan.emit_primal(self, s, out, ind, comment):
            return  # the plan writes it (a pullback kept beside the result, a logged change)
        if k == "free":
            i = self.fn.freevars.index(s.fn)
            rhs = f"_cells[{i}].cell_contents"
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
                self.push(o, out, ind)
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
            if self.float_field_write(s):
                out.append(f"{pad}{obj}.{s.fn} = {val}" + comment)
            else:
                out.append(f"{pad}_pass.setattr({obj}, {s.fn!r}, {val})" + comment)
            return
        elif k == "method":
            obj = self.expr(s.args[0])
            args = [self.expr(a) for a in s.args[1:]]
            kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
            rhs = expr_of_call(None, f"{obj}.{s.fn}", args, kwargs)
            if not outs:
                out.append(pad + rhs + comment)
                return
        else:
            assert k == "call"
            fexpr = self.expr(s.fn)
            fobj = s.fn.value if isinstance(s.fn, ir.Const) else None
            if s.star:
                rhs = f"{fexpr}(*{self.expr(s.args[0])}, **{self.expr(s.args[1])})"
            else:
                args = [self.expr(a) for a in s.args]
                kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
                static = s.static if isinstance(s.fn, ir.Value) else fobj
                rhs = expr_of_call(static if fobj is not None or s.static is not None else None,
                                   fexpr, args, kwargs)
        if outs:
            out.append(f"{pad}{self.name(outs[0])} = {rhs}" + comment)
            for o in outs:
                self.push(o, out, ind)
        else:
            out.append(pad + rhs + comment)
