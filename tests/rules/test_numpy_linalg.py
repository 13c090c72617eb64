"""NumPy products and linear-algebra rules against float64 finite differences and JAX."""

import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from _array_fd import SETTINGS, check_array_rule, jax_check, separated, values
from _fd import jvp, vjp
from hypothesis import assume, given
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.rules.numpy_linalg import parse_einsum

# ---- products ----


@pytest.mark.parametrize("fn", [np.matmul, operator.matmul, np.linalg.matmul])
@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_matmul(fn, shapes, seed):
    a, b = (values(s, seed + i) for i, s in enumerate(shapes.input_shapes))
    check_array_rule(fn, a, b)


DOT_SHAPES = [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
              ((2, 2, 3), (3,)), ((2, 3), (4, 3, 2)), ((2, 2, 3), (2, 3, 4)), ((0, 3), (3, 2))]


@pytest.mark.parametrize(("sa", "sb"), DOT_SHAPES)
def test_dot(sa, sb):
    a, b = values(sa, 1), values(sb, 2)
    check_array_rule(np.dot, a, b)
    if a.ndim:
        check_array_rule(np.ndarray.dot, a, b)


@pytest.mark.parametrize(("sa", "sb"), [((3,), (3,)), ((2, 3), (4, 3)), ((), (2, 3)), ((2, 2, 3), (3,))])
def test_inner(sa, sb):
    check_array_rule(np.inner, values(sa, 1), values(sb, 2))


def test_outer_vdot_vecdot():
    check_array_rule(np.outer, values((3,), 1), values((2,), 2))
    check_array_rule(np.outer, values((2, 2), 1), values((3,), 2))
    check_array_rule(np.vdot, values((2, 3), 1), values((6,), 2))
    check_array_rule(np.vecdot, values((2, 1, 3), 1), values((4, 3), 2))
    check_array_rule(np.linalg.vecdot, values((3, 2), 1), values((3, 2), 2), kwargs={"axis": 0})


@pytest.mark.parametrize(("sa", "sb", "axes"), [
    ((2, 3), (3, 4), 1), ((2, 3, 4), (3, 4, 2), 2), ((2,), (3,), 0), ((2, 3, 4), (4, 3), ([1, 2], [1, 0])),
    ((3, 2), (2, 3), ([0], [1])),
])
def test_tensordot(sa, sb, axes):
    check_array_rule(np.tensordot, values(sa, 1), values(sb, 2), axes)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]), ("ij", [(2, 3)]), ("ji", [(2, 3)]), ("bA", [(2, 3)]), ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]), ("ijk,jl,l->ik", [(2, 3, 2), (3, 4), (4,)]), ("iij->ij", [(2, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]), ("...i,...i->...", [(1, 3), (2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), (",i->i", [(), (3,)]), ("i...->...", [(2, 3, 1)]),
    ("ij,jk", [(2, 3), (3, 2)]), ("i,i,i->", [(3,), (3,), (3,)]), ("ii,i->i", [(2, 2), (2,)]),
]


@pytest.mark.parametrize(("spec", "shapes"), EINSUMS)
def test_einsum(spec, shapes):
    ops = [values(s, i) for i, s in enumerate(shapes)]
    check_array_rule(np.einsum, spec, *ops)
    check_array_rule(np.einsum, spec, *ops, kwargs={"optimize": True})


def test_einsum_parse():
    assert parse_einsum("ji", [(2, 3)]) == (["ji"], "ij")
    terms, out = parse_einsum("...i,...i", [(1, 3), (2, 3)])
    assert terms[0][0] != terms[1][0] and out == terms[1][0]  # the size-1 axis gets its own letter
    with pytest.raises(NotImplementedError):
        get_rule(np.einsum).rrule(values((2,), 0), [0])


def test_matmul_on_torch_tensors():
    torch = pytest.importorskip("torch")
    rule = get_rule(np.matmul)
    for sa, sb in [((2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 1, 2, 3), (3,))]:
        a, b = values(sa, 1), values(sb, 2)
        g = values(np.shape(a @ b), 3)
        for i in (0, 1):
            got = rule.vjps[i](torch.tensor(g), None, torch.tensor(a), torch.tensor(b))
            assert isinstance(got, torch.Tensor)
            np.testing.assert_allclose(got.numpy(), rule.vjps[i](g, None, a, b), rtol=1e-12)


def test_products_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.matmul, jnp.matmul, values((2, 1, 2, 3), 1), values((3, 3, 4), 2))
    jax_check(np.matmul, jnp.matmul, values((3,), 1), values((2, 3, 4), 2))
    jax_check(np.einsum, jnp.einsum, "ijk,jl,l->ik", values((2, 3, 2), 1), values((3, 4), 2),
              values((4,), 3), wrt=[1, 2, 3])
    jax_check(np.einsum, jnp.einsum, "ii->i", values((3, 3), 1), wrt=[1])
    jax_check(np.tensordot, jnp.tensordot, values((2, 3, 4), 1), values((4, 3), 2), ([1, 2], [1, 0]), wrt=[0, 1])
    jax_check(np.dot, jnp.dot, values((2, 3), 1), values((4, 3, 2), 2))


# ---- diagonals and traces ----


@pytest.mark.parametrize(("shape", "offset", "axis1", "axis2"), [
    ((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -1, 0, 1), ((2, 3, 4), 1, 2, 0), ((2, 3, 3), 0, -2, -1),
    ((2, 3), 5, 0, 1),
])
def test_trace_diagonal(shape, offset, axis1, axis2):
    a = values(shape, 1)
    for fn in (np.trace, np.diagonal, np.ndarray.trace, np.ndarray.diagonal):
        check_array_rule(fn, a, offset, axis1, axis2)


def test_linalg_trace_diagonal_and_diag():
    a = values((2, 3, 4), 1)
    check_array_rule(np.linalg.trace, a, kwargs={"offset": 1})
    check_array_rule(np.linalg.diagonal, a, kwargs={"offset": -1})
    for k in (-1, 0, 2):
        check_array_rule(np.diag, values((3,), 1), k)  # vector -> matrix
        check_array_rule(np.diag, values((3, 4), 1), k)  # matrix -> diagonal


# ---- solves and decompositions ----


def well_conditioned(shape, seed):
    return values(shape, seed) + 3 * np.eye(shape[-1])


def spd(n, seed, batch=()):
    m = values(batch + (n, n), seed)
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize(("sa", "sb"), [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)),
                                        ((2, 3, 3), (2, 3, 2)), ((3, 3), (2, 3, 2))])
def test_solve(sa, sb):
    check_array_rule(np.linalg.solve, well_conditioned(sa, 1), values(sb, 2))


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (1, 1)])
def test_inv_det_slogdet(shape):
    a = well_conditioned(shape, 4)
    check_array_rule(np.linalg.inv, a)
    check_array_rule(np.linalg.det, a)
    check_array_rule(np.linalg.det, -a)
    check_array_rule(np.linalg.slogdet, a)
    check_array_rule(np.linalg.slogdet, -a)


def check_symmetric(fn, a, g, kwargs=None, seed=0, h=1e-5):
    """``fn`` of a symmetric matrix: vjp and jvp against differences along a symmetric direction."""
    kwargs = kwargs or {}
    v = values(a.shape, seed)
    v = v + np.swapaxes(v, -1, -2)
    fd = (dot(g, fn(a + h * v, **kwargs)) - dot(g, fn(a - h * v, **kwargs))) / (2 * h)
    rule = get_rule(fn)
    _, back = rule.rrule(a, **kwargs)
    ct = back(g)[0]
    assert ct.shape == a.shape
    np.testing.assert_allclose(ct, np.swapaxes(ct, -1, -2), atol=1e-12)  # cotangents are symmetric
    np.testing.assert_allclose(np.sum(ct * v), fd, rtol=1e-6, atol=1e-8)
    _, t = rule.frule((v,), a, **kwargs)
    np.testing.assert_allclose(dot(g, t), fd, rtol=1e-6, atol=1e-8)
    return ct


def dot(a, b):
    if isinstance(a, tuple):
        return sum(dot(p, q) for p, q in zip(a, b) if p is not None and q is not None)
    return float(np.sum(a * b))


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(batch, upper):
    a = spd(3, 1, batch)
    check_symmetric(np.linalg.cholesky, a, values(a.shape, 2), {"upper": upper})


class SignFreeEigh:
    """``w . gw + sum(W * (V diag(c) V^T))``: a loss of ``eigh`` blind to eigenvector signs."""

    def __init__(self, shape, seed):
        n = shape[-1]
        self.gw, self.W, self.c = values(shape[:-1], seed), values(shape, seed + 1), values((n,), seed + 2)

    def __call__(self, a):
        w, v = np.linalg.eigh(a)
        return float(np.sum(self.gw * w) + np.sum(self.W * ((v * self.c) @ np.swapaxes(v, -1, -2))))

    def cotangent(self, v):
        return self.gw, (self.W + np.swapaxes(self.W, -1, -2)) @ v * self.c


@pytest.mark.parametrize("batch", [(), (2,)])
def test_eigh(batch):
    a = spd(3, 1, batch) - 2 * np.eye(3)
    loss = SignFreeEigh(a.shape, 5)
    _, v = np.linalg.eigh(a)
    s = values(a.shape, 7)
    s = s + np.swapaxes(s, -1, -2)
    h = 1e-5
    fd = (loss(a + h * s) - loss(a - h * s)) / (2 * h)
    gw, gv = loss.cotangent(v)
    _, back = get_rule(np.linalg.eigh).rrule(a)
    ct = back((gw, gv))[0]
    np.testing.assert_allclose(np.sum(ct * s), fd, rtol=1e-6)
    _, (tw, tv) = get_rule(np.linalg.eigh).frule((s,), a)
    np.testing.assert_allclose(np.sum(gw * tw) + np.sum(gv * tv), fd, rtol=1e-6)
    check_symmetric(np.linalg.eigvalsh, a, values(a.shape[:-1], 3))


def test_eigh_degenerate_eigenspace():
    # repeated eigenvalue 1: eigenvectors are defined up to a rotation of the pair, but the
    # trace and the projector onto the pair's eigenspace are smooth, and their gradients right
    a = np.diag([1.0, 1.0, 3.0]) + 0.0
    _, back = get_rule(np.linalg.eigh).rrule(a)
    np.testing.assert_allclose(back((np.ones(3), None))[0], np.eye(3), atol=1e-14)
    W = values((3, 3), 1)
    mask = np.array([1.0, 1.0, 0.0])

    def loss(x):
        v = np.linalg.eigh(x)[1] * mask
        return np.sum(W * (v @ v.T))

    v = np.linalg.eigh(a)[1]
    ct = back((None, (W + W.T) @ v * mask))[0]
    s = values((3, 3), 2)
    s = s + s.T
    fd = (loss(a + 1e-5 * s) - loss(a - 1e-5 * s)) / 2e-5
    np.testing.assert_allclose(np.sum(ct * s), fd, rtol=1e-6)


def test_linalg_against_jax():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a, b = well_conditioned((2, 3, 3), 1), values((3, 2), 2)
    jax_check(np.linalg.solve, jnp.linalg.solve, a, b)
    jax_check(np.linalg.inv, jnp.linalg.inv, a)
    jax_check(np.linalg.det, jnp.linalg.det, a)
    jax_check(np.linalg.slogdet, jnp.linalg.slogdet, -a)
    s = spd(3, 3)
    jax_check(np.linalg.cholesky, jnp.linalg.cholesky, s)
    jax_check(np.linalg.eigvalsh, jnp.linalg.eigvalsh, s)
    loss = SignFreeEigh(s.shape, 4)

    def jax_loss(x):
        w, v = jnp.linalg.eigh(x)
        return jnp.sum(loss.gw * w) + jnp.sum(loss.W * ((v * loss.c) @ v.T))

    _, v = np.linalg.eigh(s)
    ours = get_rule(np.linalg.eigh).rrule(s)[1](loss.cotangent(v))[0]
    theirs = np.asarray(jax.grad(jax_loss)(s))
    np.testing.assert_allclose(ours, (theirs + theirs.T) / 2, rtol=1e-8, atol=1e-10)


# ---- norms ----

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, 0.5, 0]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@SETTINGS
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_vector_norm(ord, n, seed):
    x, m = values((n,), seed), values((2, n), seed + 1)
    for row in [x, *m]:  # away from the kinks: zero entries, and ties of |x| for the inf norms
        if ord in (np.inf, -np.inf):
            separated(np.abs(row), gap=5e-3)
        assume(np.min(np.abs(row)) > 5e-3)
    check_array_rule(np.linalg.norm, x, ord, wrt=[0])
    check_array_rule(np.linalg.norm, m, ord, kwargs={"axis": 1, "keepdims": True}, wrt=[0])
    check_array_rule(np.linalg.norm, m, ord, -1, wrt=[0])


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@SETTINGS
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=st.integers(0, 2**32 - 1))
def test_matrix_norm(ord, shape, seed):
    x = values(shape, seed)
    # away from the kinks: zero entries, ties of the largest column / row sums, of singular values
    assume(np.min(np.abs(x)) > 5e-3)
    if ord in (1, -1, np.inf, -np.inf):  # column sums, and row sums for the (2, 1) call below
        separated(np.sum(np.abs(x), axis=0), gap=5e-3)
        separated(np.sum(np.abs(x), axis=1), gap=5e-3)
    if ord in ("nuc", 2, -2):
        separated(np.linalg.svd(x, compute_uv=False), [0.0], gap=5e-3)
    check_array_rule(np.linalg.norm, x, ord, wrt=[0])
    check_array_rule(np.linalg.norm, np.stack([x, 2 * x]), ord, (2, 1), wrt=[0])


def test_norm_of_zero_and_frobenius_default():
    np.testing.assert_array_equal(vjp(np.linalg.norm, 0, 1.0, np.zeros(3)), np.zeros(3))
    check_array_rule(np.linalg.norm, values((2, 3, 2), 1))
    x = values((3, 4), 2)
    np.testing.assert_allclose(jvp(np.linalg.norm, 0, x, x), np.linalg.norm(x))  # Euler: homogeneous of degree 1
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.linalg.norm, jnp.linalg.norm, x, kwargs={"axis": 1})
    jax_check(np.linalg.norm, jnp.linalg.norm, x, "nuc")
