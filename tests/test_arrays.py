"""Array programs through the source transform, against float64 central differences and JAX.

Each program is plain NumPy code at module level. `assert_grads` checks
`wengert.gradient` against central differences (`wengert.testing.check_grads`)
and, when JAX is installed, against ``jax.grad`` of the same source with
``np`` rebound to ``jax.numpy`` (float64). PyTorch autograd is the oracle for
the programs JAX cannot run as written (in-place updates).
"""

from __future__ import annotations

import itertools
import math
import types

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert
from wengert.testing import check_grads

SETTINGS = settings(max_examples=20, deadline=None)

try:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
except ImportError:  # pragma: no cover - the oracle is optional
    jax = jnp = None


def rng(seed=0):
    return np.random.default_rng(seed)


def _is_float_leaf(a):
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _rebind(f, module):
    """``f`` with the global ``np`` replaced by ``module`` (JAX runs the same source), and so
    are the functions of this module that it calls."""
    g = {**f.__globals__, "np": module}
    for name, v in f.__globals__.items():
        if isinstance(v, types.FunctionType) and v.__module__ == __name__ and name in f.__code__.co_names:
            g[name] = types.FunctionType(v.__code__, g, v.__name__, v.__defaults__, v.__closure__)
    return types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)


def jax_grads(f, *args):
    """``jax.grad`` of ``f`` (rebound to jax.numpy) for every float argument, as NumPy."""
    fj = _rebind(f, jnp)
    nums = tuple(i for i, a in enumerate(args) if _is_float_leaf(a)
                 or (isinstance(a, (list, tuple)) and a and all(_is_float_leaf(e) for e in a)))
    conv = [jnp.asarray(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    g = jax.grad(fj, argnums=nums)(*conv)
    return dict(zip(nums, g))


def _close(got, want, what):
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), what
        for a, b in zip(got, want):
            _close(a, b, what)
        return
    got = np.zeros(np.shape(want)) if got is None else got
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} vs {np.shape(want)}"
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=1e-9, atol=1e-11, err_msg=what)


def assert_grads(f, *args, jax_oracle=True, rtol=1e-5, atol=1e-6):
    """Gradients of ``f`` through the transform: finite differences, and JAX when installed."""
    check_grads(f, *args, modes=("source",), rtol=rtol, atol=atol)
    grads = wengert.gradient(f, *args)
    for a, g in zip(args, grads):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and g is not None:
            # NumPy turns 0-d results into scalars, so a 0-d array's gradient may be one
            ok = isinstance(g, np.ndarray) or (a.ndim == 0 and isinstance(g, np.generic))
            assert ok and g.shape == a.shape, (type(g), np.shape(g), a.shape)
        if isinstance(a, float) and g is not None:
            assert isinstance(g, float), type(g)
    if jax_oracle and jax is not None:
        for i, want in jax_grads(f, *args).items():
            _close(grads[i], want, f"{f.__name__}: argument {i} vs jax.grad")
    return grads


# ---- elementwise and broadcasting ----


def elementwise(x, b, s):
    y = np.exp(-x * s) * np.sin(b) + np.log1p(x ** 2) / (1 + b ** 2)
    z = np.maximum(y, 0.1) + np.tanh(x - b) * np.sqrt(np.abs(b) + 1) - np.arctan2(x, 2.0)
    return np.sum(z ** 3 + np.where(x > 0, x, 2 * x))


def test_elementwise_broadcasting():
    r = rng(1)
    assert_grads(elementwise, r.standard_normal((3, 4)), r.standard_normal(4), 0.7)


def test_elementwise_broadcasting_size_one_and_0d():
    r = rng(2)
    assert_grads(elementwise, r.standard_normal((3, 1)), r.standard_normal((1, 4)), 0.3)
    assert_grads(elementwise, r.standard_normal((2, 3)), np.array(0.4), 1.1)
    assert_grads(elementwise, np.array(0.9), r.standard_normal((2, 1, 3)), 0.5)


def three_way(a, b, c):
    return np.sum(a * b + b / (c * c + 1) - a * c)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_broadcasting_shapes_hypothesis(shapes, seed):
    r = rng(seed)
    a, b, c = (r.standard_normal(s) for s in shapes.input_shapes)
    grads = assert_grads(three_way, a, b, c, jax_oracle=False)
    for g, x in zip(grads, (a, b, c)):
        assert np.shape(g) == np.shape(x)


def empty_sum(x, w):
    return np.sum(np.tanh(x) * w) + np.sum(w ** 2)


def test_empty_array():
    x = np.zeros((0, 3))
    w = rng().standard_normal(3)
    gx, gw = wengert.gradient(empty_sum, x, w)
    assert gx.shape == (0, 3)
    np.testing.assert_allclose(gw, 2 * w)


# ---- reductions ----


def reductions(x):
    m = np.mean(x, axis=0, keepdims=True)
    a = np.sum(m * x)
    b = np.max(x, axis=1).sum() + np.min(x, axis=0, keepdims=True).sum()
    c = np.var(x, axis=-1).sum() + np.std(x)
    d = np.prod(x[:2], axis=1).sum()
    e = np.cumsum(x, axis=1)[:, -1].sum() + np.sum(np.cumprod(x, axis=0))
    return a + b + c + d + e + np.linalg.norm(x)


def logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def lse_loss(x, w):
    return np.sum(logsumexp(x * w, 1) ** 2) + logsumexp(x.ravel(), 0)


def test_reductions_axis_keepdims():
    x = rng(3).standard_normal((3, 4)) + np.arange(12).reshape(3, 4) * 0.1  # distinct maxima
    assert_grads(reductions, x)


def test_logsumexp_composition():
    r = rng(4)
    assert_grads(lse_loss, r.standard_normal((3, 5)), r.standard_normal(5))


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.floats(-2, 2)),
       keepdims=st.booleans(), data=st.data())
def test_sum_mean_axis_hypothesis(x, keepdims, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))

    def f(x):
        return np.sum(np.sum(x * x, axis=axis, keepdims=keepdims) * np.mean(np.sin(x), axis=axis,
                                                                          keepdims=keepdims))

    grads = wengert.gradient(f, x)
    want = jax_grads(f, x)[0] if jax is not None else None
    check_grads(f, x, modes=("source",))
    if want is not None:
        _close(grads[0], want, "sum/mean axis")


# ---- matmul chains and products ----


def chain(A, B, C, v):
    return v @ A @ B @ C @ v + np.dot(A, B).trace() + np.einsum("ij,jk->", A, B)


def quad_form(x, A):
    return x.T @ A @ x + np.inner(x, x) + np.outer(x, x).sum() + np.vdot(x, A @ x)


def test_matmul_chain():
    r = rng(5)
    assert_grads(chain, r.standard_normal((4, 3)), r.standard_normal((3, 5)), r.standard_normal((5, 4)),
                 r.standard_normal(4))


def test_quadratic_forms():
    r = rng(6)
    assert_grads(quad_form, r.standard_normal(3), r.standard_normal((3, 3)))


def batched(A, B):
    return np.sum(np.tanh(A @ B))


def test_batched_matmul_broadcasts():
    r = rng(7)
    assert_grads(batched, r.standard_normal((2, 3, 4)), r.standard_normal((4, 2)))


# ---- indexing ----


def basic_index(x):
    return np.sum(x[1:, ::2] ** 2) + x[0, 1] * x[-1, -1] + np.sum(x[..., None] * x[:, None, :1])


def advanced_index(x, idx):
    rows = x[idx]  # repeated indices accumulate
    return np.sum(rows ** 2) + np.sum(x[idx, 1]) + np.sum(x[[0, 2], [1, 3]] ** 3)


def mask_index(x):
    pos = x[x > 0]
    return np.sum(pos ** 2) - np.sum(np.where(x < 0, x, 0.0) ** 3) + np.sum(x[:, x[0] > 0])


def test_basic_indexing():
    assert_grads(basic_index, rng(8).standard_normal((3, 4)))


def test_advanced_indexing_repeats():
    assert_grads(advanced_index, rng(9).standard_normal((4, 4)), np.array([0, 2, 2, 3, 0]))


def test_boolean_mask():
    x = rng(10).standard_normal((3, 4))
    x[np.abs(x) < 0.1] = 0.5  # away from the mask's edge
    assert_grads(mask_index, x, jax_oracle=False)  # jax cannot trace data-dependent shapes
    gx = wengert.gradient(mask_index, x)[0]
    assert gx.shape == x.shape


def take_sort(x, idx):
    s = np.sort(x)
    order = np.argsort(x)
    return np.sum(s * np.arange(x.size)) + np.sum(np.take(x, idx) ** 2) + x[order[-1]] * 3.0


def test_take_and_sort():
    x = rng(11).permutation(6) * 0.3 + 0.1
    assert_grads(take_sort, x, np.array([1, 1, 4]))


# ---- array methods ----


def methods(x, y):
    a = x.sum(axis=0).dot(y.T.sum(axis=1))
    b = x.reshape(-1).mean() + x.T.max() + x.reshape(2, 6).std(axis=1).sum()
    c = x.astype(np.float64).prod() + x.transpose(1, 0).cumsum(axis=0)[-1].sum()
    return a + b + c + x.ravel()[3] * y.flatten().min() + x.clip(-0.5, 0.5).sum()


def test_array_methods():
    r = rng(12)
    x = r.standard_normal((3, 4)) + np.arange(12).reshape(3, 4) * 0.05
    assert_grads(methods, x, r.standard_normal((3, 4)) + np.arange(12).reshape(3, 4) * 0.1)


# ---- np.array of differentiable scalars, constructors ----


def from_scalars(a, b):
    v = np.array([a * b, np.sin(a), b, 2.0])
    w = np.asarray([[a, 1.0], [b * b, a + b]])
    return np.sum(v * v) + np.linalg.det(w)


def from_comprehension(x):
    v = np.array([x[i] * x[i + 1] for i in range(len(x) - 1)])
    return np.sum(np.exp(v))


def test_array_of_scalars():
    grads = assert_grads(from_scalars, 0.7, -1.3)
    assert all(isinstance(g, float) for g in grads)


def test_array_of_comprehension():
    assert_grads(from_comprehension, rng(13).standard_normal(4), jax_oracle=False)


def constructors(s, n):  # s a float, or a 0-d array
    a = np.zeros(n) + s
    b = np.ones((n, 2)) * s ** 2
    c = np.eye(n) * s
    d = np.full((n,), s) * np.arange(n)
    e = np.linspace(0.0, s, n)
    return np.sum(a) + np.sum(b) + np.trace(c) + np.sum(d * d) + np.sum(e ** 2)


def _check_constructors(s):
    n = 4
    gs, gn = wengert.gradient(constructors, s, n)
    assert gn is None  # no gradient to a size
    assert np.shape(gs) == ()
    check_grads(lambda s: constructors(s, n), s, modes=("source",))
    if jax is not None:
        _close(gs, jax.grad(_rebind(constructors, jnp))(s, n), "constructors vs jax")


def test_constructors_0d():
    _check_constructors(np.array(1.5))


def ones_times_float(s, n):
    return np.sum(np.ones((n, 2)) * s)


def test_constructors_float():
    _check_constructors(1.5)


def test_float_times_constructor_is_float():
    g = wengert.grad(ones_times_float)(1.5, 4)
    assert isinstance(g, float) and g == 8.0


def mean_by_shape(x):
    n, k = x.shape
    return np.sum(x) / x.shape[0] + np.sum(x) / (n * k)


def test_shape_attribute_has_no_gradient():
    x = rng(20).standard_normal((3, 2))
    np.testing.assert_allclose(wengert.grad(mean_by_shape)(x), np.full((3, 2), 1 / 3 + 1 / 6))


# ---- realistic programs: MLP training ----


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - Y) ** 2)


def _mlp_data(batch=16, d_in=5, hidden=8, d_out=3, seed=14):
    r = rng(seed)
    params = [r.standard_normal((d_in, hidden)) / math.sqrt(d_in), np.zeros(hidden),
              r.standard_normal((hidden, d_out)) / math.sqrt(hidden), np.zeros(d_out)]
    X = r.standard_normal((batch, d_in))
    Y = np.sin(X[:, :d_out]) + 0.1 * X[:, d_out - 1:d_out]
    return params, X, Y


def test_mlp_gradient():
    params, X, Y = _mlp_data(batch=6, d_in=3, hidden=4, d_out=2)
    assert_grads(mlp_loss, *params, X, Y)


def train(params, X, Y, steps, lr):
    step = wengert.value_and_grad(mlp_loss, argnums=(0, 1, 2, 3))
    losses = []
    for _ in range(steps):
        loss, grads = step(*params, X, Y)
        params = [p - lr * g for p, g in zip(params, grads)]
        losses.append(loss)
    return params, losses


def test_mlp_training_matches_jax():
    params, X, Y = _mlp_data()
    trained, losses = train(params, X, Y, steps=8, lr=0.2)
    assert losses[-1] < 0.8 * losses[0]
    assert all(b <= a for a, b in itertools.pairwise(losses))
    if jax is not None:
        jstep = jax.value_and_grad(_rebind(mlp_loss, jnp), argnums=(0, 1, 2, 3))
        jp = [jnp.asarray(p) for p in params]
        for loss in losses:
            jl, jg = jstep(*jp, X, Y)
            np.testing.assert_allclose(loss, float(jl), rtol=1e-10)
            jp = [p - 0.2 * g for p, g in zip(jp, jg)]
        for a, b in zip(trained, jp):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(batch=st.integers(1, 4), d_in=st.integers(1, 3), hidden=st.integers(1, 4),
       d_out=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_mlp_shapes_hypothesis(batch, d_in, hidden, d_out, seed):
    r = rng(seed)
    args = [r.standard_normal(s) for s in [(d_in, hidden), (hidden,), (hidden, d_out), (d_out,),
                                           (batch, d_in), (batch, d_out)]]
    assert_grads(mlp_loss, *args, jax_oracle=False)


# ---- realistic programs: RNN, softmax cross-entropy, Gaussian log-likelihood ----


def rnn_loss(Wx, Wh, b, Wo, xs, y):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h @ Wo - y) ** 2)


def rnn_list_loss(Wx, Wh, xs):
    h = np.zeros(Wh.shape[0])
    total = 0.0
    for x in xs:
        h = np.tanh(Wx @ x + Wh @ h)
        total = total + np.sum(h) ** 2
    return total


def test_rnn_unrolled_loop():
    r = rng(15)
    T, B, D, H, O = 5, 3, 2, 4, 2
    assert_grads(rnn_loss, r.standard_normal((D, H)) * 0.5, r.standard_normal((H, H)) * 0.5,
                 r.standard_normal(H), r.standard_normal((H, O)), r.standard_normal((T, B, D)),
                 r.standard_normal((B, O)))


def test_rnn_over_list_of_inputs():
    r = rng(16)
    xs = [r.standard_normal(2) for _ in range(4)]
    assert_grads(rnn_list_loss, r.standard_normal((3, 2)), r.standard_normal((3, 3)) * 0.5, xs)


def softmax_xent(W, b, X, labels):
    logits = X @ W + b
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(X.shape[0]), labels])


def softmax_xent_onehot(W, X, onehot):
    logits = X @ W
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return -np.sum(onehot * np.log(p)) / len(X)


def test_softmax_cross_entropy():
    r = rng(17)
    X, labels = r.standard_normal((6, 4)), np.array([0, 2, 1, 2, 0, 1])
    W, b = r.standard_normal((4, 3)), r.standard_normal(3)
    assert_grads(softmax_xent, W, b, X, labels)
    assert_grads(softmax_xent_onehot, W, X, np.eye(3)[labels])
    # the two formulations agree on the weight gradient
    _close(wengert.grad(softmax_xent)(W, 0 * b, X, labels),
           wengert.grad(softmax_xent_onehot)(W, X, np.eye(3)[labels]), "xent forms")


def gauss_loglik(L, mu, X):
    n, k = len(X), len(mu)
    S = L @ L.T + 0.5 * np.eye(k)
    _sign, logdet = np.linalg.slogdet(S)
    d = X - mu
    sol = np.linalg.solve(S, d.T)
    return -0.5 * (n * logdet + np.sum(d.T * sol) + n * k * np.log(2 * np.pi))


def test_gaussian_log_likelihood():
    r = rng(18)
    L, mu, X = r.standard_normal((3, 3)), r.standard_normal(3), r.standard_normal((7, 3))
    assert_grads(gauss_loglik, L, mu, X)
    # analytic: d/dmu = S^-1 sum(x - mu)
    S = L @ L.T + 0.5 * np.eye(3)
    np.testing.assert_allclose(wengert.grad(gauss_loglik, argnums=1)(L, mu, X),
                               np.linalg.solve(S, (X - mu).sum(axis=0)), rtol=1e-10)


# ---- in-place updates (item assignment lands with the integrator's mutation work) ----

def _set_after_sum(x):
    a = x * 1.0
    a[0] = x[1]
    a[1] += x[0]
    return np.sum(a)


def heat(u0, r, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u ** 2)


def scatter_add(x, v, idx):
    a = np.zeros(3)
    for i in idx:
        a[i] += v * x[i]
    a[0] = a[0] * a[1]
    return np.sum(a * a)


def _heat_torch(u0, r, steps):
    import torch

    u0 = torch.tensor(u0, requires_grad=True)
    rt = torch.tensor(r, requires_grad=True, dtype=torch.float64)
    u = u0.clone()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + rt * (u[2:] - 2 * u[1:-1] + u[:-2])
    torch.sum(u ** 2).backward()
    return u0.grad.numpy(), float(rt.grad)


def test_heat_equation_in_place():
    u0 = np.sin(np.linspace(0, np.pi, 9)) + 0.1 * np.linspace(0, 1, 9) ** 2
    gu, gr, gs = wengert.gradient(heat, u0, 0.2, 6)
    assert gs is None
    check_grads(lambda u, r: heat(u, r, 6), u0, 0.2, modes=("source",))
    try:
        tu, tr = _heat_torch(u0, 0.2, 6)
    except ImportError:
        return
    _close(gu, tu, "heat vs torch")
    np.testing.assert_allclose(gr, tr, rtol=1e-10)


def test_setitem_into_reduction_cotangent():
    # the cotangent of `a` is sum's read-only broadcast view; writes must not go into it
    np.testing.assert_allclose(wengert.grad(_set_after_sum)(np.array([1.0, 2.0])), [1.0, 2.0])


def test_scatter_add_in_loop():
    x = np.array([0.5, -1.2, 2.0])
    check_grads(lambda x, v: scatter_add(x, v, [0, 2, 1, 2]), x, 0.7, modes=("source",))
