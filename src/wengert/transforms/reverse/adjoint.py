"""The adjoint pass of generated gradients, and the assembled functions.

`Adjoint` writes, for the plan of `reverse.Generator`, the reverse program: each
block backwards, loops as loops over the saved tuples, cotangent variables assigned
by their first contribution and added to by the others (see `reverse` for the
scheme), then assembles ``<f>_pullback`` (forward pass and a nested ``<f>_back``)
and the fused ``<f>_grad``.
"""

from __future__ import annotations

import operator

from wengert import ir
from wengert.frontend.expressions import SELF
from wengert.ir.activity import FLOAT, field_kind
from wengert.transforms.inline import instantiate
from wengert.backend.emit import _dict, _tuple
from wengert.transforms.reverse.primal import Primal
from wengert.transforms.reverse.plan import Plan, _may_write, _plain_tuple

class _Conflict(AssertionError):
    pass


class Adjoint(Primal):
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
        h = self.handles.get(v.id) if via is not None else None
        if route == "buf" and h is not None and (
                self.float_field(v, via[1]) if via[0] == "attr" else self.info.type_of(v) == ("dict", FLOAT)):
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

    def _open_handles(self, block: ir.Block, zipped, out, pad) -> list:
        """Records whose float fields get cotangents here hold their buffer in a local
        (``p_h = _pass.handle(p)``) for the span of this block's adjoint: a field's
        cotangent is then a dict update, not a call (`contribute`, `_rev_mutation`)."""
        if block is self.fn.body:
            avail = [self.layout.values[vid] for vid in sorted(self.needs) if self.layout.depth.get(vid) == 0]
            avail += [p for p in self.fn.params if p.id not in self.needs]
        else:
            avail = list(zipped) + [v for v in self.saved_in(block) if v not in zipped]
        opened = []
        for v in avail:
            t = self.info.type_of(v)
            if (v.id in self.handles or v.id not in self.field_owners or self.route(v) != "buf"
                    or self.info.kinds_unsure or not (isinstance(t, tuple) and t[0] == "obj" or t == ("dict", FLOAT))):
                continue
            h = self.handles[v.id] = self.namer.fresh(f"{self.name(v)}_h")
            out.append(f"{pad}{h} = _pass.handle({self.name(v)})")
            opened.append(v.id)
        return opened

    def float_field(self, v: ir.Value, name: str) -> bool:
        t = self.info.type_of(v)
        return (not self.info.kinds_unsure and isinstance(t, tuple) and t[0] == "obj"
                and field_kind(t, name) == FLOAT)

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
        out.append(f"{pad}if {self.expr(s.cond)}:")
        out.extend(then or [pad + "    pass"])
        if orelse:
            out.append(f"{pad}else:")
            out.extend(orelse)
        state.clear()
        state.update(merged)

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
        from wengert.backend.emit import _defined_inside

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
            if _plain_tuple(self.info.type_of(s.args[0])):
                self.contribute(out, ind, state, s.args[0], tup, True)
            else:
                self.contribute(out, ind, state, s.args[0], f"unpack_grad({self.expr(s.args[0])}, {tup})", True)
            return
        y = s.outs[0]
        g = self.bar(y)
        self._take_buffered(s, y, out, pad, state)
        if state.get(g) != y.id:
            if not (mode in ("generic", "method", "direct") and _may_write(s, self.info)):
                return
            # issue 10: a callee that wrote active values where the caller reads them (a global
            # dict: put(x) doing D["k"] = x) hands their cotangents back though its own result
            # (None) has none
            out.append(f"{pad}{g} = None")
            state[g] = y.id
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

    def _take_buffered(self, s: ir.Op, y: ir.Value, out, pad: str, state) -> None:
        """For a result whose cotangent lives in the pass's buffers: its whole cotangent,
        including what reached it by other names (an item read back from a container
        that holds y gives it back to y's own buffer: nothing is lost). When no operand
        of ``s`` takes a cotangent (an object read from a container that is not
        differentiated), the buffer stays: the object lives on, and other names for it
        (read earlier, written earlier) find their cotangents there."""
        if not any(self.is_useful(a) for a in (*s.args, *s.kwargs.values())) and not (
                s.kind == "call" and self.is_useful(s.fn)):
            return
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
        # "none" covers integer arrays (not differentiated, but they broadcast)
        return any(self.info.type_of(a) not in (FLOAT, "int", "bool") and not (
            isinstance(a, ir.Const) and a.value is None) for j, a in enumerate(s.args) if j != i)

    def _rev_guarded(self, s: ir.Op, plan: Plan, out, ind, state):
        """Floats took the inlined path (no pullback saved); anything else the pullback."""
        pad = "    " * ind
        y = s.outs[0]
        g = self.bar(y)
        self._take_buffered(s, y, out, pad, state)
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
            h = self.handles.get(s.args[0].id) if isinstance(s.args[0], ir.Value) else None
            if self.float_field_write(s):
                call = f"{h}.pop({s.fn!r}, 0.0)" if h is not None else f"_pass.pop_attr({args[0]}, {s.fn!r})"
            else:
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
            # the callee was compiled for these kinds: a float parameter's cotangent is a float
            return [(a, f"{d}[{i}]", self.info.type_of(a) != FLOAT) for i, a in enumerate(s.args)]
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
            selves = tuple(n for n, a in zip(names, s.args[2:]) if isinstance(a, ir.Const) and a.value is SELF)
            if selves:  # a recursive nested function: its calls of itself hand back what they captured
                out.append(f"{pad}{g} = fold_self({g}, {selves!r})")
            return [(a, f"{g}.get({n!r})", True) for n, a in zip(names, s.args[2:])]
        if mode == "free":
            out.append(f"{pad}self_bar[{s.fn!r}] = accum(self_bar.get({s.fn!r}), {g})")
            self.uses_self_bar = True
            return []
        raise AssertionError(mode)

    # ---- assembling ----

    def generate(self):
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
        self.reverse_mode = True
        self._rev_block(self.fn.body, rev, 0, state, [])
        self.reverse_mode = False
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
