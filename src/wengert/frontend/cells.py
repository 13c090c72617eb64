"""Which captured variables are shared cells.

A variable captured by a nested function is captured by value (the nested function's
closure cell holds the value it had when the function was made) when that is exact:
it is assigned once, before any nested function that reads it is made, and not inside
a loop. Every other captured variable is a *shared cell*: the function that owns it
makes one `runtime.Cell` at entry, every assignment writes ``cell.value`` and every
read reads it, in the owner and in every nested function (whose closure cell holds the
`Cell`). So ``nonlocal``, a captured variable rebound later, a loop variable captured by
a lambda (Python's late binding) and mutual recursion between nested functions
(``def ev`` reading ``od`` defined after it) are what Python does, and the reads and
writes of ``value`` are differentiated like any other attribute (`mutation.Pass`).

The owner decides (`shared_cells`) and makes its nested functions from a copy of their
code that reads and writes ``name.value`` (`cell_aware`), so a plain Python call of one
sees the variable as wengert's code for it does. A nested function made by Python (its
owner ran undifferentiated) has the value in its closure cell and its own code.
"""

from __future__ import annotations

import ast

import copy

from wengert.frontend.source import _all_args, register_rewritten

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _params(node) -> set[str]:
    if isinstance(node, ast.ClassDef):
        return set()
    return {a.arg for a in _all_args(node.args) if a is not None}


def _body(node) -> list:
    return node.body if isinstance(node.body, list) else [node.body]


def _own_nodes(node):
    """(n, in_loop) for every node of ``node``'s own scope, and the nested scopes met
    (yielded, not entered, but with their decorators and defaults, which run in this scope)."""
    def visit(n, in_loop):
        yield n, in_loop
        if isinstance(n, _SCOPES):
            outer = list(getattr(n, "decorator_list", []))
            if isinstance(n, ast.ClassDef):
                outer += n.bases + [k.value for k in n.keywords]
            else:
                outer += [d for d in n.args.defaults + n.args.kw_defaults if d is not None]
            for d in outer:
                yield from visit(d, in_loop)
            return
        for child in ast.iter_child_nodes(n):
            loop = in_loop or (isinstance(n, _LOOPS) and child is not getattr(n, "iter", None))
            yield from visit(child, loop)

    for stmt in _body(node):
        yield from visit(stmt, False)


def _declared(node, kind) -> set[str]:
    return {name for n, _ in _own_nodes(node) if isinstance(n, kind) for name in n.names}


def _stores(node) -> dict[str, list[tuple[int, int, bool, object]]]:
    """name -> [(line, col, in_loop, node)] for every binding in ``node``'s own scope."""
    out: dict[str, list] = {}

    def add(name, n, in_loop):
        out.setdefault(name, []).append((n.lineno, n.col_offset, in_loop, n))

    for n, in_loop in _own_nodes(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            add(n.id, n, in_loop)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            add(n.name, n, in_loop)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                add((a.asname or a.name).split(".")[0], n, in_loop)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            add(n.name, n, in_loop)
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            add(n.name, n, in_loop)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            add(n.rest, n, in_loop)
    return out


def local_names(node) -> set[str]:
    """Names local to ``node``'s scope (parameters and bindings not declared global or nonlocal),
    with what the functions the normaliser made of its try bodies write for it."""
    made = {x for n, _ in _own_nodes(node) if isinstance(n, ast.FunctionDef) and n.name.startswith("_w_try_")
            for m in n.body if isinstance(m, ast.Nonlocal) for x in m.names}
    return (_params(node) | set(_stores(node)) | made) - _declared(node, (ast.Global, ast.Nonlocal))


def _in_try_body(node) -> set[str]:
    """Names bound in the body of a ``try`` or ``with`` of ``node``'s own scope: the normaliser
    makes that body a nested function writing them (so they are cells before and after it runs)."""
    out = set()
    for n, _ in _own_nodes(node):
        if isinstance(n, (ast.Try, ast.With)):
            for stmt in n.body:
                fake = ast.Module(body=[stmt], type_ignores=[])
                out |= set(_stores(fake))
    return out


def free_uses(scope) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """Names a nested scope (and the scopes inside it) reads or writes from outside it:
    name -> first position, and the names it writes through ``nonlocal``."""
    uses: dict[str, tuple[int, int]] = {}
    writes: set[str] = set()
    own = local_names(scope)
    nonlocal_ = _declared(scope, ast.Nonlocal)
    pos = (scope.lineno, scope.col_offset)
    for n, _ in _own_nodes(scope):
        if isinstance(n, ast.Name) and n.id not in own:
            uses.setdefault(n.id, pos)
            if isinstance(n.ctx, ast.Store) and n.id in nonlocal_:
                writes.add(n.id)
        elif isinstance(n, _SCOPES) and n is not scope:
            inner, w = free_uses(n)
            for k in inner:
                if k not in own or k in nonlocal_:
                    uses.setdefault(k, pos)
            writes |= {k for k in w if k not in own or k in nonlocal_}
    for k in nonlocal_:
        uses.setdefault(k, pos)
    return uses, writes


def shared_cells(node) -> frozenset[str]:
    """The variables of function ``node`` that are shared cells (module docstring)."""
    local = local_names(node)
    stores = _stores(node)
    params = _params(node)
    out = _in_try_body(node) & local
    for n, _ in _own_nodes(node):
        if not isinstance(n, _SCOPES):
            continue
        uses, writes = free_uses(n)
        for name, pos in uses.items():
            if name not in local:
                continue
            binds = stores.get(name, [])
            if name in writes or len(binds) + (name in params) > 1 or any(b[2] for b in binds):
                out.add(name)
            elif binds and binds[0][3] is not n and (binds[0][0], binds[0][1]) > pos:
                out.add(name)  # read by a function made before the variable is assigned
    return frozenset(out)


def cell_aware(node, shared: set[str]):
    """A copy of nested def or lambda ``node`` in which the variables ``shared`` (shared cells
    of the function around it, which its closure cells hold) are read and written as
    ``name.value``, in it and in the functions inside it that do not rebind them."""
    new = copy.deepcopy(node)

    class Rewrite(ast.NodeTransformer):
        def __init__(self, names):
            self.names = names

        def visit_Name(self, n):
            if n.id in self.names:
                return ast.copy_location(ast.Attribute(value=ast.copy_location(ast.Name(n.id, ast.Load()), n),
                                                       attr="value", ctx=n.ctx), n)
            return n

        def visit_Nonlocal(self, n):
            names = [x for x in n.names if x not in self.names]
            return ast.copy_location(ast.Nonlocal(names=names), n) if names else None

        def scope(self, n, top=False):
            # names this scope binds itself (not through nonlocal) hide the shared ones
            inner = self.names - (local_names(n) - _declared(n, ast.Nonlocal))
            if top:
                pass  # its defaults and decorators are evaluated by the owner, which has the Cells
            elif isinstance(n, ast.Lambda):
                n.args = self.visit(n.args)
            else:
                n.decorator_list = [self.visit(d) for d in n.decorator_list]
                if isinstance(n, ast.ClassDef):
                    n.bases = [self.visit(b) for b in n.bases]
                else:
                    n.args = self.visit(n.args)
            sub = Rewrite(inner)
            if isinstance(n, ast.Lambda):
                n.body = sub.visit(n.body)
            else:
                body = [sub.visit(x) for x in n.body]
                n.body = [x for x in body if x is not None] or [ast.copy_location(ast.Pass(), n)]
            return n

        visit_FunctionDef = visit_Lambda = visit_ClassDef = scope

    new = Rewrite(set(shared)).scope(new, top=True)
    ast.fix_missing_locations(new)
    register_rewritten(new)
    return new
