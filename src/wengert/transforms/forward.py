"""Forward mode by source transformation: IR -> tangent (jvp) code.

For one function and one argument-type signature, `Tangent` walks the same
structured SSA IR as reverse mode and writes one Python function
``<f>_jvp(x, n, x_dot, n_dot)`` returning ``(y, y_dot)``: the primal program
where every active value ``v`` is followed by its tangent ``v_dot``. Loops
stay loops and branches stay branches; nothing is stacked, since the tangent
of a value only needs values live at that point.

Contract of the generated code:

- The tangent of an active number or array is never ``None`` (inactive
  values get no tangent at all). Parameters are normalised on entry,
  structures are built with zeros for inactive numbers, and what comes out of
  structures, calls and attributes is normalised (`tangents.tz`, `nz`,
  `fill`). So rule ``jvp`` lambdas with a single-expression body are inlined
  for every type: float-typed code uses the scalar forms (``_SCALAR_JVPS``,
  else the rule's own) and runs at close to the primal's speed with no `Dual`
  objects; other code uses the general rule, spread to the output's shape
  (`tangents.bcast`) when an elementwise rule has one active argument.
- Rules with only a full ``frule`` are called as helpers. Calls to Python
  functions, methods, classes and callables without source go through
  `tangents.jvp_call` (user functions are transformed on first use, so
  recursion works).
- A function value's tangent is the tuple of its captured values' tangents,
  in the order of its free variables (Zygote's closure tangents); a user
  object's is a `runtime.Tangent` of its fields. Mutations (item and
  attribute assignment, list and dict methods) are mirrored on the tangent.
- Module-level float constants are typed as floats (and guarded), so code
  around ``DT = 0.005`` stays specialised.

`compiled_jvp(fn, kinds)` caches per code object and signature, guarded like
reverse mode's cache (`transform.Compiled.valid`).
"""

from __future__ import annotations

import builtins
import inspect
import operator
import re
import types

from wengert import ir
from wengert.errors import UnsupportedError
from wengert.ir.adjoint_kinds import HANDLE, PASS, PASS_LINEAR, NextKind
from wengert.ir.kinds import ARRAY, SCALARS, ListKind, TupleKind, list_of
from wengert.ir.activity import ANY, BOOL, FLOAT, INT, Info, analyse, kind_of, own_getitem
from wengert.runtime import cotangents
from wengert.backend.emit import (
    HelperNames,
    _dict,
    _mentions,
    _tuple,
    INFIX,
    INPLACE,
    PREFIX,
    Layout,
    Namer,
    assign_names,
    expr_of_call,
)
from wengert.transforms.inline import instantiate, template, used_params
from wengert.rules.operators import _pow_dx, _pow_dy
from wengert.rules.table import get_rule
from wengert.runtime.cotangents import accum
from wengert.runtime.tangents import RUNTIME_HELPERS, _rebuild  # noqa: F401  (_rebuild: re-exported)
from wengert.runtime.registry import compiled_jvp, jvp_call  # the cache and the dispatcher, registered
from wengert.runtime.registry import variant as _variant
from wengert.frontend.program import has_source as _has_source
from wengert.runtime.binding import bind as _bind
from wengert.ir import activity
from wengert.overload.dual import Tracked

__all__ = ["Tangent", "compiled_jvp", "jvp", "jvp_call", "show_tangent"]

_NUMS = (FLOAT, INT, BOOL)
_MISSING = object()
_OPERATORS = INFIX.keys() | PREFIX.keys()


def _sum_terms(*terms):
    terms = [t for t in terms if t is not None]
    return " + ".join(f"({t})" for t in terms) if terms else "0.0"


# tangents of in-place operators from the operands' values *before* the update
# (a, b: operand expressions; ta, tb: their tangents or None); None: use the rule
_INPLACE = {
    operator.iadd: lambda a, b, ta, tb: _sum_terms(ta, tb),
    operator.isub: lambda a, b, ta, tb: _sum_terms(ta, None if tb is None else f"-{tb}"),
    operator.imul: lambda a, b, ta, tb: _sum_terms(None if ta is None else f"{ta} * {b}",
                                                   None if tb is None else f"{a} * {tb}"),
    operator.itruediv: lambda a, b, ta, tb: _sum_terms(None if ta is None else f"{ta} / {b}",
                                                       None if tb is None else f"-{a} * {tb} / ({b} * {b})"),
    operator.imatmul: lambda a, b, ta, tb: _sum_terms(None if ta is None else f"{ta} @ {b}",
                                                      None if tb is None else f"{a} @ {tb}"),
    operator.ipow: lambda a, b, ta, tb: None,
    operator.imod: lambda a, b, ta, tb: None,
    operator.ifloordiv: lambda a, b, ta, tb: "None",
}
_PLAIN = {operator.ipow: operator.pow, operator.imod: operator.mod}

# Scalar tangents of the operators, valid when every argument is a Python number
# (the general rules also handle sequences and arrays). One per argument, summed.
_ADD = (lambda t, z, x, y: t, lambda t, z, x, y: t)
_SUB = (lambda t, z, x, y: t, lambda t, z, x, y: -t)
_MUL = (lambda t, z, x, y: t * y, lambda t, z, x, y: x * t)
_DIV = (lambda t, z, x, y: t / y, lambda t, z, x, y: -t * z / y)
_POW = (lambda t, z, x, y: t * _pow_dx(x, y), lambda t, z, x, y: t * _pow_dy(z, x))
_SCALAR_JVPS = {
    operator.add: _ADD, operator.iadd: _ADD, operator.sub: _SUB, operator.isub: _SUB,
    operator.mul: _MUL, operator.imul: _MUL, operator.truediv: _DIV, operator.itruediv: _DIV,
    operator.pow: _POW, operator.ipow: _POW,
    operator.neg: (lambda t, y, x: -t,), operator.pos: (lambda t, y, x: t,),
}


# ---- code generation ----



class Tangent(HelperNames):
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
            elif isinstance(s, ir.If):
                out.append(f"{pad}if {self.expr(s.cond)}:" + self.line_comment(s.line))
                n0 = len(out)
                self._block(s.then, out, ind + 1, loop)
                self._yield(s, s.then, out, ind + 1)
                if len(out) == n0:
                    out.append(pad + "    pass")
                m0 = len(out)
                out.append(f"{pad}else:")
                self._block(s.orelse, out, ind + 1, loop)
                self._yield(s, s.orelse, out, ind + 1)
                if len(out) == m0 + 1:
                    out.pop()
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

    # ---- operations ----

    def _op(self, s: ir.Op, out, ind):
        pad = "    " * ind
        k = s.kind
        outs = s.outs
        comment = self.line_comment(s.line)
        if k == "global":
            self.inline[outs[0].id] = s.fn
            return
        if k == "attr" and outs[0].static is not None:
            self.inline[outs[0].id] = f"{self.expr(s.args[0])}.{s.fn}"
            return
        act = bool(outs) and any(self.active(o) for o in outs)
        y = self.name(outs[0]) if outs else None
        if k == "free":
            i = self.fn.freevars.index(s.fn)
            out.append(f"{pad}{y} = _cells[{i}].cell_contents" + comment)
            if act:
                t = self.type_of(outs[0])
                rhs = f"_cells_dot[{i}]"
                if t == FLOAT:
                    rhs = f"nz({rhs})"
                elif self.structured(outs[0]):
                    rhs = f"fill({y}, {rhs})"
                else:
                    rhs = f"tz({y}, {rhs})"
                out.append(f"{pad}{self.dot(outs[0])} = {rhs}")
            return
        if k == "attr":
            obj = s.args[0]
            out.append(f"{pad}{y} = {self.expr(obj)}.{s.fn}" + comment)
            if act and s.fn == "__next__" and self.active(obj) and isinstance(self.type_of(obj), ListKind):
                # an iterator's tangent is an iterator in step with it (see `_reversed`): a list
                # has no __next__, so any other tangent fails loudly here
                out.append(f"{pad}{self.dot(outs[0])} = {self.dot(obj)}.__next__")
                return
            if act:
                out.append(f"{pad}{self.dot(outs[0])} = tz({y}, attr_tangent({y}, {self.tan(obj)}, {s.fn!r}))")
            return
        if k in ("tuple", "list"):
            items = [self.expr(a) for a in s.args]
            rhs = _tuple(items) if k == "tuple" else "[" + ", ".join(items) + "]"
            out.append(f"{pad}{y} = {rhs}" + comment)
            if act:
                ts = [self.tan(a, FLOAT if self.type_of(a) in _NUMS else ANY) for a in s.args]
                trhs = _tuple(ts) if k == "tuple" else "[" + ", ".join(ts) + "]"
                out.append(f"{pad}{self.dot(outs[0])} = {trhs}")
            return
        if k == "dict":
            out.append(f"{pad}{y} = " + "{" + ", ".join(f"{k_!r}: {self.expr(v)}"
                                                     for k_, v in zip(s.fn, s.args)) + "}" + comment)
            if act:
                out.append(f"{pad}{self.dot(outs[0])} = " + "{" + ", ".join(
                    f"{k_!r}: {self.tan(v, ANY)}" for k_, v in zip(s.fn, s.args)) + "}")
            return
        if k == "newlist":
            out.append(f"{pad}{y} = []" + comment)
            if act:
                out.append(f"{pad}{self.dot(outs[0])} = []")
            return
        if k == "append":
            lst, elt = s.args
            out.append(f"{pad}{self.expr(lst)}.append({self.expr(elt)})" + comment)
            if self.active(lst):
                target = FLOAT if self.type_of(lst) == list_of(FLOAT) else ANY
                out.append(f"{pad}{self.dot(lst)}.append({self.tan(elt, target)})")
            return
        if k == "unpack":
            src = s.args[0]
            targets = ", ".join(self.name(o) for o in outs) + ("," if len(outs) == 1 else "")
            out.append(f"{pad}{targets} = {self.expr(src)}" + comment)
            if act and self.active(src):
                dead = None
                names = []
                for o in outs:
                    if self.active(o):
                        names.append(self.dot(o))
                    else:
                        dead = dead or self.namer.fresh("_dead")
                        names.append(dead)
                tgt = ", ".join(names) + ("," if len(names) == 1 else "")
                rhs = self.dot(src) if self.structured(src) else \
                    f"unpack_tangent({self.dot(src)}, {len(outs)})"
                out.append(f"{pad}{tgt} = {rhs}")
                for o in outs:
                    if self.active(o) and (self.type_of(o) != FLOAT or not self.structured(src)):
                        self._normalise_out(o, out, pad)
            elif act:
                for o in outs:
                    if self.active(o):
                        out.append(f"{pad}{self.dot(o)} = zero_of({self.name(o)})")
            return
        if k == "closure":
            code = self.helper(f"{s.fn.co_name.strip('<>')}_code", s.fn)
            caps = [self.expr(a) for a in s.args[2:]]
            out.append(f"{pad}{y} = make_closure({code}, globals(), {self.expr(s.args[0])}, "
                       f"{self.expr(s.args[1])}, {_tuple(caps)})" + comment)
            if act:
                out.append(f"{pad}{self.dot(outs[0])} = {_tuple([self.tan(a) for a in s.args[2:]])}")
            return
        if k == "setitem":
            obj, idx, val = s.args
            out.append(f"{pad}{self.expr(obj)}[{self.expr(idx)}] = {self.expr(val)}" + comment)
            if self.active(obj):
                target = FLOAT if self.type_of(obj) == list_of(FLOAT) else ANY
                out.append(f"{pad}{self.dot(obj)}[{self.expr(idx)}] = {self.tan(val, target)}")
            return
        if k == "setattr":
            obj, val = s.args
            out.append(f"{pad}{self.expr(obj)}.{s.fn} = {self.expr(val)}" + comment)
            if self.active(obj):
                out.append(f"{pad}{self.dot(obj)} = setattr_tangent({self.dot(obj)}, {s.fn!r}, "
                           f"{self.tan(val, ANY)})")
            return
        if k == "method":
            self._method(s, out, pad, comment, act)
            return
        assert k == "call", k
        self._call(s, out, pad, comment, act)

    def _method(self, s: ir.Op, out, pad, comment, act):
        obj, args = s.args[0], s.args[1:]
        ins_active = any(self.active(a) for a in s.args) or any(self.active(v) for v in s.kwargs.values())
        a = [self.expr(x) for x in args]
        kw = {kk: self.expr(v) for kk, v in s.kwargs.items()}
        if self.type_of(obj) == PASS:
            self._pass_method(s, a, out, pad, comment, act)
            return
        if self.type_of(obj) == HANDLE:
            # a slot of the Pass's dict of field cotangents: the tangent Pass's dict, same slot
            if s.fn not in ("get", "pop") or kw or not self.active(obj):
                raise UnsupportedError(f"forward mode through .{s.fn}() of a cotangent handle",
                                       self.fn.filename, s.line)
            y = self.name(s.outs[0]) + " = " if s.outs else ""
            out.append(f"{pad}{y}{self.expr(obj)}.{s.fn}({', '.join(a)})" + comment)
            if s.outs and self.active(s.outs[0]):
                ts = a[:1] + [self.tan(x, ANY) for x in args[1:]]
                out.append(f"{pad}{self.dot(s.outs[0])} = {self.dot(obj)}.{s.fn}({', '.join(ts)})")
            return
        if s.mutating and s.fn == "append" and len(args) == 1 and not kw and self.active(obj) \
                and isinstance(self.type_of(obj), ListKind):
            # a list whose tangent is a list (never None): the item's tangent appended to it
            elem = self.type_of(obj).elem
            if elem in _NUMS:
                t = self.tan(args[0], FLOAT)
            elif self.active(args[0]) and _filled(self.type_of(args[0])):
                t = self.dot(args[0])
            else:  # as `mutate_jvp`: a zero (of the item's shape) for none
                t = f"tz({a[0]}, {self.tan(args[0])})"
            y = self.name(s.outs[0]) + " = " if s.outs else ""
            out.append(f"{pad}{y}{self.expr(obj)}.append({a[0]})" + comment)
            out.append(f"{pad}{self.dot(obj)}.append({t})")
            if s.outs and self.active(s.outs[0]):
                out.append(f"{pad}{self.dot(s.outs[0])} = None")
            return
        if s.mutating and self.active(obj):
            ts = [self.tan(x) for x in args]
            dead = self.namer.fresh("_dead")
            ys = f"{self.name(s.outs[0])}, {self.dot(s.outs[0])}" if s.outs else f"{dead}, {dead}"
            out.append(f"{pad}{ys} = mutate_jvp({self.expr(obj)}, {self.dot(obj)}, {s.fn!r}, {_tuple(a)}, "
                       f"{_tuple(ts)}, {_dict(kw)})" + comment)
            if s.outs and self.active(s.outs[0]):
                self._normalise_out(s.outs[0], out, pad)
            return
        if not act or not ins_active:
            rhs = expr_of_call(None, f"{self.expr(obj)}.{s.fn}", a, kw)
            out.append(f"{pad}{self.name(s.outs[0]) + ' = ' if s.outs else ''}{rhs}" + comment)
            if act:
                out.append(f"{pad}{self.dot(s.outs[0])} = zero_of({self.name(s.outs[0])})")
            return
        ts = [self.tan(x) for x in args]
        out.append(f"{pad}{self.name(s.outs[0])}, {self.dot(s.outs[0])} = method_jvp({self.expr(obj)}, "
                   f"{self.tan(obj)}, {s.fn!r}, {_tuple(a)}, {_tuple(ts)}, {_dict(kw)})" + comment)
        self._normalise_out(s.outs[0], out, pad)

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

    def _call(self, s: ir.Op, out, pad, comment, act):
        fexpr = self.expr(s.fn)
        fobj = s.fn.value if isinstance(s.fn, ir.Const) else None
        static = s.static if isinstance(s.fn, ir.Value) else fobj
        outs = s.outs
        if s.star:
            a, kw = self.expr(s.args[0]), self.expr(s.args[1])
            if not act:
                out.append(f"{pad}{self.name(outs[0]) + ' = ' if outs else ''}{fexpr}(*{a}, **{kw})" + comment)
                return
            y = self.name(outs[0])
            fdot = self.tan(s.fn) if isinstance(s.fn, ir.Value) else "None"
            kwt = f", {self.dot(s.args[1])}" if self.active(s.args[1]) else ""
            out.append(f"{pad}{y}, {self.dot(outs[0])} = jvp_call({fexpr}, {a}, {self.tan(s.args[0])}, "
                       f"{kw}, {fdot}{kwt})" + comment)
            self._normalise_out(outs[0], out, pad)
            return
        args = [self.expr(a) for a in s.args]
        kwargs = {kk: self.expr(v) for kk, v in s.kwargs.items()}
        primal = expr_of_call(static if fobj is not None or s.static is not None else None, fexpr, args, kwargs)
        inplace = static in _INPLACE and not kwargs and self.type_of(s.args[0]) not in _NUMS and \
            not self.structured(s.args[0])
        if inplace:  # arrays and objects: keep Python's in-place semantics (aliases see the update)
            self._inplace(s, static, args, out, pad, comment, act)
            return
        if not act:
            out.append(f"{pad}{self.name(outs[0]) + ' = ' if outs else ''}{primal}" + comment)
            return
        y, ydot = self.name(outs[0]), self.dot(outs[0])
        ft = self.type_of(s.fn) if isinstance(s.fn, ir.Value) else None
        if isinstance(ft, NextKind) and not s.args and not s.kwargs:
            # the next item of an iterator: its tangent from the tangent iterator, in step
            out.append(f"{pad}{y} = {fexpr}()" + comment)
            if self.active(s.fn):
                out.append(f"{pad}{ydot} = {self.dot(s.fn)}()")
                if not _filled(self.type_of(outs[0])):
                    self._normalise_out(outs[0], out, pad)
            else:
                out.append(f"{pad}{ydot} = {self.tan(outs[0], self.type_of(outs[0]))}")
            return
        if static is builtins.reversed and len(s.args) == 1 and not s.kwargs and self.active(s.args[0]) \
                and self.structured(s.args[0]) and self._only_iterated(outs[0]):
            # an iterator, as in Python (the rule makes a list): its tangent iterates the
            # tangent the same way, so ``it.__next__`` and loops over it stay in step
            out.append(f"{pad}{y} = {primal}" + comment)
            out.append(f"{pad}{ydot} = reversed({self.dot(s.args[0])})")
            return
        try:
            rule = get_rule(static) if static is not None else None
        except TypeError:
            rule = None
        active_args = [i for i, a in enumerate(s.args) if self.active(a)]
        kw_active = any(self.active(v) for v in s.kwargs.values())
        scalar = (not kw_active and all(self.type_of(a) in _NUMS for a in s.args)
                  and all(self.type_of(s.args[i]) == FLOAT for i in active_args)
                  and self.type_of(outs[0]) == FLOAT)
        if own_getitem(s, self.info, static):
            rule = None  # an index that carries a tangent: the container's own __getitem__ (np.r_)
        lin = _LINEAR_HELPERS.get(id(static)) if static is not None else None
        if lin is not None and lin[0] is static and not s.kwargs and not s.star:
            ts = [(self.tan(a) if self.active(a) else "None") if i in lin[1] else e
                  for i, (a, e) in enumerate(zip(s.args, args))]
            tmp = self.namer.fresh("_y") if y in args else y
            out.append(f"{pad}{tmp} = {primal}" + comment)
            out.append(f"{pad}{ydot} = {fexpr}({', '.join(ts)})")
            if tmp != y:
                out.append(f"{pad}{y} = {tmp}")
            self._normalise_out(outs[0], out, pad)
            return
        if rule is not None and rule.nondiff:  # active only when mutated later (np.zeros)
            out.append(f"{pad}{y} = {primal}" + comment)
            out.append(f"{pad}{ydot} = {'0.0' if self.type_of(outs[0]) == FLOAT else f'zero_of({y})'}")
            return
        if rule is not None and scalar and not s.kwargs and static in (operator.pow, operator.ipow) \
                and isinstance(s.args[1], ir.Const) and type(s.args[1].value) in (int, float) \
                and s.args[1].value >= 1 and self.active(s.args[0]) and self.name(outs[0]) not in args:
            # x ** c with a constant c >= 1: c * x ** (c - 1), written out (as reverse mode does)
            k, x, t = s.args[1].value, args[0], self.dot(s.args[0])
            out.append(f"{pad}{y} = {primal}" + comment)
            out.append(f"{pad}{ydot} = " + (t if k == 1 else f"{t} * {k!r} * {x}" if k == 2
                                            else f"{t} * {k!r} * {x} ** {k - 1!r}"))
            return
        if rule is not None and scalar and not s.kwargs and (static in _SCALAR_JVPS or rule.jvps is not None):
            jvps = _SCALAR_JVPS.get(static) or rule.jvps
            if self._inline(s, jvps, args, y, ydot, primal, out, pad, comment):
                return
        if rule is not None and not scalar and not kw_active and rule.jvps is not None and \
                not (rule.frule is not None and s.kwargs):
            # arrays and values of unknown type: the general rule, inlined; tangents of active
            # numbers and arrays are never None here (see `_normalise_out`)
            if static is operator.getitem and len(args) == 2 and not self.active(s.args[1]) \
                    and self.active(s.args[0]) and self.structured(s.args[0]) \
                    and self.type_of(outs[0]) == FLOAT and self.type_of(s.args[1]) in (INT, BOOL):
                # a number of a list or tuple whose tangent holds a float there (never None)
                out.append(f"{pad}{y} = {primal}" + comment)
                out.append(f"{pad}{ydot} = {self.dot(s.args[0])}[{args[1]}]")
                return
            if static is operator.getitem and len(args) == 2 and not self.active(s.args[1]):
                out.append(f"{pad}{y} = {primal}" + comment)
                out.append(f"{pad}{ydot} = item_tangent({y}, {self.tan(s.args[0])}, {args[1]})")
                return
            post = "bcast" if rule.broadcast and len(active_args) < len(s.args) else None
            jvps = rule.jvps
            if static is operator.add and all(self.type_of(a) in (*_NUMS, ARRAY) for a in s.args):
                jvps = _ADD  # numbers and arrays add (the rule's other case concatenates sequences)
            if self._inline(s, jvps, args, y, ydot, primal, out, pad, comment, post, kwargs):
                return
        if rule is not None and rule.frule is not None and not s.kwargs:
            fr = self.helper(f"{getattr(static, '__name__', 'f')}_frule", rule.frule)
            ts = [self.tan(a) if self.active(a) else "None" for a in s.args]
            out.append(f"{pad}{y}, {ydot} = {expr_of_call(None, fr, [_tuple(ts)] + args, kwargs)}" + comment)
            self._normalise_out(outs[0], out, pad)
            return
        target = self._direct_target(s, static) if rule is None else None
        if target is not None:
            # a known Python function with certain scalar argument types: straight to its
            # compiled tangent code (linked in by `compiled_jvp`; recursion calls itself)
            h = self.helper(f"{target[0].__name__}_jvp", _DirectJVP(*target))
            self.directs[h] = target
            ts = [self.tan(a, FLOAT) if k == FLOAT else "None" for a, k in zip(s.args, target[1])]
            out.append(f"{pad}{y}, {ydot} = {h}({', '.join(args + ts)})" + comment)
            self._normalise_out(outs[0], out, pad)
            return
        ts = [self.tan(a) if self.active(a) else "None" for a in s.args]
        fdot = self.tan(s.fn) if isinstance(s.fn, ir.Value) and self.active(s.fn) else "None"
        kwt = ""
        if kw_active:
            kwt = ", " + _dict({kk: self.tan(v) if self.active(v) else "None" for kk, v in s.kwargs.items()})
        out.append(f"{pad}{y}, {ydot} = jvp_call({fexpr}, {_tuple(args)}, {_tuple(ts)}, {_dict(kwargs)}, "
                   f"{fdot}{kwt})" + comment)
        self._normalise_out(outs[0], out, pad)

    def _only_iterated(self, v: ir.Value) -> bool:
        """Is every use of ``v`` a for loop over it whose item has a tangent, or ``v.__next__``?
        (Then its tangent, an iterator too, is advanced exactly when ``v`` is.)"""
        users = self.__dict__.get("_users")
        if users is None:
            users = self._users = {}
            for _, st in ir.walk(self.fn.body):
                for o in ir.operands(st):
                    if isinstance(o, ir.Value):
                        users.setdefault(o.id, []).append(st)
        for st in users.get(v.id, ()):
            if isinstance(st, ir.Loop) and st.iterable is v and not any(i is v for i in st.inits) \
                    and self.active(st.body.args[0]):
                continue
            if isinstance(st, ir.Op) and st.kind == "attr" and st.fn == "__next__" and st.args[0] is v:
                continue
            return False
        return True

    def _direct_target(self, s: ir.Op, fn):
        """(function, kinds) when the callee is known now, has source and no closure, and
        its argument types are certain scalars."""
        if not isinstance(fn, types.FunctionType) or s.star or s.kwargs or fn.__closure__ \
                or "_wengert_jvp" in fn.__dict__:
            return None
        code = fn.__code__
        if code.co_argcount != len(s.args) or code.co_kwonlyargcount or code.co_flags & 0x0C:
            return None
        kinds = tuple(self.type_of(a) for a in s.args)
        if not all(k in SCALARS for k in kinds) or not _has_source(fn):
            return None
        return fn, kinds

    def _inplace(self, s: ir.Op, static, args, out, pad, comment, act):
        """``a op= b`` on an array or object: the tangent from the old values, then both
        updated in place, so that aliases of ``a`` (and of its tangent) see the change."""
        y = self.name(s.outs[0])
        a, b = args
        if y == a:
            primal = f"{pad}{a} {INPLACE[static]}= {b}"
        else:
            primal = f"{pad}{y} = {self.helper(static.__name__, static)}({a}, {b})"
        if not act:
            out.append(primal + comment)
            return
        ta = self.dot(s.args[0]) if self.active(s.args[0]) else None
        tb = self.dot(s.args[1]) if self.active(s.args[1]) else None
        terms = _INPLACE[static](a, b, ta, tb)
        new = self.namer.fresh("_t_new")
        if terms is None:  # no closed form here: the plain operator's rule
            plain = self.helper(_PLAIN[static].__name__, _PLAIN[static])
            out.append(f"{pad}{new} = jvp_call({plain}, ({a}, {b}), ({ta}, {tb}))[1]" + comment)
        else:
            out.append(f"{pad}{new} = {terms}" + comment)
        out.append(primal)
        old = ta if ta is not None else "None"
        out.append(f"{pad}{self.dot(s.outs[0])} = inplace_tangent({old}, {new}, {y})")

    def _normalise_out(self, o: ir.Value, out, pad):
        """Keep the invariant: active numbers and arrays have tangents, never None."""
        t = self.type_of(o)
        if t == FLOAT:
            out.append(f"{pad}{self.dot(o)} = nz({self.dot(o)})")
        elif self.structured(o):
            out.append(f"{pad}{self.dot(o)} = fill({self.name(o)}, {self.dot(o)})")
        elif t not in _NUMS:
            out.append(f"{pad}{self.dot(o)} = tz({self.name(o)}, {self.dot(o)})")

    def _inline(self, s: ir.Op, jvps, args, y, ydot, primal, out, pad, comment, post=None,
                kwargs=None) -> bool:
        """Tangent of a call as an inlined sum of jvp expressions (``post(sum, y)`` if given)."""
        parts = []
        uses_y = False
        for i, a in enumerate(s.args):
            if not self.active(a):
                continue
            jv = jvps[i] if i < len(jvps) else None
            if jv is None:
                continue
            tm = template(jv)
            if tm is None:
                h = self.helper(f"{getattr(s.static, '__name__', 'f')}_jvp{i}", jv)
                parts.append(expr_of_call(None, h, [self.dot(a), y, *args], kwargs or {}))
                uses_y = True
                continue
            if tm.varkw or len(tm.params) < 2 + len(s.args):
                return False
            mapping = {tm.params[0]: self.dot(a), tm.params[1]: y}
            for p, e in zip(tm.params[2:], args):
                mapping[p] = e
            for k_, e in (kwargs or {}).items():
                if k_ not in tm.params:
                    return False
                mapping[k_] = e
            try:
                body = instantiate(tm, mapping, self.helper)
            except KeyError:
                return False
            uses_y |= tm.params[1] in used_params(tm)
            parts.append(body if body.isidentifier() else f"({body})")
        rhs = " + ".join(parts) if parts else "0.0"
        if len(parts) > 1 and self.type_of(s.outs[0]) not in (FLOAT, ARRAY):
            # tangents of sequences add elementwise, not by concatenation (``t + u`` on tuples)
            acc = self.helper("accum", accum)
            rhs = parts[0]
            for p in parts[1:]:
                rhs = f"{acc}({rhs}, {p})"
        if len(parts) == 1 and parts[0].startswith("(") and parts[0].endswith(")") and _balanced(parts[0][1:-1]):
            rhs = parts[0][1:-1]
        if not parts:
            rhs = f"zero_of({y})"
            uses_y = True
        elif post == "bcast":
            rhs = f"bcast({rhs}, {y})"
            uses_y = True
        elif post == "tz":
            rhs = f"tz({y}, {rhs})"
            uses_y = True
        conflict = any(isinstance(a, ir.Value) and self.name(a) == y for a in s.args)
        if not conflict:
            out.append(f"{pad}{y} = {primal}" + comment)
            out.append(f"{pad}{ydot} = {rhs}")
        elif not uses_y:
            out.append(f"{pad}{ydot} = {rhs}" + comment)
            out.append(f"{pad}{y} = {primal}")
        else:
            tmp = self.namer.fresh("_y")
            out.append(f"{pad}{tmp} = {primal}" + comment)
            out.append(f"{pad}{ydot} = {_subst(rhs, y, tmp)}")
            out.append(f"{pad}{y} = {tmp}")
        return True


def _filled(kind) -> bool:
    """Is the tangent of an active value of ``kind`` read from a structure whose tangent is
    known (a list, a tuple) certainly complete (a float, a tuple of floats)? Such tangents
    are built with ``0.0`` for every number without one (see `Tangent.tan`)."""
    return kind == FLOAT or (isinstance(kind, TupleKind) and all(k in _NUMS for k in kind.items))


def _balanced(e: str) -> bool:
    depth = 0
    for ch in e:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _subst(expr: str, name: str, new: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", new, expr)


def _ident(name: str) -> str:
    name = name.strip("<>")
    return name if name.isidentifier() else "f"


# ---- direct calls ----

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


class _DirectJVP:
    """The compiled tangent code of ``fn`` for ``kinds``, found on first use (and replaced in
    the caller's closure by that code itself once it exists: see `_link_direct_calls`)."""

    __slots__ = ("fn", "kinds")

    def __init__(self, fn, kinds):
        self.fn = fn
        self.kinds = kinds

    def __call__(self, *args):
        c = compiled_jvp(self.fn, self.kinds, ())
        if ANY not in self.kinds and _has_tracked(args):
            c = _variant(c, "dual")  # forward over forward: Duals inside
        return c.fn(*args)


def _has_tracked(args) -> bool:
    return any(isinstance(a, Tracked) for a in args)


def _analyse(f_ir: ir.Function, kinds, free_kinds, globals_: dict):
    """Activity analysis, with module-level float constants (``DT = 0.005``) typed as
    floats rather than unknown, so the scalar code around them stays specialised.
    The constants become guards: rebinding one retransforms."""
    overrides = []
    for _, st in ir.walk(f_ir.body):
        if isinstance(st, ir.Op) and st.kind == "global" and st.static is None \
                and type(globals_.get(st.fn)) is float:
            overrides.append(st)
    for st in overrides:
        st.static = globals_[st.fn]
    try:
        info = analyse(f_ir, kinds, free_kinds)
        _aliases(f_ir, info, free_kinds)
    finally:
        for st in overrides:
            st.static = None
    return info, [(st.fn, globals_[st.fn]) for st in overrides]


def _aliases(f_ir: ir.Function, info: Info, free_kinds) -> None:
    """``a += x`` on an array updates ``a`` itself: when ``x`` is active, so is ``a``'s
    earlier value (and whatever holds it, ``lst = [a]``). The analysis knows this for item
    assignment and mutating methods; in-place operators are added here."""
    changed = True
    while changed:
        changed = False
        for _, st in ir.walk(f_ir.body):
            if isinstance(st, ir.Op) and st.kind == "call" and not st.star and len(st.args) == 2:
                fn = st.static if isinstance(st.fn, ir.Value) else st.fn.value
                a = st.args[0]
                if fn in _INPLACE and isinstance(a, ir.Value) and not info.is_active(a) \
                        and info.type_of(a) not in _NUMS and info.is_active(st.args[1]):
                    changed |= activity._set(info, a, info.type_of(a), True)
        if changed:
            while activity._block(f_ir.body, info, free_kinds):
                pass


# ---- public ----

def _as_float(x, t):
    return float(x) if type(x) is int and t is not None else x


def jvp(f, primals, tangents) -> tuple:
    """``(f(*primals), J·tangents)`` by the generated tangent code (one pass, no `Dual`s).

    >>> import math
    >>> jvp(lambda x, y: x * math.sin(y), (2.0, 0.0), (1.0, 1.0))
    (0.0, 2.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    primals = tuple(_as_float(x, t) for x, t in zip(primals, tangents))
    return jvp_call(f, primals, tangents)


def show_tangent(f, *args) -> str:
    """The generated tangent (jvp) source of ``f`` for example ``args`` (floats by default)."""
    if args:
        values, _ = _bind(f, args, {})
        kinds = tuple(kind_of(v) for v in values)
    else:
        code = f.__code__
        n = code.co_argcount + code.co_kwonlyargcount
        n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
        kinds = (FLOAT,) * n
    return compiled_jvp(f, kinds).source

