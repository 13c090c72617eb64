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

Owner and nested functions decide alike from the owner's source (`shared_cells`).
"""

from __future__ import annotations

import ast

from wengert.source import _all_args, source_tree

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
    """Names local to ``node``'s scope (parameters and bindings not declared global or nonlocal)."""
    return (_params(node) | set(_stores(node))) - _declared(node, (ast.Global, ast.Nonlocal))


def _free_uses(scope) -> tuple[dict[str, tuple[int, int]], set[str]]:
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
            inner, w = _free_uses(n)
            for k in inner:
                if k not in own or k in nonlocal_:
                    uses.setdefault(k, pos)
            writes |= {k for k in w if k not in own or k in nonlocal_}
    for k in nonlocal_:
        uses.setdefault(k, pos)
    return uses, writes


_CACHE: dict = {}


def shared_cells(node) -> frozenset[str]:
    """The variables of function ``node`` that are shared cells (module docstring)."""
    key = id(node)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is node:
        return hit[1]
    local = local_names(node)
    stores = _stores(node)
    params = _params(node)
    out = set()
    for n, _ in _own_nodes(node):
        if not isinstance(n, _SCOPES):
            continue
        uses, writes = _free_uses(n)
        for name, pos in uses.items():
            if name not in local:
                continue
            binds = stores.get(name, [])
            if name in writes or len(binds) + (name in params) > 1 or any(b[2] for b in binds):
                out.add(name)
            elif binds and binds[0][3] is not n and (binds[0][0], binds[0][1]) > pos:
                out.add(name)  # read by a function made before the variable is assigned
    result = frozenset(out)
    _CACHE[key] = (node, result)
    return result


_PARENTS: dict = {}


def enclosing_functions(node, filename: str, fn=None) -> list:
    """The functions around ``node`` in its file, innermost first."""
    tree = source_tree(filename, fn)
    if tree is None:
        return []
    hit = _PARENTS.get(id(tree))
    if hit is None or hit[0] is not tree:
        parents = {}
        for p in ast.walk(tree):
            for c in ast.iter_child_nodes(p):
                parents[id(c)] = p
        hit = _PARENTS[id(tree)] = (tree, parents)
    parents = hit[1]
    out = []
    p = parents.get(id(node))
    while p is not None:
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            out.append(p)
        p = parents.get(id(p))
    return out


def free_cells(node, filename: str, freevars, fn=None) -> frozenset[str]:
    """The free variables of nested function ``node`` that its owner keeps in a `Cell`."""
    out = set()
    outer = enclosing_functions(node, filename, fn)
    for name in freevars:
        for f in outer:
            if name in local_names(f):
                if name in shared_cells(f):
                    out.add(name)
                break
    return frozenset(out)
