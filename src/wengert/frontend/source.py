"""Finding a function's source: the whole file's AST, the def or lambda in it, and
the code objects of nested functions (told apart by line and column)."""

from __future__ import annotations

import ast
import inspect
import types

from wengert.errors import UnsupportedError

def function_ast(fn) -> tuple[ast.FunctionDef | ast.Lambda, str, int]:
    """The AST of ``fn``'s definition, its file name and first line (1-based, in the file).

    The whole file is parsed (and cached), so lambdas and nested functions are
    found wherever they sit; several on one line are told apart by the column
    where their code starts.
    """
    code = fn.__code__
    filename = code.co_filename
    syn = _SYNTHETIC_CODE.get(code)
    if syn is not None:
        return syn[0], filename, syn[0].lineno
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


# ---- functions the normaliser makes (a try body, `normalize`) ----
# They have no code object in the user's function: one is compiled from the AST when the
# function that makes them is lowered. Entries hold their nodes, so ids are not reused.

# Keyed by name and position (names `_w_try_<n>_<i>` are unique in a function), so the
# copies tail duplication makes of a def are found too.
_SYNTHETIC: dict = {}       # (name, line, col) -> [node, enclosing def node, code or None]
_SYNTHETIC_CODE: dict = {}  # code -> (node, enclosing def node)


def _syn_key(node):
    return (node.name, node.lineno, node.col_offset) if isinstance(node, ast.FunctionDef) else None


def register_synthetic(node: ast.FunctionDef, enclosing) -> None:
    _SYNTHETIC[_syn_key(node)] = [node, enclosing, None]


_REWRITTEN: dict = {}  # id(node) -> [node, None, code or None]: copies `cells.cell_aware` made


def register_rewritten(node) -> None:
    _REWRITTEN[id(node)] = [node, None, None]


def synthetic_parent(node):
    """The def a made-up function ``node`` sits in, or None for a function of the source."""
    if not isinstance(node, ast.FunctionDef) or not node.name.startswith("_w_try_"):
        return None
    hit = _SYNTHETIC.get(_syn_key(node))
    return hit[1] if hit is not None else None


def _synthetic_code(parent: types.CodeType, entry) -> types.CodeType:
    node = entry[0]
    if entry[2] is None:
        # compile `node` inside a function whose locals are the names it shares with `parent`,
        # so they become free variables (its nonlocal declarations need them bound there)
        outer = set(parent.co_varnames) | set(parent.co_cellvars) | set(parent.co_freevars)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        nonlocal_ = {x for n in ast.walk(node) if isinstance(n, ast.Nonlocal) for x in n.names}
        shared = sorted((names & outer) | {x for x in names if x.startswith("_w_")} | nonlocal_)
        line = node.lineno
        body = [ast.Assign(targets=[ast.Name(x, ast.Store())], value=ast.Constant(None)) for x in shared]
        stmt = ast.Expr(node) if isinstance(node, ast.Lambda) else node
        wrapper = ast.FunctionDef(name="_w_outer", args=ast.arguments([], [], None, [], [], None, []),
                                  body=body + [stmt], decorator_list=[], returns=None, lineno=line)
        end = max((getattr(n, "end_lineno", None) or line) for n in ast.walk(node))
        wrapper.col_offset, wrapper.end_lineno, wrapper.end_col_offset = 0, end, 0
        for b in body:
            for n in ast.walk(b):
                n.lineno, n.col_offset, n.end_lineno, n.end_col_offset = line, 0, line, 0
        mod = ast.Module(body=[wrapper], type_ignores=[])
        ast.fix_missing_locations(mod)
        top = compile(mod, parent.co_filename, "exec")
        outer_code = next(c for c in top.co_consts if isinstance(c, types.CodeType))
        name = "<lambda>" if isinstance(node, ast.Lambda) else node.name
        entry[2] = next(c for c in outer_code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
        _SYNTHETIC_CODE[entry[2]] = (node, entry[1])

        def nested(code):  # functions inside it are read from the same (copied) AST
            for c in code.co_consts:
                if isinstance(c, types.CodeType):
                    found = _find_def(node, c)
                    if found is not None:
                        _SYNTHETIC_CODE[c] = (found, None)
                    nested(c)

        nested(entry[2])
    return entry[2]


def find_code(parent: types.CodeType, node) -> types.CodeType:
    """The code object of a nested def/lambda ``node`` among ``parent``'s constants."""
    hit = _REWRITTEN.get(id(node))
    if hit is not None and hit[0] is node:
        return _synthetic_code(parent, hit)
    if synthetic_parent(node) is not None:
        return _synthetic_code(parent, _SYNTHETIC[_syn_key(node)])
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
