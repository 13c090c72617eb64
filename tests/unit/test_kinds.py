"""Unit tests of the kinds lattice (`wengert.ir.kinds`) and of the kinds the analysis gives.

The lattice laws (join commutative, associative, idempotent, with the untyped ``None`` as
its bottom and ``any`` as its top) are checked on generated kinds; ``kind_of`` and
``zero`` on generated values, against the values' own structure walked independently
(a float's zero is ``0.0``, a list's a list of the same length, ...); the analysis's
kinds on small functions, where the kind of ``xs[0]`` follows from what the function
and its callees may write into ``xs``.
"""

import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wengert import ir
from wengert.frontend.lower import lower
from wengert.ir import kinds as K
from wengert.ir.activity import analyse
from wengert.ir.kinds import ANY, ARRAY, BOOL, FLOAT, INT, NONE, as_kind, join, kind_of


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b


# ---- generated kinds ----

SCALARS = st.sampled_from([FLOAT, INT, BOOL, NONE, ANY, ARRAY])


def _compound(inner):
    # two names: objects of one class often have the same fields, in either order
    fields = st.lists(st.tuples(st.sampled_from(["x", "y"]), inner), min_size=1, max_size=2,
                      unique_by=lambda f: f[0])
    return st.one_of(
        inner.map(K.list_of),
        st.lists(inner, min_size=0, max_size=3).map(K.tuple_of),
        inner.map(K.dict_of),
        st.tuples(st.sampled_from([Point, Pair]), fields).map(lambda cf: K.obj_of(*cf)),
    )


KINDS = st.recursive(SCALARS, _compound, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(KINDS, KINDS)
def test_join_is_commutative(a, b):
    assert join(a, b) == join(b, a)


@settings(max_examples=300, deadline=None)
@given(KINDS, KINDS, KINDS)
def test_join_is_associative(a, b, c):
    assert join(join(a, b), c) == join(a, join(b, c))


@settings(max_examples=200, deadline=None)
@given(KINDS)
def test_join_is_idempotent_with_none_bottom_and_any_top(a):
    assert join(a, a) == a
    assert join(a, None) == a and join(None, a) == a
    assert join(a, ANY) == ANY and join(ANY, a) == ANY


@settings(max_examples=200, deadline=None)
@given(KINDS, KINDS)
def test_join_is_an_upper_bound(a, b):
    j = join(a, b)
    assert isinstance(j, K.Kind)
    assert join(a, j) == j and join(b, j) == j  # a <= a v b and b <= a v b
    assert a.join(b) == j  # the method is the function


def test_numbers_order_bool_int_float_array():
    assert join(BOOL, INT) == INT
    assert join(INT, FLOAT) == FLOAT
    assert join(BOOL, FLOAT) == FLOAT
    assert join(FLOAT, ARRAY) == ARRAY
    assert join(NONE, FLOAT) == ANY
    assert join(K.list_of(FLOAT), K.list_of(INT)) == K.list_of(FLOAT)
    assert join(K.tuple_of([FLOAT]), K.tuple_of([FLOAT, FLOAT])) == ANY
    assert join(K.list_of(FLOAT), K.dict_of(FLOAT)) == ANY
    # objects: the same class and the same fields join fieldwise, otherwise any
    p1 = K.obj_of(Point, [("x", INT), ("y", FLOAT)])
    p2 = K.obj_of(Point, [("y", FLOAT), ("x", FLOAT)])  # field order does not matter
    assert join(p1, p2) == join(p2, p1) == K.obj_of(Point, [("x", FLOAT), ("y", FLOAT)])
    assert K.obj_of(Point, [("x", INT), ("y", FLOAT)]) == K.obj_of(Point, [("y", FLOAT), ("x", INT)])
    assert join(p1, K.obj_of(Pair, [("x", INT), ("y", FLOAT)])) == ANY
    assert join(p1, K.obj_of(Point, [("x", INT)])) == ANY


# ---- the kinds of values ----

def test_kind_of_values():
    assert kind_of(1.5) is FLOAT and kind_of(2) is INT and kind_of(True) is BOOL
    for v in (None, "s", math, Point, np.random.default_rng(0)):
        assert kind_of(v) is NONE
    assert kind_of([1.0, 2.0]) == K.list_of(FLOAT)
    assert kind_of((1.0, 2.0)) == K.tuple_of([FLOAT, FLOAT])
    assert kind_of({"a": 1.0, "b": 2.0}) == K.dict_of(FLOAT)
    assert kind_of([[1.0], [2.0, 3.0]]) == K.list_of(K.list_of(FLOAT))
    assert kind_of(Point(1.0, 2)) == K.obj_of(Point, [("x", FLOAT), ("y", INT)])
    assert kind_of([Point(1.0, 2.0), Point(3.0, 4.0)]) == K.list_of(K.obj_of(Point, [("x", FLOAT), ("y", FLOAT)]))
    assert kind_of(np.ones(3)) is ARRAY and kind_of(np.float64(1.0)) is ARRAY
    assert kind_of(np.arange(3)) is NONE  # an integer array carries no derivative
    for v in ([], [1.0, 1], [Point(1.0, 2.0), Pair(1.0, 2.0)], {1: 1.0}, object(), Point("a", 1.0)):
        assert kind_of(v) is ANY, v


def test_kinds_keep_the_old_equality_and_hashing():
    """Cache keys made before kinds were types still find the same entries."""
    legacy = [("float", 1.0), (("seq", "float"), [1.0]), (("tuple", ("float", "float")), (1.0, 2.0)),
              (("dict", "float"), {"a": 1.0}), (("obj", Point, (("x", "float"), ("y", "float"))), Point(1.0, 2.0))]
    for old, v in legacy:
        k = kind_of(v)
        assert k == old and hash(k) == hash(old)
        assert as_kind(old) == k and type(as_kind(old)) is type(k)
    assert as_kind(("const", "int")) == K.const(INT) and as_kind(("const", "int")).kind is INT
    with pytest.raises(TypeError):
        as_kind(("nonsense",))


def test_kinds_survive_copy_and_pickle():
    for k in (FLOAT, K.list_of(K.tuple_of([FLOAT, INT])), K.dict_of(ARRAY), K.const(FLOAT),
              K.obj_of(Point, [("x", FLOAT), ("y", K.list_of(FLOAT))])):
        for c in (copy.deepcopy(k), pickle.loads(pickle.dumps(k))):
            assert c == k and type(c) is type(k) and repr(c) == repr(k)
    assert copy.deepcopy(FLOAT) is FLOAT and pickle.loads(pickle.dumps(ANY)) is ANY


def test_element_and_field():
    assert K.list_of(FLOAT).element() is FLOAT
    t = K.tuple_of([FLOAT, INT])
    assert t.element(0) is FLOAT and t.element(1) is INT and t.element(-1) is INT
    assert t.element() == FLOAT  # an item at an unknown index: the join of all
    assert t.element(5) == FLOAT
    d = K.dict_of(FLOAT)
    assert d.element() is NONE and d.value is FLOAT  # iterating a dict gives its keys
    p = K.obj_of(Point, [("x", FLOAT), ("y", K.list_of(INT))])
    assert p.field("x") is FLOAT and p.field("y") == K.list_of(INT) and p.field("z") is None
    assert p.cls is Point and p.element() is ANY
    assert p.with_field("x", INT).field("x") is FLOAT
    assert p.with_field("z", INT) == K.obj_of(Point, [("x", FLOAT), ("y", K.list_of(INT)), ("z", INT)])
    for s in (FLOAT, INT, ARRAY, ANY):
        assert s.element() is ANY and s.field("x") is None


def test_predicates():
    assert FLOAT.is_float and FLOAT.is_number and not FLOAT.is_container and FLOAT.differentiable
    assert INT.is_number and not INT.differentiable and BOOL.is_scalar and NONE.is_none and NONE.is_scalar
    assert ARRAY.is_array and ARRAY.is_container and ARRAY.differentiable
    assert ANY.is_any and ANY.is_container and ANY.differentiable
    lf, li = K.list_of(FLOAT), K.list_of(INT)
    assert lf.is_list and lf.is_record and lf.is_container and lf.differentiable
    assert li.is_container and not li.differentiable
    assert K.tuple_of([FLOAT, INT]).is_tuple and not K.tuple_of([FLOAT, INT]).is_container
    assert K.tuple_of([INT, lf]).is_container and not K.tuple_of([INT, INT]).differentiable
    assert K.dict_of(FLOAT).is_dict and K.obj_of(Point, [("x", FLOAT)]).is_obj
    assert not K.obj_of(Point, [("x", INT)]).differentiable
    assert K.const(FLOAT).is_const and not K.const(FLOAT).differentiable
    assert K.reachable_kinds(K.tuple_of([lf, K.dict_of(li)])) == {lf, K.dict_of(li), li}


def test_repr():
    assert repr(FLOAT) == "float" and repr(ARRAY) == "array" and str(FLOAT) == "float"
    assert repr(K.list_of(FLOAT)) == "list[float]"
    assert repr(K.ListKind(None)) == "list[?]"
    assert repr(K.tuple_of([FLOAT, INT])) == "tuple[float, int]"
    assert repr(K.dict_of(FLOAT)) == "dict[float]"
    assert repr(kind_of(Point(1.0, 2.0))) == "obj Point{x: float, y: float}"
    assert repr(K.list_of(kind_of(Point(1.0, 2.0)))) == "list[obj Point{x: float, y: float}]"
    assert repr(K.const(INT)) == "const int"


# ---- zero: a value of the value's structure ----

def _same_structure(z, v):
    """``z`` is the zero cotangent of ``v``, walked without the kinds: floats 0.0, numbers
    with no derivative None, containers of the same shape, objects their fields by name."""
    if type(v) is float:
        return type(z) is float and z == 0.0
    if type(v) in (int, bool) or v is None or isinstance(v, str):
        return z is None
    if isinstance(v, np.ndarray):
        return isinstance(z, np.ndarray) and z.shape == v.shape and z.dtype == v.dtype and not z.any()
    if type(v) is list:
        return type(z) is list and len(z) == len(v) and all(_same_structure(a, b) for a, b in zip(z, v))
    if type(v) is tuple:
        return type(z) is tuple and len(z) == len(v) and all(_same_structure(a, b) for a, b in zip(z, v))
    if type(v) is dict:
        return type(z) is dict and z.keys() == v.keys() and all(_same_structure(z[k], v[k]) for k in v)
    if hasattr(v, "__dict__"):
        d = vars(v)
        return type(z) is dict and z.keys() == d.keys() and all(_same_structure(z[k], d[k]) for k in d)
    raise AssertionError(v)


floats = st.floats(-1e3, 1e3, allow_nan=False)
leaves = st.one_of(floats, st.integers(-5, 5))
VALUES = st.one_of(
    floats,
    st.integers(),
    st.lists(floats, min_size=1, max_size=5),
    st.lists(st.lists(floats, min_size=1, max_size=3), min_size=1, max_size=3),
    st.lists(floats, min_size=1, max_size=4).map(tuple),
    st.dictionaries(st.sampled_from("abcd"), floats, min_size=1),
    st.tuples(leaves, leaves).map(lambda xy: Point(*xy)),
    st.lists(st.tuples(floats, floats).map(lambda xy: Point(*xy)), min_size=1, max_size=3),
    st.tuples(floats, st.lists(floats, min_size=1, max_size=3)).map(lambda ab: Pair(*ab)),
    st.lists(floats, min_size=1, max_size=4).map(np.array),
)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_zero_has_the_values_structure(v):
    k = kind_of(v)
    assert k is not ANY, v
    assert _same_structure(k.zero(v), v)


def test_zero_of_kinds_without_a_derivative_or_a_value():
    assert FLOAT.zero() == 0.0
    for k in (INT, BOOL, NONE, ANY, K.const(FLOAT)):
        assert k.zero(1) is None
    assert K.list_of(FLOAT).zero() is None  # no value to take the length from: a symbolic zero
    assert ARRAY.zero() is None


def test_zero_of_a_torch_tensor():
    torch = pytest.importorskip("torch")
    t = torch.ones(2, 3, dtype=torch.float64)
    z = kind_of(t).zero(t)
    assert isinstance(z, torch.Tensor) and z.shape == t.shape and z.dtype == t.dtype and not z.any()


# ---- the kinds the analysis gives ----

def _kinds_of_items(fn, *arg_kinds):
    """The kinds the analysis gives the results of ``c[i]`` in ``fn``, in order."""
    f_ir = lower(fn)
    info = analyse(f_ir, arg_kinds, {})
    import operator

    return [info.type_of(s.outs[0]) for _, s in ir.walk(f_ir.body)
            if isinstance(s, ir.Op) and s.kind == "call" and isinstance(s.fn, ir.Const)
            and s.fn.value is operator.getitem], info


def _reads_first(xs):
    return xs[0] + 1.0


def _writes_a_list_into(xs):
    xs[0] = [1.0]


def _opaque_writer(xs):
    xs.insert(0, "a")


def test_item_of_a_list_of_floats_is_float():
    def f(xs):
        return xs[0] * 2.0

    (k,), _ = _kinds_of_items(f, kind_of([1.0, 2.0]))
    assert k is FLOAT


def test_item_of_a_list_of_objects_is_the_object_kind():
    def f(ps):
        p = ps[0]
        return p.x * p.y

    pk = kind_of(Point(1.0, 2.0))
    (k,), info = _kinds_of_items(f, kind_of([Point(1.0, 2.0), Point(3.0, 4.0)]))
    assert k == pk and k.field("x") is FLOAT
    f_ir = lower(f)
    info = analyse(f_ir, (K.list_of(pk),), {})
    assert info.type_of(f_ir.body.term.values[0]) is FLOAT  # p.x * p.y


def test_item_after_a_pure_callee_keeps_its_kind():
    def f(xs):
        a = _reads_first(xs)
        return a * xs[0]

    ks, info = _kinds_of_items(f, kind_of([1.0, 2.0]))
    assert ks == [FLOAT] and not info.kinds_unsure


@pytest.mark.parametrize("writer", [_writes_a_list_into, _opaque_writer])
def test_item_is_any_when_a_callee_may_write_into_the_list(writer):
    def f(xs):
        writer(xs)
        return xs[0] * 2.0

    (k,), info = _kinds_of_items(f, kind_of([1.0, 2.0]))
    assert k is ANY and info.kinds_unsure


def test_item_is_any_when_the_function_itself_writes_another_kind():
    def f(xs, i):
        xs[i] = "s"
        return xs[0]

    (k,), info = _kinds_of_items(f, kind_of([1.0, 2.0]), K.const(INT))
    assert k is ANY

    def g(xs):
        xs[1] = xs[0] * 3.0  # a float into a list of floats: kinds kept
        return xs[1]

    ks, info = _kinds_of_items(g, kind_of([1.0, 2.0]))
    assert ks == [FLOAT, FLOAT] and not info.kinds_unsure


def test_analysis_kinds_are_kind_objects():
    """Every kind the analysis records is a `Kind` (read by name, never by position)."""
    def f(xs, p, d, t):
        s = 0.0
        for x in xs:
            s += x * p.x
        ys = [x * 2.0 for x in xs]
        return s + d["a"] + t[1] + ys[0]

    f_ir = lower(f)
    args = ([1.0, 2.0], Point(1.0, 2.0), {"a": 1.0}, (1.0, 2.0))
    info = analyse(f_ir, tuple(("seq", "float") if i == 0 else kind_of(a) for i, a in enumerate(args)), {})
    assert info.type and all(t is None or isinstance(t, K.Kind) for t in info.type.values())
    assert info.type_of(f_ir.body.term.values[0]) is FLOAT


def test_show_ir_with_example_arguments_shows_kinds():
    import wengert

    def f(xs, p, n):
        s = 0.0
        for x in xs:
            s += x * p.x
        return s + n

    plain = wengert.show_ir(f)
    assert "list[float]" not in plain
    text = wengert.show_ir(f, [1.0, 2.0], Point(1.0, 2.0), 3)
    lines = text.splitlines()
    assert "xs: list[float] active" in lines[0] and "p: obj Point{x: float, y: float} active" in lines[0]
    assert "n: int" in lines[0] and "n: int active" not in lines[0]
    assert any("attr x" in ln and ": float active" in ln for ln in lines)  # p.x
    assert any(ln.strip().startswith("body:") and "x: float active" in ln for ln in lines)  # the loop's item
    assert wengert.grad(f)([1.0, 2.0], Point(1.5, 2.0), 3) == [1.5, 1.5]  # (the same function differentiates)
