"""Forward mode of calls: rules inlined (their ``jvp`` templates, the scalar forms of the
operators in float code), rules with a full ``frule`` called as helpers, in-place
operators on arrays and objects, direct calls of known Python functions with scalar
arguments (`_DirectJVP`), and everything else through the dispatcher, ``jvp_call``.

Mixed into `generator.TangentWriter`.
"""

from __future__ import annotations

import builtins
import operator
import types

from wengert import ir
from wengert.backend.emit import INPLACE, _dict, _tuple, expr_of_call
from wengert.frontend.program import has_source as _has_source
from wengert.ir.activity import ANY, BOOL, FLOAT, INT, NONE, own_getitem
from wengert.ir.adjoint_kinds import NextKind
from wengert.ir.kinds import ARRAY, SCALARS
from wengert.overload.dual import Tracked
from wengert.rules.operators import _pow_dx, _pow_dy
from wengert.rules.table import get_rule
from wengert.runtime.cotangents import accum
from wengert.registry import compiled_jvp
from wengert.registry import variant as _variant
from wengert.transforms.forward.common import _NUMS, _balanced, _filled, _subst
from wengert.transforms.inline import instantiate, template, used_params


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


class Calls:
    """Calls and in-place operators (see the module docstring); uses `TangentWriter`'s names."""

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
        if static in (operator.mod, operator.imod) and len(s.args) == 2 and not s.kwargs \
                and self.type_of(s.args[0]) not in (FLOAT, INT, BOOL, ARRAY):
            a0 = s.args[0]
            if (isinstance(a0, ir.Const) and isinstance(a0.value, (str, bytes))) or self.type_of(a0) == NONE:
                # ``fmt % args``: a string (None and strings are of kind none) has no tangent
                out.append(f"{pad}{y} = {primal}" + comment)
                out.append(f"{pad}{ydot} = None")
                return
            # of unknown kind (a string or a number, known when it runs): the dispatcher decides
            ts = [self.tan(a) if self.active(a) else "None" for a in s.args]
            h = self.helper(static.__name__, static)
            out.append(f"{pad}{y}, {ydot} = jvp_call({h}, {_tuple(args)}, {_tuple(ts)})" + comment)
            self._normalise_out(outs[0], out, pad)
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
        if self._linear_call(s, static, fexpr, args, primal, y, ydot, out, pad, comment):
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
