"""The public API and its conventions."""

import math

import numpy as np
import pytest

import wengert


def f2(x, y):
    return x * y + math.sin(x)


def test_grad_argnums_and_value_and_grad():
    assert wengert.grad(f2)(1.0, 2.0) == pytest.approx(2.0 + math.cos(1.0))
    assert wengert.grad(f2, argnums=1)(1.0, 2.0) == 1.0
    gx, gy = wengert.grad(f2, argnums=(0, 1))(1.0, 2.0)
    assert (gx, gy) == (pytest.approx(2.0 + math.cos(1.0)), 1.0)
    v, g = wengert.value_and_grad(f2)(1.0, 2.0)
    assert v == f2(1.0, 2.0) and g == pytest.approx(2.0 + math.cos(1.0))


def test_has_aux():
    def f(x):
        return x * x, {"note": x + 1}
    g, aux = wengert.grad(f, has_aux=True)(3.0)
    assert g == 6.0 and aux == {"note": 4.0}


def test_pullback_zygote_convention_and_vjp():
    y, back = wengert.pullback(f2, 1.0, 2.0)
    assert y == f2(1.0, 2.0)
    fbar, xbar, ybar = back(2.0)
    assert fbar is None and xbar == pytest.approx(2 * (2.0 + math.cos(1.0))) and ybar == 2.0
    y, vjp = wengert.vjp(f2, 1.0, 2.0)
    assert vjp(1.0) == (pytest.approx(2.0 + math.cos(1.0)), 1.0)


def test_gradient_one_per_argument():
    assert wengert.gradient(lambda a, n, s: a * n, 2.0, 3, "x") == (3.0, None, None)


def test_grad_needs_a_scalar_output():
    with pytest.raises(TypeError, match="scalar"):
        wengert.grad(lambda x: x * np.ones(3))(1.0)


def test_pullback_of_array_function():
    def f(a):
        return np.tanh(a) * 2
    a = np.array([0.1, 0.2])
    y, back = wengert.pullback(f, a)
    (_, ga) = back(np.ones(2))
    assert np.allclose(ga, 2 * (1 - np.tanh(a) ** 2))


def test_custom_rule_is_used():
    def softplus(x):
        return math.log1p(math.exp(x))
    calls = []

    def softplus_vjp(g, y, x):
        calls.append(x)
        return g / (1 + math.exp(-x))
    wengert.defvjp(softplus, softplus_vjp)

    def f(x):
        return softplus(x) * 2
    assert wengert.grad(f)(0.0) == pytest.approx(1.0)
    assert calls


# ---- a rule registered for the differentiated function itself (issue 8) ----

def log1pexp(x):
    return np.log(1.0 + np.exp(x))  # overflows for large x: inf, and its source gradient inf / inf


def scaled_log1pexp(x, s):
    return s * np.log(1.0 + np.exp(x))


wengert.defvjp(log1pexp, lambda g, y, x: g / (1.0 + np.exp(-x)))
wengert.defjvp(log1pexp, lambda t, y, x: t / (1.0 + np.exp(-x)))
wengert.defvjp(scaled_log1pexp, lambda g, y, x, s: g * s / (1.0 + np.exp(-x)),
               lambda g, y, x, s: g * np.logaddexp(0.0, x))


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_rule_registered_for_the_differentiated_function_is_used():
    assert wengert.grad(log1pexp)(1000.0) == 1.0
    assert wengert.grad(lambda x: log1pexp(x))(1000.0) == 1.0
    assert wengert.value_and_grad(log1pexp)(1000.0)[1] == 1.0
    assert wengert.grad(log1pexp, mode="tape")(1000.0) == 1.0
    assert wengert.jvp(log1pexp, (1000.0,), (2.0,))[1] == 2.0
    assert wengert.derivative(log1pexp)(1000.0) == 1.0
    assert wengert.gradient(log1pexp, 1000.0) == (1.0,)
    assert wengert.hessian(log1pexp)(1000.0) == pytest.approx(0.0)  # sigmoid'(1000), not nan
    # where the source is fine, the rule agrees with finite differences, to second order
    assert wengert.grad(log1pexp)(0.3) == pytest.approx(_fd(log1pexp, 0.3), rel=1e-8)
    sigmoid = 1.0 / (1.0 + math.exp(-0.3))
    assert wengert.hessian(log1pexp)(0.3) == pytest.approx(sigmoid * (1.0 - sigmoid))
    assert wengert.grad(wengert.grad(log1pexp))(0.3) == pytest.approx(sigmoid * (1.0 - sigmoid))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_rule_registered_for_the_differentiated_function_wrt_one_argument():
    assert wengert.grad(scaled_log1pexp, argnums=0)(1000.0, 2.0) == 2.0
    assert wengert.grad(scaled_log1pexp, argnums=1)(1000.0, 2.0) == 1000.0
    v, (gx, gs) = wengert.value_and_grad(scaled_log1pexp, argnums=(0, 1))(1000.0, 2.0)
    assert (gx, gs) == (2.0, 1000.0)
    assert wengert.grad(scaled_log1pexp, argnums=1, mode="tape")(1000.0, 2.0) == 1000.0
    gs = wengert.grad(scaled_log1pexp, argnums=1)(0.3, 2.0)
    assert gs == pytest.approx(_fd(lambda s: scaled_log1pexp(0.3, s), 2.0), rel=1e-8)


def test_show_ir_of_the_gradient_and_of_the_tangent_code():
    from wengert.cli.examples import pow as pow_

    rev = wengert.show_ir(pow_, 2.0, 3, transform="reverse")
    assert rev.startswith("pow_grad(%1, %2, %3, %4)    # _pass, x, n, r_bar")
    assert "method append" in rev and "global reversed" in rev and "# r_bar, x_bar" in rev
    fwd = wengert.show_ir(pow_, 2.0, 3, transform="forward")
    assert fwd.startswith("pow_jvp(") and "# n, r, r_dot" in fwd
    # the programs those IRs print are the ones that run: d/dx x**3 = 3 x**2
    assert wengert.grad(pow_)(2.0, 3) == 12.0 and wengert.jvp(pow_, (2.0, 3), (1.0, None))[1] == 12.0
    with pytest.raises(ValueError, match="transform must be"):
        wengert.show_ir(pow_, 2.0, 3, transform="sideways")
