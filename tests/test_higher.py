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
    tall = lambda x: [x, x * x, math.sin(x)]  # noqa: E731
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


# ---- issue 9: higher order on ordinary code (module attributes, x.T, nested jacobians, rule helpers) ----

from tests import _hmod as H  # noqa: E402  (a user module reached by attribute)


def fd_jacobian(g, x, eps=1e-6):
    """Central differences of ``g`` (array in, array out) at ``x``: shape ``g(x).shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(g(x + e), dtype=float) - np.asarray(g(x - e), dtype=float)) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(g(x)) + x.shape)


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


X23 = np.array([[1.0, 2.0, 0.5], [-0.3, 1.5, -1.0]])
V3 = np.array([0.3, 0.7, 1.1])


@pytest.mark.parametrize("x", [X23, V3, X23.T.copy()], ids=["2x3", "vector", "3x2"])
def test_hessian_through_dot_T_agrees_with_jax_and_differences(x):
    jax = _jax()
    jnp = jax.numpy
    H_w = hessian(lambda x: np.sum(x.T * x) if x.ndim == 1 else np.sum(x.T @ x * x.T.sum()))(x)
    H_j = jax.hessian(lambda x: jnp.sum(x.T * x) if x.ndim == 1 else jnp.sum(x.T @ x * x.T.sum()))(x)
    close(H_w, np.asarray(H_j))
    g = grad(lambda x: np.sum(x.T * x) if x.ndim == 1 else np.sum(x.T @ x * x.T.sum()))
    close(H_w, fd_jacobian(g, x), tol=1e-6)


def test_hessian_of_a_square_through_T_is_twice_the_identity():
    # sum(x.T * x) of a square matrix is sum_ij x_ji x_ij: its Hessian pairs (i,j) with (j,i)
    x = np.array([[1.0, 2.0], [3.0, 4.5]])
    H_w = hessian(lambda x: np.sum(x.T * x))(x)
    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            expected[i, j, j, i] += 2.0
    close(H_w, expected)


def test_hessian_through_a_user_module_attribute():
    r = np.array([0.3, -0.7, 1.2])

    def f(r):
        return H.loglike(r, 2.0)

    close(hessian(f)(r), -np.eye(3) / 4.0)  # d2/dr2 of -|r|^2 / (2 s^2) at s = 2
    close(grad(grad(lambda s: H.loglike(r, s)))(1.5),  # d2/ds2: -3|r|^2 / s^4 + n / s^2
          -3 * np.sum(r ** 2) / 1.5 ** 4 + 3 / 1.5 ** 2)


def test_hessian_through_a_module_attribute_argnums_subsets():
    x, w = np.array([0.4, -1.1, 0.9]), np.array([1.0, 0.5, 2.0])
    f = lambda x, w: H.quartic(x, w)  # noqa: E731
    expected_xx = np.diag(12 * w * x ** 2) + np.diag(np.ones(2), 1) + np.diag(np.ones(2), -1)
    close(hessian(f, argnums=0)(x, w), expected_xx)
    close(hessian(f, argnums=0)(x, w), fd_jacobian(lambda x: grad(f)(x, w), x), tol=1e-6)
    # the mixed block d/dw grad_x = diag(4 x^3), against differences of the gradient
    close(jacobian(lambda w: grad(f)(x, w))(w), np.diag(4 * x ** 3))
    close(jacobian(lambda w: grad(f)(x, w))(w), fd_jacobian(lambda w: grad(f)(x, w), w), tol=1e-6)
    s = lambda a, b: H.loglike(np.array([a, b]), 1.5)  # noqa: E731
    close(np.array(hessian(s, argnums=(0, 1))(0.3, -0.2)), -np.eye(2) / 1.5 ** 2)


def _g(x):
    return np.sin(x) * x[::-1] + np.exp(x[0] * x)


@pytest.mark.parametrize("inner", ["fwd", "rev"])
@pytest.mark.parametrize("outer", ["fwd", "rev"])
def test_jacobian_of_jacobian_every_mode_pair(inner, outer):
    jax = _jax()
    jnp = jax.numpy
    J2 = jacobian(jacobian(_g, mode=inner), mode=outer)(V3)
    ref = jax.jacfwd(jax.jacrev(lambda x: jnp.sin(x) * x[::-1] + jnp.exp(x[0] * x)))(V3)
    assert J2.shape == (3, 3, 3)
    close(J2, np.asarray(ref))
    close(J2, fd_jacobian(jacobian(_g), V3), tol=1e-6)


@pytest.mark.parametrize("inner", ["fwd", "rev"])
@pytest.mark.parametrize("outer", ["fwd", "rev"])
def test_jacobian_of_jacobian_of_a_list_and_a_scalar(inner, outer):
    def h(xs):
        return [xs[0] * xs[1], math.sin(xs[0]) + xs[1] ** 3]

    x = [0.7, -0.4]
    J2 = jacobian(jacobian(h, mode=inner), mode=outer)(x)
    # analytic: d2/dx2 of x0 x1 is [[0, 1], [1, 0]]; of sin x0 + x1^3 is diag(-sin x0, 6 x1)
    close(J2, np.array([[[0.0, 1.0], [1.0, 0.0]], [[-math.sin(0.7), 0.0], [0.0, 6 * -0.4]]]))
    close(jacobian(jacobian(lambda t: t ** 3, mode=inner), mode=outer)(1.3), 6 * 1.3)


def test_grad_of_a_jacobian_entry_and_of_grad_through_jacobian():
    x = V3.copy()
    entry = lambda x: jacobian(_g)(x)[1, 2]  # noqa: E731
    close(grad(entry)(x), fd_jacobian(entry, x), tol=1e-6)
    trace_j = lambda x: np.trace(jacobian(_g, mode="rev")(x))  # noqa: E731
    close(grad(trace_j)(x), fd_jacobian(trace_j, x), tol=1e-6)


def test_jacobian_of_jacobian_with_a_second_argument():
    def k(x, c):
        return np.tanh(c * x) * x[0]

    x, c = np.array([0.2, -0.5]), 1.7
    J2 = jacobian(jacobian(k, argnums=0), argnums=0)(x, c)
    close(J2, fd_jacobian(lambda x: jacobian(k)(x, c), x), tol=1e-6)
    dJ_dc = jacobian(jacobian(k, argnums=0), argnums=1)(x, c)
    close(dJ_dc, (jacobian(k)(x, c + 1e-6) - jacobian(k)(x, c - 1e-6)) / 2e-6, tol=1e-6)


def test_hessian_through_a_multivariate_normal_rule():
    # the rule's body calls the distribution's own method and (in a helper) imports numpy locally:
    # forward over reverse runs both on Duals (the autograd gmm example's Hessian-vector product)
    st = pytest.importorskip("scipy.stats")
    data = np.array([[0.1, -0.3], [1.2, 0.4], [-0.5, 0.8]])

    def nll(p):
        mean = p[:2]
        L = np.array([[1.0, 0.0], [0.0, 1.0]]) + p[2] * np.array([[0.0, 0.0], [1.0, 0.0]])
        cov = np.dot(L.T, L) + 0.5 * np.eye(2)
        return -np.sum(st.multivariate_normal.logpdf(data, mean, cov))

    p = np.array([0.2, -0.1, 0.3])
    H_w = hessian(nll)(p)
    close(H_w, fd_jacobian(grad(nll), p), tol=1e-6)
    close(H_w, H_w.T, tol=1e-10)


def test_hessian_with_list_arguments_agrees_with_jax():
    jax = _jax()
    jnp = jax.numpy

    def f(x, ys):
        return np.sum(x ** 2 * ys[0]) + np.prod(x) * ys[1]

    x, ys = np.array([0.5, -1.2, 2.0]), [1.5, 0.25]
    H_w = hessian(f, argnums=0)(x, ys)
    H_j = jax.hessian(lambda x: jnp.sum(x ** 2 * ys[0]) + jnp.prod(x) * ys[1])(x)
    close(H_w, np.asarray(H_j))
    # a list argument differentiated: the Hessian of ys -> f along a list is by jacobian of grad
    close(jacobian(lambda ys: grad(f, argnums=1)(x, ys), mode="rev")(ys), np.zeros((2, 2)))
    close(jacobian(lambda x: grad(f, argnums=1)(x, ys), mode="rev")(x), np.array([2 * x, np.prod(x) / x]))
