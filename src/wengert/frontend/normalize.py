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
- ``try`` and ``with`` become calls and branches (`_try_with`): each top-level statement
  of a try body becomes a nested function (registered with `source.register_synthetic`)
  that writes the variables it assigns through ``nonlocal`` (so they are shared cells,
  `cells`), run by ``_wengert_attempt``, which returns ``(exception, result)``; the
  statements after it run only when no exception was raised, and ``if`` branches on the
  exception pick the handler. ``finally`` is copied onto every way out of the try that
  does not raise, and before the re-raise of an exception no handler took. ``with``
  is ``_wengert_enter``, a try whose handler asks ``_wengert_exit`` whether to re-raise,
  and ``_wengert_exit(cm, None)`` on every other way out.
- ``match`` becomes ``if`` statements (`_lower_match`): the subject is evaluated once, each
  case's pattern is tests (``==``, ``is``, ``isinstance``, ``len``, ``in``) and bindings
  (items, attributes) nested in order, then its guard; a flag skips the later cases.
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
    globals_ = {x for n in ast.walk(fn) if isinstance(n, ast.Global) for x in n.names}
    fn.body = _try_with(fn.body, _TryState(fn, globals_, counter))
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


# ---- try and with ----


class _TryState:
    def __init__(self, fn, globals_, counter):
        self.fn = fn
        self.globals = globals_
        self.counter = counter


def _call(fn: str, *args, node) -> ast.Call:
    return ast.Call(func=_name(fn, False, node), args=list(args), keywords=[])


def _fix(nodes, at):
    for n in nodes:
        if getattr(n, "lineno", None) is None:
            ast.copy_location(n, at)
        ast.fix_missing_locations(n)
    return nodes


def _try_with(stmts: list[ast.stmt], st: _TryState) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for s in stmts:
        if isinstance(s, ast.Try):
            out += _lower_try(s.body, s.handlers, s.orelse, s.finalbody, [], st, s)
        elif isinstance(s, ast.With):
            out += _lower_with(s, st)
        else:
            for field in ("body", "orelse"):
                if isinstance(s, (ast.If, ast.For, ast.While)):
                    setattr(s, field, _try_with(getattr(s, field), st))
            if isinstance(s, ast.Match):
                out += _try_with(_lower_match(s, st), st)
                continue
            out.append(s)
    return out


def _lower_with(s: ast.With, st: _TryState) -> list[ast.stmt]:
    item, rest = s.items[0], s.items[1:]
    body = [ast.copy_location(ast.With(items=rest, body=s.body, type_comment=None), s)] if rest else s.body
    n = next(st.counter)
    cm, exc = f"_w_cm_{n}", f"_w_exc_{n}"
    enter = _call("_wengert_enter", _name(cm, False, s), node=s)
    pre = [_assign(cm, item.context_expr, s)]
    if item.optional_vars is not None:
        pre.append(ast.Assign(targets=[item.optional_vars], value=enter))
    else:
        pre.append(ast.Expr(enter))
    reraise = ast.If(test=ast.UnaryOp(ast.Not(), _call("_wengert_exit", _name(cm, False, s), _name(exc, False, s),
                                                      node=s)),
                     body=[ast.Raise(exc=_name(exc, False, s), cause=None)], orelse=[])
    handler = ast.ExceptHandler(type=None, name=None, body=[reraise])
    ok = [ast.Expr(_call("_wengert_exit", _name(cm, False, s), ast.Constant(None), node=s))]
    return _fix(pre, s) + _lower_try(body, [handler], [], [], _fix(ok, s), st, s, exc)


def _lower_try(body, handlers, orelse, final, ok, st: _TryState, node, exc=None) -> list[ast.stmt]:
    """``try`` as attempts and branches (module docstring); ``ok`` runs first on every way
    out that did not raise (a ``with``'s exit)."""
    n = next(st.counter)
    exc = exc or f"_w_exc_{n}"
    res = f"_w_res_{n}"
    out: list[ast.stmt] = [_assign(exc, ast.Constant(None), node)]
    chain: list[ast.stmt] = []  # built from the last statement back to the first
    for i, stmt in reversed(list(enumerate(body))):
        fn_name = f"_w_try_{n}_{i}"
        fn, flags = _outline(stmt, fn_name, st)
        step: list[ast.stmt] = [fn, ast.Assign(
            targets=[ast.Tuple([_name(exc, True, stmt), _name(res, True, stmt)], ast.Store())],
            value=_call("_wengert_attempt", _name(fn_name, False, stmt), ast.Constant(_atomic(stmt)),
                        node=stmt))]
        leave = []
        for code, what in ((1, "return"), (2, "break"), (3, "continue")):
            if code not in flags:
                continue
            if what == "return":
                exit_ = ast.Return(value=ast.Subscript(_name(res, False, stmt), ast.Constant(1), ast.Load()))
            else:
                exit_ = ast.Break() if what == "break" else ast.Continue()
            test = ast.Compare(left=ast.Subscript(_name(res, False, stmt), ast.Constant(0), ast.Load()),
                               ops=[ast.Eq()], comparators=[ast.Constant(code)])
            test = ast.BoolOp(ast.And(), [ast.Compare(_name(exc, False, stmt), [ast.Is()], [ast.Constant(None)]),
                                          test])
            leave.append(ast.If(test=test, body=copy.deepcopy(ok) + copy.deepcopy(final) + [exit_], orelse=[]))
        if chain:
            guard = ast.Compare(_name(exc, False, stmt), [ast.Is()], [ast.Constant(None)])
            chain = [ast.If(test=guard, body=chain, orelse=[])]
        chain = _fix(step + leave, stmt) + chain
    out += chain
    # after the body: no exception -> else; a handler that matches; or re-raise
    fin = lambda: copy.deepcopy(final)  # noqa: E731
    tail: list[ast.stmt] = fin() + [ast.Raise(exc=_name(exc, False, node), cause=None)]
    for h in reversed(handlers):
        hbody = _before_exits(_bare_raise(h.body, exc), fin, 0)
        if h.name:
            hbody = [_assign(h.name, _name(exc, False, h), h)] + hbody
        hbody = _try_with(hbody + fin(), st)
        if h.type is None:
            tail = hbody
        else:
            test = _call("isinstance", _name(exc, False, h), h.type, node=h)
            tail = [ast.If(test=test, body=hbody, orelse=tail)]
    els = _try_with(copy.deepcopy(ok) + _before_exits(orelse, fin, 0) + fin(), st)
    top = ast.If(test=ast.Compare(_name(exc, False, node), [ast.Is()], [ast.Constant(None)]),
                 body=els or [ast.Pass()], orelse=tail)
    return _fix(out, node) + _fix([top], node)


def _atomic(stmt) -> bool:
    """Does ``stmt`` bind or change nothing before it may raise? (Then an exception leaves
    every variable as it was before it; compound statements and := may leave some changed.)"""
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Pass, ast.Raise)):
        return not any(isinstance(n, ast.NamedExpr) for n in ast.walk(stmt))
    if isinstance(stmt, ast.If):  # `if bad: raise ...`, `if c: y = a else: y = b`
        return (not any(isinstance(n, ast.NamedExpr) for n in ast.walk(stmt.test))
                and all(len(b) <= 1 and all(_atomic(x) for x in b) for b in (stmt.body, stmt.orelse)))
    return False


def _outline(stmt, name: str, st: _TryState):
    """A nested function running ``stmt``: ``return v`` -> ``return (1, v)``; a ``break`` /
    ``continue`` of a loop around the try -> ``return (2, None)`` / ``(3, None)``."""
    from wengert.frontend.cells import _stores
    from wengert.frontend.source import register_synthetic

    stored = set(_stores(ast.Module(body=[stmt], type_ignores=[])))
    flags: set[int] = set()
    body = _flag_exits([copy.deepcopy(stmt)], flags, in_loop=False)
    if flags:
        body.append(_fix([ast.Return(value=ast.Tuple([ast.Constant(0), ast.Constant(None)], ast.Load()))],
                         stmt)[0])
    decls = []
    if stored - st.globals:
        decls.append(ast.Nonlocal(names=sorted(stored - st.globals)))
    if stored & st.globals:
        decls.append(ast.Global(names=sorted(stored & st.globals)))
    fn = ast.FunctionDef(name=name, args=ast.arguments([], [], None, [], [], None, []),
                         body=decls + body, decorator_list=[], returns=None, type_comment=None)
    _fix([fn], stmt)
    for d in decls:
        ast.copy_location(d, stmt)
    register_synthetic(fn, st.fn)
    return fn, flags


def _flag_exits(stmts, flags: set, in_loop: bool):
    out = []
    for s in stmts:
        if isinstance(s, ast.Return):
            flags.add(1)
            v = s.value if s.value is not None else ast.Constant(None)
            s = ast.copy_location(ast.Return(value=ast.Tuple([ast.Constant(1), v], ast.Load())), s)
        elif isinstance(s, (ast.Break, ast.Continue)) and not in_loop:
            code = 2 if isinstance(s, ast.Break) else 3
            flags.add(code)
            s = ast.copy_location(ast.Return(value=ast.Tuple([ast.Constant(code), ast.Constant(None)],
                                                             ast.Load())), s)
        elif isinstance(s, (ast.For, ast.While)):
            s.body = _flag_exits(s.body, flags, True)
            s.orelse = _flag_exits(s.orelse, flags, in_loop)
        elif isinstance(s, (ast.If, ast.With, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                if hasattr(s, field):
                    setattr(s, field, _flag_exits(getattr(s, field), flags, in_loop))
            for h in getattr(s, "handlers", []):
                h.body = _flag_exits(h.body, flags, in_loop)
        elif isinstance(s, ast.Match):
            for c in s.cases:
                c.body = _flag_exits(c.body, flags, in_loop)
        out.append(s)
    return [ast.fix_missing_locations(x) for x in out]


def _before_exits(stmts, fin, depth: int):
    """``finally`` (``fin()``) before each return and raise, and before each break/continue that
    leaves the try's own loop level (``depth`` counts loops entered inside the handler)."""
    out = []
    for s in stmts:
        if isinstance(s, ast.Return) or (isinstance(s, (ast.Break, ast.Continue)) and depth == 0):
            extra = fin()
            if extra and isinstance(s, ast.Return) and s.value is not None:
                out.append(_assign("_w_retval_f", s.value, s))
                s = ast.copy_location(ast.Return(value=_name("_w_retval_f", False, s)), s)
            out += _fix(extra, s) if extra else []
        elif isinstance(s, ast.Raise):  # leaves the try at any loop depth; the exception is made first
            extra = fin()
            if extra:
                if s.exc is not None:
                    out.append(_assign("_w_raise_f", s.exc, s))
                    s = ast.copy_location(ast.Raise(exc=_name("_w_raise_f", False, s), cause=s.cause), s)
                out += _fix(extra, s)
        elif isinstance(s, (ast.For, ast.While)):
            s.body = _before_exits(s.body, fin, depth + 1)
        elif isinstance(s, ast.If):
            s.body = _before_exits(s.body, fin, depth)
            s.orelse = _before_exits(s.orelse, fin, depth)
        out.append(s)
    return out


def _bare_raise(stmts, exc: str):
    """A bare ``raise`` in a handler re-raises the exception it took."""
    for s in stmts:
        for n in _walk_here(s):
            if isinstance(n, ast.Raise) and n.exc is None:
                n.exc = _name(exc, False, n)
    return stmts


def _walk_here(node):
    yield node
    for c in ast.iter_child_nodes(node):
        if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ExceptHandler)):
            continue
        yield from _walk_here(c)


# ---- match ----

_SELF_MATCHING = {"bool", "bytearray", "bytes", "dict", "float", "frozenset", "int", "list", "set", "str",
                  "tuple"}


def _lower_match(m: ast.Match, st: _TryState) -> list[ast.stmt]:
    from wengert.errors import UnsupportedError

    n = next(st.counter)
    subj, flag = f"_w_subj_{n}", f"_w_matched_{n}"
    temps = itertools.count()
    out = [_assign(subj, m.subject, m), _assign(flag, ast.Constant(False), m)]

    def refuse(p, what):
        return UnsupportedError(f"match: {what} is not supported yet", None, getattr(p, "lineno", m.lineno))

    def steps(p, s_expr) -> list:
        """[("test", expr) | ("bind", name, expr)] matching ``s_expr`` against pattern ``p``."""
        if isinstance(p, ast.MatchValue):
            return [("test", ast.Compare(s_expr, [ast.Eq()], [p.value]))]
        if isinstance(p, ast.MatchSingleton):
            return [("test", ast.Compare(s_expr, [ast.Is()], [ast.Constant(p.value)]))]
        if isinstance(p, ast.MatchAs):
            out_ = steps(p.pattern, s_expr) if p.pattern is not None else []
            return out_ + ([("bind", p.name, s_expr)] if p.name else [])
        if isinstance(p, ast.MatchOr):
            alts = []
            for q in p.patterns:
                sub = steps(q, s_expr)
                if any(x[0] == "bind" for x in sub):
                    raise refuse(p, "an or-pattern that binds names")
                alts.append(ast.BoolOp(ast.And(), [x[1] for x in sub]) if len(sub) > 1 else
                            sub[0][1] if sub else ast.Constant(True))
            return [("test", ast.BoolOp(ast.Or(), alts))]
        if isinstance(p, ast.MatchSequence):
            t = f"_w_m_{n}_{next(temps)}"
            stars = [i for i, q in enumerate(p.patterns) if isinstance(q, ast.MatchStar)]
            k = len(p.patterns)
            res = [("bind", t, s_expr),
                   ("test", _call("_wengert_is_sequence", _name(t, False, p), node=p))]
            size = _call("len", _name(t, False, p), node=p)
            if stars:
                res.append(("test", ast.Compare(size, [ast.GtE()], [ast.Constant(k - 1)])))
            else:
                res.append(("test", ast.Compare(size, [ast.Eq()], [ast.Constant(k)])))
            j = stars[0] if stars else k
            for i, q in enumerate(p.patterns):
                if i < j:
                    item = ast.Subscript(_name(t, False, p), ast.Constant(i), ast.Load())
                    res += steps(q, item)
                elif i == j:
                    if q.name:
                        stop = ast.Constant(-(k - j - 1)) if k - j - 1 else ast.Constant(None)
                        part = ast.Subscript(_name(t, False, p), ast.Slice(ast.Constant(j), stop, None), ast.Load())
                        res.append(("bind", q.name, _call("list", part, node=p)))
                else:
                    item = ast.Subscript(_name(t, False, p), ast.Constant(i - k), ast.Load())
                    res += steps(q, item)
            return res
        if isinstance(p, ast.MatchMapping):
            if p.rest:
                raise refuse(p, "**rest in a mapping pattern")
            t = f"_w_m_{n}_{next(temps)}"
            res = [("bind", t, s_expr), ("test", _call("_wengert_is_mapping", _name(t, False, p), node=p))]
            for key, q in zip(p.keys, p.patterns):
                res.append(("test", ast.Compare(key, [ast.In()], [_name(t, False, p)])))
                res += steps(q, ast.Subscript(_name(t, False, p), key, ast.Load()))
            return res
        if isinstance(p, ast.MatchClass):
            t = f"_w_m_{n}_{next(temps)}"
            res = [("bind", t, s_expr), ("test", _call("isinstance", _name(t, False, p), p.cls, node=p))]
            if (len(p.patterns) == 1 and isinstance(p.cls, ast.Name) and p.cls.id in _SELF_MATCHING):
                return res + steps(p.patterns[0], _name(t, False, p))
            for i, q in enumerate(p.patterns):
                names = ast.Attribute(p.cls, "__match_args__", ast.Load())
                attr = _call("getattr", _name(t, False, p), ast.Subscript(names, ast.Constant(i), ast.Load()),
                             node=p)
                res += steps(q, attr)
            for a, q in zip(p.kwd_attrs, p.kwd_patterns):
                res.append(("test", _call("hasattr", _name(t, False, p), ast.Constant(a), node=p)))
                res += steps(q, ast.Attribute(_name(t, False, p), a, ast.Load()))
            return res
        raise refuse(p, f"the pattern {type(p).__name__}")

    for case in m.cases:
        inner: list[ast.stmt] = [_assign(flag, ast.Constant(True), case.pattern)] + case.body
        if case.guard is not None:
            inner = [ast.If(test=case.guard, body=inner, orelse=[])]
        for step in reversed(steps(case.pattern, _name(subj, False, m))):
            if step[0] == "bind":
                inner = [ast.Assign(targets=[_name(step[1], True, case.pattern)], value=step[2])] + inner
            else:
                inner = [ast.If(test=step[1], body=inner, orelse=[])]
        test = ast.UnaryOp(ast.Not(), _name(flag, False, m))
        out.append(ast.If(test=test, body=inner, orelse=[]))
    return _fix([ast.fix_missing_locations(x) for x in out], m)
