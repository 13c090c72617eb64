"""Higher order: grad of grad, hessian (forward over reverse), jacobian, perturbation confusion,
the tape on functions with source and without."""

import functools
import math

import numpy as np
import pytest

import wengert
from wengert import derivative, grad, hessian, jacobian


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def f_scalar(x):
    return x ** 4 * math.sin(x)


def d1(x):
    return 4 * x ** 3 * math.sin(x) + x ** 4 * math.cos(x)


def d2(x):
    return 12 * x ** 2 * math.sin(x) + 8 * x ** 3 * math.cos(x) - x ** 4 * math.sin(x)


def d3(x):
    return 24 * x * math.sin(x) + 36 * x ** 2 * math.cos(x) - 12 * x ** 3 * math.sin(x) - x ** 4 * math.cos(x)


def pow_loop(x, n):
    r = 1.0
    while n > 0:
        n -= 1
        r *= x
    return r


# ---- scalar second and third derivatives ----

@pytest.mark.parametrize("x", [0.3, 0.7, 2.5])
def test_second_and_third_derivatives_analytic(x):
    close(grad(f_scalar)(x), d1(x))
    close(grad(grad(f_scalar))(x), d2(x))
    close(grad(grad(grad(f_scalar)))(x), d3(x))
    close(hessian(f_scalar)(x), d2(x))
    close(derivative(derivative(derivative(f_scalar)))(x), d3(x))
    close(derivative(grad(f_scalar))(x), d2(x))
    close(grad(derivative(f_scalar))(x), d2(x))


def test_derivatives_of_a_loop():
    assert grad(grad(pow_loop))(2.0, 5) == 5 * 4 * 2.0 ** 3
    assert grad(grad(grad(pow_loop)))(2.0, 5) == 5 * 4 * 3 * 2.0 ** 2
    assert hessian(pow_loop)(2.0, 5) == 160.0


# ---- Hessians of multivariate functions ----

def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def branchy(x):
    s = 0.0
    for i, v in enumerate(x):
        if v > 0:
            s += math.exp(0.3 * v) * x[i - 1]
        else:
            s -= math.sin(v) * v * (i + 1)
    k = 0
    while s > 1.0 and k < 4:
        s = math.sqrt(s) + x[0] * x[1]
        k += 1
    return s * s


def with_arrays(x):
    return np.sum(np.sin(x) * x[::-1]) + np.exp(x[:3]).sum() * x[3] + np.dot(x, x) ** 2


def fd_hessian(f, x, h=1e-5):
    x = np.asarray(x, dtype=float)
    g = grad(lambda v: f(v))
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        gp, gm = np.asarray(g(list(x + e))), np.asarray(g(list(x - e)))
        cols.append((gp - gm) / (2 * h))
    return np.array(cols).T


POINTS = [[0.5, -1.2, 0.8, 1.5], [1.0, 2.0, 3.0, -0.5]]


@pytest.mark.parametrize("f", [rosen, branchy])
@pytest.mark.parametrize("x", POINTS)
def test_hessian_against_differences_of_the_gradient(f, x):
    H = hessian(f)(x)
    assert H.shape == (4, 4)
    close(H, H.T, 1e-12)
    close(H, fd_hessian(f, x), 1e-5)


def test_hessian_of_array_function_against_differences():
    x = np.array([0.5, -1.2, 0.8, 1.5])
    H = hessian(with_arrays)(x)
    g = grad(with_arrays)
    fd = np.array([(g(x + h) - g(x - h)) / 2e-5 for h in np.eye(4) * 1e-5]).T
    close(H, fd, 1e-5)


def test_hessian_through_prod():
    x = np.array([0.5, -1.2, 0.8])
    close(hessian(lambda v: np.prod(v))(x), [[0, 0.8, -1.2], [0.8, 0, 0.5], [-1.2, 0.5, 0]])


def test_hessian_of_several_scalar_arguments():
    H = hessian(lambda x, y: x * x * y + math.sin(x * y), argnums=(0, 1))(1.0, 2.0)
    c, s = math.cos(2.0), math.sin(2.0)
    close(np.array(H), [[2 * 2.0 - 4.0 * s, 2.0 + c - 2.0 * s], [2.0 + c - 2.0 * s, -s]])


def test_hessian_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def rosen_jax(x):
        return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))

    for x in POINTS:
        close(hessian(rosen)(x), np.asarray(jax.hessian(rosen_jax)(jnp.array(x))), 1e-10)


def test_jacobian_of_grad_is_the_hessian_in_both_modes():
    x = POINTS[0]
    H = hessian(rosen)(x)
    close(jacobian(grad(rosen))(x), H)
    close(jacobian(grad(rosen), mode="fwd")(x), H)
    close(jacobian(grad(rosen), mode="rev")(x), H)


# ---- jacobian ----

def test_jacobian_shapes_and_modes_agree():
    tall = lambda x: [x, x * x, math.sin(x)]
    close(jacobian(tall)(3.0), [1.0, 6.0, math.cos(3.0)])
    close(jacobian(tall, mode="rev")(3.0), jacobian(tall, mode="fwd")(3.0))
    x = np.array([1.0, 2.0])
    J = jacobian(lambda v: np.outer(v, v))(x)
    assert J.shape == (2, 2, 2)
    close(J, jacobian(lambda v: np.outer(v, v), mode="fwd")(x))
    assert jacobian(lambda v: v * v)(3.0) == 6.0
    with pytest.raises(ValueError, match="mode"):
        jacobian(tall, mode="sideways")


# ---- perturbation confusion (Siskind & Pearlmutter 2005) ----

def test_no_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = d/dx [x] = 1, not 2
    assert derivative(lambda x: x * derivative(lambda y: x + y)(1.0))(2.0) == 1.0
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0) == 1.0
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
    assert grad(lambda x: x * grad(lambda y: x * y)(1.0))(3.0) == 6.0
    assert derivative(lambda x: x * derivative(lambda y: x * y)(1.0))(3.0) == 6.0


# ---- the tape ----

def test_tape_mode_on_source_calling_math():
    def f(x, y):
        s = 0.0
        for i in range(3):
            s = s + math.sin(x * i) * math.exp(y)
        return s
    assert grad(f, (0, 1), mode="tape")(0.4, 0.2) == pytest.approx(grad(f, (0, 1))(0.4, 0.2), rel=1e-12)


def test_tape_fallback_for_callables_built_by_exec():
    ns = {"math": math}
    exec("g = lambda x: math.sin(x) * x\ndef h(x):\n    return math.exp(x) * g(x)\n", ns)  # noqa: S102
    close(grad(ns["g"])(1.0), math.cos(1.0) + math.sin(1.0))
    close(grad(ns["h"])(0.5), math.exp(0.5) * (math.sin(0.5) * 0.5 + math.cos(0.5) * 0.5 + math.sin(0.5)))

    def f(x):
        return ns["g"](x) * 3.0  # a source function calling one without source
    close(grad(f)(1.0), 3 * (math.cos(1.0) + math.sin(1.0)))


# primitives with one direction only (no Python body either mode could fall back on),
# to see which mode `jacobian` picks
def _spread(x):
    return [x, 2.0 * x, 3.0 * x]


def _total(xs):
    return xs[0] + 2.0 * xs[1]


spread = functools.partial(_spread)
total = functools.partial(_total)

wengert.frule(spread)(lambda tangents, x: (spread(x), None if tangents[0] is None else
                                           [tangents[0], 2.0 * tangents[0], 3.0 * tangents[0]]))
wengert.defvjp(total, lambda g, y, xs: [g, 2.0 * g])


def test_jacobian_picks_forward_for_tall_and_reverse_for_wide():
    close(jacobian(lambda x: spread(x))(1.5), [1.0, 2.0, 3.0])  # 1 input, 3 outputs: forward
    with pytest.raises(wengert.UnsupportedError):
        jacobian(lambda x: spread(x), mode="rev")(1.5)
    close(jacobian(lambda xs: total(xs))([1.0, 1.0]), [1.0, 2.0])  # 2 inputs, 1 output: reverse
    with pytest.raises(wengert.UnsupportedError):
        jacobian(lambda xs: total(xs), mode="fwd")([1.0, 1.0])
