"""The forward generator's core: `TangentWriter` names values and their tangents and writes the
function, its blocks, branches and loops; each operation is written by the mixins (values
and containers: `structures.Structures`; calls: `calls.Calls`; the linear forms of
generated adjoint code's helpers, for forward over reverse: `linear.Linear`).

Loops stay loops and branches stay branches: a value carried around a loop or merged
after a branch carries its tangent with it (``x, x_dot = ...`` at each ``yield``,
``continue`` and ``break``); a ``for`` loop over a value with a tangent walks both in step.
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import HelperNames, Layout, Namer, _mentions, assign_names, expr_of_call, write_if
from wengert.ir.activity import FLOAT, Info
from wengert.ir.kinds import ListKind, TupleKind
from wengert.runtime.tangents import RUNTIME_HELPERS
from wengert.transforms.forward.calls import Calls
from wengert.transforms.forward.common import _NUMS, _OPERATORS, _filled, _ident
from wengert.transforms.forward.linear import Linear
from wengert.transforms.forward.structures import Structures


class TangentWriter(Structures, Calls, Linear, HelperNames):
    """Writes the tangent program of one function for one signature."""

    def __init__(self, fn: ir.Function, info: Info):
        self.fn = fn
        self.info = info
        self.layout = Layout(fn)
        reserved = set(RUNTIME_HELPERS) | {k for k in fn.globals_resolved if isinstance(k, str)}
        reserved |= {"_cells", "_cells_dot"}
        self.names = assign_names(fn, self.layout, reserved, set())
        self.namer = Namer(set(self.names.values()) | reserved)
        self.dots: dict[str, str] = {}
        self.helpers: dict[str, object] = dict(RUNTIME_HELPERS)
        self.helper_ids: dict[int, str] = {}
        self.inline: dict[int, str] = {}
        self.last_line = None
        self.uses = ir.uses(fn.body)
        self.directs: dict[str, tuple] = {}
        self.written: set[int] = set()  # values of the top-level statements written so far

    # ---- names and expressions ----

    def name(self, v: ir.Value) -> str:
        return self.names[v.id]

    def dot(self, v: ir.Value) -> str:
        n = self.names[v.id]
        d = self.dots.get(n)
        if d is None:
            d = self.dots[n] = self.namer.fresh(n + "_dot")
        return d

    def expr(self, o) -> str:
        if isinstance(o, ir.Const):
            return self.const_expr(o.value)
        return self.inline.get(o.id) or self.names[o.id]

    def active(self, o) -> bool:
        return self.info.is_active(o)

    def type_of(self, o):
        return self.info.type_of(o)

    def tan(self, o, target=None) -> str:
        """Tangent expression of operand ``o`` where a value of type ``target`` is expected."""
        if self.active(o):
            return self.dot(o)
        t = self.type_of(o) if target is None else target
        if t in _NUMS or (isinstance(o, ir.Const) and type(o.value) in (int, float, bool)):
            return "0.0"
        if target is not None and self.type_of(o) in _NUMS:
            return "0.0"
        if target is not None and isinstance(o, ir.Value):
            return f"zero_of({self.expr(o)})"  # e.g. a module constant carried into a loop
        return "None"

    def structured(self, o) -> bool:
        """Whether ``o``'s tangent is certainly a list/tuple (not None) when it is active."""
        t = self.type_of(o)
        return isinstance(t, (ListKind, TupleKind))

    def bound(self, v: ir.Value) -> bool:
        """Has the top-level statement defining ``v`` been written above the code now being
        written? (Then ``import numpy as np`` at the top of the function keeps its name.)"""
        return v.id in self.written

    def line_comment(self, line) -> str:
        if not line or line == self.last_line:
            return ""
        self.last_line = line
        return f"  # line {line}"

    # ---- the function ----

    def generate(self) -> tuple[str, str]:
        fn = self.fn
        params = [self.name(p) for p in fn.params]
        dots = [self.dot(p) for p in fn.params]
        extra = ["_cells", "_cells_dot"] if fn.freevars else []
        body: list[str] = []
        self._block(fn.body, body, 1, None)
        ret = fn.body.term.values[0]
        body.append(f"    return {self.expr(ret)}, {self.tan(ret, self.type_of(ret))}")
        name = f"{_ident(fn.name)}_jvp"
        head = f"def {name}({', '.join(params + dots + extra)}):"
        return "\n".join([head] + body) + "\n", name

    def _block(self, block: ir.Block, out: list[str], ind: int, loop):
        pad = "    " * ind
        for s in block.stmts:
            if isinstance(s, ir.Op):
                self._op(s, out, ind)
                if block is self.fn.body:
                    self.written.update(o.id for o in s.outs)
            elif isinstance(s, ir.If):
                def branch(b, s=s):
                    self._block(b, out, ind + 1, loop)
                    self._yield(s, b, out, ind + 1)

                write_if(out, pad, f"{pad}if {self.expr(s.cond)}:" + self.line_comment(s.line),
                         lambda: branch(s.then), lambda: branch(s.orelse))
            elif isinstance(s, ir.Loop):
                self._loop(s, out, ind)
        t = block.term
        if t is not None and t.kind in ("break", "continue"):
            self._carry(loop, t.values, out, ind)
            if t.kind == "break" or block is not loop.body:
                out.append(f"{pad}{t.kind}")
        elif t is not None and t.kind == "raise":
            v = t.values[0]
            out.append(f"{pad}raise" + ("" if isinstance(v, ir.Const) and v.value is None
                                        else f" {self.expr(v)}") + self.line_comment(t.line))

    def _pairs(self, targets, values) -> list[tuple[str, str]]:
        pairs = []
        for o, v in zip(targets, values):
            pairs.append((self.name(o), self.expr(v)))
            if self.active(o):
                pairs.append((self.dot(o), self.tan(v, self.type_of(o))))
        return pairs

    def _yield(self, s: ir.If, b: ir.Block, out, ind):
        if b.term is not None and b.term.kind == "yield":
            self._parallel(out, ind, self._pairs(s.outs, b.term.values))

    def _carry(self, loop: ir.Loop, values, out, ind):
        off = 1 if loop.iterable is not None else 0
        self._parallel(out, ind, self._pairs(loop.body.args[off:], values))

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

    def _loop(self, s: ir.Loop, out, ind):
        pad = "    " * ind
        self._parallel(out, ind, self._pairs(s.outs, s.inits))
        if s.header is not None:
            hdr: list[str] = []
            cond_v = s.header.term.values[0]
            folded = self._fold_condition(s.header, cond_v)
            if folded is None:
                self._block(s.header, hdr, ind + 1, None)
            cond = folded or self.expr(cond_v)
            if hdr:
                out.append(f"{pad}while True:" + self.line_comment(s.line))
                out.extend(hdr)
                out.append(f"{pad}    if not {cond}:")
                out.append(f"{pad}        break")
            else:
                out.append(f"{pad}while {cond}:" + self.line_comment(s.line))
        else:
            item = s.body.args[0]
            it = self.expr(s.iterable)
            if self.active(item) and self.active(s.iterable):
                pairs = f"zip({it}, {self.dot(s.iterable)})" if self.structured(s.iterable) \
                    else f"iter_tangent({it}, {self.dot(s.iterable)})"
                out.append(f"{pad}for {self.name(item)}, {self.dot(item)} in {pairs}:"
                           + self.line_comment(s.line))
                if not (_filled(self.type_of(item)) and self.structured(s.iterable)):
                    self._normalise_out(item, out, pad + "    ")
            else:
                out.append(f"{pad}for {self.name(item)} in {it}:" + self.line_comment(s.line))
                if self.active(item):
                    out.append(f"{pad}    {self.dot(item)} = {self.tan(s.iterable, self.type_of(item))}")
        n0 = len(out)
        self._block(s.body, out, ind + 1, s)
        if len(out) == n0:
            out.append(pad + "    pass")

    def _fold_condition(self, header: ir.Block, cond) -> str | None:
        """``while n > 0:`` rather than a ``while True`` loop, when the header only computes
        the condition with one operator call."""
        if len(header.stmts) != 1 or not isinstance(cond, ir.Value):
            return None
        st = header.stmts[0]
        if not isinstance(st, ir.Op) or st.kind != "call" or st.outs != [cond] or st.star \
                or st.kwargs or self.active(cond) or self.uses.get(cond.id) != 1:
            return None
        static = st.static if isinstance(st.fn, ir.Value) else st.fn.value
        if static not in _OPERATORS:
            return None
        return expr_of_call(static, self.expr(st.fn), [self.expr(a) for a in st.args], {})


    def _normalise_out(self, o: ir.Value, out, pad):
        """Keep the invariant: active numbers and arrays have tangents, never None."""
        t = self.type_of(o)
        if t == FLOAT:
            out.append(f"{pad}{self.dot(o)} = nz({self.dot(o)})")
        elif self.structured(o):
            out.append(f"{pad}{self.dot(o)} = fill({self.name(o)}, {self.dot(o)})")
        elif t not in _NUMS:
            out.append(f"{pad}{self.dot(o)} = tz({self.name(o)}, {self.dot(o)})")
