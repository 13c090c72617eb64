"""Lowering of Python expressions to IR (the expression half of `frontend.Lowerer`).

Operators become calls of the `operator` functions, ``and``/``or``, conditional
expressions and chained comparisons become ``If`` regions, comprehensions and
generator expressions become ``For`` loops appending to a fresh list (or setting
keys of a fresh dict), ``lambda`` and nested ``def`` become ``closure`` ops.
"""

from __future__ import annotations

import ast
import builtins
import operator
import types

from wengert import ir
from wengert.ir.core import SELF, UNDEFINED  # noqa: F401  (re-exported: the frontend puts them in the IR)
from wengert.rules.builtins import format_value, import_name, join_str
from wengert.rules.containers import _merge
from wengert.frontend.generators import generator_to_list  # noqa: F401  (re-exported for lower)
from wengert.frontend.source import find_code
from wengert.frontend.stdlib import python_version


BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
AUGOPS = {
    ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
    ast.Div: operator.itruediv, ast.FloorDiv: operator.ifloordiv, ast.Mod: operator.imod,
    ast.Pow: operator.ipow, ast.MatMult: operator.imatmul, ast.BitAnd: operator.iand,
    ast.BitOr: operator.ior, ast.BitXor: operator.ixor, ast.LShift: operator.ilshift,
    ast.RShift: operator.irshift,
}
UNARYOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
            ast.Invert: operator.invert}
CMPOPS = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
# methods that mutate their object: differentiating through them needs the
# mutation support of the data-structure work; until then, refuse loudly
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
    "sort", "reverse", "add", "discard", "popitem", "fill", "resize", "put", "itemset",
})


class ExpressionLowering:
    """Mixin of `frontend.Lowerer`: ``expr_<NodeType>`` methods and what they need."""


    def name_load(self, name: str, node) -> ir.Operand:
        for comp in reversed(self.comp_names):
            if name in comp:
                return self.env[name]
        if name in self.locals:
            v = self.env.get(name)
            if v is None:
                raise self.error(f"local variable {name!r} may be read before it is assigned", node)
            return v
        if name in self.freevars:
            return self.op("free", name, name=name)
        return self.global_load(name)

    def global_load(self, name: str) -> ir.Value:
        if name in self.globals:
            obj = self.globals[name]
        elif hasattr(builtins, name):
            obj = getattr(builtins, name)
        else:
            obj = UNDEFINED
        v = self.op("global", name, name=None)
        self.resolved[name] = obj
        v.static = obj
        return v

    def expr(self, e: ast.expr) -> ir.Operand:
        line = getattr(e, "lineno", None)
        if line:
            self.line = line
        m = getattr(self, "expr_" + type(e).__name__, None)
        if m is None:
            raise self.error(f"{type(e).__name__} expression is not supported yet", e)
        return m(e)

    def expr_Constant(self, e):
        return ir.Const(e.value)

    def expr_Name(self, e):
        return self.name_load(e.id, e)

    def expr_BinOp(self, e):
        a = self.expr(e.left)
        b = self.expr(e.right)
        return self.call(BINOPS[type(e.op)], a, b)

    def expr_UnaryOp(self, e):
        v = self.expr(e.operand)
        if isinstance(v, ir.Const) and isinstance(e.op, (ast.USub, ast.UAdd)) and type(v.value) in (int, float):
            return ir.Const(-v.value if isinstance(e.op, ast.USub) else v.value)  # -1 is a constant
        return self.call(UNARYOPS[type(e.op)], v)

    def expr_BoolOp(self, e):
        # a and b  ->  if a: b else: a      a or b  ->  if a: a else: b
        v = self.expr(e.values[0])
        for nxt in e.values[1:]:
            env0 = self.env
            holder = {}

            def rhs(nxt=nxt):
                holder["v"] = self.expr(nxt)

            b_block, b_env = self.branch(rhs, env0)
            a_block, a_env = self.branch(lambda: None, env0)
            if isinstance(e.op, ast.And):
                v = self.join(v, b_block, b_env, a_block, a_env, self.line,
                              result=(None, holder["v"], v))
            else:
                v = self.join(v, a_block, a_env, b_block, b_env, self.line,
                              result=(None, v, holder["v"]))
        return v

    def expr_IfExp(self, e):
        cond = self.expr(e.test)
        env0 = self.env
        holder = {}
        t_block, t_env = self.branch(lambda: holder.__setitem__("t", self.expr(e.body)), env0)
        f_block, f_env = self.branch(lambda: holder.__setitem__("f", self.expr(e.orelse)), env0)
        return self.join(cond, t_block, t_env, f_block, f_env, self.line,
                         result=(None, holder["t"], holder["f"]))

    def expr_Compare(self, e):
        left = self.expr(e.left)
        result = None
        pairs = list(zip(e.ops, e.comparators))
        # a < b < c  ->  (a < b) and (b < c), b evaluated once
        def one(op, a, b):
            if isinstance(op, ast.In):
                return self.call(operator.contains, b, a)
            if isinstance(op, ast.NotIn):
                return self.call(operator.not_, self.call(operator.contains, b, a))
            return self.call(CMPOPS[type(op)], a, b)

        if len(pairs) == 1:
            return one(pairs[0][0], left, self.expr(pairs[0][1]))
        right = self.expr(pairs[0][1])
        result = one(pairs[0][0], left, right)
        for op, comp in pairs[1:]:
            env0 = self.env
            holder = {}
            prev = right

            def rhs(op=op, comp=comp, prev=prev):
                r = self.expr(comp)
                holder["r"] = r
                holder["v"] = one(op, prev, r)

            b_block, b_env = self.branch(rhs, env0)
            a_block, a_env = self.branch(lambda: None, env0)
            result = self.join(result, b_block, b_env, a_block, a_env, self.line,
                               result=(None, holder["v"], result))
            right = holder["r"]
        return result

    def expr_Call(self, e):
        star = any(isinstance(a, ast.Starred) for a in e.args) or any(k.arg is None for k in e.keywords)
        if isinstance(e.func, ast.Attribute) and not star:
            obj = self.expr(e.func.value)
            static_obj = getattr(obj, "static", None) if isinstance(obj, ir.Value) else None
            if isinstance(static_obj, types.ModuleType):
                # math.sin(x): a function of a module, resolved now, guarded at run time
                fnv = self.op("attr", e.func.attr, [obj])
                fnv.static = getattr(static_obj, e.func.attr, UNDEFINED)
                self.note_resolved(static_obj, e.func.attr, fnv.static)
                args, kwargs = self.call_args(e)
                return self.call_out(fnv, args, kwargs, fnv.static)
            if isinstance(static_obj, type) and python_version(
                    getattr(static_obj, e.func.attr, None)) is not None:
                # itertools.chain.from_iterable(xs): a class's function with a Python stand-in
                args, kwargs = self.call_args(e)
                py = python_version(getattr(static_obj, e.func.attr))
                return self.op("call", ir.Const(py), args, kwargs, static=py)
            args, kwargs = self.call_args(e)
            if e.func.attr == "update" and kwargs and len(args) <= 1:
                # d.update(m, a=x): for a dict, d.update(m) then d.update({"a": x}), so the values
                # written by keyword get their cotangents like the others (stdlib.py)
                from wengert.frontend.stdlib import update_with_keywords_

                kw = self.op("dict", list(kwargs), list(kwargs.values()))
                return self.call(update_with_keywords_, obj, args[0] if args else ir.Const(None), kw)
            if e.func.attr in MUTATING_METHODS:
                m = self.op("method", e.func.attr, [obj, *args], kwargs)
                self.block.stmts[-1].mutating = True
                return m
            return self.op("method", e.func.attr, [obj, *args], kwargs)
        if (isinstance(e.func, ast.Name) and e.func.id == "super" and not e.args and not e.keywords
                and "__class__" in self.freevars and self.node.args.args):
            # zero-argument super() reads the __class__ cell and the first argument
            cls = self.op("free", "__class__")
            first = self.env[self.node.args.args[0].arg]
            return self.call(super, cls, first)
        fnv = self.expr(e.func)
        static = getattr(fnv, "static", None) if isinstance(fnv, ir.Value) else (
            fnv.value if isinstance(fnv, ir.Const) else None)
        py = python_version(static)
        if py is not None:
            # map, filter, functools.reduce / partial, itertools...: C code that calls or
            # iterates what it is handed; their Python versions are differentiated (stdlib.py)
            fnv = ir.Const(py)
            static = py
        if star:
            a = self.star_args(e)
            out = self.op("call", fnv, [a[0], a[1]], {}, static=static)
            self.block.stmts[-1].star = True
            return out
        args, kwargs = self.call_args(e)
        if static is builtins.dict and not args and kwargs:  # dict(a=x): a display
            return self.op("dict", list(kwargs), list(kwargs.values()))
        if static is builtins.dict and len(args) == 1 and kwargs:  # dict(m, a=x): m's items, then a display
            return self.call(_merge, self.op("call", fnv, args, {}, static=static),
                             self.op("dict", list(kwargs), list(kwargs.values())))
        if static in (builtins.getattr, builtins.setattr) and not kwargs and len(args) == (
                2 if static is builtins.getattr else 3) and isinstance(args[1], ir.Const) \
                and type(args[1].value) is str:
            # getattr(o, "w") and setattr(o, "w", v) with a constant name are o.w and o.w = v
            if static is builtins.getattr:
                return self.op("attr", args[1].value, [args[0]])
            self.op("setattr", args[1].value, [args[0], args[2]], nout=0)
            return ir.Const(None)
        return self.call_out(fnv, args, kwargs, static)

    def call_out(self, fnv, args, kwargs, static):
        """A call; NumPy's ``f(a, b, out=c)`` becomes ``c[...] = f(a, b)``, which is
        what it does: an in-place write the mutation machinery knows."""
        py = python_version(static)
        if py is not None:  # functools.reduce(...) and the like: see expr_Call
            return self.op("call", ir.Const(py), args, kwargs, static=py)
        out = kwargs.get("out")
        mod = (getattr(static, "__module__", None) or "").split(".")[0]
        if out is None or not (mod == "numpy" or type(static).__name__ == "ufunc"):
            return self.op("call", fnv, args, kwargs, static=static)
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
        if isinstance(out, ir.Const) and out.value is None:
            return self.op("call", fnv, args, kwargs, static=static)
        if isinstance(out, ir.Const):
            raise self.error("out= must name an array", None)
        r = self.op("call", fnv, args, kwargs, static=static)
        self.op("setitem", None, [out, ir.Const(Ellipsis), r], nout=0)
        return out

    def note_resolved(self, module, attr, obj):
        self.resolved[(module, attr)] = obj

    def call_args(self, e):
        args = [self.expr(a) for a in e.args]
        kwargs = {k.arg: self.expr(k.value) for k in e.keywords}
        return args, kwargs

    def star_args(self, e):
        parts = []
        cur = []
        for a in e.args:
            if isinstance(a, ast.Starred):
                if cur:
                    parts.append(self.op("tuple", None, cur))
                    cur = []
                parts.append(self.call(tuple, self.expr(a.value)))
            else:
                cur.append(self.expr(a))
        if cur or not parts:
            parts.append(self.op("tuple", None, cur))
        args = parts[0]
        for p in parts[1:]:
            args = self.call(operator.add, args, p)
        kw = self.op("dict", [], [])
        keys, vals = [], []
        for k in e.keywords:
            if k.arg is None:
                if keys:
                    kw = self.call(_merge, kw, self.op("dict", keys, vals))
                    keys, vals = [], []
                kw = self.call(_merge, kw, self.expr(k.value))
            else:
                keys.append(k.arg)
                vals.append(self.expr(k.value))
        if keys:
            kw = self.call(_merge, kw, self.op("dict", keys, vals))
        return args, kw

    def expr_Attribute(self, e):
        obj = self.expr(e.value)
        v = self.op("attr", e.attr, [obj])
        static_obj = getattr(obj, "static", None) if isinstance(obj, ir.Value) else None
        if isinstance(static_obj, types.ModuleType):
            v.static = getattr(static_obj, e.attr, UNDEFINED)
            self.note_resolved(static_obj, e.attr, v.static)
        return v

    def expr_Subscript(self, e):
        obj = self.expr(e.value)
        idx = self.expr(e.slice)
        return self.call(operator.getitem, obj, idx)

    def expr_Slice(self, e):
        parts = [self.expr(p) if p is not None else ir.Const(None) for p in (e.lower, e.upper, e.step)]
        if all(isinstance(p, ir.Const) for p in parts):
            return ir.Const(slice(*(p.value for p in parts)))
        return self.call(slice, *parts)

    def expr_Tuple(self, e):
        if any(isinstance(x, ast.Starred) for x in e.elts):
            return self.starred_display(e.elts, "tuple", tuple)
        return self.op("tuple", None, [self.expr(x) for x in e.elts])

    def expr_List(self, e):
        if any(isinstance(x, ast.Starred) for x in e.elts):
            return self.starred_display(e.elts, "list", list)
        return self.op("list", None, [self.expr(x) for x in e.elts])

    def starred_display(self, elts, kind, convert):
        """``[a, *xs, b]``  ->  ``[a] + list(xs) + [b]`` (tuples alike): concatenation, whose
        rule splits the cotangent back into the parts."""
        parts, run = [], []
        for x in elts:
            if isinstance(x, ast.Starred):
                if run:
                    parts.append(self.op(kind, None, run))
                    run = []
                parts.append(self.call(convert, self.expr(x.value)))
            else:
                run.append(self.expr(x))
        if run:
            parts.append(self.op(kind, None, run))
        out = parts[0]
        for p in parts[1:]:
            out = self.call(operator.add, out, p)
        return out

    def expr_Set(self, e):
        # {a, b} -> set((a, b)): sets of numbers that carry a derivative are refused when
        # made (transform.pullback_of: no order to send gradients back through); sets of
        # strings and ints (membership tests) just run
        items = self.expr_Tuple(ast.Tuple(elts=e.elts, ctx=ast.Load()))
        return self.call(set, items)

    def expr_Dict(self, e):
        if any(k is None for k in e.keys):
            # {**a, "k": v, **b}  ->  merges, as a call's ** arguments
            out, keys, vals = self.op("dict", [], []), [], []
            for k, v in zip(e.keys, e.values):
                if k is None:
                    if keys:
                        out = self.call(_merge, out, self.op("dict", keys, vals))
                        keys, vals = [], []
                    out = self.call(_merge, out, self.call(dict, self.expr(v)))
                    continue
                kv = self.expr(k)
                if not isinstance(kv, ir.Const):
                    raise self.error("dict display with computed keys is not supported yet", e)
                keys.append(kv.value)
                vals.append(self.expr(v))
            if keys:
                out = self.call(_merge, out, self.op("dict", keys, vals))
            return out
        keys = [self.expr(k) for k in e.keys]
        if not all(isinstance(k, ir.Const) for k in keys):
            raise self.error("dict display with computed keys is not supported yet", e)
        return self.op("dict", [k.value for k in keys], [self.expr(v) for v in e.values])

    def expr_NamedExpr(self, e):
        v = self.expr(e.value)
        self.assign(e.target, v)
        return v

    def expr_Lambda(self, e):
        return self.make_closure(e)

    def expr_JoinedStr(self, e):
        # f"{x:.3f} at {i}": strings have no derivative; each field is formatted by a
        # `nondiff` helper, so the f-string runs and the gradient ignores it
        parts = []
        for v in e.values:
            if isinstance(v, ast.FormattedValue):
                spec = self.expr(v.format_spec) if v.format_spec is not None else ir.Const("")
                parts.append(self.call(format_value, self.expr(v.value), ir.Const(v.conversion), spec))
            else:
                parts.append(self.expr(v))
        if len(parts) == 1 and isinstance(parts[0], ir.Const):
            return parts[0]
        return self.call(join_str, *parts)

    # imports inside the function

    def import_stmt(self, s):
        """``import a.b``, ``import a.b as m``, ``from .a import x as y``: each name is bound to
        a call of `import_name` (run when the line runs: an import in an untaken branch never
        runs). The module is also imported now, so ``m.sin(x)`` resolves to its rule like a
        module-level import does; if it cannot be imported now, attributes resolve at run time."""
        package = self.globals.get("__package__")
        for alias in s.names:
            if isinstance(s, ast.ImportFrom):
                if alias.name == "*":
                    raise self.error("'from ... import *' inside a function is not allowed in Python 3", s)
                module = "." * (s.level or 0) + (s.module or "")
                attr, bound = alias.name, alias.asname or alias.name
            else:
                module = alias.name
                attr = "" if alias.asname else None
                bound = alias.asname or alias.name.split(".")[0]
            v = self.call(import_name, ir.Const(module), ir.Const(attr), ir.Const(package), name=bound)
            try:
                v.static = import_name(module, attr, package)
            except Exception:  # noqa: BLE001 - raised again when (if) the line runs
                v.static = None
            else:
                if not isinstance(v.static, types.ModuleType) and not callable(v.static):
                    v.static = None  # a constant imported by name: read when the line runs
            self.assign(ast.Name(id=bound, ctx=ast.Store(), lineno=s.lineno), v)

    # comprehensions lower to loops appending to a fresh list

    def expr_ListComp(self, e):
        return self.comprehension(e, lambda acc: self.op("append", None, [acc, self.expr(e.elt)], nout=0))

    expr_GeneratorExp = expr_ListComp

    def expr_SetComp(self, e):
        return self.call(set, self.expr_ListComp(e))  # a set of what the list comprehension makes

    def expr_DictComp(self, e):
        def put(acc):
            key = self.expr(e.key)
            self.op("setitem", None, [acc, key, self.expr(e.value)], nout=0)

        return self.comprehension(e, put, lambda: self.op("dict", [], []))

    def comprehension(self, e, emit_elt, make=None):
        acc = make() if make is not None else self.op("newlist", None, [], name=None)
        scope = set()
        for g in e.generators:
            scope |= self._target_names(g.target)
        self.comp_names.append(scope)
        saved = {k: self.env.get(k) for k in scope}

        def level(i):
            if i == len(e.generators):
                emit_elt(acc)
                return
            g = e.generators[i]
            if g.is_async:
                raise self.error("async comprehension", e)
            iterable = self.expr(g.iter)
            self._check_comp(e)
            carried, inits = [], []  # comprehension variables live one iteration

            def body():
                self.comp_conds(g.ifs, lambda: level(i + 1))

            def bind(item):
                self._bind_comp_target(g.target, item)

            fake = ast.For(target=g.target, iter=g.iter, body=[], orelse=[], lineno=self.line)
            self.loop_body(fake, carried, inits, iterable, body, bind, None)

        level(0)
        self.comp_names.pop()
        for k, v in saved.items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        return acc

    def _check_comp(self, e):
        for n in ast.walk(e):
            if isinstance(n, ast.NamedExpr):
                raise self.error("assignment expression inside a comprehension is not supported", e)

    def _bind_comp_target(self, target, item):
        if isinstance(target, ast.Name):
            self.env[target.id] = item
            if isinstance(item, ir.Value) and item.name is None:
                item.name = target.id
        elif isinstance(target, (ast.Tuple, ast.List)):
            n = len(target.elts)
            outs = self.op("unpack", n, [item], nout=n)
            outs = [outs] if n == 1 else outs
            for t, o in zip(target.elts, outs):
                self._bind_comp_target(t, o)
        else:
            raise self.error("unsupported comprehension target", target)

    def comp_conds(self, ifs, inner):
        if not ifs:
            inner()
            return
        cond = self.expr(ifs[0])
        env0 = self.env
        then, then_env = self.branch(lambda: self.comp_conds(ifs[1:], inner), env0)
        orelse, else_env = self.branch(lambda: None, env0)
        self.join(cond, then, then_env, orelse, else_env, self.line)

    # nested functions

    def make_closure(self, node) -> ir.Value:
        code = find_code(self.code, node)
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod") for d in node.decorator_list):
            raise self.error("decorated nested function is not supported", node)
        a = node.args
        defaults = [self.expr(d) for d in a.defaults]
        kwdefaults = {arg.arg: self.expr(d) for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
        captured = []
        self_name = node.name if isinstance(node, ast.FunctionDef) else None
        for name in code.co_freevars:
            if name == self_name and name not in self.env:
                captured.append(ir.Const(SELF))
            elif name in self.locals:
                v = self.env.get(name)
                if v is None:
                    # assigned later in the enclosing function: only legal for itself
                    raise self.error(f"nested function captures {name!r} before it is assigned", node)
                captured.append(v)
            elif name in self.freevars:
                captured.append(self.op("free", name, name=name))
            else:
                raise self.error(f"cannot resolve captured variable {name!r}", node)
        dtuple = self.op("tuple", None, defaults) if defaults else ir.Const(None)
        kw = self.op("dict", list(kwdefaults), list(kwdefaults.values())) if kwdefaults else ir.Const(None)
        v = self.op("closure", code, [dtuple, kw, *captured], name=self_name)
        for d in getattr(node, "decorator_list", [])[::-1]:
            dec = self.expr(d)
            v = self.op("call", dec, [v], name=self_name, static=getattr(dec, "static", None))
        return v
