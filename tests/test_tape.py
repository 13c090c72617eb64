"""The run-time tape against analytic gradients and float64 central differences."""

import dataclasses
import math
import operator
from textwrap import dedent

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import wengert
from wengert.overload.dual import Dual, derivative, dual_jvp
from wengert.errors import UnsupportedError
from wengert.rules.table import registered
from wengert.overload.tape import Tape, Var, backward, tape_call, tape_grad, tape_pullback, trace

SETTINGS = settings(max_examples=30, deadline=None)


def real(lo=-5.0, hi=5.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def positive(lo=0.1, hi=5.0):
    return real(lo, hi)


def fd(f, x, h=1e-5):
    """Central difference, Richardson-extrapolated (error O(h**4))."""
    d1 = (f(x + h) - f(x - h)) / (2 * h)
    d2 = (f(x + 2 * h) - f(x - 2 * h)) / (4 * h)
    return (4 * d1 - d2) / 3


def fd_grad(f, x, h=1e-5):
    """Central-difference gradient of scalar ``f`` at array ``x``."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1.0
        g[i] = fd(lambda s, e=e: f(x + s * e), 0.0, h)
    return g


def close(a, b, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---- straight-line code ----

@SETTINGS
@given(x=positive(), y=st.one_of(positive(), real(-5.0, -0.1)))
def test_operators_against_finite_differences(x, y):
    f = lambda a, b: (a * b - b / a) ** 2 + a**b - (-a) * abs(b) + (a * 7.0) % (b * b + 1.0)
    q = x * 7.0 / (y * y + 1.0)
    assume(abs(q - round(q)) > 0.05)  # off the jumps of %, farther than the steps move q
    gx, gy = tape_grad(f, argnums=(0, 1))(x, y)
    close(gx, fd(lambda a: f(a, y), x), rtol=1e-5, atol=1e-6)
    close(gy, fd(lambda b: f(x, b), y), rtol=1e-5, atol=1e-6)


@SETTINGS
@given(x=positive())
def test_fan_out_accumulates(x):
    assert tape_grad(lambda a: a * a + a)(x) == pytest.approx(2 * x + 1)
    assert tape_grad(lambda a: a - a)(x) == 0.0


@SETTINGS
@given(x=positive(0.5))
def test_talk_example(x):
    f = lambda a: 5 * np.sin(np.log(a))
    close(tape_grad(f)(x), 5 * np.cos(np.log(x)) / x)
    close(tape_grad(f)(x), fd(f, x), rtol=1e-5)


@SETTINGS
@given(x=positive())
def test_math_through_explicit_tape_call(x):
    f = lambda a: tape_call(math.sin, a) * tape_call(math.exp, a / 2) + tape_call(math.log, a)
    g = lambda a: math.sin(a) * math.exp(a / 2) + math.log(a)
    close(tape_grad(f)(x), fd(g, x), rtol=1e-5)


def test_numpy_arrays_and_broadcasting():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (3, 4))
    a = rng.uniform(-1.0, 1.0, 4)

    def f(x, a, s):
        return np.sum(np.tanh(x * a) * np.exp(s * x) + np.log(x))

    gx, ga, gs = tape_grad(f, argnums=(0, 1, 2))(x, a, 0.3)
    close(gx, fd_grad(lambda v: f(v, a, 0.3), x), rtol=1e-5)
    close(ga, fd_grad(lambda v: f(x, v, 0.3), a), rtol=1e-5)
    assert ga.shape == (4,)  # reduced to the input's shape
    assert isinstance(gs, float)  # a float's gradient is a float
    close(gs, fd(lambda s: f(x, a, s), 0.3), rtol=1e-5)


def test_plain_array_on_the_left_is_recorded_through_ufuncs():
    a = np.array([1.0, 2.0, 3.0])
    close(tape_grad(lambda s: np.sum(a * s + a))(2.0), 6.0)


def test_array_methods_and_np_array_through_tape_call():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = tape_grad(lambda a: (a.reshape(4) * a.T.ravel()).sum())(x)
    close(g, 2 * x.T)  # sum_ij a_ij a_ji
    close(tape_grad(lambda a: a.mean() * a.max())(x), fd_grad(lambda a: a.mean() * a.max(), x))
    assert tape_grad(lambda s: tape_call(np.array, [s, 2 * s, 1.0]).sum())(1.5) == 3.0
    # functions' globals are routed through tape_call, so np.array of Vars is recorded too
    assert tape_grad(lambda s: np.array([s, 1.0]).sum())(1.5) == 1.0


def test_matmul_against_finite_differences():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    f = lambda a, b: np.sum(np.tanh(a @ b))
    ga, gb = tape_grad(f, argnums=(0, 1))(a, b)
    close(ga, fd_grad(lambda v: f(v, b), a), rtol=1e-5)
    close(gb, fd_grad(lambda v: f(a, v), b), rtol=1e-5)
    # forward mode agrees: <grad, direction> is the directional derivative
    ta, tb = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    _, t = dual_jvp(f, (a, b), (ta, tb))
    close(t, np.sum(ga * ta) + np.sum(gb * tb))


def _unary_ufuncs():
    out = []
    for rule in registered():
        fn = rule.fn
        if isinstance(fn, np.ufunc) and fn.nin == 1 and fn.nout == 1 and not rule.nondiff \
                and rule.has_forward and rule.has_reverse:
            with np.errstate(all="ignore"):
                if np.isfinite(fn(0.37)) and np.isfinite(fn(0.37 + 1e-3)):
                    out.append(fn)
    return out


@pytest.mark.parametrize("fn", _unary_ufuncs(), ids=lambda f: f.__name__)
def test_every_unary_ufunc_agrees_across_modes_to_second_order(fn):
    # Dual, tape, and their nestings all read the one rule table; they must agree
    # with central differences and with each other.
    x = 0.37
    d1 = fd(fn, x, 1e-4)
    d2 = fd(lambda v: fd(fn, v, 1e-3), x, 1e-3)
    close(derivative(fn)(x), d1, rtol=1e-6, atol=1e-9)
    close(tape_grad(fn)(x), d1, rtol=1e-6, atol=1e-9)
    for second in (derivative(derivative(fn)), tape_grad(tape_grad(fn)),
                   derivative(tape_grad(fn)), tape_grad(derivative(fn))):
        g = second(x)
        close(0.0 if g is None else g, d2, rtol=1e-4, atol=1e-6)  # None: no dependence on x


# ---- pullbacks, conventions ----

def test_pullback_convention_and_non_float_arguments():
    y, back = tape_pullback(lambda x, n, name: x**n, 3.0, 2, "label")
    assert y == 9.0
    assert back(1.0) == (None, 6.0, None, None)
    assert back(2.0) == (None, 12.0, None, None)  # the tape can be run again


def test_constant_output_and_unused_argument_give_none():
    assert tape_grad(lambda x: 3.0)(1.0) is None
    assert tape_grad(lambda x, y: x * 2, argnums=1)(1.0, 2.0) is None


def test_structures_in_and_out():
    y, back = tape_pullback(lambda xs: xs[0] * xs[1] + xs[2], [2.0, 3.0, 4.0])
    assert y == 10.0
    assert back(1.0) == (None, [3.0, 2.0, 1.0])
    y, back = tape_pullback(lambda p: {"s": p["a"] * 2, "t": (p["a"], 1)}, {"a": 3.0, "n": 1})
    assert y == {"s": 6.0, "t": (3.0, 1)}
    assert back({"s": 1.0, "t": (10.0, None)}) == (None, {"a": 12.0, "n": None})
    y, back = tape_pullback(lambda x: (x * 2, x * x), 3.0)
    assert y == (6.0, 9.0)
    assert back((1.0, None)) == (None, 2.0)
    assert back((1.0, 1.0)) == (None, 8.0)


def test_tape_call_in_lists_records_through_containers():
    # operator.getitem on a list holding a Var: the list's cotangent reaches the Var
    f = lambda x: tape_call(operator.getitem, [x, 5.0], 0) * 3.0
    assert tape_grad(f)(2.0) == 3.0


def test_tape_call_without_tracked_arguments_is_a_plain_call():
    tape = Tape()
    assert tape_call(math.sin, 0.5) == math.sin(0.5)
    assert tape_call(lambda a, b=1: a + b, 1, b=2) == 3  # no rule needed
    assert tape.nodes == []


def test_nondifferentiable_calls_are_not_recorded():
    t = trace(lambda x: x * (x > 1.0) + x // 2, 3.0)
    # the comparison and the floor division run on plain values; their results are constants
    assert str(t) == "y1 = x * True\ny2 = y1 + 1.0"
    assert t.backward(1.0) == (1.0,)


def test_explicit_tape_and_backward():
    tape = Tape()
    x = tape.track(3.0)
    y = tape.track(np.array([1.0, 2.0]))
    z = np.sum(x * y)
    assert isinstance(z, Var) and z.value == 9.0
    gx, gy = backward(tape, z, 1.0)
    assert gx == 3.0
    close(gy, [3.0, 3.0])
    assert backward(tape, z.id, 2.0)[0] == 6.0


# ---- printing ----

def test_trace_prints_the_wengert_list():
    expected = "y1 = log(x)\ny2 = sin(y1)\ny3 = 5 * y2"
    assert str(trace(lambda x: 5 * np.sin(np.log(x)), 2.0)) == expected
    f = lambda x: 5 * tape_call(math.sin, tape_call(math.log, x))
    assert str(trace(f, 2.0)) == expected


def test_trace_names_arguments_and_shows_constants():
    def f(x, y, n):
        z = x * y - x / 2.0
        return -z ** n + y[1]

    t = trace(f, 1.5, np.array([1.0, 2.0]), 2)
    assert str(t) == dedent("""\
        y1 = x * y
        y2 = x / 2.0
        y3 = y1 - y2
        y4 = y3 ** 2
        y5 = -y4
        y6 = y[1]
        y7 = y5 + y6""")
    close(t.value, -(np.array([1.5, 3.0]) - 0.75) ** 2 + 2.0)


# ---- errors ----

def test_float_of_a_var_raises_instead_of_untracking():
    with pytest.raises(TypeError, match=r"float\(\) of a wengert Dual or Var would drop"):
        float(Tape().track(1.0))
    # in a function the tape runs, float() is routed too and keeps the derivative
    assert tape_grad(lambda x: float(x) * 2)(1.0) == 2.0
    # math.sin in a function the tape runs is routed through tape_call (dual.lifted)
    assert tape_grad(lambda x: math.sin(x))(1.0) == math.cos(1.0)
    with pytest.raises(TypeError, match="truth value of a Var"):
        tape_grad(lambda x: x if x else 0.0)(1.0)


def mystery(x):
    return x


def forward_only(x):
    return 2 * x


wengert.defjvp(forward_only, lambda t, y, x: 2 * t)


def test_missing_reverse_rule_names_the_function_and_the_fix():
    with pytest.raises(UnsupportedError) as err:
        tape_grad(lambda x: tape_call(mystery, x))(1.0)
    msg = str(err.value)
    assert "no reverse rule for test_tape.mystery" in msg
    assert "wengert.defvjp(test_tape.mystery, lambda g, y, x: ...)" in msg
    with pytest.raises(UnsupportedError, match="forward rule only"):
        tape_grad(lambda x: tape_call(forward_only, x))(1.0)


def test_non_scalar_output_is_refused_by_tape_grad():
    with pytest.raises(TypeError, match="scalar"):
        tape_grad(lambda x: x * np.ones(2))(1.0)


# ---- nesting: tapes in tapes, tapes and Duals ----

def test_perturbation_confusion_on_tapes():
    # d/dx [x * d/dy (x + y)] = 1, not 2
    for x in (0.0, 2.0):
        assert tape_grad(lambda x: x * tape_grad(lambda y: x + y)(3.0))(x) == 1.0


@SETTINGS
@given(x=real(-2.0, 2.0))
def test_gradients_of_gradients(x):
    cube = lambda a: a * a * a
    close(tape_grad(tape_grad(cube))(x), 6 * x)
    close(tape_grad(tape_grad(tape_grad(cube)))(x), 6.0)
    close(tape_grad(tape_grad(np.sin))(x), -np.sin(x))
    s = lambda a: tape_call(math.sin, a)
    close(tape_grad(tape_grad(s))(x), -math.sin(x))
    close(tape_grad(tape_grad(tape_grad(s)))(x), -math.cos(x))


@SETTINGS
@given(x=positive())
def test_forward_over_tape_and_tape_over_forward(x):
    f = lambda a: tape_call(math.sin, a) * a
    d2 = 2 * math.cos(x) - x * math.sin(x)
    close(derivative(tape_grad(f))(x), d2)
    close(tape_grad(derivative(f))(x), d2)
    close(derivative(tape_grad(lambda a: np.exp(a) * a))(x), (x + 2) * math.exp(x))


def test_gradient_of_a_dual_input_carries_its_tangent():
    # a Dual goes onto the tape like any value: its gradient is a Dual
    g = tape_grad(lambda a: a * a)(Dual(3.0, 1.0))
    assert (g.primal, g.tangent) == (6.0, 2.0)


def test_hessian_vector_product_by_reverse_over_reverse():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, 3)
    v = rng.uniform(-1.0, 1.0, 3)
    f = lambda z: np.sum(np.sin(z) * np.exp(z))
    grad = tape_grad(f)
    hv = tape_grad(lambda z: np.sum(grad(z) * v))(x)
    # f is separable: its Hessian is diagonal with (sin e^z)''
    close(hv, v * 2 * np.cos(x) * np.exp(x))


# ---- objects (issue 8): the tape gives them a gradient shaped as the source transform does ----

class Pt:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


@dataclasses.dataclass
class DPt:
    x: float
    y: float


def no_source(text):
    """A function without source, which `grad` differentiates on the tape."""
    return eval(text)  # noqa: S307 - the point of the test


def _fd_field(f, obj, name, h=1e-6):
    def at(v):
        before = getattr(obj, name)
        setattr(obj, name, v)
        try:
            return f(obj)
        finally:
            setattr(obj, name, before)

    return fd(at, getattr(obj, name), h)


def test_tape_returns_a_gradient_for_an_object_without_source():
    f = no_source("lambda a: a.x * a.y")
    p = Pt(3.0, 4.0)
    g = wengert.grad(f)(p)
    assert isinstance(g, wengert.Tangent)
    assert (g.x, g.y) == (pytest.approx(_fd_field(f, p, "x")), pytest.approx(_fd_field(f, p, "y")))
    assert (p.x, p.y) == (3.0, 4.0) and type(p.x) is float  # the object holds plain values again
    assert not hasattr(g, "detach")
    assert wengert.grad(f, mode="tape")(p) == g
    assert wengert.grad(f)(Slotted(3.0, 4.0)) == g


def test_tape_gradient_of_a_dataclass_is_that_dataclass():
    f = no_source("lambda a: a.x * a.x * a.y")
    g = wengert.grad(f)(DPt(3.0, 4.0))
    assert g == DPt(pytest.approx(24.0), pytest.approx(9.0))


def test_tape_objects_in_containers_wrt_one_argument():
    f = no_source("lambda ps, d, s: sum(p.x * p.y for p in ps) * s + d['a'].x * s * s")
    ps, d = [Pt(1.0, 2.0), Pt(3.0, 4.0)], {"a": Pt(5.0, 6.0)}
    gps, gd = wengert.grad(f, argnums=(0, 1))(ps, d, 2.0)
    assert [(g.x, g.y) for g in gps] == [(4.0, 2.0), (8.0, 6.0)]
    assert gd["a"].x == pytest.approx(4.0) and gd["a"].y is None
    gs = wengert.grad(f, argnums=2)(ps, d, 2.0)
    assert gs == pytest.approx(fd(lambda s: f(ps, d, s), 2.0))


def test_tape_nested_objects_and_lists_in_fields():
    f = no_source("lambda a: a.inner.x * a.ws[0] + a.ws[1] * a.inner.y")
    a = Pt(0.0, 0.0)
    a.inner, a.ws = Pt(2.0, 3.0), [5.0, 7.0]
    ws = a.ws
    g = wengert.grad(f)(a)
    assert (g.inner.x, g.inner.y) == (5.0, 7.0) and g.ws == [2.0, 3.0]
    assert a.ws is ws and a.ws == [5.0, 7.0] and type(a.inner.x) is float


def test_tape_keeps_what_the_function_writes_into_an_object():
    def f(a, s):
        a.x = a.x * s
        a.ws[0] = a.ws[0] * s
        a.z = a.y * s  # a new field
        return a.x * a.y + a.ws[0] + a.z

    a = Pt(3.0, 4.0)
    a.ws = [1.0]
    g = wengert.grad(f, argnums=1, mode="tape")(a, 2.0)
    assert g == pytest.approx(3.0 * 4.0 + 1.0 + 4.0)
    assert (a.x, a.ws, a.z) == (6.0, [2.0], 8.0)  # written once, as plain floats
    assert all(type(v) is float for v in (a.x, a.ws[0], a.z))


def test_tape_object_twice_in_a_list_gets_one_gradient():
    f = no_source("lambda ps: ps[0].x * ps[1].x")
    p = Pt(3.0, 1.0)
    g = wengert.grad(f)([p, p])
    # the whole gradient at the first path, None at the other (source mode's convention):
    # the entries at all paths add up to the derivative
    assert g[1] is None
    assert g[0].x == pytest.approx(_fd_field(lambda q: f([q, q]), p, "x"))


def test_tape_object_trace_names_fields():
    t = trace(no_source("lambda a: a.x * a.y"), Pt(3.0, 4.0))
    assert str(t) == "y1 = a.x * a.y"


# ---- aliases: one list, dict or object reached by several paths ----
# The oracle perturbs one leaf of fresh arguments (so every path to it sees the change);
# the gradient entries at all paths to a leaf must add up to that derivative. The tape
# puts the whole gradient at the first path (in argument order) and None at the others,
# as source mode does.

def _step(x, step):
    return x[step] if isinstance(x, (list, tuple, dict)) else getattr(x, step, None)


def _entry(g, path):
    for step in path:
        if g is None:
            return 0.0
        g = _step(g, step)
    return 0.0 if g is None else g


def _leaf_fd(f, fresh, path, h=1e-6):
    def at(delta):
        args = fresh()
        x = args
        for step in path[:-1]:
            x = _step(x, step)
        last = path[-1]
        if isinstance(x, (list, dict)):
            x[last] = x[last] + delta
        else:
            setattr(x, last, getattr(x, last) + delta)
        return f(*args)

    return (at(h) - at(-h)) / (2 * h)


def _check_aliases(f, fresh, argnums, leaves):
    """``leaves``: (paths to one float, ...) for each float; paths start with an argument position."""
    want = f(*fresh())
    value, grads = wengert.value_and_grad(f, argnums, mode="tape")(*fresh())
    assert value == pytest.approx(want, rel=1e-12)  # the primal: aliases stay aliases
    by_pos = dict(zip(argnums, grads))
    for paths in leaves:
        if any(p[0] not in by_pos for p in paths):
            continue  # aliased with an argument that is not differentiated
        got = sum(_entry(by_pos[p[0]], p[1:]) for p in paths)
        assert got == pytest.approx(_leaf_fd(f, fresh, paths[0]), rel=1e-6, abs=1e-8), paths
    return grads


def test_tape_keeps_a_list_twice_in_a_list_aliased():
    def f(rows, d):
        for row in rows:
            row[0] = row[0] * d  # both rows are one list: scaled twice
        return rows[0][0] * rows[1][1]

    fresh = lambda: (lambda row: [[row, row], 1.087])([-1.087, -0.308])  # noqa: E731
    leaves = [((0, 0, 0), (0, 1, 0)), ((0, 0, 1), (0, 1, 1)), ((1,),)]
    for argnums in [(0, 1), (0,), (1,)]:
        grads = _check_aliases(f, fresh, argnums, leaves)
        if 0 in argnums:
            assert grads[0][1] is None  # the whole gradient sits at rows[0]
    rows = fresh()[0]
    wengert.grad(f, argnums=1, mode="tape")(rows, 1.087)
    assert rows[0] is rows[1] and rows[0] == [-1.087 * 1.087**2, -0.308]  # as a plain call leaves it
    assert all(type(v) is float for v in rows[0])


def test_tape_row_of_an_aliased_list_written_through_one_name():
    def f(rows, d):
        row = rows[0]
        row[1] = row[1] + d
        rows[1][0] = rows[0][1] * d
        return rows[0][0] * rows[1][1] + d * rows[1][0]

    fresh = lambda: (lambda row: [[row, row], 0.7])([0.4, -1.3])  # noqa: E731
    leaves = [((0, 0, 0), (0, 1, 0)), ((0, 0, 1), (0, 1, 1)), ((1,),)]
    for argnums in [(0, 1), (0,), (1,)]:
        _check_aliases(f, fresh, argnums, leaves)


@pytest.mark.parametrize("order", ["ook", "oko", "koo"])
def test_tape_object_twice_in_a_list_and_as_an_argument(order):
    def f(objs, d, e):
        objs[0].y = objs[0].y + d * objs[1].x
        o = objs[2]
        o.x = o.x * d
        e.x = e.x * d + objs[1].y
        return objs[0].x * objs[2].y + objs[1].x + e.y * e.x

    def fresh():
        o, k = DPt(0.269, -0.587), Pt(0.347, -0.956)
        objs = [{"o": o, "k": k}[c] for c in order]
        return [objs, 0.662, o]

    where = [i for i, c in enumerate(order) if c == "o"]
    leaves = [tuple((0, i, n) for i in where) + ((2, n),) for n in "xy"]
    leaves += [((0, order.index("k"), n),) for n in "xy"] + [((1,),)]
    for argnums in [(0, 1, 2), (0,), (0, 2), (2,), (1, 2)]:
        grads = _check_aliases(f, fresh, argnums, leaves)
        if 0 in argnums:
            assert grads[0][where[1]] is None and type(grads[0][where[0]]) is DPt
            if 2 in argnums:
                assert grads[argnums.index(2)] is None


def test_tape_dict_twice_in_a_tuple():
    def f(ds, s):
        ds[0]["a"] = ds[1]["a"] * s
        return ds[0]["a"] * ds[1]["b"] + s

    fresh = lambda: (lambda d: [(d, d), 1.5])({"a": 2.0, "b": -0.5})  # noqa: E731
    leaves = [((0, 0, "a"), (0, 1, "a")), ((0, 0, "b"), (0, 1, "b")), ((1,),)]
    for argnums in [(0, 1), (0,)]:
        grads = _check_aliases(f, fresh, argnums, leaves)
        assert grads[0][1] is None


def test_tape_pullback_of_a_function_returning_its_list_argument():
    def f(xs, s):
        xs[0] = xs[0] * s
        return xs

    xs = [2.0, 3.0]
    y, back = tape_pullback(f, xs, 5.0)
    assert y == [10.0, 3.0] and xs == [10.0, 3.0] and type(xs[0]) is float
    assert back([1.0, 1.0]) == (None, [5.0, 1.0], 2.0)


# ---- arrays changed in place after the tape read them ----

def test_tape_refuses_an_array_written_after_a_node_read_it():
    c = np.array([1.0, 2.0])

    def f(x, c):
        y = x * c
        c[0] = 100.0  # the pullback of x * c would read the new c
        return y.sum()

    with pytest.raises(UnsupportedError, match="written in place"):
        tape_grad(f)(np.array([3.0, 4.0]), c)
    assert c.flags.writeable and c[0] == 1.0

    def g(x, c):
        c[0] = 100.0  # before the tape reads it: fine
        return (x * c).sum()

    close(tape_grad(g)(np.array([3.0, 4.0]), np.array([1.0, 2.0])), [100.0, 2.0])

    def h(b):
        c = np.ones(3)
        acc = np.sum(c * b)
        np.tanh(c, out=c)  # untracked, so out= is allowed; the pullback of c * b reads c
        return acc + np.sum(c * c)

    with pytest.raises(UnsupportedError, match="written in place"):
        tape_grad(h)(np.array([-0.455, 0.29, -0.499]))


# ---- other array libraries ----

def test_tape_tracks_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    y, back = tape_pullback(lambda x: x * 2.0, torch.randn(3))
    assert back(torch.ones(3)) == (None, pytest.approx(torch.full((3,), 2.0)))

    def f(x, s):
        return (torch.sin(x) * s + x * x).sum()

    gx, gs = wengert.grad(f, argnums=(0, 1), mode="tape")(x, 1.5)
    xt = x.clone().requires_grad_()
    st_ = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    ex, es = torch.autograd.grad(f(xt, st_), (xt, st_))
    assert torch.allclose(gx, ex) and float(gs) == pytest.approx(float(es))
    assert tape_grad(lambda x: (x * x).sum())(torch.arange(3)) is None  # integers: no gradient

    c = torch.tensor([1.0, 2.0])

    def h(x):
        y = x * c
        c.mul_(3.0)
        return y.sum()

    with pytest.raises(UnsupportedError, match="changed in place"):
        tape_grad(h)(torch.tensor([3.0, 4.0]))
