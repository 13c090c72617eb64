"""The same array programs on NumPy, array_api_strict and PyTorch CPU tensors.

Each program is written against the array API namespace of its input
(``xp = array_api_compat.array_namespace(x)``), as back-end-independent code
is. Its gradient through the transform is checked against float64 central
differences on NumPy, and on every other back end it must be an array of that
back end, of the input's shape, equal to the NumPy gradient.
"""

from __future__ import annotations

import operator

import array_api_compat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert
from wengert.testing import check_grads


def _strict():
    xs = pytest.importorskip("array_api_strict")
    return xs.asarray, (lambda a: isinstance(a, type(xs.asarray(0.0))))


def _torch():
    torch = pytest.importorskip("torch")
    return torch.tensor, (lambda a: isinstance(a, torch.Tensor))


BACKENDS = {"array_api_strict": _strict, "torch": _torch}


def to_numpy(a):
    if a is None or isinstance(a, (float, np.ndarray, np.generic)):
        return a
    if array_api_compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    return np.from_dlpack(a)


def check_backends(f, *args, backends=tuple(BACKENDS)):
    """``f``'s NumPy gradient against finite differences, then the same on every back end."""
    if not backends:
        check_grads(f, *args, modes=("source",))
    want = wengert.gradient(f, *args)
    value = float(f(*args))
    for name in backends:
        convert, is_native = BACKENDS[name]()
        xargs = [convert(a) if isinstance(a, np.ndarray) else a for a in args]
        got = wengert.gradient(f, *xargs)
        assert float(to_numpy(f(*xargs))) == pytest.approx(value, rel=1e-12)
        for i, (a, g, w) in enumerate(zip(xargs, got, want)):
            if w is None:
                continue
            assert g is not None, f"{name}: no gradient for argument {i}"
            if isinstance(args[i], np.ndarray):
                assert is_native(g), f"{name}: gradient {i} is a {type(g).__name__}"
                assert tuple(g.shape) == args[i].shape
            np.testing.assert_allclose(to_numpy(g), w, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name}: argument {i}")


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- programs written against the array API ----


def mlp(W1, b1, W2, b2, X, Y):
    xp = array_api_compat.array_namespace(X)
    h = xp.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return xp.mean((out - Y) ** 2)


def rosenbrock(x):
    xp = array_api_compat.array_namespace(x)
    a = x[:-1]
    return xp.sum(100.0 * (x[1:] - a * a) ** 2 + (1.0 - a) ** 2)


def rnn(Wx, Wh, b, xs, h0):
    xp = array_api_compat.array_namespace(xs)
    h = h0
    for t in range(xs.shape[0]):
        h = xp.tanh(xs[t, ...] @ Wx + h @ Wh + b)
    return xp.sum(h * h)


def softmax_xent(W, b, X, onehot):
    xp = array_api_compat.array_namespace(X)
    logits = X @ W + b
    z = logits - xp.max(logits, axis=1, keepdims=True)
    logp = z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))
    return -xp.mean(xp.sum(onehot * logp, axis=1))


def elementwise_reductions(x, b):
    xp = array_api_compat.array_namespace(x)
    y = xp.exp(-x * x) * xp.sin(b) + xp.sqrt(xp.abs(x) + 1.0) + xp.pow(xp.cosh(x), 2.0)
    r = xp.sum(y) + xp.sum(xp.mean(x, axis=0) ** 2) + xp.sum(xp.var(x, axis=1))
    r = r + xp.sum(xp.maximum(x, b)) + xp.sum(xp.where(x > 0, x, 0.5 * x)) + xp.sum(xp.prod(x, axis=1))
    return r + xp.sum(xp.std(x, axis=0, keepdims=True) * xp.atan(b)) + xp.sum(xp.log1p(x * x))


def shapes(x, y):
    xp = array_api_compat.array_namespace(x)
    a = xp.reshape(x, (4, 3)) @ xp.permute_dims(y, (1, 0))
    c = xp.concat([x, 2.0 * x], axis=0)
    s = xp.stack([x, xp.flip(x, axis=1)], axis=0)
    e = xp.expand_dims(xp.sum(x, axis=1), axis=1)
    return xp.sum(a * a) + xp.sum(c[1:, ::2] ** 3) + xp.sum(s[1, ...] * s[0, ...]) + xp.sum(xp.squeeze(e, axis=1) ** 2)


def gauss_loglik(L, mu, X, n):  # n = X.shape[0]; see test_arrays.test_shape_attribute_has_no_gradient
    xp = array_api_compat.array_namespace(L)
    k = L.shape[0]
    S = L @ xp.matrix_transpose(L) + 0.5 * xp.eye(k, dtype=L.dtype)
    _sign, logdet = xp.linalg.slogdet(S)
    d = X - mu
    sol = xp.linalg.solve(S, xp.matrix_transpose(d))
    return -0.5 * (n * logdet + xp.sum(xp.matrix_transpose(d) * sol))


def indexing(x, idx):
    xp = array_api_compat.array_namespace(x)
    return xp.sum(x[1:, ::2] ** 2) + xp.sum(xp.take(x, idx, axis=0) ** 3) + xp.sum(x[x > 0.0] * 2.0)


def heat(u0, r):
    xp = array_api_compat.array_namespace(u0)
    u = xp.asarray(u0, copy=True)
    for _ in range(4):
        u[1:-1] = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return xp.sum(u * u)


def linalg(A, v, w):
    xp = array_api_compat.array_namespace(A)
    S = A @ xp.matrix_transpose(A) + xp.eye(A.shape[0], dtype=A.dtype)
    L = xp.linalg.cholesky(S)
    evals = xp.linalg.eigvalsh(S)
    r = xp.sum(L * L) + xp.sum(evals ** 2) + xp.linalg.det(S) + xp.sum(xp.linalg.inv(S) * A)
    r = r + xp.linalg.trace(S @ A) + xp.sum(xp.linalg.outer(v, w) * A) + xp.sum(xp.vecdot(A, v))
    return r + xp.sum(xp.linalg.solve(S, v) * w)


# ---- tests ----

PROGRAMS = {  # name -> (program, arguments)
    "mlp": (mlp, lambda r: [r.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,), (5, 3), (5, 2)]]),
    "rosenbrock": (rosenbrock, lambda r: [1.0 + 0.3 * r.standard_normal(7)]),
    "rnn": (rnn, lambda r: [r.standard_normal((2, 3)), 0.5 * r.standard_normal((3, 3)), r.standard_normal(3),
                            r.standard_normal((4, 2, 2)), np.zeros((2, 3))]),
    "softmax_xent": (softmax_xent, lambda r: [r.standard_normal((4, 3)), r.standard_normal(3),
                                              r.standard_normal((5, 4)), np.eye(3)[[0, 2, 1, 1, 0]]]),
    # x away from ties and kinks
    "elementwise_reductions": (elementwise_reductions, lambda r: [
        r.standard_normal((3, 4)) + 0.05 * np.arange(12).reshape(3, 4), r.standard_normal(4) + 3.0]),
    "shapes": (shapes, lambda r: [r.standard_normal((2, 6)), r.standard_normal((5, 3))]),
    "gauss_loglik": (gauss_loglik, lambda r: [r.standard_normal((3, 3)), r.standard_normal(3),
                                              r.standard_normal((6, 3)), 6]),
    "linalg": (linalg, lambda r: [r.standard_normal((3, 3)), r.standard_normal(3), r.standard_normal(3)]),
    "indexing": (indexing, lambda r: [r.standard_normal((3, 4)) + 0.05, np.array([0, 2, 2])]),
    "heat": (heat, lambda r: [np.sin(np.linspace(0.0, 3.0, 8)) + 0.1 * r.standard_normal(8), 0.2]),
}

def _set_slice(u0, r):
    xp = array_api_compat.array_namespace(u0)
    u = u0 * 1.0
    u[1:3] = u[1:3] * r
    return xp.sum(u * u)


def _pow_back(convert, exponent):
    x = convert(np.array([2.0, 3.0]))
    _, back = wengert.pullback(operator.pow, x, exponent)
    return to_numpy(back(x * 0.0 + 1.0)[1])


@pytest.mark.parametrize("backend", ["numpy", *BACKENDS])
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_program(program, backend):
    f, make = PROGRAMS[program]
    args = make(rng(len(program)))
    check_backends(f, *args, backends=() if backend == "numpy" else (backend,))


@pytest.mark.parametrize("backend", [
    "array_api_strict",
    "torch"])
@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), d_in=st.integers(1, 3), hidden=st.integers(1, 4), d_out=st.integers(1, 3),
       seed=st.integers(0, 2 ** 16))
def test_mlp_shapes_hypothesis(backend, batch, d_in, hidden, d_out, seed):
    r = rng(seed)
    args = [r.standard_normal(s) for s in [(d_in, hidden), (hidden,), (hidden, d_out), (d_out,),
                                           (batch, d_in), (batch, d_out)]]
    want = wengert.gradient(mlp, *args)
    convert, _ = BACKENDS[backend]()
    got = wengert.gradient(mlp, *[convert(a) for a in args])
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), w, rtol=1e-10, atol=1e-12, err_msg=backend)


def test_operators_through_runtime_dispatch():
    for name, backend in BACKENDS.items():
        np.testing.assert_allclose(_pow_back(backend()[0], 3), [12.0, 27.0], err_msg=name)


def test_item_assignment_keeps_written_gradient():
    u = np.array([0.1, 0.5, 0.9, 0.3])
    want = wengert.gradient(_set_slice, u, 0.2)[0]
    np.testing.assert_allclose(want, [0.2, 0.04, 0.072, 0.6])
    for name, backend in BACKENDS.items():
        got = wengert.gradient(_set_slice, backend()[0](u), 0.2)[0]
        np.testing.assert_allclose(to_numpy(got), want, err_msg=name)
