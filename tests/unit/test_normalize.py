"""Unit tests of the source normaliser (`wengert.frontend.normalize.normalize`).

Each test parses a small function, normalises its AST and checks two things: the shape
of the result (unparsed), and that running it gives what the original gives on sample
inputs. The oracle is Python itself: the original source run as written. The helpers
the normalised code calls (``_wengert_attempt``, ...) are written here from their
documented meaning, not taken from wengert.
"""

import ast
import collections.abc
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wengert.frontend.normalize import normalize


# ---- helpers the normalised code calls, as Python means them ----

def _attempt(body, atomic=True):
    try:
        return None, body()
    except BaseException as e:  # noqa: BLE001 - what the user's `except` would see
        return e, None


def _enter(cm):
    return type(cm).__enter__(cm)


def _exit(cm, exc):
    if exc is None:
        return type(cm).__exit__(cm, None, None, None)
    return type(cm).__exit__(cm, type(exc), exc, exc.__traceback__)


HELPERS = {
    "_wengert_attempt": _attempt,
    "_wengert_enter": _enter,
    "_wengert_exit": _exit,
    "_wengert_is_sequence": lambda x: isinstance(x, collections.abc.Sequence)
    and not isinstance(x, (str, bytes, bytearray)),
    "_wengert_is_mapping": lambda x: isinstance(x, collections.abc.Mapping),
}


def normalised(src: str) -> ast.FunctionDef:
    fn = ast.parse(textwrap.dedent(src)).body[0]
    normalize(fn)
    return fn


def text(src: str) -> str:
    return ast.unparse(normalised(src))


def _declared_nonlocal(fn):
    return {n for node in ast.walk(fn) if isinstance(node, ast.Nonlocal) for n in node.names}


def _bound_in(fn):
    out = {a.arg for a in fn.args.args}
    todo = list(fn.body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.Lambda, ast.ClassDef)):
            if not isinstance(n, ast.Lambda):
                out.add(n.name)
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        todo.extend(ast.iter_child_nodes(n))
    return out


def compiled(fn: ast.FunctionDef, env=None):
    """Run the normalised def. A try body's function writes variables through ``nonlocal``
    (wengert lowers those as cells); Python needs them bound in the enclosing def, so the
    ones only the try body binds are declared first with a value no test reads."""
    fn = ast.parse(ast.unparse(fn)).body[0]
    missing = sorted(_declared_nonlocal(fn) - _bound_in(fn))
    fn.body = [ast.parse(f"{n} = '<unbound>'").body[0] for n in missing] + fn.body
    mod = ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[]))
    ns = dict(HELPERS, **(env or {}))
    exec(compile(mod, "<normalised>", "exec"), ns)
    return ns[fn.name]


def original(src: str, env=None):
    ns = dict(env or {})
    exec(textwrap.dedent(src), ns)
    fn = ast.parse(textwrap.dedent(src)).body[0]
    return ns[fn.name]


def outcome(f, *args):
    try:
        return ("value", f(*args))
    except Exception as e:  # noqa: BLE001 - an exception is an outcome to compare
        return ("raised", type(e), str(e))


def same_behaviour(src: str, inputs, env=None):
    before = original(src, env)
    after = compiled(normalised(src), env)
    for args in inputs:
        assert outcome(after, *args) == outcome(before, *args), args


# ---- invariants the lowering relies on ----

LOOPS = (ast.For, ast.While)
EXITS = (ast.Break, ast.Continue, ast.Return, ast.Raise)


def _may_exit(s) -> bool:
    if isinstance(s, EXITS):
        return True
    if isinstance(s, ast.If):
        return any(_may_exit(x) for x in s.body + s.orelse)
    return False


def _blocks(node):
    for field in ("body", "orelse"):
        b = getattr(node, field, None)
        if isinstance(b, list) and b:
            yield b


def check_invariants(fn: ast.FunctionDef):
    """What the module docstring promises: no try/with/match/assert left, no loop else, no
    return inside a loop, an exit (or an if that may exit) only last in its block, and the
    function ends in a way out on every path."""
    def visit(stmts, in_loop):
        for i, s in enumerate(stmts):
            assert not isinstance(s, (ast.Try, ast.With, ast.Match, ast.Assert)), ast.unparse(s)
            if isinstance(s, ast.Return):
                assert not in_loop, "return inside a loop"
            if _may_exit(s):
                assert i == len(stmts) - 1, f"statements after {ast.unparse(s)!r}"
            if isinstance(s, ast.FunctionDef):
                continue  # a try body's function: a scope of its own
            if isinstance(s, LOOPS):
                assert not s.orelse, "loop else left"
                visit(s.body, True)
            elif isinstance(s, ast.If):
                visit(s.body, in_loop)
                visit(s.orelse, in_loop)

    def ends(stmts):
        last = stmts[-1]
        if isinstance(last, (ast.Return, ast.Raise)):
            return True
        return isinstance(last, ast.If) and ends(last.body) and bool(last.orelse) and ends(last.orelse)

    visit(fn.body, False)
    assert ends(fn.body), "a path falls off the end"


# ---- try and with ----

TRY = """
def f(x):
    try:
        y = 1.0 / x
    except ZeroDivisionError:
        y = 0.0
    return y
"""


def test_try_becomes_an_attempt_function_and_branches_on_the_exception():
    fn = normalised(TRY)
    check_invariants(fn)
    nested = [s for s in fn.body if isinstance(s, ast.FunctionDef)]
    assert len(nested) == 1
    attempt = nested[0]
    assert attempt.name.startswith("_w_try_")
    assert isinstance(attempt.body[0], ast.Nonlocal) and attempt.body[0].names == ["y"]
    assert ast.unparse(attempt.body[1]) == "y = 1.0 / x"
    src = ast.unparse(fn)
    assert f"_wengert_attempt({attempt.name}, True)" in src
    assert "isinstance(_w_exc_0, ZeroDivisionError)" in src
    assert "raise _w_exc_0" in src  # an exception no handler takes is raised again


def test_try_gives_the_same_results():
    same_behaviour(TRY, [(2.0,), (0,), (-4.0,), ("s",)])


TRY_FULL = """
def f(x, log):
    try:
        log.append("a")
        y = 10 // x
        log.append("b")
    except ZeroDivisionError as e:
        log.append("zero")
        y = -1
    except TypeError:
        log.append("type")
        raise
    else:
        log.append("else")
        y = y + 1
    finally:
        log.append("finally")
    return y, log
"""


def run_logged(src, *args):
    f0, f1 = original(src), compiled(normalised(src))
    log0, log1 = [], []
    return (outcome(f0, *args, log0), log0), (outcome(f1, *args, log1), log1)


@pytest.mark.parametrize("x", [3, 0, 7])
def test_try_with_else_finally_runs_the_same_steps(x):
    fn = normalised(TRY_FULL)
    check_invariants(fn)
    assert ast.unparse(fn).count("log.append('finally')") >= 2  # copied onto each way out
    before, after = run_logged(TRY_FULL, x)
    assert after == before


def test_finally_runs_when_a_handler_raises():
    before, after = run_logged(TRY_FULL, "s")  # TypeError: the handler logs, then re-raises
    assert before == (("raised", TypeError, "unsupported operand type(s) for //: 'int' and 'str'"),
                      ["a", "type", "finally"])
    assert after == before


def test_statement_changing_something_before_it_may_raise_is_not_atomic():
    fn = normalised("""
    def f(xs):
        try:
            for x in xs:
                y = 1 / x
        except ZeroDivisionError:
            y = 0
        return y
    """)
    assert "_wengert_attempt(_w_try_0_0, False)" in ast.unparse(fn)


def test_return_inside_try_leaves_through_the_result_flag():
    src = """
    def f(x):
        try:
            return 1.0 / x
        except ZeroDivisionError:
            return 0.0
    """
    fn = normalised(src)
    assert "return (1, 1.0 / x)" in ast.unparse(fn)
    assert "_w_res_0[0] == 1" in ast.unparse(fn)
    same_behaviour(src, [(4.0,), (0.0,)])


class Recorder:
    def __init__(self, log, swallow=False):
        self.log, self.swallow = log, swallow

    def __enter__(self):
        self.log.append("enter")
        return 10

    def __exit__(self, t, e, tb):
        self.log.append(("exit", t.__name__ if t else None))
        return self.swallow


WITH = """
def f(x, log, swallow):
    with Recorder(log, swallow) as c:
        y = c / x
    return y, log
"""


def test_with_becomes_enter_attempt_and_exit():
    fn = normalised(WITH)
    check_invariants(fn)
    src = ast.unparse(fn)
    assert "_w_cm_0 = Recorder(log, swallow)" in src
    assert "c = _wengert_enter(_w_cm_0)" in src
    assert "_wengert_exit(_w_cm_0, None)" in src  # the way out without an exception
    assert "not _wengert_exit(_w_cm_0, _w_exc_0)" in src  # the manager decides to re-raise


@pytest.mark.parametrize("x, swallow", [(2.0, False), (0.0, False), (0.0, True), (5.0, True)])
def test_with_gives_the_same_results(x, swallow):
    env = {"Recorder": Recorder}
    f0, f1 = original(WITH, env), compiled(normalised(WITH), env)
    log0, log1 = [], []
    r0, r1 = outcome(f0, x, log0, swallow), outcome(f1, x, log1, swallow)
    if r0[0] == "raised" and r0[1] is UnboundLocalError:
        # the exception was swallowed before y was bound: both reach the return without it
        # (the normalised code reads the placeholder `compiled` binds first)
        assert r1 == ("value", ("<unbound>", log1))
    else:
        assert r1 == r0
    assert log1 == log0


# ---- match ----

MATCH = """
def f(p):
    match p:
        case (a, b):
            return a + b
        case [a, *rest]:
            return a * len(rest)
        case {"k": v}:
            return v
        case 0 | 1:
            return -1
        case int(n) if n > 100:
            return n // 2
        case str():
            return "s"
        case _:
            return None
"""


def test_match_becomes_ifs():
    fn = normalised(MATCH)
    check_invariants(fn)
    src = ast.unparse(fn)
    assert "match" not in [type(n).__name__.lower() for n in ast.walk(fn)]
    assert "_w_subj_0 = p" in src  # the subject is evaluated once
    assert "_wengert_is_sequence(" in src and "len(_w_m_0_0) == 2" in src
    assert "len(_w_m_0_1) >= 1" in src  # a starred pattern
    assert "_wengert_is_mapping(" in src and "'k' in " in src
    assert "_w_subj_0 == 0 or _w_subj_0 == 1" in src
    assert "isinstance(" in src and "n > 100" in src


def test_match_gives_the_same_results():
    same_behaviour(MATCH, [((1, 2),), ([3, 4, 5],), ([7],), ({"k": 9},), ({"j": 1},), (0,), (1,),
                           (500,), (50,), ("str",), (2.5,), ((1, 2, 3),), ([],)])


def test_match_evaluates_its_subject_once():
    src = """
    def f(it):
        match next(it):
            case 1:
                return "one"
            case 2:
                return "two"
            case _:
                return "other"
    """
    f0, f1 = original(src), compiled(normalised(src))
    for seq in ([1], [2, 1], [3, 2]):
        assert f1(iter(seq)) == f0(iter(seq))


# ---- returns in loops, loop else, assert ----

RETURN_IN_LOOP = """
def f(xs, t):
    for x in xs:
        if x > t:
            return x
    return -1
"""


def test_return_in_loop_becomes_flags_and_break():
    fn = normalised(RETURN_IN_LOOP)
    check_invariants(fn)
    assert ast.unparse(fn) == textwrap.dedent("""\
        def f(xs, t):
            _w_returned = False
            _w_retval = None
            for x in xs:
                if x > t:
                    _w_retval = x
                    _w_returned = True
                    break
            if _w_returned:
                return _w_retval
            else:
                return -1""")


def test_return_in_nested_loops_breaks_out_of_each():
    src = """
    def f(rows, t):
        n = 0
        for row in rows:
            for v in row:
                n += 1
                if v == t:
                    return n
        return -n
    """
    fn = normalised(src)
    check_invariants(fn)
    outer = next(s for s in fn.body if isinstance(s, ast.For))
    inner = next(s for s in outer.body if isinstance(s, ast.For))
    after_inner = outer.body[outer.body.index(inner) + 1]
    assert ast.unparse(after_inner).startswith("if _w_returned:\n    break")
    rows = [[1, 2], [3, 4, 5], [6]]
    same_behaviour(src, [(rows, t) for t in range(8)])


def test_loop_else_becomes_a_flag():
    src = """
    def f(xs, t):
        for x in xs:
            if x > t:
                break
        else:
            return -1
        return x
    """
    fn = normalised(src)
    check_invariants(fn)
    s = ast.unparse(fn)
    assert "_w_broke_0 = False" in s
    assert "_w_broke_0 = True\n            break" in s
    assert "if not _w_broke_0:\n        return -1" in s
    same_behaviour(src, [([1, 5, 2], 3), ([1, 2], 3), ([], 0), ([9], 3)])


def test_while_else_with_continue():
    src = """
    def f(n):
        i = 0
        s = 0
        while i < n:
            i += 1
            if i % 3 == 0:
                continue
            if s > 20:
                break
            s += i
        else:
            s = -s
        return s
    """
    fn = normalised(src)
    check_invariants(fn)
    same_behaviour(src, [(n,) for n in range(15)])


def test_assert_becomes_if_raise():
    src = """
    def f(x):
        assert x > 0, "x must be positive"
        assert x != 3
        return x * 2
    """
    fn = normalised(src)
    check_invariants(fn)
    s = ast.unparse(fn)
    assert "if not x > 0:\n        raise AssertionError('x must be positive')" in s
    assert "raise AssertionError()" in s
    same_behaviour(src, [(1,), (0,), (-2,), (3,), (4,)])


# ---- tail duplication ----


def test_statements_after_an_if_that_may_exit_move_into_both_branches():
    src = """
    def f(x):
        s = 0
        while x > 0:
            x -= 1
            if x == 3:
                continue
            s += x
        return s
    """
    fn = normalised(src)
    check_invariants(fn)
    loop = fn.body[1]
    last = loop.body[-1]
    assert isinstance(last, ast.If)
    assert ast.unparse(last.body) == "continue"
    assert ast.unparse(last.orelse) == "s += x"
    same_behaviour(src, [(n,) for n in range(8)])


def test_tail_is_copied_into_the_branch_that_falls_through():
    src = """
    def f(x):
        if x < 0:
            y = -x
        elif x > 10:
            return 0
        else:
            y = x
        z = y * 2
        return z
    """
    fn = normalised(src)
    check_invariants(fn)
    assert ast.unparse(fn).count("z = y * 2") == 2  # after the two branches that fall through
    same_behaviour(src, [(-3,), (0,), (5,), (11,)])


def test_dead_statements_after_an_exit_are_dropped_and_a_return_none_is_added():
    fn = normalised("""
    def f(xs):
        for x in xs:
            break
            x = 1
        xs.append(0)
    """)
    check_invariants(fn)
    assert ast.unparse(fn) == "def f(xs):\n    for x in xs:\n        break\n    xs.append(0)\n    return None"


# ---- all of it together, on drawn inputs ----

MIXED = """
def f(xs, t, k):
    assert k >= 0, "k"
    total = 0
    for i, x in enumerate(xs):
        if x == t:
            continue
        try:
            total += 100 // (x - k)
        except ZeroDivisionError:
            total -= 1
        while total > 50:
            total -= 7
            if total % 5 == 0:
                return total, i
        else:
            total += 1
        match x:
            case 0:
                total += 2
            case _ if x > t:
                break
    else:
        total = -total
    return total, None
"""


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-5, 12), max_size=8), st.integers(-3, 10), st.integers(-1, 6))
def test_normalised_function_agrees_with_python(xs, t, k):
    before = original(MIXED)
    after = compiled(normalised(MIXED))
    assert outcome(after, xs, t, k) == outcome(before, xs, t, k)


def test_mixed_function_meets_every_invariant():
    check_invariants(normalised(MIXED))
