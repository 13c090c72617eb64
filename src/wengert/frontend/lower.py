"""Python function -> SSA IR (`wengert.ir.core`).

Reads the function's source (`source`), normalises it (`normalize`), and
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
import operator

from wengert import ir
from wengert.runtime import cotangents
from wengert.frontend.cells import cell_aware, free_uses, local_names, shared_cells
from wengert.errors import UnsupportedError
from wengert.frontend.expressions import (  # noqa: F401  (UNDEFINED, SELF: re-exported)
    AUGOPS,
    BINOPS,
    SELF,
    UNDEFINED,
    ExpressionLowering,
    generator_to_list,
)
from wengert.ir.core import prune
from wengert.frontend.normalize import normalize
from wengert.frontend.source import _all_args, find_code, function_ast, source_tree  # noqa: F401



# ---- lowering ----


def lower(fn) -> ir.Function:
    """Lower a Python function to SSA IR.

    >>> def f(x):
    ...     return x * x
    >>> print(ir.format_function(lower(f)), end="")  # doctest: +SKIP
    """
    node, filename, _ = function_ast(fn)
    generator_to_list(node, lambda msg, n: UnsupportedError(msg, filename, getattr(n, "lineno", None)))
    try:
        normalize(node)
    except UnsupportedError as e:
        if e.filename is not None:
            raise
        raise UnsupportedError(str(e), filename, e.lineno) from None  # the normaliser knows no file
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


class Lowerer(ExpressionLowering):
    def __init__(self, fn, node, filename: str):
        self.fn = fn
        self.code = fn.__code__
        self.node = node
        self.filename = filename
        self.counter = 0
        self.block_counter = 0
        self.globals = fn.__globals__
        params = [a.arg for a in _all_args(node.args) if a is not None]
        self.locals = local_names(node) | set(params)
        self.freevars = set(self.code.co_freevars)
        self.env: dict[str, ir.Operand] = {}
        self.block: ir.Block | None = None
        self.loop_stack: list[dict] = []
        self.comp_names: list[set[str]] = []
        self.line = node.lineno
        self.resolved: dict = {}
        # captured variables that are rebound live in a `cotangents.Cell` (see `cells`); the env
        # holds the Cell, and nested functions are made from code that reads `.value`
        self.own_cells = shared_cells(node) & self.locals

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
        for name in sorted(self.own_cells):
            self.env[name] = self.call(cotangents.Cell, self.env.get(name, ir.Const(UNDEFINED)), name=name)
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
            self.bind(s.name, self.make_closure(s), s)
        elif isinstance(s, ast.ClassDef):
            self.bind(s.name, self.class_def(s), s)
        elif isinstance(s, ast.Nonlocal):
            pass  # writes are refused below: code wengert makes has none (`cells.cell_aware`)
        elif isinstance(s, ast.Global):
            self.global_stmt(s)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            self.import_stmt(s)  # expressions.py
        else:
            raise self.error(f"{type(s).__name__} statement is not supported yet", s)

    def global_stmt(self, s: ast.Global) -> None:
        """``global G`` is accepted when the function only reads ``G``. Writes are refused (issue 10):
        a derivative written into a module global would have to reach every later read of it, in this
        function and in its callees, whose generated code reads globals as constants of the module."""
        written = sorted(set(s.names) & _stored_names(self.node))
        if not written:
            return
        names = ", ".join(written)
        raise self.error(
            f"writing the global {names} (Global statement): wengert cannot differentiate writes to module "
            f"globals, since later reads of {names} (here or in the functions this one calls) read the module "
            f"as a constant and would see no derivative; return the value instead, or keep it in a dict or "
            f"object passed as an argument (state['{written[0]}'] = ...)", s)

    def name_load(self, name: str, node) -> ir.Operand:
        if name in cotangents.STATEMENT_HELPERS and name not in self.locals:  # made by `normalize`
            return ir.Const(cotangents.STATEMENT_HELPERS[name])
        if not any(name in comp for comp in self.comp_names):
            if name in self.own_cells:
                return self.op("attr", "value", [self.env[name]], name=name)
        return super().name_load(name, node)

    def class_def(self, s: ast.ClassDef) -> ir.Value:
        """``class C(B): ...`` as Python runs it: ``__build_class__(body, "C", B)``, the body a
        function made from the class body's code, then the decorators. A class body or method
        reading variables of this function is refused: its methods would capture them where
        no cotangent can reach them."""
        code = find_code(self.code, s)
        free = [n for n in code.co_freevars if n != "__class__"]
        if free:
            raise self.error(f"class {s.name} defined in a differentiated function reads its variables "
                             f"({', '.join(free)}); pass them to the constructor or a method instead", s)
        if s.keywords:
            raise self.error(f"class {s.name} with keywords (metaclass=...) in a differentiated function", s)
        decorators = [self.expr(d) for d in s.decorator_list]
        bases = [self.expr(b) for b in s.bases]
        body = self.op("closure", code, [ir.Const(None), ir.Const(None)], name=s.name)
        cls = self.call(cotangents.build_class, body, ir.Const(s.name), *bases, name=s.name)
        for d in reversed(decorators):
            cls = self.op("call", d, [cls], name=s.name, static=getattr(d, "static", None))
        return cls

    def make_closure(self, node) -> ir.Value:
        # a nested function reading or writing a shared cell of this function is made from
        # a copy of its code that reads and writes the Cell's `.value` (so plain Python calls
        # of it, and wengert's code for it, see the same variable)
        uses = set(free_uses(node)[0])
        in_comp = {n for comp in self.comp_names for n in comp} & uses
        if in_comp:
            # Python gives each run of a comprehension its own cell for its variable, shared
            # by the functions made in it (late binding); the comprehension is lowered inline
            raise self.error(f"a function made inside a comprehension captures its variable "
                             f"{sorted(in_comp)[0]!r}; bind it as a default (lambda j=j: ...) or "
                             "build the list with a for loop", node)
        shared = uses & self.own_cells
        if shared:
            node = cell_aware(node, shared)
        return super().make_closure(node)

    def bind(self, name: str, v: ir.Operand, node) -> None:
        """``name = v`` for a plain name: a new SSA value, or a write of a shared cell."""
        if isinstance(v, ir.Value) and v.name is None:
            v.name = name
        if name in self.own_cells and not any(name in comp for comp in self.comp_names):
            self.op("setattr", "value", [self.env[name], v], nout=0)
            return
        if name in self.freevars:
            raise self.error(
                f"nonlocal {name!r} is written by a nested function that Python made (its enclosing "
                "function ran undifferentiated), so its cell cannot be followed; differentiate the "
                "function that makes it instead", node)
        if name not in self.locals:
            raise self.error(f"assignment to non-local variable {name!r}", node)
        self.env[name] = v

    def assign(self, target, v: ir.Operand) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, v, target)
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
        carried = [n for n in carried if n not in self.own_cells]  # a Cell is never rebound
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


def _stored_names(fn) -> set[str]:
    """Names assigned or deleted in ``fn``'s own scope (not in nested functions or classes)."""
    out: set[str] = set()
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            if not isinstance(n, ast.Lambda):
                out.add(n.name)
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).partition(".")[0] for a in n.names)
        todo.extend(ast.iter_child_nodes(n))
    return out
