"""Python function -> SSA IR (`wengert.ir`).

Reads the function's source with `inspect`, normalises it (`normalize`), and
lowers it to structured SSA: operators become calls of the `operator`
functions, ``and``/``or``/conditional expressions and chained comparisons
become ``If`` regions, comprehensions and generator expressions become ``For``
loops that append to a fresh list, variables assigned in a loop are carried
through it as block arguments, variables assigned in a branch come out of it
as ``If`` results.

Names are resolved as Python does, but when the gradient runs, never at
transform time: locals are SSA values, the function's own closure cells are
read by ``free`` ops, everything else by ``global`` ops (globals, then
builtins). The callee of a call is also resolved at transform time
(``Op.static``) so that rules can be inlined; `codegen` guards those
resolutions and transforms again when a global is rebound.

Anything that cannot be differentiated faithfully raises `UnsupportedError`
with the file and line.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import operator
import types

from wengert import ir
from wengert.errors import UnsupportedError
from wengert.normalize import normalize

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


class _Undefined:
    """Value of a variable read before it is assigned (Python raises UnboundLocalError)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()


# ---- finding the source ----


def function_ast(fn) -> tuple[ast.FunctionDef | ast.Lambda, str, int]:
    """The AST of ``fn``'s definition, its file name and first line (1-based, in the file).

    The whole file is parsed (and cached), so lambdas and nested functions are
    found wherever they sit; several on one line are told apart by the column
    where their code starts.
    """
    code = fn.__code__
    filename = code.co_filename
    tree = source_tree(filename, fn)
    node = _find_def(tree, code) if tree is not None else None
    if node is None:
        raise UnsupportedError(
            f"no source for {getattr(fn, '__qualname__', fn)!r}; wengert reads source code. "
            "Define it in a file, or register a rule with wengert.defvjp",
            filename, code.co_firstlineno)
    return node, filename, node.lineno


_TREES: dict = {}


def source_tree(filename: str, fn=None):
    """The parsed module source of ``filename`` (from linecache), or None."""
    import linecache

    lines = linecache.getlines(filename, getattr(fn, "__globals__", None))
    if not lines and fn is not None:
        try:
            inspect.getsourcelines(fn)
        except (OSError, TypeError):
            return None
        lines = linecache.getlines(filename)
    if not lines:
        return None
    text = "".join(lines)
    key = (filename, hash(text))
    tree = _TREES.get(key)
    if tree is None:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return None
        _TREES[key] = tree
    return tree


def _find_def(tree: ast.AST, code: types.CodeType):
    if code.co_name == "<lambda>":
        cands = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
        nargs = code.co_argcount + code.co_kwonlyargcount
        names = code.co_varnames[:nargs]
        cands = [n for n in cands
                 if tuple(a.arg for a in [*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs]) == names]
        if len(cands) > 1:
            # several lambdas with the same parameters on one line: use the column of the body
            col = _first_col(code)
            exact = [n for n in cands if n.body.col_offset == col]
            cands = exact or cands
        return cands[0] if cands else None
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == code.co_name:
            first = n.decorator_list[0].lineno if n.decorator_list else n.lineno
            if code.co_firstlineno in (n.lineno, first):
                return n
    return None


def _all_args(a: ast.arguments):
    return [*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg]


def find_code(parent: types.CodeType, node) -> types.CodeType:
    """The code object of a nested def/lambda ``node`` among ``parent``'s constants."""
    name = "<lambda>" if isinstance(node, ast.Lambda) else node.name
    line = node.lineno if isinstance(node, ast.Lambda) or not node.decorator_list else None
    found = []

    def search(code):
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                if c.co_name == name and (line is None or c.co_firstlineno == line
                                          or (not isinstance(node, ast.Lambda) and c.co_firstlineno
                                              in (node.lineno,
                                                  node.decorator_list[0].lineno if node.decorator_list else -1))):
                    found.append(c)
                search(c)

    search(parent)
    if not found:
        raise UnsupportedError(f"could not find the code of nested {name}", parent.co_filename, node.lineno)
    if len(found) > 1 and isinstance(node, ast.Lambda):
        for c in found:
            if _first_col(c) == node.body.col_offset:
                return c
    return found[0]


def _first_col(code):
    """Column where a lambda's body starts, from its code object's positions."""
    pos = [p for p in code.co_positions() if p[0] == code.co_firstlineno and p[2] is not None and p[3] != 0]
    return min((p[2] for p in pos), default=None)


# ---- lowering ----


def lower(fn) -> ir.Function:
    """Lower a Python function to SSA IR.

    >>> def f(x):
    ...     return x * x
    >>> print(ir.format_function(lower(f)), end="")  # doctest: +SKIP
    """
    node, filename, _ = function_ast(fn)
    normalize(node)
    return Lowerer(fn, node, filename).run()


def _assigned_names(node) -> set[str]:
    names: set[str] = set()
    body = node.body if isinstance(node.body, list) else [node.body]
    for stmt in body:
        for n in _walk_scope(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                names.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    names.add((a.asname or a.name).split(".")[0])
    return names


def _walk_scope(node):
    """ast.walk that does not enter nested function/lambda/class scopes (comprehensions it does)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child
            for d in child.decorator_list:
                yield from _walk_scope(d)
            continue
        if isinstance(child, ast.Lambda):
            continue
        yield from _walk_scope(child)


class Lowerer:
    def __init__(self, fn, node, filename: str):
        self.fn = fn
        self.code = fn.__code__
        self.node = node
        self.filename = filename
        self.counter = 0
        self.block_counter = 0
        self.globals = fn.__globals__
        params = [a.arg for a in _all_args(node.args) if a is not None]
        self.locals = _assigned_names(node) | set(params)
        self.freevars = set(self.code.co_freevars)
        self.env: dict[str, ir.Operand] = {}
        self.block: ir.Block | None = None
        self.loop_stack: list[dict] = []
        self.comp_names: list[set[str]] = []
        self.line = node.lineno
        self.resolved: dict = {}
        self._check_cells()

    # -- helpers --

    def error(self, msg: str, node=None) -> UnsupportedError:
        return UnsupportedError(msg, self.filename, getattr(node, "lineno", None) or self.line)

    def new(self, name=None) -> ir.Value:
        self.counter += 1
        return ir.Value(self.counter, name, self.line)

    def new_block(self, args=()) -> ir.Block:
        self.block_counter += 1
        return ir.Block(list(args), [], None, self.block_counter)

    def emit(self, stmt):
        self.block.stmts.append(stmt)
        return stmt

    def op(self, kind, fn, args=(), kwargs=None, name=None, static=None, nout=1) -> ir.Value:
        outs = [self.new(name) for _ in range(nout)]
        self.emit(ir.Op(outs, kind, fn, list(args), dict(kwargs or {}), self.line, static))
        return outs[0] if nout == 1 else outs

    def call(self, fn, *args, name=None) -> ir.Value:
        return self.op("call", ir.Const(fn), args, name=name, static=fn)

    def _check_cells(self):
        # variables captured by nested functions are captured by value when the
        # nested function is made; that is exact only if they are never rebound
        cells = set(self.code.co_cellvars)
        if not cells:
            return
        # comprehensions are lowered inline, not made into functions: only what real
        # nested defs and lambdas capture counts
        captured: set[str] = set()
        for n in ast.walk(self.node) if not isinstance(self.node, ast.Lambda) else ():
            if n is self.node or not isinstance(n, (ast.FunctionDef, ast.Lambda)):
                continue
            try:
                captured |= set(find_code(self.code, n).co_freevars)
            except UnsupportedError:
                captured |= cells
        cells &= captured
        if not cells:
            return
        counts: dict[str, list[int]] = {}
        params = {a.arg for a in _all_args(self.node.args) if a is not None}
        for stmt in (self.node.body if isinstance(self.node.body, list) else []):
            for n in _walk_scope(stmt):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in cells:
                    counts.setdefault(n.id, []).append(n.lineno)
                elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in cells:
                    counts.setdefault(n.name, []).append(n.lineno)
                elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id in cells:
                    counts.setdefault(n.target.id, []).append(n.lineno)
        for name, lines in counts.items():
            if len(lines) + (name in params) > 1:
                raise UnsupportedError(
                    f"variable {name!r} is captured by a nested function and assigned more than once; "
                    "wengert captures closure variables by value, so rebinding one is not supported "
                    "(assign it once, or pass it as an argument)", self.filename, lines[-1])

    # -- entry --

    def run(self) -> ir.Function:
        node = self.node
        self.block = self.new_block()
        top = self.block
        params = []
        for a in _all_args(node.args):
            if a is None:
                continue
            v = self.new(a.arg)
            v.line = node.lineno
            params.append(v)
            self.env[a.arg] = v
        if isinstance(node, ast.Lambda):
            self.line = node.lineno
            r = self.expr(node.body)
            top.term = ir.Term("return", [r], node.lineno)
        else:
            self.stmts(node.body)
            if top.term is None:
                raise self.error("internal: function body does not end in return", node)
        fn = ir.Function(self.code.co_name, params, top, self.filename, node.lineno, node.args,
                         self.code.co_freevars)
        prune(fn)
        fn.globals_resolved = self.resolved
        return fn

    # -- statements --

    def stmts(self, body: list[ast.stmt]) -> None:
        for s in body:
            if self.block.term is not None:
                return
            self.line = s.lineno
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Assign):
            t0 = s.targets[0]
            if (len(s.targets) == 1 and isinstance(t0, (ast.Tuple, ast.List))
                    and isinstance(s.value, (ast.Tuple, ast.List)) and len(t0.elts) == len(s.value.elts)
                    and not any(isinstance(e, ast.Starred) for e in t0.elts + s.value.elts)):
                # a, b = b, a + b: evaluate every right-hand side, then bind each name
                vals = [self.expr(e) for e in s.value.elts]
                for t, v in zip(t0.elts, vals):
                    self.assign(t, v)
                return
            v = self.expr(s.value)
            for t in s.targets:
                self.assign(t, v)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.assign(s.target, self.expr(s.value))
        elif isinstance(s, ast.AugAssign):
            self.augassign(s)
        elif isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):
                return  # docstring
            self.expr(s.value)
        elif isinstance(s, ast.Pass):
            pass
        elif isinstance(s, ast.Return):
            v = self.expr(s.value) if s.value is not None else ir.Const(None)
            self.block.term = ir.Term("return", [v], s.lineno)
        elif isinstance(s, ast.If):
            self.if_stmt(s)
        elif isinstance(s, ast.While):
            self.loop(s, None)
        elif isinstance(s, ast.For):
            self.loop(s, s.iter)
        elif isinstance(s, ast.Break):
            self.loop_exit("break")
        elif isinstance(s, ast.Continue):
            self.loop_exit("continue")
        elif isinstance(s, ast.Raise):
            exc = self.expr(s.exc) if s.exc is not None else ir.Const(None)
            self.block.term = ir.Term("raise", [exc], s.lineno)
        elif isinstance(s, ast.FunctionDef):
            self.env[s.name] = self.make_closure(s)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            raise self.error("import inside a differentiated function; move it to module level", s)
        else:
            raise self.error(f"{type(s).__name__} statement is not supported yet", s)

    def assign(self, target, v: ir.Operand) -> None:
        if isinstance(target, ast.Name):
            if target.id in self.freevars or target.id not in self.locals:
                raise self.error(f"assignment to non-local variable {target.id!r}", target)
            if isinstance(v, ir.Value) and v.name is None:
                v.name = target.id
            self.env[target.id] = v
        elif isinstance(target, (ast.Tuple, ast.List)):
            starred = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
            if starred:
                # a, *rest, z = xs  ->  t = list(xs); a = t[0]; rest = t[1:-1]; z = t[-1]
                k, n = starred[0], len(target.elts)
                items = self.call(list, v)
                for i, e in enumerate(target.elts):
                    if i < k:
                        self.assign(e, self.call(operator.getitem, items, ir.Const(i)))
                    elif i == k:
                        stop = -(n - k - 1) or None
                        self.assign(e.value, self.call(operator.getitem, items, ir.Const(slice(k, stop))))
                    else:
                        self.assign(e, self.call(operator.getitem, items, ir.Const(i - n)))
                return
            n = len(target.elts)
            outs = self.op("unpack", n, [v], nout=n)
            outs = [outs] if n == 1 else outs
            for t, o in zip(target.elts, outs):
                self.assign(t, o)
        elif isinstance(target, ast.Subscript):
            obj = self.expr(target.value)
            idx = self.expr(target.slice)
            self.op("setitem", None, [obj, idx, v], nout=0)
        elif isinstance(target, ast.Attribute):
            obj = self.expr(target.value)
            self.op("setattr", target.attr, [obj, v], nout=0)
        else:
            raise self.error(f"assignment to {type(target).__name__} is not supported", target)

    def augassign(self, s: ast.AugAssign) -> None:
        t = s.target
        if isinstance(t, ast.Subscript):
            # x[i] += v  ->  x[i] = x[i] + v, with x and i evaluated once
            obj = self.expr(t.value)
            idx = self.expr(t.slice)
            cur = self.call(operator.getitem, obj, idx)
            new = self.call(BINOPS[type(s.op)], cur, self.expr(s.value))
            self.op("setitem", None, [obj, idx, new], nout=0)
            return
        if isinstance(t, ast.Attribute):
            obj = self.expr(t.value)
            cur = self.op("attr", t.attr, [obj])
            new = self.call(BINOPS[type(s.op)], cur, self.expr(s.value))
            self.op("setattr", t.attr, [obj, new], nout=0)
            return
        if not isinstance(t, ast.Name):
            raise self.error(f"augmented assignment to {type(t).__name__}", s)
        cur = self.name_load(s.target.id, s.target)
        v = self.call(AUGOPS[type(s.op)], cur, self.expr(s.value), name=s.target.id)
        self.assign(s.target, v)

    # -- control flow --

    def branch(self, body_fn, env: dict):
        """Lower a branch into a fresh block starting from ``env``; returns (block, env after)."""
        saved_block, saved_env = self.block, self.env
        self.block = self.new_block()
        self.env = dict(env)
        body_fn()
        block, out_env = self.block, self.env
        self.block, self.env = saved_block, saved_env
        return block, out_env

    def if_stmt(self, s: ast.If) -> None:
        cond = self.expr(s.test)
        env0 = self.env
        then, then_env = self.branch(lambda: self.stmts(s.body), env0)
        orelse, else_env = self.branch(lambda: self.stmts(s.orelse), env0)
        self.join(cond, then, then_env, orelse, else_env, s.lineno)

    def join(self, cond, then, then_env, orelse, else_env, line, result=None):
        """Close an If: merge variables that differ between fall-through branches."""
        falls = [(b, e) for b, e in ((then, then_env), (orelse, else_env)) if b.term is None]
        env0 = self.env
        rets = [b for b in (then, orelse) if b.term is not None and b.term.kind == "return"]
        if rets:
            # every path ends in return (the normaliser guarantees it outside loops):
            # the If yields the return value and the enclosing block returns it
            if falls:
                raise self.error("internal: branch falls through beside a return")
            out = self.new(None)
            for b in rets:
                b.term = ir.Term("yield", b.term.values, b.term.line)
            self.emit(ir.If(cond, then, orelse, [out], line))
            self.block.term = ir.Term("return", [out], line)
            return None
        if len(falls) == 1 and self.loop_stack and result is None:
            # a branch left the loop body early: the other one runs to the end of the
            # body (the normaliser moved everything after the If into it), so it ends
            # the iteration itself, and the adjoint sees one exit per path
            b, e = falls[0]
            carried = self.loop_stack[-1]["carried"]
            b.term = ir.Term("continue", [e.get(k, ir.Const(UNDEFINED)) for k in carried], line)
            self.emit(ir.If(cond, then, orelse, [], line))
            self.block.term = ir.Term("unreachable", [], line)
            return None
        names = sorted({k for _, e in falls for k in e if e.get(k) is not env0.get(k)})
        outs = []
        res_vals = []
        for k in names:
            outs.append(self.new(k))
        if result is not None:
            res_vals = [self.new(result[0])]
        for b, e in falls:
            vals = [e.get(k, ir.Const(UNDEFINED)) for k in names]
            if result is not None:
                vals.append(result[1] if b is then else result[2])
            b.term = ir.Term("yield", vals, line)
        stmt = ir.If(cond, then, orelse, outs + res_vals, line)
        self.emit(stmt)
        if falls:
            self.env = dict(env0)
            self.env.update(zip(names, outs))
        else:
            self.block.term = ir.Term("unreachable", [], line)
        return res_vals[0] if res_vals else None

    def loop(self, s, iter_node) -> None:
        carried = sorted(n for n in self._assigned_in(s.body) if n in self.locals)
        if isinstance(s, ast.For):
            carried = sorted(set(carried) | (self._target_names(s.target) & self.locals))
        iterable = self.expr(iter_node) if iter_node is not None else None
        inits = [self.env.get(k, ir.Const(UNDEFINED)) for k in carried]
        self.loop_body(s, carried, inits, iterable,
                       lambda: self.stmts(s.body),
                       (lambda item: self.assign(s.target, item)) if iter_node is not None else None,
                       s.test if iter_node is None else None)

    def loop_body(self, s, carried, inits, iterable, body_fn, bind_target, test):
        line = s.lineno
        env0 = dict(self.env)
        header = None
        if test is not None:
            header = self.new_block([self.new(k) for k in carried])
            saved_block, saved_env = self.block, self.env
            self.block = header
            self.env = dict(env0)
            self.env.update(zip(carried, header.args))
            c = self.expr(test)
            header.term = ir.Term("cond", [c], line)
            self.block, self.env = saved_block, saved_env
        body_args = [self.new(k) for k in carried]
        item = self.new(None) if iterable is not None else None
        body = self.new_block(([item] if item is not None else []) + body_args)
        saved_block, saved_env = self.block, self.env
        self.block = body
        self.env = dict(env0)
        self.env.update(zip(carried, body_args))
        self.loop_stack.append({"carried": carried})
        if bind_target is not None:
            bind_target(item)
        body_fn()
        if self.block.term is None:
            self.loop_exit("continue")
        self.loop_stack.pop()
        self.block, self.env = saved_block, saved_env
        outs = [self.new(k) for k in carried]
        self.block_counter += 1
        loop = ir.Loop(inits, body, outs, header, iterable, line, self.block_counter)
        self.emit(loop)
        self.env = dict(env0)
        self.env.update(zip(carried, outs))

    def loop_exit(self, kind: str) -> None:
        if not self.loop_stack:
            raise self.error(f"'{kind}' outside a loop")
        carried = self.loop_stack[-1]["carried"]
        vals = [self.env.get(k, ir.Const(UNDEFINED)) for k in carried]
        self.block.term = ir.Term(kind, vals, self.line)

    def _assigned_in(self, body) -> set[str]:
        names = set()
        for st in body:
            for n in _walk_scope(st):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    names.add(n.id)
                elif isinstance(n, ast.FunctionDef):
                    names.add(n.name)
        return names

    def _target_names(self, t) -> set[str]:
        return {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}

    # -- expressions --

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
        v.name = None
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
                return self.op("call", fnv, args, kwargs, static=fnv.static)
            args, kwargs = self.call_args(e)
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
        if star:
            a = self.star_args(e)
            out = self.op("call", fnv, [a[0], a[1]], {}, static=static)
            self.block.stmts[-1].star = True
            return out
        args, kwargs = self.call_args(e)
        return self.op("call", fnv, args, kwargs, static=static)

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
            raise self.error("starred expression in a tuple display is not supported yet", e)
        return self.op("tuple", None, [self.expr(x) for x in e.elts])

    def expr_List(self, e):
        if any(isinstance(x, ast.Starred) for x in e.elts):
            raise self.error("starred expression in a list display is not supported yet", e)
        return self.op("list", None, [self.expr(x) for x in e.elts])

    def expr_Dict(self, e):
        if any(k is None for k in e.keys):
            raise self.error("** in a dict display is not supported yet", e)
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
        raise self.error("f-string in a differentiated function is not supported yet", e)

    # comprehensions lower to loops appending to a fresh list

    def expr_ListComp(self, e):
        return self.comprehension(e, lambda acc: self.op("append", None, [acc, self.expr(e.elt)], nout=0))

    expr_GeneratorExp = expr_ListComp

    def expr_SetComp(self, e):
        raise self.error("set comprehension is not supported", e)

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


class _Self:
    def __repr__(self) -> str:
        return "SELF"


SELF = _Self()


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    out.update(b)
    return out



# ---- dead code ----

_PURE = frozenset({"global", "free", "tuple", "list", "dict", "unpack", "closure", "newlist"})


def prune(fn: ir.Function) -> None:
    """Drop unused pure ops, unused If results and loop-carried values nobody reads."""
    changed = True
    while changed:
        count = ir.uses(fn.body)
        changed = _prune_block(fn.body, count)


def _prune_block(block: ir.Block, count) -> bool:
    changed = False
    keep = []
    for s in block.stmts:
        for b in ir.blocks_of(s):
            changed |= _prune_block(b, count)
        if isinstance(s, ir.Op) and s.kind in _PURE and s.outs and all(count.get(o.id, 0) == 0 for o in s.outs):
            if s.kind != "newlist":
                changed = True
                continue
        if isinstance(s, ir.If):
            dead = [i for i, o in enumerate(s.outs) if count.get(o.id, 0) == 0]
            if dead:
                changed = True
                s.outs = [o for i, o in enumerate(s.outs) if i not in dead]
                for b in (s.then, s.orelse):
                    if b.term is not None and b.term.kind == "yield":
                        b.term.values = [v for i, v in enumerate(b.term.values) if i not in dead]
        if isinstance(s, ir.Loop):
            changed |= _prune_loop(s, count)
        keep.append(s)
    block.stmts = keep
    return changed


def _loop_terms(block: ir.Block):
    """break/continue terminators that belong to the loop whose body is ``block``."""
    for s in block.stmts:
        if isinstance(s, ir.If):
            yield from _loop_terms(s.then)
            yield from _loop_terms(s.orelse)
    if block.term is not None and block.term.kind in ("break", "continue"):
        yield block.term


def _prune_loop(loop: ir.Loop, count) -> bool:
    terms = list(_loop_terms(loop.body))
    off = 0 if loop.iterable is None else 1
    dead = []
    for i, out in enumerate(loop.outs):
        if count.get(out.id, 0):
            continue
        arg = loop.body.args[off + i]
        self_uses = sum(1 for t in terms if t.values[i] is arg)
        if count.get(arg.id, 0) != self_uses:
            continue
        if loop.header is not None and count.get(loop.header.args[i].id, 0):
            continue
        dead.append(i)
    if not dead:
        return False
    keep = [i for i in range(len(loop.outs)) if i not in dead]
    loop.inits = [loop.inits[i] for i in keep]
    loop.outs = [loop.outs[i] for i in keep]
    loop.body.args = loop.body.args[:off] + [loop.body.args[off + i] for i in keep]
    if loop.header is not None:
        loop.header.args = [loop.header.args[i] for i in keep]
    for t in terms:
        t.values = [t.values[i] for i in keep]
    return True
