"""Unit tests of the activity analysis (`wengert.ir.activity.analyse`), called as the
cache calls it: on a function's IR, with one kind per argument (``("const", k)`` for an
argument not differentiated) and the kinds of its closure cells.

Soundness is checked against an independent oracle: where the central finite difference
of the result with respect to the differentiated argument is not zero, the analysis must
call the result active (a value called inactive gets no cotangent: a silent zero). Where
no derivative can reach a value, the analysis is checked to see that too (precision).
The cases from tests/test_soundness.py appear here at the analysis level.
"""

import dataclasses
import math
import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wengert import ir
from wengert.frontend.lower import lower
from wengert.ir import activity
from wengert.ir.activity import analyse, kind_of


def const(k):
    return ("const", k)


def free_kinds(fn):
    """The kinds of ``fn``'s closure cells, as the cache gives them (functions with cells
    are ``any``, other functions ``none``)."""
    import types

    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        v = cell.cell_contents
        if isinstance(v, types.FunctionType):
            out[name] = "any" if v.__closure__ else "none"
        else:
            out[name] = kind_of(v)
    return out


def analysis(fn, args, wrt):
    """(IR, Info) for ``fn`` differentiated with respect to the argument positions ``wrt``,
    kinds taken from the example ``args`` as `wengert.grad` takes them."""
    f_ir = lower(fn)
    kinds = tuple(kind_of(a) if i in wrt else const(kind_of(a)) for i, a in enumerate(args))
    return f_ir, analyse(f_ir, kinds, free_kinds(fn))


def result(f_ir):
    return f_ir.body.term.values[0]


def named(f_ir, name):
    """The values the IR gives the user's variable ``name`` (params included)."""
    out = [p for p in f_ir.params if p.name == name]
    for _, s in ir.walk(f_ir.body):
        out += [v for v in ir.defs_of(s) if v.name == name]
    for _, s in ir.walk(f_ir.body):
        for b in ir.blocks_of(s):
            out += [v for v in b.args if v.name == name]
    return out


def fd(f, make, i, h=1e-6):
    """d f(*make()) / d args[i] by central differences (arguments made afresh: f mutates)."""
    def at(dx):
        args = list(make())
        args[i] = args[i] + dx
        return f(*args)
    return (at(h) - at(-h)) / (2 * h)


def assert_sound(f, make, i):
    """The result is active whenever its derivative with respect to argument ``i`` is not zero."""
    d = fd(f, make, i)
    f_ir, info = analysis(f, make(), {i})
    assert d != pytest.approx(0.0, abs=1e-9), "the oracle must see a derivative here"
    assert info.is_active(result(f_ir)), f"derivative {d} reaches a value called inactive"


class Obj:
    def __init__(self, w):
        self.w = w


# ---- values from inactive arguments, constants and globals are inactive ----

G = 3.0
GLIST = [1.0, 2.0]


def mixed(x, y, n):
    a = x * 2.0
    b = y * 3.0
    k = n + 1
    c = math.sin(y)
    g = G * b
    return a + b + c + k + g


def test_values_computed_only_from_inactive_arguments_are_inactive():
    f_ir, info = analysis(mixed, (1.0, 2.0, 3), {0})
    act = {name: info.is_active(named(f_ir, name)[0]) for name in ("x", "y", "n", "a", "b", "k", "c", "g")}
    assert act == {"x": True, "y": False, "n": False, "a": True, "b": False, "k": False, "c": False,
                   "g": False}
    assert info.is_active(result(f_ir))
    assert info.type_of(named(f_ir, "a")[0]) == "float" and info.type_of(named(f_ir, "k")[0]) == "int"


def test_with_respect_to_the_other_argument_the_other_values_are_active():
    f_ir, info = analysis(mixed, (1.0, 2.0, 3), {1})
    assert {n for n in ("a", "b", "c", "g", "k") if info.is_active(named(f_ir, n)[0])} == {"b", "c", "g"}


def test_int_arithmetic_and_comparisons_carry_no_derivative():
    def f(x, n):
        m = n * 2 + 1
        flag = x > 0.5
        i = len([x, x])
        return x * m if flag else x + i

    f_ir, info = analysis(f, (1.0, 3), {0, 1})  # even with n asked for: an int has no derivative
    for name in ("m", "flag", "i"):
        assert not info.is_active(named(f_ir, name)[0]), name
    assert info.is_active(result(f_ir))


def test_global_float_is_inactive_and_nothing_is_tainted():
    def f(x):
        return G * x

    f_ir, info = analysis(f, (1.0,), {0})
    (g,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "global"]
    assert not info.is_active(g)
    assert not info.tainted and not info.tainted_all


def fills_global_list(x):
    append_to(GLIST, x)
    return GLIST[0]


def append_to(lst, v):
    lst[0] = v


def test_global_container_read_after_a_callee_got_a_derivative_is_active():
    # a callee handed x may have stored it anywhere it can reach, a module global included
    before = list(GLIST)
    try:
        f_ir, info = analysis(fills_global_list, (1.0,), {0})
        assert info.is_active(result(f_ir))
        assert fd(fills_global_list, lambda: (1.0,), 0) == pytest.approx(1.0)
    finally:
        GLIST[:] = before


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, 2)))
def test_result_active_exactly_when_a_float_argument_is_differentiated(wrt):
    def f(x, y, z):
        return x * y + math.exp(z)

    f_ir, info = analysis(f, (1.0, 2.0, 0.5), wrt)
    assert info.is_active(result(f_ir)) == bool(wrt)
    for i, p in enumerate(f_ir.params):
        assert info.is_active(p) == (i in wrt)


# ---- the heap: containers a callee, alias or closure may write ----


def via_list(xs, y):
    xs[0] = y
    return xs[0]


def test_item_written_with_an_active_value_is_read_back_active():
    assert_sound(via_list, lambda: ([1.0, 2.0], 0.5), 1)


def test_container_kind_is_tainted_by_an_active_write():
    f_ir, info = analysis(via_list, ([1.0, 2.0], 0.5), {1})
    assert kind_of([1.0]) in info.tainted
    assert info.heap_active(kind_of([1.0]))
    assert not info.heap_active(kind_of(1))


def writes_into(lst, v):
    lst.append(v)


def through_callee(lst, v):
    writes_into(lst, v)
    return lst[-1]


def test_read_from_a_container_a_callee_may_write_is_active():
    assert_sound(through_callee, lambda: ([1.0], 2.0), 1)


def opaque_through_a_builtin(lst, v):
    setter = lst.__setitem__
    setter(0, v)
    return lst[0]


def test_read_after_a_call_the_analysis_cannot_see_is_active():
    assert_sound(opaque_through_a_builtin, lambda: ([1.0], 2.0), 1)


def pure_mul(a, b):
    return a * b


def calls_pure(xs, v):
    y = pure_mul(v, 2.0)
    return xs[0] + y


def test_a_callee_that_writes_nothing_leaves_the_heap_untainted():
    f_ir, info = analysis(calls_pure, ([1.0], 2.0), {1})
    assert not info.tainted and not info.tainted_all and not info.effects
    (read,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "call"
               and getattr(s.fn, "value", None) is operator.getitem]
    assert not info.is_active(read)  # xs is not differentiated and nothing wrote it
    assert info.is_active(named(f_ir, "y")[0])


def test_a_callee_captured_in_a_cell_is_opaque():
    def local_mul(a, b):
        return a * b

    def f(xs, v):
        y = local_mul(v, 2.0)
        return xs[0] + y

    # the callee is read from a cell at run time: the analysis cannot see it, so it may
    # have written v anywhere it can reach (the heap is tainted, xs[0] is active)
    f_ir, info = analysis(f, ([1.0], 2.0), {1})
    assert info.tainted or info.tainted_all
    assert info.is_active(result(f_ir))


# ---- closures ----


def test_closure_cell_holding_a_float_is_active():
    def make(c):
        def f(x):
            return c * x
        return f

    f = make(2.0)
    # nothing asked of x: the derivative with respect to the captured c (the gradient of
    # f itself, Zygote's convention) still flows through the cell
    f_ir, info = analysis(f, (1.0,), set())
    (free,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "free"]
    assert info.type_of(free) == "float"
    assert info.is_active(free) and info.is_active(result(f_ir))
    assert not info.is_active(f_ir.params[0])


def test_closure_cell_holding_an_int_is_inactive():
    def make(n):
        def f(x):
            return n * x
        return f

    f_ir, info = analysis(make(3), (1.0,), set())
    (free,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "free"]
    assert info.type_of(free) == "int"
    assert not info.is_active(free) and not info.is_active(result(f_ir))


def closure_updates_captured_list(v, w):
    s = [0.0]

    def add(u):
        s[0] = s[0] + u
    add(v * v)
    add(w * v)
    return s[0]


@pytest.mark.parametrize("i", [0, 1])
def test_list_updated_by_a_nested_function_is_read_back_active(i):
    assert_sound(closure_updates_captured_list, lambda: (2.0, 3.0), i)


def closure_reads_after_change(b, a):
    def cl():
        return b[0]
    b[0] *= a
    return cl()


def test_closure_reading_a_list_changed_in_place_is_active():
    assert_sound(closure_reads_after_change, lambda: ([2.0], 0.5), 1)


def nested_writes_captured(a, b):
    def g():
        b.w = a.w
    g()
    return b.w * 2.0


def test_object_written_by_a_nested_function_is_active():
    f_ir, info = analysis(nested_writes_captured, (Obj(2.0), Obj(1.0)), {0})
    assert info.is_active(result(f_ir))


# ---- the soundness issue's patterns (tests/test_soundness.py), at the analysis level ----


def alias_through_list(objs, d):
    o = objs[0]
    o.w = o.w * d
    return objs[0].w


def objects_in_dict(d, s):
    d["a"].w = d["a"].w * s
    return d["a"].w + d["b"].w


def nested_lists(rows, s):
    for row in rows:
        for j in range(len(row)):
            row[j] = row[j] * s
    return rows[0][0] + rows[1][1] * rows[0][1]


def swap_objects(objs, s):
    objs[0].w = objs[0].w * s
    objs[0], objs[1] = objs[1], objs[0]
    return objs[1].w * objs[0].w


def with_setattr_getattr(o, s):
    setattr(o, "w", getattr(o, "w") * s)
    return o.w * getattr(o, "w")


def scale_first_star(*objs):
    objs[0].w = objs[0].w * objs[1]


def mutates_through_star_args(o, s):
    scale_first_star(o, s)
    return o.w


def scale_kw(o, s=1.0):
    o.w = o.w * s


def mutates_through_kwarg(o, s):
    scale_kw(o, s=s)
    return o.w * s


@dataclasses.dataclass
class P:
    x: float
    v: float


def dataclass_particles(ps, d):
    for p in ps:
        p.v = p.v - d * p.x
        p.x = p.x + p.v
    return sum(p.x for p in ps)


def same_object_twice(a, b):
    return a.w * b.w


SOUNDNESS = [
    (alias_through_list, lambda: ([Obj(2.0), Obj(1.0)], 0.3), 1),
    (objects_in_dict, lambda: ({"a": Obj(2.0), "b": Obj(1.0)}, 1.5), 1),
    (nested_lists, lambda: ([[1.0, 2.0], [3.0, 4.0]], 1.5), 1),
    (swap_objects, lambda: ([Obj(2.0), Obj(3.0)], 1.5), 1),
    (with_setattr_getattr, lambda: (Obj(2.0), 1.5), 1),
    (mutates_through_star_args, lambda: (Obj(2.0), 1.5), 1),
    (mutates_through_kwarg, lambda: (Obj(2.0), 1.5), 1),
    (dataclass_particles, lambda: ([P(1.0, 0.5), P(2.0, -0.5)], 0.1), 1),
    (closure_updates_captured_list, lambda: (2.0, 3.0), 1),
    (closure_reads_after_change, lambda: ([2.0], 0.5), 1),
]


@pytest.mark.parametrize("f, make, i", SOUNDNESS, ids=[c[0].__name__ for c in SOUNDNESS])
def test_soundness_cases_are_active_at_the_analysis_level(f, make, i):
    assert_sound(f, make, i)


def test_same_object_as_two_arguments_one_differentiated():
    # b is an alias of a: the analysis cannot know it, so b (a record of the same kind) is active
    o = Obj(2.0)
    f_ir, info = analysis(same_object_twice, (o, o), {0})
    b = named(f_ir, "b")[0]
    assert info.is_active(b)
    (read_b,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "attr"
                 and s.args[0] is b]
    assert info.is_active(read_b)


def test_alias_through_list_reads_the_written_field_as_active():
    f_ir, info = analysis(alias_through_list, ([Obj(2.0), Obj(1.0)], 0.3), {1})
    # the object read back through the list after `o.w = ...` is of a tainted kind
    obj_kind = kind_of(Obj(2.0))
    assert obj_kind in info.tainted
    reads = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.kind == "attr"]
    assert reads and all(info.is_active(r) for r in reads)


def test_kinds_are_unsure_after_an_unknown_call_with_containers():
    f_ir, info = analysis(opaque_through_a_builtin, ([1.0], 2.0), {1})
    assert info.kinds_unsure
    assert info.elem(kind_of([1.0])) == "any"  # a read is checked at run time, never assumed float


# ---- kinds of run-time values (the keys the analysis starts from) ----


def test_kind_of_run_time_values():
    import numpy as np

    assert kind_of(1.0) == "float" and kind_of(1) == "int" and kind_of(True) == "bool"
    assert kind_of(None) == "none" and kind_of("s") == "none" and kind_of(math) == "none"
    assert kind_of([1.0, 2.0]) == ("seq", "float")
    assert kind_of((1.0, 2.0)) == ("tuple", ("float", "float"))
    assert kind_of({"a": 1.0}) == ("dict", "float")
    assert kind_of(np.ones(2)) == "array" and kind_of(np.arange(2)) == "none"
    assert kind_of(Obj(1.0)) == ("obj", Obj, (("w", "float"),))
    assert kind_of([]) == "any" and kind_of(object()) == "any"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=5))
def test_differentiable_kinds_are_the_ones_holding_floats(xs):
    assert activity.differentiable(kind_of(xs))
    assert activity.differentiable(kind_of(tuple(xs)))
    assert activity.differentiable(kind_of({f"k{i}": x for i, x in enumerate(xs)}))
    assert not activity.differentiable(activity.const_type(tuple(range(len(xs)))))  # a tuple of ints
    assert not activity.differentiable(kind_of(len(xs)))
