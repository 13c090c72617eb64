"""Forward mode by source transformation: generated tangent code vs analytic values and
central differences, on scalars, sequences, arrays, closures, recursion and no-source callables."""

import dataclasses
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert
from wengert import UnsupportedError
from wengert.transforms.forward import jvp, show_tangent


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def central(f, args, tangents, h=1e-6):
    def at(s):
        return f(*[a + s * t if t is not None else a for a, t in zip(args, tangents)])
    return (at(h) - at(-h)) / (2 * h)


def pow_loop(x, n):
    r = 1.0
    while n > 0:
        n -= 1
        r *= x
    return r


def sin_log(x):
    return 5 * math.sin(math.log(x))


def branchy(x, y):
    if x > y:
        z = x * math.exp(-y)
    elif x > 0:
        z = math.sqrt(x) * y
    else:
        z = -x * y * y
    for i in range(3):
        z = z * 0.5 + math.cos(z + i)
    return z


# ---- scalars, against analytic values ----

def test_talk_example_analytic():
    y, dy = jvp(sin_log, (2.0,), (1.0,))
    assert y == sin_log(2.0)
    close(dy, 5 * math.cos(math.log(2.0)) / 2.0)


def test_loop_stays_a_loop_and_reads_like_hand_written_code():
    src = show_tangent(pow_loop, 2.0, 3)
    assert "while" in src and "r_dot" in src and "Dual" not in src and "jvp_call" not in src
    assert "r_dot = (r_dot * x) + (r * x_dot)" in src
    y, dy = jvp(pow_loop, (2.0, 5), (1.0, None))
    assert (y, dy) == (32.0, 80.0)


def test_int_primal_with_tangent_is_a_float():
    assert jvp(pow_loop, (3, 2), (1.0, None)) == (9.0, 6.0)


def test_tangent_is_linear():
    _, a = jvp(branchy, (0.7, 0.3), (1.0, 0.0))
    _, b = jvp(branchy, (0.7, 0.3), (0.0, 1.0))
    _, c = jvp(branchy, (0.7, 0.3), (2.0, -3.0))
    close(c, 2 * a - 3 * b)


@settings(max_examples=40, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-1, 1), st.floats(-1, 1))
def test_branchy_against_central_differences(x, y, tx, ty):
    if abs(x - y) < 1e-3 or abs(x) < 1e-3:
        return  # too close to a branch switch for differences
    _, d = jvp(branchy, (x, y), (tx, ty))
    close(d, central(branchy, (x, y), (tx, ty)), 1e-5)


def test_output_structures():
    def f(x, y):
        return (x * y, [x, 2.0, math.sin(y)])
    y, t = jvp(f, (2.0, 0.5), (1.0, 0.0))
    assert y == (1.0, [2.0, 2.0, math.sin(0.5)])
    assert t == (0.5, [1.0, 0.0, 0.0])


def test_sequence_inputs():
    def dot(ws, xs):
        return sum(w * x for w, x in zip(ws, xs))
    y, t = jvp(dot, ([1.0, 2.0], [3.0, 4.0]), ([1.0, 0.0], None))
    assert (y, t) == (11.0, 3.0)


# ---- calls: user functions, recursion, closures, keywords, no source ----

def fib_like(x, n):
    if n <= 1:
        return x
    return fib_like(x, n - 1) * x + math.sin(fib_like(x, n - 2))


def test_recursion_against_differences():
    _, d = jvp(fib_like, (0.9, 6), (1.0, None))
    close(d, central(lambda x: fib_like(x, 6), (0.9,), (1.0,)), 1e-6)


def test_closure_captures_the_tangent_of_what_it_captured():
    def outer(x):
        k = lambda y: x * y * y  # noqa: E731
        return k(3.0) + k(x)
    assert jvp(outer, (2.0,), (1.0,)) == (26.0, 9.0 + 3 * 4.0)


def test_higher_order_function_receives_a_closure():
    def apply_twice(g, v):
        return g(g(v))

    def f(a):
        return apply_twice(lambda v: a * v + 1.0, 2.0)  # a*(2a+1)+1
    close(jvp(f, (1.5,), (1.0,))[1], 4 * 1.5 + 1)


def kw_target(x, y=2.0, *, z=3.0):
    return x * y * z


def test_keyword_arguments_carry_tangents():
    def f(x):
        return kw_target(x, z=x)
    assert jvp(f, (1.5,), (1.0,)) == (4.5, 6.0)


def test_callable_without_source_runs_on_duals_with_math_routed():
    ns = {"math": math}
    exec("g = lambda x: math.sin(x) * x", ns)  # noqa: S102
    _, d = jvp(ns["g"], (1.0,), (1.0,))
    close(d, math.cos(1.0) + math.sin(1.0))

    def f(x):
        return ns["g"](x) * 2.0
    close(jvp(f, (1.0,), (1.0,))[1], 2 * (math.cos(1.0) + math.sin(1.0)))


def test_rebinding_a_global_retransforms():
    def f(x):
        return helper_fn(x)
    global helper_fn
    helper_fn = math.sin
    assert jvp(f, (0.0,), (1.0,))[1] == 1.0
    helper_fn = math.exp
    assert jvp(f, (0.0,), (1.0,))[1] == 1.0
    helper_fn = math.cos
    assert jvp(f, (0.0,), (1.0,))[1] == 0.0


helper_fn = math.sin


def test_mutation_is_mirrored_on_the_tangent():
    def f(x):
        xs = []
        xs.append(x)
        xs.append(2.0)
        xs[1] = xs[1] * x
        return xs[0] * xs[1]
    assert jvp(f, (3.0,), (1.0,)) == (18.0, 12.0)


def test_unsupported_mutation_is_refused():
    def f(x):
        xs = [x, 1.0]
        xs.sort()
        return xs[0]
    with pytest.raises(UnsupportedError, match="sort"):
        jvp(f, (3.0,), (1.0,))


# ---- arrays ----

def test_arrays_with_broadcasting_against_differences():
    def f(x, s):
        z = np.sin(x) * s + x ** 2
        return np.sum(z * x) + s * s

    x, tx = np.array([0.3, 0.5, 0.9]), np.array([1.0, -2.0, 0.5])
    y, d = jvp(f, (x, 2.0), (tx, 1.0))
    assert y == f(x, 2.0)
    close(d, central(f, (x, 2.0), (tx, 1.0)), 1e-6)


def test_scalar_tangent_broadcast_to_array_output():
    def f(x, s):
        return x * s
    _, t = jvp(f, (np.ones(3), 2.0), (None, 1.0))
    close(t, np.ones(3))


# ---- derivative ----

def test_derivative_uses_tangent_code_and_nests():
    f = lambda x: x ** 4 * math.sin(x)  # noqa: E731
    x = 0.7
    d1 = 4 * x ** 3 * math.sin(x) + x ** 4 * math.cos(x)
    d2 = 12 * x ** 2 * math.sin(x) + 8 * x ** 3 * math.cos(x) - x ** 4 * math.sin(x)
    close(wengert.derivative(f)(x), d1)
    close(wengert.derivative(wengert.derivative(f))(x), d2)
    assert wengert.derivative(pow_loop)(2.0, 3) == 12.0


def test_jvp_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="tangents"):
        jvp(sin_log, (1.0,), (1.0, 2.0))


def alias_then_update(x):
    a = np.zeros(2)
    held = [a]
    a += x
    a *= x
    return held[0].sum()


def test_in_place_update_reaches_aliases_in_value_and_tangent():
    x, t = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    y, d = jvp(alias_then_update, (x,), (t,))
    assert y == alias_then_update(x)
    close(d, 2 * x @ t)


def test_a_copy_does_not_share_its_tangent():
    def f(x):
        b = x + 0.0  # a new array whose tangent must not be x's tangent object
        b[0] = 5.0
        return np.sum(b * x)
    x, t = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    close(jvp(f, (x,), (t,))[1], 5 * t[0] + 2 * x[1] * t[1])


def test_layer_with_matmul_broadcasting_and_axis_reductions():
    rng = np.random.default_rng(0)

    def f(w, x, b):
        h = np.tanh(w @ x + b)
        return np.sum(h ** 2) + np.mean(h[1:, :], axis=0).sum()

    args = (rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 1)))
    tans = tuple(rng.normal(size=a.shape) for a in args)
    close(jvp(f, args, tans)[1], central(f, args, tans), 1e-6)


# ---- module-level values read by tangent code (they get no tangent from outside) ----

SCALE = np.float64(2.0)
WEIGHTS = np.array([[1.0, -2.0], [0.5, 3.0]])
LOG: list = []


def scaled_tanh(x):
    return np.sum(np.tanh(x) * SCALE)


def weighted(x):
    return np.sum(np.tanh(np.dot(WEIGHTS, x)))


def logs_and_reads(x):
    LOG.append(x * 2.0)
    return LOG[-1] * 3.0


def test_module_level_numpy_scalar_and_array_have_zero_tangents():
    x, t = np.array([0.1, -0.7]), np.array([1.0, 0.5])
    for f in (scaled_tanh, weighted):
        y, d = jvp(f, (x,), (t,))
        assert y == f(x)
        close(d, central(f, (x,), (t,)), 1e-7)
    # analytic: d/dx sum(2 tanh(x)) = 2 (1 - tanh(x)^2)
    close(jvp(scaled_tanh, (x,), (t,))[1], np.sum(2 * (1 - np.tanh(x) ** 2) * t))


def test_a_module_level_list_written_with_a_derivative_is_refused_not_zero():
    with pytest.raises(UnsupportedError, match="module-level list"):
        jvp(logs_and_reads, (1.5,), (1.0,))
    LOG.clear()


def test_forward_jacobian_of_grad_with_a_list_argument():
    # tests/test_higher.py checks these in mode="rev"; forward mode runs the gradient's tangent code
    def f(x, ys):
        return np.sum(x ** 2 * ys[0]) + np.prod(x) * ys[1]

    x, ys = np.array([0.5, -1.2, 2.0]), [1.5, 0.25]
    # analytic: grad_ys f = [sum(x^2), prod(x)], so d/dys is 0 and d/dx is [2x, prod(x)/x]
    close(wengert.jacobian(lambda ys: wengert.grad(f, argnums=1)(x, ys), mode="fwd")(ys), np.zeros((2, 2)))
    close(wengert.jacobian(lambda x: wengert.grad(f, argnums=1)(x, ys), mode="fwd")(x),
          np.array([2 * x, np.prod(x) / x]))
    t = np.array([0.3, -0.2, 1.0])
    g = lambda x: np.array([np.sum(x ** 2), np.prod(x)])  # noqa: E731  (the gradient, by hand)
    close(jvp(lambda x: wengert.grad(f, argnums=1)(x, ys), (x,), (t,))[1], central(g, (x,), (t,)), 1e-7)


def local_imports(x):
    import math
    import numpy as np

    return np.sin(x) * math.cos(x)


def test_a_module_imported_inside_the_function_keeps_its_name():
    src = show_tangent(local_imports, 0.3)
    assert "math.sin(x)" in src and "math_1" not in src and "np_1" not in src
    close(jvp(local_imports, (0.3,), (1.0,))[1], central(local_imports, (0.3,), (1.0,)), 1e-8)


# ---- one tangent per object: a write through one name reaches every other path to it ----
# (found by `python -m wengert.testing.fuzz --mode jvp`; each checked against float64 central
# differences of the program on fresh arguments, along tangents of a subset of the arguments)

@dataclasses.dataclass
class Pt:
    x: float
    v: float


class Holder:
    def __init__(self, xs, d):
        self.xs = xs
        self.d = d


def fd_along(f, make, tangents, h=1e-6):
    """Central difference of ``f(*make())`` along ``tangents`` (floats, or None: held still)."""
    def at(s):
        return f(*[a + s * t if t is not None else a for a, t in zip(make(), tangents)])
    return (at(h) - at(-h)) / (2 * h)


def check_fd(f, make, tangents, tol=1e-6):
    y, dy = jvp(f, make(), tangents)
    close(y, f(*make()))
    close(dy, fd_along(f, make, tangents), tol)


def nested_recursion_writes_captured_list(x, y, s):
    def r3(k):
        if k <= 0:
            return s[0]
        s[0] = s[0] * x
        return r3(k - 1) + y
    t = r3(3)
    return t + s[0] * y


@pytest.mark.parametrize("tangents", [(0.7, None, None), (None, 1.3, None), (0.7, -0.4, None)])
def test_a_nested_function_calling_itself_carries_its_cells_tangents(tangents):
    check_fd(nested_recursion_writes_captured_list, lambda: (0.9, 0.3, [1.1, 0.4]), tangents)


def make_recursive_closure():
    s = [1.0]

    def r(k, x):
        if k == 0:
            return s[0]
        s[0] = s[0] * x
        return r(k - 1, x)
    return r


def test_a_python_closure_calling_itself_keeps_one_tangent_for_what_it_captured():
    # a closure made by Python, given no tangent: its recursive calls find the same tangent
    # of the captured list (s[0] = x ** 3 after three calls)
    y, dy = jvp(make_recursive_closure(), (3, 2.0), (None, 1.0))
    assert y == 8.0
    close(dy, 12.0)


def item_object_written_through_a_name(ps, d, w):
    q = ps[-1]
    q.v = q.v + math.sin(d) * q.x
    total = 0.0
    for p in ps:
        total = total + p.x * p.v
    return total + ps[0].v * w


@pytest.mark.parametrize("tangents", [(None, -0.6, None), (None, 0.5, 1.5), (None, None, 1.0)])
def test_an_object_in_a_list_written_through_a_name(tangents):
    check_fd(item_object_written_through_a_name,
             lambda: ([Pt(1.07, 0.32), Pt(1.14, 1.1), Pt(-1.1, 0.89)], 0.025, 0.44), tangents)


def rows_written_through_aliases(rows, d):
    for row in rows:
        row[0] = row[0] * d
    return rows[0][0] * rows[1][1]


def objects_written_through_aliases(objs, d, e):
    for o in objs:
        o.x = o.x + d * o.v
    return objs[0].x * objs[1].v + objs[0].x + e.v


def test_aliased_list_and_objects_have_one_tangent():
    def rows():
        row = [-0.154, 0.408]
        return [row, row], 1.002

    check_fd(rows_written_through_aliases, rows, (None, -0.5))

    def objs():
        o = Pt(-1.07, -1.04)
        return [o, o, Holder(0.25, 0.26)], 0.34, Pt(1.15, 0.05)

    def fix(objs, d, e):  # Holder stands in for a second class with x and v
        for o in objs:
            if isinstance(o, Holder):
                o.x, o.v = o.xs, o.d
        return objects_written_through_aliases(objs, d, e)

    check_fd(fix, objs, (None, 0.7, None))


def holder_written_through_fields(h, s, o):
    o.x = o.x * s
    h.xs[0] = h.xs[0] + o.x
    h.xs[-2] = h.xs[0] * s
    return sum(h.xs) * h.d["a"] + h.d["b"] + o.x * o.v


@pytest.mark.parametrize("tangents", [(None, 0.38, None), (None, -0.2, None)])
def test_a_list_field_of_an_object_given_no_tangent(tangents):
    check_fd(holder_written_through_fields,
             lambda: (Holder([-0.84, 0.87, -0.49], {"a": -0.44, "b": 0.09}), -0.7, Pt(-0.2, -0.62)), tangents)


def test_an_object_field_tangent_given_while_a_list_field_gets_none():
    # the tangent of o given (its fields), h's none
    def make():
        return Holder([0.19, -1.2, 0.61], {"a": 1.11, "b": 0.79}), -0.14, Pt(-0.83, 0.64)

    tx, tv = -0.05, 0.9  # (the tangent given is the argument's: updated as o is)
    y, dy = jvp(holder_written_through_fields, make(), (None, None, wengert.Tangent(Pt, x=tx, v=tv)))

    def moved(s):
        h, c, o = make()
        o.x += s * tx
        o.v += s * tv
        return holder_written_through_fields(h, c, o)

    close(y, moved(0.0))
    close(dy, (moved(1e-6) - moved(-1e-6)) / 2e-6, 1e-6)


def bump_all(s, *objs):
    for o in objs:
        o.v = o.v + o.x * s


def bump_kw(s, **kw):
    for k in kw:
        kw[k].x = kw[k].x * s


def calls_bumpers(a, b, d):
    bump_all(d, *[b])
    bump_kw(d, p=a, q=b)
    bump_kw(d, **{"p": a})
    return a.x * a.v + b.x * b.v


def test_objects_a_callee_reaches_through_star_arguments():
    check_fd(calls_bumpers, lambda: (Pt(0.38, 0.02), Pt(0.71, 0.83), -0.99), (None, None, -0.28))


def closure_writes_captured_dict_and_object(x, y, dd, o):
    def upd(k, v):
        dd[k] = dd[k] * v

    def setw():
        o.v = o.x * x

    def rd():
        return dd["a"] * o.v

    upd("a", y)
    setw()
    dd["b"] = dd["b"] + x
    return rd() + dd["b"] + o.v


@pytest.mark.parametrize("tangents", [(None, 0.59, None, None), (-0.2, None, None, None), (0.3, 0.4, None, None)])
def test_closures_write_into_captured_containers_given_no_tangent(tangents):
    check_fd(closure_writes_captured_dict_and_object,
             lambda: (-1.08, -0.08, {"a": 1.16, "b": 1.06}, Pt(-0.01, -0.66)), tangents)


def nonlocal_counter(x, y):
    def counter():
        c = 0.0

        def step(v):
            nonlocal c
            c = c + v
            return c
        return step
    st = counter()
    st(x)
    return st(y) * x + y


@pytest.mark.parametrize("tangents", [(None, 0.95), (0.95, None), (0.3, -0.7)])
def test_a_nonlocal_cell_carries_its_tangent_between_calls(tangents):
    check_fd(nonlocal_counter, lambda: (-0.1, 0.77), tangents)


def formats_then_uses_length(x, y, fmt):
    label = "%s=%.2f" % ("a", x)
    other = fmt % (y,)
    return (x + len(label) * x) * y + len(other) * y


@pytest.mark.parametrize("tangents", [(1.0, None, None), (None, 1.0, None), (0.3, -0.8, None)])
def test_string_formatting_has_no_tangent(tangents):
    # ``'...' % args`` is the string rule, not the modulo of numbers (it crashed: -tuple)
    check_fd(formats_then_uses_length, lambda: (0.156, -0.557, "%.3f"), tangents)


def setattr_by_name(rows, objs, s):
    o = objs[0]
    for name in ("x", "v"):
        setattr(o, name, getattr(o, name) * s)
    return rows[0][0] * rows[1][1] + objs[0].x + objs[0].v * s


@pytest.mark.parametrize("tangents", [(None, None, 0.6), (None, None, -1.0)])
def test_setattr_and_getattr_by_name_follow_the_objects_tangent(tangents):
    # the builtin setattr with a name known at run time (it crashed: a Dual has no attribute x)
    check_fd(setattr_by_name, lambda: ([[-0.8, -0.6], [-0.3, 0.9]], [Pt(0.42, -0.62), Pt(0.2, -0.33)], 0.64),
             tangents)


def sets_items_by_call(xs, s):
    xs[0] = s * s
    operator.setitem(xs, 1, xs[0] * s)
    operator.setitem(xs, 0, 3.0)
    return xs[0] * s + xs[1]


def test_operator_setitem_writes_the_tangent_too():
    # it ran on Dual numbers on a copy of the list: value and tangent silently wrong
    check_fd(sets_items_by_call, lambda: ([1.0, 2.0], 0.5), (None, 1.0))


_ns: dict = {}
exec("def write_first(xs, v):\n    xs[0] = v\n", _ns)  # no source: the Dual fallback runs it
write_first = _ns["write_first"]


def calls_a_writer_without_source(xs, s):
    xs[0] = s * s
    write_first(xs, 3.0)
    return xs[0] * s


def test_a_callable_without_source_writing_into_a_list_with_a_tangent_is_refused():
    with pytest.raises(UnsupportedError, match="write_first.*writes into a list") as e:
        jvp(calls_a_writer_without_source, ([1.0], 0.5), (None, 1.0))
    assert any("test_forward.py" in n for n in e.value.__notes__)  # the user's line


# ---- forward over reverse (hessian) meets the same objects ----

def scales_a_constant_objects_field(ps, d):
    q = ps[-1]
    q.v = q.v * d
    total = 0.0
    for p in ps:
        total = total + p.x * p.v * d
    return total


def test_hessian_by_forward_over_reverse_with_a_constant_list_of_objects_written_into():
    # the composed path's tangent code got None for the constant list (TypeError); each
    # object's tangent is held once there too. Against central differences of the gradient.
    from wengert.dispatch.compose import hessian_path

    def make():
        return [Pt(1.0, 2.0), Pt(0.5, 1.5), Pt(-1.0, 0.7)]

    f = scales_a_constant_objects_field
    assert hessian_path(f, make(), 1.3, argnums=1) == "forward over reverse"
    h = wengert.hessian(f, argnums=1)(make(), 1.3)

    def g(d):
        return wengert.grad(f, argnums=1)(make(), d)

    close(h, (g(1.3 + 1e-5) - g(1.3 - 1e-5)) / 2e-5, 1e-7)
    close(h, 2 * (-1.0) * 0.7)  # analytic: 2 x_q v_q


def _doubles_through_y(x, y):
    y[0] = y[0] * 2.0
    return x[0] * x[1]


def test_one_object_passed_twice_has_one_tangent():
    # the object is perturbed once, by the one tangent: compare with central differences of
    # o -> f(o, o) along it (the write through y is seen through x)
    def along(h):
        o = [3.0 + h * 1.0, 0.5 + h * -2.0]
        return _doubles_through_y(o, o)

    t = [1.0, -2.0]
    o = [3.0, 0.5]
    y, dy = wengert.jvp(_doubles_through_y, (o, o), (t, t))
    h = 1e-6
    assert y == 3.0 and dy == pytest.approx((along(h) - along(-h)) / (2 * h), rel=1e-7)
    # two different tangents for one object contradict each other once f writes through one
    # name and reads through the other: refused, not a silently chosen one
    with pytest.raises(wengert.UnsupportedError, match="one object .* two different tangents"):
        o = [3.0, 0.5]
        wengert.jvp(_doubles_through_y, (o, o), ([1.0, 0.0], [0.0, 1.0]))
