"""Forward mode through generated adjoint code (forward over reverse, `wengert.dispatch.compose`).

The fused gradient wengert generates is itself transformed: its helpers (closure cells
that never change) are resolved to the objects they hold (`resolve_cells`), so calls
through them get rules, and the helpers that are linear in their cotangent arguments
(`_LINEAR_HELPERS`: ``accum``, ``unbroadcast``, ...) get their tangent by applying the same
helper to the tangents. The `Pass` the gradient receives (``_pass``, kind ``pass``) has
linear methods too: their tangents are the same methods of the tangent's own Pass
(``_pass_dot``), and a cotangent handle's slots (kind ``handle``) are read the same way.
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import expr_of_call
from wengert.errors import UnsupportedError
from wengert.ir.activity import ANY
from wengert.ir.adjoint_kinds import PASS_LINEAR
from wengert.runtime import cotangents


def generated(fn) -> bool:
    """Is ``fn`` code that wengert generated (`backend.emit.compile_source`)? Its free
    variables are the helpers it was compiled with: constants, never rebound."""
    from wengert.backend.emit import LINE_MAPS

    return fn.__code__.co_filename in LINE_MAPS


def resolve_cells(f_ir: ir.Function, fn) -> None:
    """Generated code's reads of its helpers (closure cells that never change) resolved to
    the objects they hold, as the frontend resolves globals: calls through them get the
    rules, the linear forms (`_LINEAR_HELPERS`) and the direct calls of known callees."""
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__))
    found: dict[int, object] = {}
    for _, st in ir.walk(f_ir.body):
        if isinstance(st, ir.Op) and st.kind == "free" and st.fn in cells and st.outs:
            try:
                obj = cells[st.fn].cell_contents
            except ValueError:
                continue
            st.outs[0].static = obj
            found[st.outs[0].id] = obj
    for _, st in ir.walk(f_ir.body):
        if isinstance(st, ir.Op) and st.kind == "call" and isinstance(st.fn, ir.Value) and st.fn.id in found:
            st.static = found[st.fn.id]


# Helpers of generated adjoint code that are linear in some arguments (positions), with
# ``None`` a zero there: their tangent is the same helper applied to those arguments'
# tangents, the others as they are (``accum(a, b)`` -> ``accum(a_dot, b_dot)``).
_LINEAR_HELPERS = {
    id(f): (f, pos) for f, pos in (
        (cotangents.accum, (0, 1)), (cotangents.unbroadcast, (0,)), (cotangents.nz, (0,)),
        (cotangents.getitem_grad, (0,)), (cotangents.iter_grad, (1,)), (cotangents.unpack_grad, (1,)),
        (cotangents.attr_grad, (0,)),
    )
}


class Linear:
    """The operations of generated adjoint code that are linear in their cotangents."""

    # the linear positions (cotangents) of `PASS_LINEAR` methods' arguments (after the Pass
    # itself: ``add_item(obj, bar, key, g)``); the others are structure, passed as they are
    _PASS_LINEAR_ARGS = {"add": (1, 2), "add_item": (1, 3), "add_attr": (1, 3), "take": (1,), "pop_attr": (),
                         "handle": ()}

    def _pass_method(self, s: ir.Op, a, out, pad, comment, act):
        """``_pass.add_item(x, x_bar, i, g)`` of generated adjoint code (forward over reverse):
        the same linear operation on the tangents, on the tangent's own Pass (``_pass_dot``):
        ``x_bar_dot = _pass_dot.add_item(x, x_bar_dot, i, g_dot)``."""
        obj, args = s.args[0], s.args[1:]
        if s.fn not in PASS_LINEAR or s.kwargs or not any(obj is p for p in self.fn.params):
            raise UnsupportedError(f"forward mode through _pass.{s.fn}() of generated adjoint code",
                                   self.fn.filename, s.line)
        call = expr_of_call(None, f"{self.expr(obj)}.{s.fn}", a, {})
        y = self.name(s.outs[0]) if s.outs else None
        if not (act and y is not None):
            out.append(f"{pad}{y + ' = ' if y else ''}{call}" + comment)
            return
        linear = self._PASS_LINEAR_ARGS[s.fn]
        ts = [(self.dot(x) if self.active(x) else "None") if i in linear else e
              for i, (x, e) in enumerate(zip(args, a))]
        tcall = expr_of_call(None, f"{self.dot(obj)}.{s.fn}", ts, {})
        ydot = self.dot(s.outs[0])
        if any(isinstance(x, ir.Value) and self.name(x) == y for x in args):
            tmp = self.namer.fresh("_y")
            out.append(f"{pad}{tmp} = {call}" + comment)
            out.append(f"{pad}{ydot} = {tcall}")
            out.append(f"{pad}{y} = {tmp}")
        else:
            out.append(f"{pad}{y} = {call}" + comment)
            out.append(f"{pad}{ydot} = {tcall}")
        out.append(f"{pad}{ydot} = tz({y}, {ydot})")


    def _handle_method(self, s: ir.Op, a, kw, out, pad, comment):
        """``h.get("w", None)`` on ``h = _pass.handle(obj)``, a slot of the Pass's dict of field
        cotangents: the same on the tangent Pass's dict, same slot."""
        obj, args = s.args[0], s.args[1:]
        if s.fn not in ("get", "pop") or kw or not self.active(obj):
            raise UnsupportedError(f"forward mode through .{s.fn}() of a cotangent handle",
                                   self.fn.filename, s.line)
        y = self.name(s.outs[0]) + " = " if s.outs else ""
        out.append(f"{pad}{y}{self.expr(obj)}.{s.fn}({', '.join(a)})" + comment)
        if s.outs and self.active(s.outs[0]):
            ts = a[:1] + [self.tan(x, ANY) for x in args[1:]]
            out.append(f"{pad}{self.dot(s.outs[0])} = {self.dot(obj)}.{s.fn}({', '.join(ts)})")

    def _linear_call(self, s: ir.Op, static, fexpr, args, primal, y, ydot, out, pad, comment) -> bool:
        """A helper of generated code linear in some arguments (`_LINEAR_HELPERS`): its
        tangent is the same helper applied to those arguments' tangents (False: not one)."""
        lin = _LINEAR_HELPERS.get(id(static)) if static is not None else None
        if lin is None or lin[0] is not static or s.kwargs or s.star:
            return False
        ts = [(self.tan(a) if self.active(a) else "None") if i in lin[1] else e
              for i, (a, e) in enumerate(zip(s.args, args))]
        tmp = self.namer.fresh("_y") if y in args else y
        out.append(f"{pad}{tmp} = {primal}" + comment)
        out.append(f"{pad}{ydot} = {fexpr}({', '.join(ts)})")
        if tmp != y:
            out.append(f"{pad}{y} = {tmp}")
        self._normalise_out(s.outs[0], out, pad)
        return True
