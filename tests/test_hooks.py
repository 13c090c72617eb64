"""hook, stop_gradient and checkpoint (rules/hooks.py) in every mode: generated reverse code, the tape,
forward mode (jvp, derivative), second order; against finite differences and, when installed, JAX."""

import math

import numpy as np
import pytest

import wengert
from wengert import checkpoint, hook, stop_gradient
from wengert.testing import check_grads


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---- hook ----


def test_hook_identity_matches_finite_differences():
    def f(x, w):
        y = hook(lambda g: g, np.sin(x * w))
        return np.sum(hook(lambda g: g, y * y))

    check_grads(f, np.array([0.3, -0.2, 0.9]), np.array([1.5, 0.5, -2.0]))
    check_grads(lambda x: hook(lambda g: g, math.sin(x)) * x, 0.7)


def test_hook_replaces_the_cotangent():
    f = lambda x: hook(lambda g: 10 * g, x * x)  # noqa: E731
    assert wengert.grad(f)(3.0) == 60.0
    assert wengert.grad(f, mode="tape")(3.0) == 60.0
    assert wengert.gradient(f, 3.0) == (60.0,)


SEEN = []  # what the hooks saw (a global: the tape copies lists passed as arguments)


def hooked_loop(x):
    y = x
    for i in range(3):
        y = hook(lambda g, i=i: (SEEN.append((i, g)), g * 2)[1], y * x)
    return y


@pytest.mark.parametrize("mode", ["source", "tape"])
def test_hook_in_a_loop_runs_once_per_iteration_last_first(mode):
    SEEN.clear()
    x = 1.5
    # cotangents are doubled at each of the three hooks: x_bar = (2 + 4 + 8 + 8) x^3
    assert wengert.grad(hooked_loop, mode=mode)(x) == pytest.approx(22 * x ** 3)
    assert SEEN == [(2, 1.0), (1, 2 * x), (0, 4 * x * x)]


def hooked_rec(x, n):
    if n == 0:
        return x
    return hook(lambda g: (SEEN.append(n), g * 0.5)[1], hooked_rec(x, n - 1) * x)


@pytest.mark.parametrize("mode", ["source", "tape"])
def test_hook_in_recursion(mode):
    SEEN.clear()
    # x^4 with the cotangent halved at each level: (1/2 + 1/4 + 1/8 + 1/8) x^3
    assert wengert.grad(hooked_rec, mode=mode)(1.1, 3) == pytest.approx(1.1 ** 3)
    assert SEEN == [3, 2, 1]


def test_hook_on_arrays_in_a_while_loop():
    mask = np.array([1.0, 0.0, 2.0])

    def f(x):
        y = x
        i = 0
        while i < 3:
            y = hook(lambda g: g * mask, np.sin(y))
            i += 1
        return np.sum(y)

    x = np.array([0.3, 0.4, 0.5])
    expected = np.ones(3)
    ys = [x, np.sin(x), np.sin(np.sin(x))]
    for y in reversed(ys):
        expected = expected * mask * np.cos(y)
    close(wengert.grad(f)(x), expected)
    close(wengert.grad(f, mode="tape")(x), expected)


def test_hook_is_identity_in_forward_mode_and_when_not_differentiated():
    f = lambda x: hook(lambda g: 10 * g, x * x * x)  # noqa: E731
    assert f(2.0) == 8.0
    assert wengert.jvp(f, (2.0,), (1.0,)) == (8.0, 12.0)
    assert wengert.derivative(f)(2.0) == 12.0


def test_hook_second_order():
    f = lambda x: hook(lambda g: 2 * g, x * x * x)  # noqa: E731
    assert wengert.hessian(f)(3.0) == pytest.approx(36.0)  # d/dx (2 * 3x^2)
    assert wengert.grad(wengert.grad(f))(3.0) == pytest.approx(36.0)


def test_hook_clips_gradients():
    def f(x):
        return hook(lambda g: np.clip(g, -1.0, 1.0), x * 5.0).sum()

    close(wengert.grad(f)(np.ones(3)), np.full(3, 5.0))  # the clip acts on the sum's cotangent, 1


# ---- stop_gradient ----


def sg_float(x):
    return x * stop_gradient(x) + stop_gradient(x * x)


def sg_array(x):
    return np.sum(np.sin(x) * stop_gradient(x))


def sg_containers(x):
    d = stop_gradient({"a": x, "b": [x, 2 * x]})
    return d["b"][1] * x + stop_gradient((x,))[0]


@pytest.mark.parametrize("mode", ["source", "tape"])
def test_stop_gradient(mode):
    assert wengert.grad(sg_float, mode=mode)(3.0) == 3.0
    close(wengert.grad(sg_array, mode=mode)(np.arange(3.0)), np.cos(np.arange(3.0)) * np.arange(3.0))
    assert wengert.grad(sg_containers, mode=mode)(2.0) == 4.0


def test_stop_gradient_forward_and_second_order():
    assert wengert.jvp(sg_float, (3.0,), (1.0,)) == (18.0, 3.0)
    assert wengert.derivative(sg_float)(3.0) == 3.0
    assert wengert.hessian(lambda x: x * x * stop_gradient(x))(3.0) == 6.0  # 2 * stop_gradient(x)


def test_stop_gradient_copies_lists_so_their_cotangent_stays_apart():
    def f(xs):
        ys = stop_gradient(xs)
        return ys[0] * xs[0]

    assert wengert.grad(f)([2.0, 3.0]) == [2.0, None]
    xs = [1.0]
    assert stop_gradient(xs) == xs and stop_gradient(xs) is not xs


def test_stop_gradient_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = np.array([0.3, 1.2, -0.7])
    expected = jax.grad(lambda x: jnp.sum(jnp.sin(x) * jax.lax.stop_gradient(x)))(jnp.asarray(x))
    close(wengert.grad(sg_array)(x), np.asarray(expected))


# ---- checkpoint ----


def step(s, p):
    return np.tanh(s * p) + 0.5 * np.sin(s)


checkpointed_step = checkpoint(step)


def run(p, checkpointed):
    s = np.linspace(-1.0, 1.0, 4)
    for _ in range(5):
        s = checkpointed_step(s, p) if checkpointed else step(s, p)
    return np.sum(s * s)


@pytest.mark.parametrize("mode", ["source", "tape"])
def test_checkpoint_same_gradient(mode):
    p = np.array([0.1, 0.2, 0.3, 0.4])
    close(wengert.grad(run, mode=mode)(p, True), wengert.grad(run)(p, False))
    check_grads(lambda p: run(p, True), p)


def test_checkpoint_recomputes_in_the_reverse_pass():
    calls = []

    def f(x):
        calls.append(x)
        return math.sin(x) * x

    ck = checkpoint(f)
    g = wengert.grad(lambda x: ck(ck(x)))(1.0)
    assert g == pytest.approx(wengert.grad(lambda x: f(f(x)))(1.0))
    calls.clear()
    wengert.grad(lambda x: ck(ck(x)))(1.0)
    assert len(calls) == 4  # two forward calls, then each again under the reverse pass
    assert ck(1.0) == f(1.0)


def test_checkpoint_forward_mode_and_second_order():
    s2 = lambda x: math.sin(x) * x  # noqa: E731
    ck = checkpoint(s2)
    plain = lambda x: s2(s2(x))  # noqa: E731
    ckd = lambda x: ck(ck(x))  # noqa: E731
    assert wengert.jvp(ckd, (1.0,), (1.0,)) == pytest.approx(wengert.jvp(plain, (1.0,), (1.0,)))
    assert wengert.derivative(ckd)(1.0) == pytest.approx(wengert.derivative(plain)(1.0))
    assert wengert.hessian(ckd)(1.0) == pytest.approx(wengert.hessian(plain)(1.0))
    assert wengert.grad(wengert.grad(ckd))(1.0) == pytest.approx(wengert.hessian(plain)(1.0))


def test_checkpoint_of_a_closure_differentiates_its_captured_values():
    def made_inside(a):
        f = checkpoint(lambda x: x * a)
        return f(f(a))  # a^3

    assert wengert.grad(made_inside)(3.0) == 27.0
    assert wengert.grad(made_inside, mode="tape")(3.0) == 27.0
    assert wengert.jvp(made_inside, (3.0,), (1.0,)) == (27.0, 27.0)
    assert wengert.hessian(made_inside)(3.0) == pytest.approx(18.0)


def test_checkpoint_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jstep(s, p):
        return jnp.tanh(s * p) + 0.5 * jnp.sin(s)

    def jrun(p):
        s = jnp.linspace(-1.0, 1.0, 4)
        for _ in range(5):
            s = jax.checkpoint(jstep)(s, p)
        return jnp.sum(s * s)

    p = np.array([0.1, 0.2, 0.3, 0.4])
    close(wengert.grad(run)(p, True), np.asarray(jax.grad(jrun)(jnp.asarray(p))))


def test_checkpoint_saves_memory():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "bench" / "checkpoint.py"
    spec = importlib.util.spec_from_file_location("bench_checkpoint", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.run(steps=200, size=256)
    assert r["max_rel_diff"] < 1e-12
    assert r["ratio"] <= 1 / 3, r
