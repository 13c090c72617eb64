"""Unit tests of lowering (`wengert.frontend.lower.lower`) and the IR (`wengert.ir`).

The IR of small functions is checked for its shape (the verifier accepts it, loops carry
exactly the variables they assign, branches yield the variables they assign,
comprehensions are loops), for `ir.prune`, and for the printer's text. The oracle for
its meaning is Python: a small interpreter written here runs the IR, and it must give
what the function itself gives.
"""

import builtins
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert.frontend.lower as lower_mod
from wengert import ir
from wengert.frontend.lower import lower


# ---- an interpreter for the structured IR (the meaning the docstring of `ir.core` gives) ----

class _Exit(Exception):
    def __init__(self, kind, values):
        self.kind, self.values = kind, values


def run_ir(fn: ir.Function, py_fn, *args):
    env = dict(zip((p.id for p in fn.params), args))

    def val(o):
        return o.value if isinstance(o, ir.Const) else env[o.id]

    def op(s: ir.Op):
        a = [val(x) for x in s.args]
        kw = {k: val(v) for k, v in s.kwargs.items()}
        k = s.kind
        if k == "call":
            f = val(s.fn)
            out = f(*a[0], **a[1]) if s.star else f(*a, **kw)
        elif k == "global":
            out = py_fn.__globals__[s.fn] if s.fn in py_fn.__globals__ else getattr(builtins, s.fn)
        elif k == "attr":
            out = getattr(a[0], s.fn)
        elif k == "method":
            out = getattr(a[0], s.fn)(*a[1:], **kw)
        elif k == "tuple":
            out = tuple(a)
        elif k in ("list", "newlist"):
            out = list(a)
        elif k == "dict":
            out = dict(zip(s.fn, a))
        elif k == "unpack":
            out = list(a[0])
            assert len(out) == s.fn
        elif k == "append":
            a[0].append(a[1])
            return
        elif k == "setitem":
            a[0][a[1]] = a[2]
            return
        elif k == "setattr":
            setattr(a[0], s.fn, a[1])
            return
        else:
            raise NotImplementedError(k)
        if len(s.outs) == 1 and k != "unpack":
            env[s.outs[0].id] = out
        else:
            for o, v in zip(s.outs, out):
                env[o.id] = v

    def block(b: ir.Block, args):
        for p, v in zip(b.args, args):
            env[p.id] = v
        for s in b.stmts:
            if isinstance(s, ir.Op):
                op(s)
            elif isinstance(s, ir.If):
                kind, vals = block(s.then if val(s.cond) else s.orelse, ())
                if kind != "yield":
                    raise _Exit(kind, vals)
                for o, v in zip(s.outs, vals):
                    env[o.id] = v
            elif isinstance(s, ir.Loop):
                carried = [val(x) for x in s.inits]
                items = iter(val(s.iterable)) if s.iterable is not None else None
                while True:
                    if items is None:
                        kind, c = block(s.header, carried)
                        assert kind == "cond"
                        if not c[0]:
                            break
                        body_args = carried
                    else:
                        try:
                            body_args = [next(items)] + carried
                        except StopIteration:
                            break
                    try:
                        kind, carried = block(s.body, body_args)
                    except _Exit as e:
                        if e.kind not in ("continue", "break"):
                            raise
                        kind, carried = e.kind, e.values
                    if kind == "break":
                        break
                for o, v in zip(s.outs, carried):
                    env[o.id] = v
        t = b.term
        vals = [val(x) for x in t.values]
        if t.kind == "raise":
            raise vals[0]
        return t.kind, vals  # an If's branch ending in break/continue: the If raises _Exit

    def run_block_catching(b):
        try:
            return block(b, ())
        except _Exit as e:
            return e.kind, e.values

    kind, vals = run_block_catching(fn.body)
    assert kind == "return", kind
    return vals[0]


# ---- sample functions (module level: lowering reads this file's source) ----

def tiny(x, y):
    return x * y + 1.0


def carried(x, n):
    a = 0.0
    b = 1.0
    c = 5.0
    i = 0
    while i < n:
        a = a + x
        b = b * c
        i = i + 1
    return a + b + c + i


def for_carried(xs, k):
    total = 0.0
    last = None
    for v in xs:
        total = total + v * k
        last = v
    return total, last


def branch(x):
    y = 1.0
    z = 2.0
    w = 7.0
    if x > 0:
        y = x * 2
    else:
        y = -x
        z = 3.0
    return y + z + w


def comprehension(xs):
    return [x * x for x in xs if x > 0]


def nested_comprehension(rows):
    return [[v + 1 for v in row] for row in rows]


def early_exit(xs, t):
    n = 0
    for x in xs:
        if x > t:
            break
        if x < 0:
            continue
        n = n + x
    return n


def returns_in_loop(xs, t):
    i = 0
    while i < len(xs):
        if xs[i] == t:
            return i
        i += 1
    return -1


def dead_code(x):
    t = (x, x)  # noqa: F841
    u = [x]  # noqa: F841
    s = 0
    for i in range(3):
        s = i  # noqa: F841  (carried, read by nobody after the loop)
    return x * 2


def mutating(xs, v):
    d = {"a": v}
    xs.append(v)
    xs[0] = d["a"] * 2
    a, b = xs[0], xs[-1]
    return a + b + math.fsum(xs)


SAMPLES = [tiny, carried, for_carried, branch, comprehension, nested_comprehension, early_exit,
           returns_in_loop, dead_code, mutating]


def stmts(fn: ir.Function, cls):
    return [s for _, s in ir.walk(fn.body) if isinstance(s, cls)]


# ---- the verifier, and the meaning of the IR ----


@pytest.mark.parametrize("f", SAMPLES, ids=lambda f: f.__name__)
def test_verifier_accepts_lowered_samples(f):
    ir.verify(lower(f))


CASES = [
    (tiny, (2.0, 3.0)), (carried, (1.5, 4)), (carried, (1.5, 0)), (for_carried, ([1.0, 2.0, 3.0], 0.5)),
    (for_carried, ([], 2.0)), (branch, (3.0,)), (branch, (-2.0,)), (comprehension, ([1.0, -2.0, 3.0],)),
    (nested_comprehension, ([[1, 2], [], [3]],)), (early_exit, ([1, -2, 3, 9, 4], 5)),
    (returns_in_loop, ([4, 5, 6], 5)), (returns_in_loop, ([4, 5, 6], 7)), (dead_code, (2.5,)),
]


@pytest.mark.parametrize("f, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_ir_means_what_the_function_does(f, args):
    assert run_ir(lower(f), f, *args) == f(*args)


def test_ir_with_mutation_means_what_the_function_does():
    f = lower(mutating)
    xs0, xs1 = [1.0, 2.0], [1.0, 2.0]
    assert run_ir(f, mutating, xs1, 4.0) == mutating(xs0, 4.0)
    assert xs1 == xs0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-5, 10), max_size=8), st.integers(-5, 10))
def test_loops_with_exits_mean_what_the_function_does(xs, t):
    for f in (early_exit, returns_in_loop):
        assert run_ir(lower(f), f, xs, t) == f(xs, t)


def _value(i):
    return ir.Value(i)


def test_verifier_rejects_a_value_defined_twice():
    v = _value(1)
    fn = ir.Function("f", [v], ir.Block([], [ir.Op([v], "tuple", None, [])], ir.Term("return", [v])),
                     "<t>", 1)
    with pytest.raises(ir.VerifyError, match="defined twice"):
        ir.verify(fn)


def test_verifier_rejects_use_before_definition():
    x, y = _value(1), _value(2)
    fn = ir.Function("f", [x], ir.Block([], [ir.Op([_value(3)], "tuple", None, [y])], ir.Term("return", [x])),
                     "<t>", 1)
    with pytest.raises(ir.VerifyError, match="used before definition"):
        ir.verify(fn)


def test_verifier_rejects_a_branch_yielding_the_wrong_number_of_values():
    x, out = _value(1), _value(2)
    iff = ir.If(x, ir.Block([], [], ir.Term("yield", [x])), ir.Block([], [], ir.Term("yield", [x, x])), [out])
    fn = ir.Function("f", [x], ir.Block([], [iff], ir.Term("return", [out])), "<t>", 1)
    with pytest.raises(ir.VerifyError, match="yields 2 for 1 outs"):
        ir.verify(fn)


def test_verifier_rejects_a_missing_terminator_and_a_top_block_without_return():
    x = _value(1)
    with pytest.raises(ir.VerifyError, match="missing terminator"):
        ir.verify(ir.Function("f", [x], ir.Block([], [], None), "<t>", 1))
    with pytest.raises(ir.VerifyError, match="must end in return"):
        ir.verify(ir.Function("f", [x], ir.Block([], [], ir.Term("yield", [x])), "<t>", 1))


# ---- loops carry exactly what they assign, branches yield what they assign ----


def test_while_loop_carries_exactly_the_variables_it_assigns():
    f = lower(carried)
    (loop,) = stmts(f, ir.Loop)
    assert loop.header is not None and loop.iterable is None
    names = ["a", "b", "i"]  # c is read in the loop, never assigned: not carried
    assert [v.name for v in loop.header.args] == names
    assert [v.name for v in loop.body.args] == names
    assert [v.name for v in loop.outs] == names
    assert [getattr(c, "value", None) for c in loop.inits] == [0.0, 1.0, 0]
    assert loop.body.term.kind == "continue" and len(loop.body.term.values) == 3
    assert loop.header.term.kind == "cond"


def test_for_loop_body_takes_the_item_then_the_carried_values():
    f = lower(for_carried)
    (loop,) = stmts(f, ir.Loop)
    assert loop.iterable is f.params[0]
    assert [v.name for v in loop.body.args] == ["v", "last", "total"]
    assert [v.name for v in loop.outs] == ["last", "total"]


def test_branch_yields_the_variables_assigned_in_either_branch():
    f = lower(branch)
    (iff,) = stmts(f, ir.If)
    assert [v.name for v in iff.outs] == ["y", "z"]  # w is assigned in neither
    then, orelse = iff.then.term, iff.orelse.term
    assert then.kind == orelse.kind == "yield"
    assert then.values[0].name == "y" and then.values[1].value == 2.0  # z unchanged in then
    assert orelse.values[0].name == "y" and orelse.values[1].value == 3.0


def test_loop_exits_carry_the_loop_values():
    f = lower(early_exit)
    (loop,) = stmts(f, ir.Loop)
    kinds = sorted(t.kind for _, t in ir.walk(loop.body) if isinstance(t, ir.Term) and t.kind in
                   ("break", "continue"))
    assert kinds == ["break", "continue", "continue"]
    for _, t in ir.walk(loop.body):
        if isinstance(t, ir.Term) and t.kind in ("break", "continue"):
            assert len(t.values) == len(loop.outs)


def test_return_in_a_loop_leaves_one_return_at_the_top():
    f = lower(returns_in_loop)
    terms = [t for _, t in ir.walk(f.body) if isinstance(t, ir.Term)]
    assert [t.kind for t in terms].count("return") == 1
    assert f.body.term.kind == "return"


def test_comprehension_becomes_a_loop_appending_to_a_fresh_list():
    f = lower(comprehension)
    kinds = [s.kind for s in stmts(f, ir.Op)]
    assert kinds.count("newlist") == 1 and kinds.count("append") == 1
    (loop,) = stmts(f, ir.Loop)
    assert loop.iterable is f.params[0]
    (new,) = [s for s in stmts(f, ir.Op) if s.kind == "newlist"]
    (app,) = [s for s in stmts(f, ir.Op) if s.kind == "append"]
    assert app.args[0] is new.outs[0] and f.body.term.values[0] is new.outs[0]


def test_nested_comprehension_becomes_nested_loops():
    f = lower(nested_comprehension)
    outer = [s for s in f.body.stmts if isinstance(s, ir.Loop)]
    assert len(outer) == 1
    assert len([s for s in outer[0].body.stmts if isinstance(s, ir.Loop)]) == 1
    assert [s.kind for s in stmts(f, ir.Op)].count("newlist") == 2


# ---- prune ----


def test_lowering_prunes_dead_values(monkeypatch):
    monkeypatch.setattr(lower_mod, "prune", lambda fn: None)
    raw = lower(dead_code)
    monkeypatch.undo()
    kinds = [s.kind for s in stmts(raw, ir.Op)]
    assert "tuple" in kinds and "list" in kinds
    (loop,) = stmts(raw, ir.Loop)
    assert [v.name for v in loop.outs] == ["i", "s"]
    ir.prune(raw)
    ir.verify(raw)
    kinds = [s.kind for s in stmts(raw, ir.Op)]
    assert "tuple" not in kinds and "list" not in kinds
    (loop,) = stmts(raw, ir.Loop)
    assert loop.outs == [] and len(loop.body.args) == 1  # the item only
    assert run_ir(raw, dead_code, 1.25) == 2.5
    assert ir.format_function(raw) == ir.format_function(lower(dead_code))


def test_prune_keeps_calls_and_drops_unused_branch_results():
    x, c, t, e, out1, out2, call_out = (_value(i) for i in range(1, 8))
    then = ir.Block([], [ir.Op([t], "tuple", None, [x])], ir.Term("yield", [t, x]))
    orelse = ir.Block([], [ir.Op([e], "list", None, [x])], ir.Term("yield", [e, x]))
    body = ir.Block([], [
        ir.Op([c], "call", ir.Const(print), [x]),      # unused, but a call: kept
        ir.If(x, then, orelse, [out1, out2]),
    ], ir.Term("return", [out2]))
    fn = ir.Function("f", [x], body, "<t>", 1)
    ir.verify(fn)
    ir.prune(fn)
    ir.verify(fn)
    assert [s.kind for s in fn.body.stmts if isinstance(s, ir.Op)] == ["call"]
    (iff,) = [s for s in fn.body.stmts if isinstance(s, ir.If)]
    assert iff.outs == [out2]
    assert iff.then.term.values == [x] and iff.orelse.term.values == [x]
    assert iff.then.stmts == [] and iff.orelse.stmts == []  # the tuple and list fed only out1


def test_uses_counts_every_operand():
    f = lower(tiny)
    x, y = f.params
    counts = ir.uses(f.body)
    assert counts[x.id] == 1 and counts[y.id] == 1
    (mul, add) = stmts(f, ir.Op)
    assert counts[mul.outs[0].id] == 1 and counts[add.outs[0].id] == 1


# ---- the printer ----


def test_printer_text_of_a_tiny_function():
    line = tiny.__code__.co_firstlineno
    assert ir.format_function(lower(tiny)) == (
        f"tiny(%1, %2)    # x, y    line {line}\n"
        f"  %3 = mul(%1, %2)    # line {line + 1}\n"
        f"  %4 = add(%3, 1.0)    # line {line + 1}\n"
        f"  return %4\n")


def test_printer_text_of_a_branch():
    line = branch.__code__.co_firstlineno
    assert ir.format_function(lower(branch)) == (
        f"branch(%1)    # x    line {line}\n"
        f"  %2 = gt(%1, 0)    # line {line + 4}\n"
        f"  %5, %6 = if %2    # y, z    line {line + 4}\n"
        f"    then:\n"
        f"      %3 = mul(%1, 2)    # y    line {line + 5}\n"
        f"      yield %3, 2.0\n"
        f"    else:\n"
        f"      %4 = neg(%1)    # y    line {line + 7}\n"
        f"      yield %4, 3.0\n"
        f"  %7 = add(%5, %6)    # line {line + 9}\n"
        f"  %8 = add(%7, 7.0)    # line {line + 9}\n"
        f"  return %8\n")
