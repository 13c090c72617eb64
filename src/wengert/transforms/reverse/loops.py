"""The adjoint of a structured loop: a loop over what the forward pass saved.

Mixed into `adjoint.Adjoint`. Each carried value has one cotangent variable,
carried backwards through the reversed iterations; ``continue``/``break`` hand
the carried cotangents to the values the terminator passed (`_rev_exit`). The
reversed loop runs over the saved tuples (or zipped stacks) of its body, or
``range(count)`` when nothing at its top level is saved. Comprehension lists
appended to in the loop are read back item by item (`rev_items`), and the
cotangents of a ``for`` loop's items are gathered and handed to its iterable.
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import _defined_inside
from wengert.ir.activity import FLOAT
from wengert.transforms.reverse.plan import _Conflict


class Loops:
    """Loop adjoints (see the module docstring); uses `Adjoint`'s blocks and contributions."""

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
