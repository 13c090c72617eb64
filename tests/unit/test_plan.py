"""Unit tests of the reverse-mode plan (`wengert.transforms.reverse.plan.Generator.plan`; the plan
classes are in `wengert.transforms.reverse.plans` and `.calls`).

For small functions: which operations get an adjoint, what each adjoint needs from the
forward pass, which of those are pushed in loops (and which are read again by name), how
loops count their trips. The expected plans follow from the derivatives themselves (the
adjoint of ``r * x`` with respect to ``x`` reads ``r``; of ``s + x`` reads nothing; a
comparison has none), and the last test checks that gradients built from these plans
agree with central differences.
"""

import math
import operator

import pytest

import wengert
from wengert import ir
from wengert.frontend.lower import lower
from wengert.ir.activity import analyse, kind_of
from wengert.transforms.reverse.calls import DirectPullback, GenericPullback, InlineVJP
from wengert.transforms.reverse.plan import Generator
from wengert.transforms.reverse.plans import SetItem


def planned(fn, args, wrt):
    f_ir = lower(fn)
    kinds = tuple(kind_of(a) if i in wrt else ("const", kind_of(a)) for i, a in enumerate(args))
    gen = Generator(f_ir, analyse(f_ir, kinds, {}))
    gen.plan()
    return f_ir, gen


def ops(f_ir, kind=None):
    return [s for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and (kind is None or s.kind == kind)]


def op_of(f_ir, fn):
    """The one call of ``fn`` (an operator or function) in the IR."""
    (s,) = [s for s in ops(f_ir, "call") if getattr(s.fn, "value", None) is fn or s.static is fn]
    return s


def mode(gen, s):
    """The class of the plan of ``s`` (None: no adjoint)."""
    p = gen.plans.get(id(s))
    return None if p is None else type(p)


def pushed(gen):
    """Values saved on a stack: needed by the adjoint and defined inside a loop."""
    return {gen.layout.values[v] for v in gen.needs if gen.layout.depth[v] > 0}


def read_by_name(gen):
    return {gen.layout.values[v] for v in gen.needs if gen.layout.depth[v] == 0}


def loops(f_ir):
    return [s for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Loop)]


# ---- samples ----

def pow_(x, n):
    r = 1.0
    while n > 0:
        n -= 1
        r *= x
    return r


def add_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + x
    return s


def nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(n):
            s = s + x * s
    return s


def two_saved(x, n):
    r = 1.0
    for i in range(n):
        q = math.sin(r)
        r = q * x
    return r


def condition(x):
    if math.sin(x) > 0.0:
        return x * 2.0
    return x


def square(v):
    return v * v


def calls_user(x):
    return square(x) + 1.0


def inactive_parts(x, n):
    k = len([1, 2, 3])
    m = k * 2
    y = x * n
    return y + m


def writes_into(lst, v):
    lst.append(v)


def result_unused(lst, v):
    writes_into(lst, v)
    return lst[-1] * 2.0


# ---- which operations get an adjoint ----


def test_pow_plans_only_the_multiplication():
    f_ir, gen = planned(pow_, (1.5, 3), {0})
    imul = op_of(f_ir, operator.imul)
    isub = op_of(f_ir, operator.isub)
    gt = op_of(f_ir, operator.gt)
    assert mode(gen, imul) is InlineVJP and gen.plans[id(imul)].scalar
    assert mode(gen, isub) is None  # n is an int: nothing useful flows through it
    assert mode(gen, gt) is None


def test_pow_pushes_r_and_reads_x_by_name():
    f_ir, gen = planned(pow_, (1.5, 3), {0})
    (loop,) = loops(f_ir)
    r_in_body = loop.body.args[1]
    assert r_in_body.name == "r"
    assert pushed(gen) == {r_in_body}  # d(r*x)/dx = r, one per iteration
    assert read_by_name(gen) == {f_ir.params[0]}  # d(r*x)/dr = x: the same in every iteration
    # the trip count is the length of r's stack: no counter
    assert gen.zipped[id(loop)] == [r_in_body] and id(loop) not in gen.counts


def test_loop_that_saves_nothing_counts_its_trips():
    f_ir, gen = planned(add_loop, (1.5, 3), {0})
    (loop,) = loops(f_ir)
    (add,) = [s for s in ops(f_ir, "call") if getattr(s.fn, "value", None) is operator.add]
    assert mode(gen, add) is InlineVJP
    assert pushed(gen) == set()  # d(s+x)/ds = d(s+x)/dx = 1: the adjoint reads nothing
    count = gen.counts[id(loop)]
    assert count.name == f"count_{loop.id}" and count.id in gen.needs
    assert id(loop) not in gen.zipped


def test_inner_loop_trip_counts_are_pushed_by_the_outer_loop():
    f_ir, gen = planned(nested, (0.1, 3), {0})
    outer, inner = loops(f_ir)
    assert inner in [s for s in outer.body.stmts if isinstance(s, ir.Loop)]
    count = gen.counts[id(inner)]
    assert gen.layout.depth[count.id] == 1  # defined in the outer body: one per outer trip
    s_inner = inner.body.args[2]
    assert s_inner.name == "s"
    assert pushed(gen) == {count, s_inner}  # d(x*s)/dx = s, per inner iteration
    assert gen.zipped[id(outer)] == [count]


def test_block_saving_several_values_pushes_one_group():
    f_ir, gen = planned(two_saved, (0.7, 3), {0})
    (loop,) = loops(f_ir)
    sin = [s for s in ops(f_ir, "call") if s.static is math.sin][0]
    r_in_body = loop.body.args[1]  # after the item i; q lives in one iteration: not carried
    assert r_in_body.name == "r" and [v.name for v in loop.outs] == ["r"]
    q = sin.outs[0]
    # sin's adjoint reads its argument r; the product's (w.r.t. x) reads q
    assert pushed(gen) == {r_in_body, q}
    assert gen.groups[loop.body.id] == [r_in_body, q]  # in order of definition


def test_branch_condition_is_needed_and_the_test_gets_no_adjoint():
    f_ir, gen = planned(condition, (0.3,), {0})
    sin = [s for s in ops(f_ir, "call") if s.static is math.sin][0]
    gt = op_of(f_ir, operator.gt)
    (iff,) = [s for _, s in ir.walk(f_ir.body) if isinstance(s, ir.If)]
    assert mode(gen, sin) is None and mode(gen, gt) is None  # only a comparison reads sin(x)
    assert sin.outs[0].id not in gen.useful
    assert iff.cond.id in gen.needs and id(iff) in gen.rev_stmts


def test_call_of_a_user_function_with_float_arguments_goes_straight_to_its_pullback():
    f_ir, gen = planned(calls_user, (0.3,), {0})
    (call,) = [s for s in ops(f_ir, "call") if s.static is square]
    plan = gen.plans[id(call)]
    assert type(plan) is DirectPullback
    assert (plan.fn, plan.kinds) == (square, ("float",))
    assert plan.back.id in gen.needs  # its pullback is kept for the adjoint


def test_inactive_values_get_no_plan_and_are_not_useful():
    f_ir, gen = planned(inactive_parts, (1.5, 2.0), {0})
    n = f_ir.params[1]
    mul_xn = [s for s in ops(f_ir, "call") if s.args[:2] == [f_ir.params[0], n]][0]
    assert mode(gen, mul_xn) is InlineVJP
    assert gen.plans[id(mul_xn)].tmpl[1] is None  # n is not differentiated: no adjoint for it
    for name in ("k", "m"):
        (s,) = [s for s in ops(f_ir) if s.outs and s.outs[0].name == name]
        assert mode(gen, s) is None and s.outs[0].id not in gen.useful
    assert n.id in gen.needs  # d(x*n)/dx = n
    assert gen.useful >= {f_ir.params[0].id, mul_xn.outs[0].id}


def test_call_that_may_write_an_active_argument_is_planned_though_its_result_is_unused():
    f_ir, gen = planned(result_unused, ([1.0], 2.0), {1})
    (call,) = [s for s in ops(f_ir, "call") if s.static is writes_into]
    assert call.outs[0].id not in gen.useful  # None, used by nobody
    assert mode(gen, call) in (GenericPullback, DirectPullback)
    assert gen.plans[id(call)].back.id in gen.needs


def test_mutation_is_always_planned_to_be_undone():
    def f(xs, v):
        xs[0] = 1.0  # writes no derivative: still logged, and undone by the adjoint
        return xs[1] * v

    f_ir, gen = planned(f, ([1.0, 2.0], 2.0), {1})
    (st,) = ops(f_ir, "setitem")
    assert mode(gen, st) is SetItem


# ---- the plans give the right gradients ----


@pytest.mark.parametrize("f, args", [
    (pow_, (1.5, 3)), (add_loop, (1.5, 4)), (nested, (0.1, 3)), (two_saved, (0.7, 3)), (condition, (0.3,)),
    (condition, (-0.3,)), (calls_user, (0.3,)), (inactive_parts, (1.5, 2.0)),
], ids=lambda a: getattr(a, "__name__", ""))
def test_planned_functions_differentiate_like_finite_differences(f, args):
    h = 1e-6
    rest = args[1:]
    want = (f(args[0] + h, *rest) - f(args[0] - h, *rest)) / (2 * h)
    assert wengert.grad(f)(*args) == pytest.approx(want, rel=1e-6, abs=1e-8)
