"""Adjoints that read or write the pass's buffers: records and undone mutations.

Mixed into `adjoint.Adjoint`. A value routed ``buf`` (objects that may be mutated
or reached under other names) keeps its cotangent in the pass's identity-keyed
buffers, not in a variable: its whole cotangent is taken back where it was made
(`_take_buffered`). Records whose float fields receive cotangents in a block
hold their buffer in a local handle for that block (`_open_handles`), so that
a field's cotangent is a dict update. Logged mutations (item and attribute
writes, mutating methods, ``x op= y`` on objects) are undone in reverse and
hand the written values their cotangents (`_rev_mutation`).
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import _dict, _tuple
from wengert.ir.activity import FLOAT
from wengert.ir.kinds import ObjKind, dict_of
from wengert.transforms.reverse.plan import Plan


class Records:
    """Buffered cotangents and mutation adjoints (see the module docstring)."""

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
                    or self.info.kinds_unsure or not (isinstance(t, ObjKind) or t == dict_of(FLOAT))):
                continue
            h = self.handles[v.id] = self.namer.fresh(f"{self.name(v)}_h")
            out.append(f"{pad}{h} = _pass.handle({self.name(v)})")
            opened.append(v.id)
        return opened

    def float_field(self, v: ir.Value, name: str) -> bool:
        t = self.info.type_of(v)
        return not self.info.kinds_unsure and isinstance(t, ObjKind) and t.field(name) == FLOAT

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
