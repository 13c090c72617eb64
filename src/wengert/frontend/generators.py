"""Generator functions lowered as functions returning the list of what they yield.

The rewrite is on the Python AST, before lowering: ``yield v`` appends to a fresh list,
``yield from it`` appends each item, ``return`` returns the list.
"""

from __future__ import annotations

import ast

_GEN_ACC = "_w_yielded"


def _own_scope(node):
    """The nodes of a function body, not entering nested functions, lambdas or classes."""
    todo = list(node.body)
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(getattr(n, "decorator_list", []))  # evaluated in this scope
            continue
        todo.extend(ast.iter_child_nodes(n))


def generator_to_list(node, error) -> None:
    """Rewrite a generator function (``def gen(): ... yield v ...``) in place into one that
    returns the list of what it yields: ``yield v`` -> ``_w_yielded.append(v)``, ``yield from
    it`` -> a loop appending, ``return`` -> ``return _w_yielded``. Its consumers (``sum``,
    ``for``, ``list``, ``zip``) see the same items; the stated limit is that it runs to the end
    when called, not lazily (an endless generator never returns; one whose items depend on what
    its consumer changes between items is refused by no check: do not differentiate those).
    ``x = yield v`` (``send``) is refused. A no-op on a function that does not yield."""
    if isinstance(node, ast.Lambda):
        return
    yields = [n for n in _own_scope(node) if isinstance(n, (ast.Yield, ast.YieldFrom))]
    if not yields:
        return
    if isinstance(node, ast.AsyncFunctionDef):
        raise error("async generator", node)
    plain = {id(n.value) for n in _own_scope(node) if isinstance(n, ast.Expr)}
    for y in yields:
        if id(y) not in plain:
            raise error("a yield used as a value (generator.send) is not supported", y)

    def acc(store=False):
        return ast.Name(id=_GEN_ACC, ctx=ast.Store() if store else ast.Load())

    def rewrite(stmts):
        out = []
        for st in stmts:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Yield):
                v = st.value.value if st.value.value is not None else ast.Constant(None)
                call = ast.Call(ast.Attribute(acc(), "append", ast.Load()), [v], [])
                out.append(ast.fix_missing_locations(ast.copy_location(ast.Expr(call), st)))
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.YieldFrom):
                item = ast.Name(id="_w_item", ctx=ast.Store())
                call = ast.Call(ast.Attribute(acc(), "append", ast.Load()),
                                [ast.Name(id="_w_item", ctx=ast.Load())], [])
                loop = ast.For(item, st.value.value, [ast.Expr(call)], [])
                out.append(ast.fix_missing_locations(ast.copy_location(loop, st)))
            elif isinstance(st, ast.Return):
                out.append(ast.copy_location(ast.Return(acc()), st))
            else:
                for field in ("body", "orelse", "finalbody"):
                    if isinstance(getattr(st, field, None), list) and not isinstance(
                            st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        setattr(st, field, rewrite(getattr(st, field)))
                for h in getattr(st, "handlers", None) or []:
                    h.body = rewrite(h.body)
                for c in getattr(st, "cases", None) or []:
                    c.body = rewrite(c.body)
                out.append(st)
        return out

    first = node.body[0]
    init = ast.Assign([acc(True)], ast.List([], ast.Load()))
    body = rewrite(node.body)
    end = ast.Return(acc())
    node.body = [ast.fix_missing_locations(ast.copy_location(init, first)), *body,
                 ast.fix_missing_locations(ast.copy_location(end, node.body[-1]))]
