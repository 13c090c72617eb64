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
