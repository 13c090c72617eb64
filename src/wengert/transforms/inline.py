"""Inlining rule lambdas into generated code.

A rule such as ``defvjp(math.sin, lambda g, y, x: g * math.cos(x))`` is plain
Python that runs on its own. When its body is one expression, the code
generator substitutes the argument names into it, so the adjoint of a loop
computes ``x_bar += r_bar * math.cos(x)`` instead of calling a closure per
operation. Names the body takes from its module (``math``, helpers) are
handed to the generated code as closure variables.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from dataclasses import dataclass

_CACHE: dict = {}


@dataclass
class Template:
    params: list[str]
    defaults: dict          # param -> default value (bound as a helper)
    body: ast.expr
    globals_used: dict      # name -> object from the lambda's module
    varkw: bool


def template(fn) -> Template | None:
    """The inlinable form of a lambda, or None."""
    if getattr(fn, "__code__", None) is None:
        return None
    # keyed by the function, not its code: lambdas made in a loop share one code object but
    # differ in the defaults they captured (``lambda g, y, a, b, _gt=greater: ...``)
    if fn in _CACHE:
        return _CACHE[fn]
    _CACHE[fn] = t = _build(fn)
    return t


def _build(fn) -> Template | None:
    from wengert.frontend.source import _find_def, source_tree

    code = fn.__code__
    if code.co_name != "<lambda>" or code.co_flags & inspect.CO_VARARGS:
        return None
    tree = source_tree(code.co_filename, fn)
    node = _find_def(tree, code) if tree is not None else None
    if node is None or node.args.vararg or node.args.kwonlyargs or node.args.posonlyargs:
        return None
    params = [a.arg for a in node.args.args]
    defaults = {}
    if fn.__defaults__:
        for p, d in zip(params[len(params) - len(fn.__defaults__):], fn.__defaults__):
            defaults[p] = d
    used = {}
    for n in ast.walk(node.body):
        if isinstance(n, ast.Name) and n.id not in params:
            if n.id in fn.__globals__:
                used[n.id] = fn.__globals__[n.id]
            elif hasattr(builtins, n.id):
                used[n.id] = getattr(builtins, n.id)
            else:
                return None
        if isinstance(n, (ast.Lambda, ast.NamedExpr, ast.ListComp, ast.GeneratorExp, ast.DictComp,
                          ast.SetComp)):
            return None
    return Template(params, defaults, node.body, used, node.args.kwarg is not None)


def instantiate(t: Template, args: dict[str, str], helper) -> str:
    """The template's body with parameters replaced by the expressions in ``args``.

    ``helper(name, obj)`` returns the generated-code name bound to a module
    object the body uses.
    """
    mapping = dict(args)
    from wengert.backend.emit import literal

    for p, d in t.defaults.items():
        if p not in mapping:
            lit = literal(d)
            mapping[p] = lit if lit is not None else helper(p, d)
    for name, obj in t.globals_used.items():
        mapping.setdefault(name, helper(name, obj))
    missing = [p for p in t.params if p not in mapping]
    if missing:
        raise KeyError(missing)

    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            if n.id in mapping:
                return ast.parse(mapping[n.id], mode="eval").body
            return n

    body = _Fold().visit(Sub().visit(_copy(t.body)))
    return ast.unparse(body)


class _Fold(ast.NodeTransformer):
    """Decide ``None is None``-style tests on constants, as a rule's default arguments leave them."""

    def visit_Compare(self, n):
        self.generic_visit(n)
        if (len(n.ops) == 1 and isinstance(n.ops[0], (ast.Is, ast.IsNot))
                and isinstance(n.left, ast.Constant) and isinstance(n.comparators[0], ast.Constant)):
            same = n.left.value is n.comparators[0].value
            return ast.Constant(same if isinstance(n.ops[0], ast.Is) else not same)
        return n

    def visit_IfExp(self, n):
        self.generic_visit(n)
        if isinstance(n.test, ast.Constant):
            return n.body if n.test.value else n.orelse
        return n


def _copy(node):
    import copy

    return copy.deepcopy(node)


def used_params(t: Template) -> set[str]:
    return {n.id for n in ast.walk(t.body) if isinstance(n, ast.Name) and n.id in t.params}
