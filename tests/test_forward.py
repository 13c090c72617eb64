"""Forward mode by source transformation: generated tangent code vs analytic values and
central differences, on scalars, sequences, arrays, closures, recursion and no-source callables."""

import math

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
