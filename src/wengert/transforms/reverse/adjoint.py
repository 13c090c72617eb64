"""The adjoint pass of generated gradients, and the assembled functions.

`Adjoint` writes, for the plan of `plan.Generator`, the reverse program: each
block backwards, each operation's adjoint written by its plan (`plans.Plan.emit_adjoint`),
cotangent variables assigned by their first contribution and added to by the others
(see `plan` for the scheme), then assembles
``<f>_pullback`` (forward pass and a nested ``<f>_back``) and the fused
``<f>_grad``. Loops are written by `loops.Loops`, buffered cotangents and undone
mutations by `records.Records`; the forward pass by `primal.Primal`.
"""

from __future__ import annotations

import operator

from wengert import ir
from wengert.backend.emit import same_code
from wengert.ir.activity import FLOAT
from wengert.ir.kinds import NUMBERS, dict_of
from wengert.transforms.reverse.primal import Primal
from wengert.transforms.reverse.loops import Loops
from wengert.transforms.reverse.plan import _Conflict
from wengert.transforms.reverse.plans import _numbers
from wengert.transforms.reverse.records import Records


class _Retry(Exception):
    """A branch planned without its saved condition got two different adjoints."""


class Adjoint(Loops, Records, Primal):
    """Writes the adjoint (see the module docstring) and assembles the functions."""

    # ---- contributions ----

    def contribute(self, out, ind, state, v: ir.Value, expr: str, generic: bool, via=None,
                   floats=frozenset()) -> None:
        """Add ``expr`` to ``v``'s cotangent. ``via`` = ("item", key) or ("attr", name) when
        ``expr`` is the cotangent of ``v[key]`` / ``v.name`` rather than of ``v``; ``floats``:
        ids of values checked to be floats where this code runs (never buffered there)."""
        var = self.bar(v)
        owner = state.get(var)
        pad = "    " * ind
        if owner is not None and owner != v.id:
            raise _Conflict(f"cotangent variable {var} is shared by two live values")
        route = self.route(v)
        if route == "buf" and v.id in floats:
            route = "ssa"  # checked to be a float on this path: never buffered
        h = self.handles.get(v.id) if via is not None else None
        if route == "buf" and h is not None and (
                self.float_field(v, via[1]) if via[0] == "attr" else self.info.type_of(v) == dict_of(FLOAT)):
            if owner is None:
                out.append(f"{pad}{var} = None")
                state[var] = v.id
            key = repr(via[1]) if via[0] == "attr" else via[1]
            out.append(f"{pad}{h}[{key}] = {h}.get({key}, 0.0) + {expr}")
            return
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

    def emit_contribs(self, out, ind, state, g: str, contribs, floats=frozenset()) -> None:
        """Emit contributions; those to ``g``'s own variable last, combined, since they overwrite it.
        ``floats``: as for `contribute`."""
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
                self.contribute(out, ind, state, v, e, gen, via, floats)
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
        opened = self._open_handles(block, zipped, out, pad)
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
        for vid in opened:
            del self.handles[vid]

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

    def reconcile(self, states, bodies, ind):
        merged = {}
        for var in dict.fromkeys(v for st in states for v in st):  # first-claim order: same code every run
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
                        st_[self.bar(o)] = v.id
                    for o, v in zip(s.outs, b.term.values):
                        if o in live and self.is_useful(v) and self.bar(v) != self.bar(o):
                            self.contribute(lines_, ind_, st_, v, self.bar(o), self.info.type_of(o) != FLOAT)

            self._rev_block(b, lines, ind + 1, st, loops, prologue)
            states.append(st)
            bodies.append(lines)
        merged = self.reconcile(states, bodies, ind + 1)
        then, orelse = bodies
        inner = pad + "    "
        if all(line.startswith(inner) for line in then) and same_code(then, orelse, set(merged)):
            # both branches' adjoints are the same code (or none; or the same up to the names
            # of their own temporaries): it runs whichever way the forward pass went, and the
            # condition need not be saved (see `generate`)
            self.collapsed.add(id(s))
            out.extend(pad + line[len(inner):] for line in then)
            state.clear()
            state.update(merged)
            return
        if id(s) in self.uncond:
            raise _Retry  # planned without its condition, but its branches' adjoints now differ
        out.append(f"{pad}if {self.expr(s.cond)}:")
        out.extend(then or [pad + "    pass"])
        if orelse:
            out.append(f"{pad}else:")
            out.extend(orelse)
        state.clear()
        state.update(merged)

    # ---- operations ----

    def _rev_op(self, s: ir.Op, out, ind, state):
        plan = self.plans.get(id(s))
        if plan is not None:
            plan.emit_adjoint(self, s, out, ind, state)

    def may_broadcast(self, s: ir.Op, i: int) -> bool:
        """Can the result of ``s`` have another shape than its argument ``i``? Not when
        every other argument is a Python number (or ``i`` is the only argument)."""
        if _numbers(s, self.info):
            return False  # numbers only: the result is a number
        if self.info.type_of(s.args[i]) == FLOAT:
            return True  # a float against an array result: summed
        # "none" covers integer arrays (not differentiated, but they broadcast)
        return any(self.info.type_of(a) not in NUMBERS and not (
            isinstance(a, ir.Const) and a.value is None) for j, a in enumerate(s.args) if j != i)

    # ---- assembling ----

    def generate(self):
        """Sources and names of ``<f>_pullback`` and ``<f>_grad``.

        A branch whose two adjoints came out the same needs no saved condition: the
        functions are planned again without it (`plan.Generator.uncond`), which also
        lets the forward pass write the condition inline. Should the second plan not
        give the same adjoints for those branches, the first result stands.
        """
        first = self._generate()
        redo = {sid for sid in self.collapsed - self.uncond
                if isinstance(self.cond_of[sid], ir.Value) and self.cond_of[sid].id in self.needs}
        if not redo:
            return first
        again = type(self)(self.fn, self.info, uncond=self.uncond | redo)
        try:
            result = again.generate()
        except _Retry:
            return first
        self.__dict__.update(again.__dict__)
        return result

    def _generate(self):
        self.plan()
        self.handles: dict[int, str] = {}
        # records read or written field by field here: candidates for a buffer handle
        self.field_owners = {st.args[0].id for _, st in ir.walk(self.fn.body) if isinstance(st, ir.Op)
                             and (st.kind in ("attr", "setattr", "setitem") or st.kind == "call" and isinstance(
                                 st.fn, ir.Const) and st.fn.value is operator.getitem)
                             and st.args and isinstance(st.args[0], ir.Value)}
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
        with self.writing_adjoint():
            self._rev_block(self.fn.body, rev, 0, state, [])
        results = []
        # parameters not differentiated take nothing: an object that is also reached
        # through a differentiated one keeps its whole cotangent for that one
        for p in self.fn.params:
            b = self.bar(p)
            if p.id in self.info.const_params and self.route(p) == "buf":
                results.append("None")
            elif self.is_useful(p) and self.route(p) == "buf":
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
