"""Forward mode of the operations on values and containers: globals, closure cells,
attributes, tuple/list/dict displays, unpacking, closures, and the mutations (item and
attribute assignment, ``append`` and the other mutating methods), mirrored on the tangent.

Mixed into `generator.TangentWriter`; `Structures._op` is where every operation starts (calls
go on to `calls.Calls._call`).
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import _dict, _tuple, expr_of_call
from wengert.ir.core import SELF
from wengert.ir.activity import ANY, FLOAT
from wengert.ir.adjoint_kinds import HANDLE, PASS
from wengert.ir.kinds import ListKind, list_of
from wengert.runtime.tangents import global_tangent
from wengert.transforms.forward.common import _NUMS, _filled


class Structures:
    """Operations other than calls (see the module docstring); uses `TangentWriter`'s names."""

    def _op(self, s: ir.Op, out, ind):
        pad = "    " * ind
        k = s.kind
        outs = s.outs
        comment = self.line_comment(s.line)
        if k == "global":
            self.inline[outs[0].id] = s.fn
            if self.active(outs[0]):  # of kind any, where the heap may hold derivatives
                h = self.helper("global_tangent", global_tangent)
                out.append(f"{pad}{self.dot(outs[0])} = {h}({s.fn}, {bool(self.info.effects)})" + comment)
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
                caps = s.args[2:]
                selves = [i for i, a in enumerate(caps) if isinstance(a, ir.Const) and a.value is SELF]
                if not selves:
                    out.append(f"{pad}{self.dot(outs[0])} = {_tuple([self.tan(a) for a in caps])}")
                else:  # a function that calls itself: its own tangent in its cell (a list, to hold itself)
                    d = self.dot(outs[0])
                    out.append(f"{pad}{d} = [{', '.join(self.tan(a) for a in caps)}]")
                    out.append(f"{pad}" + " = ".join(f"{d}[{i}]" for i in selves) + f" = {d}")
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
            self._handle_method(s, a, kw, out, pad, comment)
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
