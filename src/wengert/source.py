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
