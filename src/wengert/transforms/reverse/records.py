"""Adjoints that read or write the pass's buffers: records and undone mutations.

Mixed into `adjoint.Adjoint`. A value routed ``buf`` (objects that may be mutated
or reached under other names) keeps its cotangent in the pass's identity-keyed
buffers, not in a variable: its whole cotangent is taken back where it was made
(`take_buffered`). Records whose float fields receive cotangents in a block
hold their buffer in a local handle for that block (`_open_handles`), so that
a field's cotangent is a dict update. Logged mutations (item and attribute
writes, mutating methods, ``x op= y`` on objects) are undone in reverse and
hand the written values their cotangents (`plans.Mutation.emit_adjoint`).
"""

from __future__ import annotations

from wengert import ir
from wengert.ir.activity import FLOAT
from wengert.ir.kinds import ObjKind, dict_of


class Records:
    """Buffered cotangents and mutation adjoints (see the module docstring)."""

    def _open_handles(self, block: ir.Block, zipped, out, pad) -> list:
        """Records whose float fields get cotangents here hold their buffer in a local
        (``p_h = _pass.handle(p)``) for the span of this block's adjoint: a field's
        cotangent is then a dict update, not a call (`contribute`, `plans.SetAttr`)."""
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

    def take_buffered(self, s: ir.Op, y: ir.Value, out, pad: str, state) -> None:
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

    def consume(self, y: ir.Value, state) -> str:
        """The cotangent of ``y`` as an expression, consuming its variable (``None`` if it has none)."""
        g = self.bar(y)
        if state.get(g) == y.id:
            del state[g]
            return g
        return "None"
