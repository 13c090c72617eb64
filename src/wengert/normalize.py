"""Source-level normalisation of a function's AST before lowering to IR.

After these passes, a function body satisfies what `frontend` relies on:

- ``return`` appears only outside loops: a ``return`` inside a loop becomes
  ``_w_retval = v; _w_returned = True; break`` (and a ``break`` out of each
  enclosing loop), followed after the outermost loop by
  ``if _w_returned: return _w_retval``.
- ``else`` clauses of loops become a flag: ``if not _w_broke_<n>: ...``.
- In every block, a statement that may leave the block early (``break``,
  ``continue``, ``return``, ``raise``, or an ``if`` containing one) is the
  block's last statement: the statements after such an ``if`` are moved into
  each of its branches (tail duplication), and dead statements after an exit
  are dropped. So a loop body's statements before its last one run in every
  iteration, which is what lets the adjoint loop pop exactly one saved value
  per iteration.
- ``assert`` becomes ``if not test: raise AssertionError(msg)``.
"""

from __future__ import annotations

import ast
import copy
import itertools

EXITS = (ast.Break, ast.Continue, ast.Return, ast.Raise)


def normalize(fn: ast.FunctionDef | ast.Lambda) -> None:
    if isinstance(fn, ast.Lambda):
        return
    counter = itertools.count()
    fn.body = _rewrite(fn.body, counter)
    fn.body = _tail(fn.body)
    if not _always_exits(fn.body):
        fn.body.append(ast.Return(value=ast.Constant(None), lineno=_last_line(fn.body), col_offset=0))
        fn.body = _tail(fn.body)


def _last_line(stmts) -> int:
    return getattr(stmts[-1], "end_lineno", None) or stmts[-1].lineno if stmts else 0


def _name(id_: str, store: bool, node) -> ast.Name:
    return ast.copy_location(ast.Name(id=id_, ctx=ast.Store() if store else ast.Load()), node)


def _assign(id_: str, value: ast.expr, node) -> ast.Assign:
    a = ast.Assign(targets=[_name(id_, True, node)], value=value)
    return ast.fix_missing_locations(ast.copy_location(a, node))


# ---- returns in loops, loop else, assert ----


def _rewrite(stmts: list[ast.stmt], counter, in_loop: bool = False) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for s in stmts:
        if isinstance(s, ast.Assert):
            msg = [s.msg] if s.msg is not None else []
            exc = ast.Call(func=ast.Name("AssertionError", ast.Load()), args=msg, keywords=[])
            test = ast.UnaryOp(op=ast.Not(), operand=s.test)
            new = ast.If(test=test, body=[ast.Raise(exc=exc, cause=None)], orelse=[])
            out.append(ast.fix_missing_locations(ast.copy_location(new, s)))
        elif isinstance(s, ast.Return) and in_loop:
            value = s.value if s.value is not None else ast.Constant(None)
            out += [
                _assign("_w_retval", value, s),
                _assign("_w_returned", ast.Constant(True), s),
                ast.copy_location(ast.Break(), s),
            ]
        elif isinstance(s, (ast.While, ast.For)):
            out += _rewrite_loop(s, counter, in_loop)
        elif isinstance(s, ast.If):
            s.body = _rewrite(s.body, counter, in_loop)
            s.orelse = _rewrite(s.orelse, counter, in_loop)
            out.append(s)
        else:
            out.append(s)
    return out


def _contains(stmts, kinds, through_loops: bool) -> bool:
    for s in stmts:
        if isinstance(s, kinds):
            return True
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(s, (ast.While, ast.For)) and not through_loops:
            if _contains(s.body + s.orelse, kinds, through_loops) and kinds != (ast.Break, ast.Continue):
                return True
            continue
        for field in ("body", "orelse", "handlers", "finalbody"):
            if _contains(getattr(s, field, []) or [], kinds, through_loops):
                return True
    return False


def _rewrite_loop(loop, counter, outer_in_loop: bool) -> list[ast.stmt]:
    has_return = _contains(loop.body, (ast.Return,), through_loops=True)
    loop.body = _rewrite(loop.body, counter, in_loop=True)
    before: list[ast.stmt] = []
    after: list[ast.stmt] = []
    if has_return and not outer_in_loop:
        before += [_assign("_w_returned", ast.Constant(False), loop), _assign("_w_retval", ast.Constant(None), loop)]
    if loop.orelse:
        flag = f"_w_broke_{next(counter)}"
        _mark_breaks(loop.body, flag)
        before.append(_assign(flag, ast.Constant(False), loop))
        orelse = _rewrite(loop.orelse, counter, outer_in_loop)
        test = ast.UnaryOp(op=ast.Not(), operand=_name(flag, False, loop))
        after.append(ast.fix_missing_locations(ast.copy_location(ast.If(test=test, body=orelse, orelse=[]), loop)))
        loop.orelse = []
    if has_return:
        test = _name("_w_returned", False, loop)
        if outer_in_loop:
            exit_ = [ast.copy_location(ast.Break(), loop)]
        else:
            exit_ = [ast.copy_location(ast.Return(value=_name("_w_retval", False, loop)), loop)]
        after.append(ast.fix_missing_locations(ast.copy_location(ast.If(test=test, body=exit_, orelse=[]), loop)))
    return before + [loop] + after


def _mark_breaks(stmts, flag: str) -> None:
    for i, s in enumerate(list(stmts)):
        if isinstance(s, ast.Break):
            idx = stmts.index(s)
            stmts.insert(idx, _assign(flag, ast.Constant(True), s))
        elif isinstance(s, ast.If):
            _mark_breaks(s.body, flag)
            _mark_breaks(s.orelse, flag)


# ---- tail duplication ----


def _exits(s: ast.stmt) -> bool:
    """May ``s`` leave its block early (not counting breaks inside nested loops)?"""
    if isinstance(s, EXITS):
        return True
    if isinstance(s, ast.If):
        return any(_exits(x) for x in s.body + s.orelse)
    if isinstance(s, (ast.While, ast.For)):
        # break/continue inside bind to the loop itself; returns were rewritten away
        return False
    return False


def _always_exits(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, EXITS):
        return True
    if isinstance(last, ast.If):
        return _always_exits(last.body) and _always_exits(last.orelse)
    return False


def _tail(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, (ast.While, ast.For)):
            s.body = _tail(s.body)
            out.append(s)
        elif isinstance(s, EXITS):
            out.append(s)
            return out
        elif isinstance(s, ast.If) and _exits(s):
            rest = stmts[i + 1:]
            s.body = _tail(s.body + copy.deepcopy(rest))
            s.orelse = _tail(s.orelse + rest)
            out.append(s)
            return out
        elif isinstance(s, ast.If):
            s.body = _tail(s.body)
            s.orelse = _tail(s.orelse)
            out.append(s)
        else:
            out.append(s)
    return out
