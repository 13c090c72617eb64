"""Plans for calls (see `plans`): a rule's vjps inlined or called, and the calls whose
pullback the forward pass keeps (a rule's rrule, a user function compiled for certain
kinds, a method, a property, anything else through `call_pullback`)."""

from __future__ import annotations

import operator

from wengert import ir
from wengert.backend.emit import _dict, _tuple, expr_of_call
from wengert.ir.activity import FLOAT
from wengert.ir.kinds import ANY
from wengert.transforms.inline import instantiate, used_params
from wengert.transforms.reverse.plans import Plan, _call_parts, _numbers


# ---- calls with a rule ----


class InlineVJP(Plan):
    """A rule whose vjps are inlinable templates (`inline.template`): written out in place."""

    __slots__ = ("rule", "scalar", "tmpl", "vjps")
    foldable = True

    def __init__(self, rule, tmpl, vjps, scalar=False):
        self.rule = rule
        self.tmpl = tmpl      # per-argument templates (None: no adjoint for that argument)
        self.vjps = vjps
        self.scalar = scalar  # numbers in, a float out: the rule's scalar form, no unbroadcast

    def reads(self, gen, s):
        found = []
        for i, t in enumerate(self.tmpl):
            if t is None:
                continue
            found += _template_reads(t, s)
            if self.rule.broadcast and not self.scalar and not _numbers(s, gen.info):
                found.append(s.args[i])  # `unbroadcast` reads it
        return found

    def contribs(self, gen, s, g, out, ind, state):
        y = s.outs[0]
        res = []
        for i, t in enumerate(self.tmpl):
            if t is None:
                continue
            if self.rule.fn is operator.getitem and i == 0 and not self.scalar:
                res.append((s.args[0], g, True, ("item", gen.expr(s.args[1]))))
                continue
            mapping = {t.params[0]: g, t.params[1]: gen.name(y)}
            for j, a in enumerate(s.args):
                mapping[t.params[2 + j]] = gen.expr(a)
            for k, v in s.kwargs.items():
                mapping[k] = gen.expr(v)
            e = instantiate(t, mapping, gen.helper)
            a = s.args[i]
            c = s.args[1] if len(s.args) == 2 else None
            if (self.rule.fn in (operator.pow, operator.ipow) and i == 0 and isinstance(c, ir.Const)
                    and type(c.value) in (int, float) and c.value >= 1):
                # x ** c with a constant c >= 1: c * x ** (c - 1), written out
                k = c.value
                e = g if k == 1 else (f"{g} * {k!r} * {gen.expr(a)}" if k == 2
                                      else f"{g} * {k!r} * {gen.expr(a)} ** {k - 1!r}")
            if self.rule.broadcast and not self.scalar and gen.may_broadcast(s, i):
                e = f"unbroadcast({e}, {gen.expr(a)})"
            res.append((a, e, gen.info.type_of(y) != FLOAT and gen.info.type_of(a) == FLOAT))
        return res


def _template_reads(t, s: ir.Op) -> list:
    """The operands of ``s`` (and its result) that vjp template ``t`` reads."""
    used = used_params(t)
    found = []
    if t.params[1] in used:
        found.append(s.outs[0])
    for j, a in enumerate(s.args):
        if t.params[2 + j] in used:
            found.append(a)
    for kw, v in s.kwargs.items():
        if kw in used:
            found.append(v)
    return found


class RuleVJPCall(Plan):
    """A rule whose vjps cannot be inlined: each called as a helper function."""

    __slots__ = ("rule", "scalar", "vjps")

    def __init__(self, rule, vjps, scalar=False):
        self.rule = rule
        self.vjps = vjps
        self.scalar = scalar

    def reads(self, gen, s):
        return (s.outs[0], *s.args, *s.kwargs.values())

    def contribs(self, gen, s, g, out, ind, state):
        y = s.outs[0]
        res = []
        args = [gen.expr(a) for a in s.args]
        kw = [f"{k}={gen.expr(v)}" for k, v in s.kwargs.items()]
        for i, a in enumerate(s.args):
            vjp = self.vjps[i] if i < len(self.vjps) else None
            if vjp is None:
                continue
            h = gen.helper(f"{getattr(self.rule.fn, '__name__', 'f')}_vjp{i}", vjp)
            e = f"{h}({', '.join([g, gen.name(y)] + args + kw)})"
            if self.rule.broadcast and not self.scalar and not _numbers(s, gen.info):
                e = f"unbroadcast({e}, {gen.expr(a)})"
            res.append((a, e, True))
        return res


# ---- a pullback kept by the forward pass ----


class WithPullback(Plan):
    """The forward pass keeps a pullback closure in the synthetic value ``back``."""

    __slots__ = ("back",)

    def __init__(self, back: ir.Value):
        self.back = back

    def reads(self, gen, s):
        return (self.back,)

    def with_back(self, gen, s, rhs: str, out, ind, comment: str) -> bool:
        """``y, y_back = rhs``: a result and the pullback its adjoint calls, both saved."""
        out.append("    " * ind + f"{gen.name(s.outs[0])}, {gen.name(self.back)} = {rhs}" + comment)
        gen.push(s.outs[0], out, ind)
        gen.push(self.back, out, ind)
        return True


class GetattrPullback(WithPullback):
    """``o.name`` on a value of unknown kind: may be a property, whose getter is
    differentiated (decided at run time by the pass)."""

    __slots__ = ()

    def reads(self, gen, s):
        return (s.args[0], self.back)

    def emit_primal(self, gen, s, out, ind, comment):
        return self.with_back(gen, s, f"_pass.getattr({gen.expr(s.args[0])}, {s.fn!r})", out, ind, comment)

    def contribs(self, gen, s, g, out, ind, state):
        pad = "    " * ind
        obj = s.args[0]
        prev = gen.bar(obj) if state.get(gen.bar(obj)) == obj.id else "None"
        if gen.is_useful(obj):
            out.append(f"{pad}{gen.bar(obj)} = _pass.back_getattr({gen.expr(obj)}, {prev}, {s.fn!r}, "
                       f"{gen.name(self.back)}, {g})")
            state[gen.bar(obj)] = obj.id
        return []


def _pullback_contribs(gen, s, g, out, ind, back, method: bool) -> list:
    """The cotangents a `call_pullback`/`method_pullback` closure hands back: the callee's
    (or the object's), the positional arguments' and the keywords'."""
    pad = "    " * ind
    f, a_, k_ = gen.namer.fresh("_df"), gen.namer.fresh("_da"), gen.namer.fresh("_dk")
    out.append(f"{pad}{f}, {a_}, {k_} = {gen.name(back)}({g})")
    res = []
    if method:
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


class MethodPullback(WithPullback):
    """``o.m(...)``: `method_pullback` finds the method at run time."""

    __slots__ = ()
    calls_user_code = True

    def emit_primal(self, gen, s, out, ind, comment):
        obj = gen.expr(s.args[0])
        args = [gen.expr(a) for a in s.args[1:]]
        kwargs = {kk: gen.expr(v) for kk, v in s.kwargs.items()}
        return self.with_back(gen, s, f"method_pullback(_pass, {obj}, {s.fn!r}, {_tuple(args)}, {_dict(kwargs)})",
                              out, ind, comment)

    def contribs(self, gen, s, g, out, ind, state):
        return _pullback_contribs(gen, s, g, out, ind, self.back, method=True)


def _call_pullback(gen, s) -> str:
    fexpr, args, kwargs = _call_parts(gen, s)
    if s.star:
        return f"call_pullback(_pass, {fexpr}, {args}, {kwargs})"
    return f"call_pullback(_pass, {fexpr}, {_tuple(args)}, {_dict(kwargs)})"


class GenericPullback(WithPullback):
    """Any other call: `call_pullback` dispatches at run time (rule, compiled adjoint, tape)."""

    __slots__ = ("rule",)
    calls_user_code = True

    def __init__(self, back, rule=None):
        super().__init__(back)
        self.rule = rule

    def emit_primal(self, gen, s, out, ind, comment):
        return self.with_back(gen, s, _call_pullback(gen, s), out, ind, comment)

    def contribs(self, gen, s, g, out, ind, state):
        return _pullback_contribs(gen, s, g, out, ind, self.back, method=False)


class RRuleCall(WithPullback):
    """A rule given as an ``rrule`` (value and pullback at once): called as a helper."""

    __slots__ = ("rule",)

    def __init__(self, back, rule):
        super().__init__(back)
        self.rule = rule

    def emit_primal(self, gen, s, out, ind, comment):
        if s.star:
            return self.with_back(gen, s, _call_pullback(gen, s), out, ind, comment)
        _, args, kwargs = _call_parts(gen, s)
        rr = gen.helper(f"{getattr(self.rule.fn, '__name__', 'f')}_rrule", self.rule.rrule)
        return self.with_back(gen, s, expr_of_call(None, rr, args, kwargs), out, ind, comment)

    def contribs(self, gen, s, g, out, ind, state):
        pad = "    " * ind
        d = gen.namer.fresh("_d")
        out.append(f"{pad}{d} = {gen.name(self.back)}({g})")
        return [(a, f"{d}[{i}]", True) for i, a in enumerate(s.args)]


class DirectPullback(WithPullback):
    """A user function known now, called with arguments of certain kinds: straight to its
    compiled pullback (`_DirectCall`), no dispatch."""

    __slots__ = ("fn", "kinds")
    calls_user_code = True

    def __init__(self, back, fn, kinds):
        super().__init__(back)
        self.fn = fn
        self.kinds = kinds

    def emit_primal(self, gen, s, out, ind, comment):
        if s.star:
            return False
        _, args, _ = _call_parts(gen, s)
        h = gen.helper(f"{self.fn.__name__}_pullback", _DirectCall(self.fn, self.kinds))
        gen.directs[h] = (self.fn, self.kinds)
        return self.with_back(gen, s, f"{h}(_pass, {', '.join(args)})", out, ind, comment)

    def contribs(self, gen, s, g, out, ind, state):
        pad = "    " * ind
        d = gen.namer.fresh("_d")
        out.append(f"{pad}_, {d} = {gen.name(self.back)}({g})")
        # the callee was compiled for these kinds: a float parameter's cotangent is a float
        return [(a, f"{d}[{i}]", gen.info.type_of(a) != FLOAT) for i, a in enumerate(s.args)]


class GuardedVJP(WithPullback):
    """An operator on an operand of unknown kind (which may be a user object with its own
    ``__add__``): floats take the rule inlined (``fast``, no pullback kept), anything else
    `call_pullback` (``slow``); the adjoint tests which one ran."""

    __slots__ = ("fast", "slow")

    def __init__(self, back, rule, tmpl):
        super().__init__(back)
        self.fast = InlineVJP(rule, tmpl, rule.scalar_vjps, scalar=True)
        self.slow = GenericPullback(back)

    @property
    def rule(self):
        return self.fast.rule

    @property
    def tmpl(self):
        return self.fast.tmpl

    def reads(self, gen, s):
        found = [self.back]
        for t in self.fast.tmpl:
            if t is not None:
                found += _template_reads(t, s)
        return found

    def emit_primal(self, gen, s, out, ind, comment):
        if s.star:
            return False
        fexpr, args, _ = _call_parts(gen, s)
        checks = " and ".join(f"type({gen.expr(a)}) is float" for a in s.args if gen.info.type_of(a) == ANY)
        fast = expr_of_call(s.fn.value, fexpr, args, {})
        return self.with_back(gen, s, f"({fast}, None) if {checks} else "
                                      f"call_pullback(_pass, {fexpr}, {_tuple(args)}, None)", out, ind, comment)

    def emit_adjoint(self, gen, s, out, ind, state):
        pad = "    " * ind
        y = s.outs[0]
        g = gen.bar(y)
        gen.take_buffered(s, y, out, pad, state)
        if state.get(g) != y.id:
            out.append(f"{pad}{g} = None")
        state.pop(g, None)
        back = gen.name(self.back)
        # fast branch: floats, the scalar rule inlined (when there is a cotangent)
        st_fast = dict(state)
        inner: list[str] = []
        st_inner = dict(st_fast)
        contribs = self.fast.contribs(gen, s, g, inner, ind + 2, st_inner)
        floats = {a.id for a in s.args if isinstance(a, ir.Value)}  # checked to be floats on this path
        gen.emit_contribs(inner, ind + 2, st_inner, g, contribs, floats=floats)
        none_lines: list[str] = []
        st_fast = gen.reconcile([st_inner, dict(st_fast)], [inner, none_lines], ind + 2)
        fast = [f"{pad}    if {g} is not None:"] + (inner or [pad + "        pass"])
        if none_lines:
            fast += [f"{pad}    else:"] + none_lines
        # other values: their pullback
        st_gen = dict(state)
        slow: list[str] = []
        contribs = self.slow.contribs(gen, s, g, slow, ind + 1, st_gen)
        gen.emit_contribs(slow, ind + 1, st_gen, g, contribs)
        merged = gen.reconcile([dict(st_fast), st_gen], [fast, slow], ind + 1)
        out.append(f"{pad}if {back} is None:")
        out.extend(fast)
        out.append(f"{pad}else:")
        out.extend(slow or [pad + "    pass"])
        state.clear()
        state.update(merged)


class _DirectCall:
    """The compiled pullback of ``fn`` for argument kinds ``kinds``, found on first use.

    `transform.compiled` replaces it in the generated code's closure by the
    compiled function itself once that exists (at once for self-recursion).
    """

    __slots__ = ("fn", "kinds")

    def __init__(self, fn, kinds):
        self.fn = fn
        self.kinds = kinds

    def __call__(self, _pass, *args):
        from wengert.registry import compiled

        return compiled(self.fn, self.kinds, ()).pullback(_pass, *args)
