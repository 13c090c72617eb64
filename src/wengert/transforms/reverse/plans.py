"""What one operation's adjoint does: a small hierarchy of plan classes.

`plan.Generator` chooses a plan for each operation whose adjoint has work to do; the
plan holds what it needs (the rule, the inlinable templates, the value that keeps a
pullback) and writes that operation's code:

- `Plan.reads(gen, s)`: the primal values its adjoint reads (saved, or read by name);
- `Plan.emit_primal(gen, s, out, ind, comment)`: the forward code, when the plan changes
  what the program writes (a pullback kept beside the result, a logged mutation);
  False leaves the operation as the program has it (`primal.Primal._fwd_op`);
- `Plan.emit_adjoint(gen, s, out, ind, state)`: the reverse code. For an operation with
  a result this takes its cotangent and hands `Plan.contribs` (one expression per
  operand) to `adjoint.Adjoint.emit_contribs`.

``gen`` is the `adjoint.Adjoint` writing the function: names, cotangent variables,
contributions and the pass's buffers are its business, never a plan's.

    Plan
    |- Append                                     xs.append(v) of a comprehension
    |- Mutation: SetItem, SetAttr, MutatingMethod, InplaceOnObject   logged, undone
    |- Unpack, FreeVar, ClosureMake, AttrRead     structure
    |- Assemble: TupleAssemble, ListAssemble, DictAssemble
    |- InlineVJP                                  the rule's vjp templates, written out
    |- RuleVJPCall                                the rule's vjp functions, called
    `- WithPullback (a value keeps the pullback closure)
       |- GetattrPullback, MethodPullback, RRuleCall, DirectPullback, GenericPullback
       `- GuardedVJP                              floats inlined, anything else its pullback

The plans of calls (from `InlineVJP` down) are in `calls`.
"""

from __future__ import annotations

from wengert import ir
from wengert.backend.emit import _dict, _tuple
from wengert.frontend.expressions import SELF
from wengert.ir.activity import ANY, FLOAT
from wengert.ir.kinds import NUMBERS, TupleKind
from wengert.transforms.reverse.useful import _may_write


def _numbers(s: ir.Op, info) -> bool:
    """Every argument of ``s`` is a Python number by its kind (float, int, bool; not an
    array, not ``any``): an elementwise (broadcasting) rule's result is a number too, and
    no cotangent is reduced to an argument's shape (no `unbroadcast`)."""
    return bool(s.args) and not s.star and not s.kwargs and all(
        info.type_of(a) in NUMBERS for a in s.args)


def _plain_tuple(t) -> bool:
    """A kind that is certainly a plain tuple (a tuple display, an item of zip)."""
    return isinstance(t, TupleKind)


def _call_parts(gen, s) -> tuple:
    """``(callee, positional, keywords)`` as expressions, written in this order (naming a
    constant may take a helper name: the order decides the names). With ``*args, **kw``:
    ``(callee, args, kw)``, each one expression."""
    fexpr = gen.expr(s.fn)
    if s.star:
        return fexpr, gen.expr(s.args[0]), gen.expr(s.args[1])
    return fexpr, [gen.expr(a) for a in s.args], {kk: gen.expr(v) for kk, v in s.kwargs.items()}


class Plan:
    """What one op's adjoint does (see the module docstring)."""

    __slots__ = ()
    foldable = False        # the forward value may be written inline where it is used
    calls_user_code = False  # the callee may have logged mutations: the adjoint runs even with no cotangent

    def __repr__(self):
        return type(self).__name__

    def reads(self, gen, s: ir.Op):
        """The values the adjoint reads from the forward pass (`Generator.need`)."""
        return ()

    def emit_primal(self, gen, s: ir.Op, out: list, ind: int, comment: str) -> bool:
        """Write the forward code of ``s``; False: the op as the program has it."""
        return False

    def emit_adjoint(self, gen, s: ir.Op, out: list, ind: int, state: dict) -> None:
        """The adjoint of an op with a result: its cotangent (taken from the pass's buffer
        when it lives there) goes to the operands, behind ``if g is not None`` when the
        result's cotangent may be None."""
        pad = "    " * ind
        y = s.outs[0]
        g = gen.bar(y)
        gen.take_buffered(s, y, out, pad, state)
        if state.get(g) != y.id:
            if not (self.calls_user_code and _may_write(s, gen.info)):
                return
            # issue 10: a callee that wrote active values where the caller reads them (a global
            # dict: put(x) doing D["k"] = x) hands their cotangents back though its own result
            # (None) has none
            out.append(f"{pad}{g} = None")
            state[g] = y.id
        del state[g]
        guard = gen.info.type_of(y) != FLOAT and not self.calls_user_code
        body: list[str] = []
        bind = ind + 1 if guard else ind
        st = dict(state)
        contribs = self.contribs(gen, s, g, body, bind, st)
        gen.emit_contribs(body, bind, st, g, contribs)
        if guard:
            out.append(f"{pad}if {g} is not None:")
            out.extend(body or [pad + "    pass"])
            other = dict(state)
            other.pop(g, None)
            else_lines: list[str] = []
            merged = gen.reconcile([st, other], [body, else_lines], ind + 1)
            if else_lines:
                out.append(f"{pad}else:")
                out.extend(else_lines)
            state.clear()
            state.update(merged)
        else:
            out.extend(body)
            state.clear()
            state.update(st)

    def contribs(self, gen, s: ir.Op, g: str, out: list, ind: int, state: dict) -> list:
        """``(operand, cotangent expression, generic[, via])`` for the operands, given the
        result's cotangent variable ``g``; lines it needs first go to ``out``."""
        raise NotImplementedError(type(self).__name__)


# ---- structure ----


class Append(Plan):
    """``xs.append(v)`` on a comprehension's list: ``v`` gets its item back, in reverse."""

    __slots__ = ()

    def reads(self, gen, s):
        return (s.args[0],)

    def emit_adjoint(self, gen, s, out, ind, state):
        it = gen.comp_iter.get(s.args[0].id)
        if it is not None:
            gen.contribute(out, ind, state, s.args[1], f"{it}()", True)


class Unpack(Plan):
    """``a, b = t``: the items' cotangents as one tuple (shaped like ``t`` by `unpack_grad`
    when ``t`` is not certainly a plain tuple)."""

    __slots__ = ()

    def reads(self, gen, s):
        if not _plain_tuple(gen.info.type_of(s.args[0])):
            return (s.args[0],)  # its type (list, namedtuple, ...) shapes the cotangent
        return ()

    def emit_adjoint(self, gen, s, out, ind, state):
        bars = []
        for o in s.outs:
            b = gen.bar(o)
            if state.get(b) == o.id:
                bars.append(b)
                del state[b]
            else:
                bars.append("None")
        if all(b == "None" for b in bars):
            return
        tup = "(" + ", ".join(bars) + ("," if len(bars) == 1 else "") + ")"
        if _plain_tuple(gen.info.type_of(s.args[0])):
            gen.contribute(out, ind, state, s.args[0], tup, True)
        else:
            gen.contribute(out, ind, state, s.args[0], f"unpack_grad({gen.expr(s.args[0])}, {tup})", True)


class FreeVar(Plan):
    """A closure cell read: its cotangent goes to the function's own (``self_bar``)."""

    __slots__ = ()

    def contribs(self, gen, s, g, out, ind, state):
        pad = "    " * ind
        if s.outs and gen.info.type_of(s.outs[0]) == ANY:
            # a value of unknown kind may be a list, dict or object the Pass buffers (one the
            # enclosing function writes into after making this closure): its cotangent goes
            # to that buffer now, as a typed item read's does (add_item), not to the cell,
            # whose cotangent the enclosing function reaches only after undoing its writes
            g = f"_pass.add({gen.expr(s.outs[0])}, None, {g})"
        out.append(f"{pad}self_bar[{s.fn!r}] = accum(self_bar.get({s.fn!r}), {g})")
        gen.uses_self_bar = True
        return []


class ClosureMake(Plan):
    """A nested function: the cotangent of what it captured, by name."""

    __slots__ = ()

    def contribs(self, gen, s, g, out, ind, state):
        pad = "    " * ind
        names = s.fn.co_freevars
        selves = tuple(n for n, a in zip(names, s.args[2:]) if isinstance(a, ir.Const) and a.value is SELF)
        if selves:  # a recursive nested function: its calls of itself hand back what they captured
            out.append(f"{pad}{g} = fold_self({g}, {selves!r})")
        return [(a, f"{g}.get({n!r})", True) for n, a in zip(names, s.args[2:])]


class AttrRead(Plan):
    """``o.name`` of a known object kind: the cotangent goes to that field of ``o``'s."""

    __slots__ = ()

    def reads(self, gen, s):
        return (s.args[0],)

    def contribs(self, gen, s, g, out, ind, state):
        return [(s.args[0], g, True, ("attr", s.fn))]


class Assemble(Plan):
    """A tuple or list display: item ``i`` gets ``g[i]``."""

    __slots__ = ()

    def contribs(self, gen, s, g, out, ind, state):
        return [(a, f"{g}[{i}]", True) for i, a in enumerate(s.args)]


class TupleAssemble(Assemble):
    __slots__ = ()


class ListAssemble(Assemble):
    __slots__ = ()


class DictAssemble(Plan):
    """A dict display: the value under key ``k`` gets ``g.get(k)``."""

    __slots__ = ()

    def contribs(self, gen, s, g, out, ind, state):
        return [(v, f"{g}.get({k!r})", True) for k, v in zip(s.fn, s.args)]


# ---- mutations: logged by the forward pass, undone by the adjoint ----


class Mutation(Plan):
    """A logged write, undone by the adjoint, which hands the written values their cotangents."""

    __slots__ = ()

    def reads(self, gen, s):
        return (*s.args, *s.kwargs.values(), *s.outs)

    def undo(self, gen, s, args: list, state) -> tuple:
        """``(call, targets)``: the call undoing the write, and ``(operand, index)`` pairs
        for the operands that get a cotangent from its result (index None: the whole)."""
        raise NotImplementedError

    def emit_adjoint(self, gen, s, out, ind, state):
        pad = "    " * ind
        call, targets = self.undo(gen, s, [gen.expr(a) for a in s.args], state)
        useful = [(a, i) for a, i in targets if gen.is_useful(a)]
        if not useful:
            out.append(pad + call)
            return
        if len(targets) == 1:
            i = useful[0][1]
            gen.contribute(out, ind, state, useful[0][0], call if i is None else f"{call}[{i}]", True)
            return
        d = gen.namer.fresh("_dm")
        out.append(f"{pad}{d} = {call}")
        for a, i in useful:
            gen.contribute(out, ind, state, a, f"{d}[{i}]", True)


class SetItem(Mutation):
    __slots__ = ()

    def undo(self, gen, s, args, state):
        return f"_pass.back_setitem({args[0]}, {args[1]}, {args[2]})", [(s.args[2], None)]


class SetAttr(Mutation):
    __slots__ = ()

    def undo(self, gen, s, args, state):
        h = gen.handles.get(s.args[0].id) if isinstance(s.args[0], ir.Value) else None
        if gen.float_field_write(s):
            call = f"{h}.pop({s.fn!r}, 0.0)" if h is not None else f"_pass.pop_attr({args[0]}, {s.fn!r})"
        else:
            call = f"_pass.back_setattr({args[0]}, {s.fn!r}, {args[1]})"
        return call, [(s.args[1], None)]


class MutatingMethod(Mutation):
    """``xs.append(v)``, ``d.update(e)``, ...: run through the pass, which logs the change."""

    __slots__ = ()

    def emit_primal(self, gen, s, out, ind, comment):
        obj = gen.expr(s.args[0])
        args = [gen.expr(a) for a in s.args[1:]]
        kwargs = {kk: gen.expr(v) for kk, v in s.kwargs.items()}
        out.append("    " * ind + f"{gen.name(s.outs[0])} = _pass.method({obj}, {s.fn!r}, {_tuple(args)}, "
                   f"{_dict(kwargs)})" + comment)
        gen.push(s.outs[0], out, ind)
        return True

    def undo(self, gen, s, args, state):
        g = gen.consume(s.outs[0], state)
        kwargs = {k: gen.expr(v) for k, v in s.kwargs.items()}
        call = f"_pass.back_method({args[0]}, {s.fn!r}, {_tuple(args[1:])}, {_dict(kwargs)}, {g})"
        return call, [(a, i) for i, a in enumerate(s.args[1:])]


class InplaceOnObject(Mutation):
    """``x op= y`` where ``x`` may be a mutable object, changed in place."""

    __slots__ = ()

    def reads(self, gen, s):
        return (*s.args, s.outs[0])

    def emit_primal(self, gen, s, out, ind, comment):
        if s.star:
            return False
        _, args, _ = _call_parts(gen, s)
        op = gen.helper(s.fn.value.__name__, s.fn.value)
        out.append("    " * ind + f"{gen.name(s.outs[0])} = _pass.inplace({op}, {args[0]}, {args[1]})" + comment)
        gen.push(s.outs[0], out, ind)
        return True

    def undo(self, gen, s, args, state):
        y = s.outs[0]
        g = gen.consume(y, state)
        op = gen.helper(s.fn.value.__name__, s.fn.value)
        call = f"_pass.back_op({op}, {args[0]}, {args[1]}, {gen.name(y)}, {g})"
        return call, [(s.args[0], 0), (s.args[1], 1)]
