"""NumPy decomposition rules (svd, pinv, qr, lstsq, eig, ...) against float64 finite differences and JAX."""

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values
from _fd import assert_nondiff, vjp


def well_conditioned(shape, seed):
    a = values(shape, seed)
    m, n = shape[-2:]
    return a + 2.0 * np.eye(m, n)




@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_svd(shape):
    a = well_conditioned(shape, 1)
    check_array_rule(np.linalg.svd, a, kwargs={"full_matrices": False}, rtol=1e-5)
    check_array_rule(np.linalg.svd, a, kwargs={"compute_uv": False})
    check_array_rule(np.linalg.svdvals, a)
    if shape[-1] == shape[-2]:
        check_array_rule(np.linalg.svd, a, rtol=1e-5)


def test_svd_full_matrices_extra_columns_refused():
    a = well_conditioned((4, 2), 1)
    u, s, vh = np.linalg.svd(a)
    gu = np.ones_like(u)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        vjp(np.linalg.svd, 0, (gu, np.ones(2), np.zeros_like(vh)), a)
    ct = vjp(np.linalg.svd, 0, (None, np.ones(2), None), a)  # singular values only: fine
    np.testing.assert_allclose(ct, u[:, :2] @ vh)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_pinv_lstsq(shape):
    a = well_conditioned(shape, 1)
    check_array_rule(np.linalg.pinv, a)
    if len(shape) == 2:
        check_array_rule(np.linalg.lstsq, a, values(shape[:1], 2))
        check_array_rule(np.linalg.lstsq, a, values((shape[0], 2), 3))


@pytest.mark.parametrize(("shape", "mode"), [((3, 3), "reduced"), ((4, 2), "reduced"), ((4, 3), "r"),
                                             ((2, 3, 2), "reduced"), ((3, 3), "complete")])
def test_qr(shape, mode):
    check_array_rule(np.linalg.qr, well_conditioned(shape, 1), mode)


def test_qr_wide_refused():
    with pytest.raises(NotImplementedError):
        vjp(np.linalg.qr, 0, (np.ones((2, 2)), np.ones((2, 3))), values((2, 3), 1))


def test_eig_real_spectrum():
    p = np.eye(3) + 0.3 * values((3, 3), 1)
    a = p @ np.diag([1.0, -2.0, 3.5]) @ np.linalg.inv(p)  # real, distinct eigenvalues
    check_array_rule(np.linalg.eig, a, rtol=1e-5)
    check_array_rule(np.linalg.eigvals, a)


def test_eig_complex_spectrum_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    a = np.array([[0.5, -2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.4, 1.0]])
    w, v = np.linalg.eig(a)
    assert np.iscomplexobj(w)
    gw = values((3,), 1) + 1j * values((3,), 2)
    _, back = jax.vjp(lambda x: jax.numpy.linalg.eigvals(x), a)
    np.testing.assert_allclose(vjp(np.linalg.eigvals, 0, gw, a), np.real(back(gw)[0]), rtol=1e-8)


def test_powers_and_chains():
    a = well_conditioned((3, 3), 1)
    for n in (0, 1, 3, -2):
        check_array_rule(np.linalg.matrix_power, a, n)
    chain = [values((3,), 1), values((3, 4), 2), values((4, 2), 3), values((2,), 4)]
    check_array_rule(np.linalg.multi_dot, chain)
    check_array_rule(np.linalg.multi_dot, [values((2, 3), 1), values((3, 4), 2), values((4, 2), 3)])


@pytest.mark.parametrize("p", [None, 2, -2, "fro", 1, np.inf])
def test_cond(p):
    check_array_rule(np.linalg.cond, well_conditioned((3, 3), 1), p, wrt=[0])


def test_norms():
    x = values((2, 3, 4), 1)
    check_array_rule(np.linalg.vector_norm, x)
    check_array_rule(np.linalg.vector_norm, x, kwargs={"axis": (0, 2), "keepdims": True})
    check_array_rule(np.linalg.vector_norm, x, kwargs={"axis": 1, "ord": 3})
    check_array_rule(np.linalg.matrix_norm, x)
    check_array_rule(np.linalg.matrix_norm, x, kwargs={"ord": "nuc", "keepdims": True})


def test_tensor_inverse_and_solve():
    a = well_conditioned((6, 6), 1).reshape(2, 3, 6)
    check_array_rule(np.linalg.tensorinv, well_conditioned((6, 6), 1).reshape(6, 2, 3), 1)
    check_array_rule(np.linalg.tensorsolve, a, values((2, 3), 2))


def test_aliases_and_nondiff():
    check_array_rule(np.linalg.outer, values((3,), 1), values((2,), 2))
    check_array_rule(np.linalg.tensordot, values((2, 3), 1), values((3, 2), 2), kwargs={"axes": 1})
    assert_nondiff(np.linalg.matrix_rank)
    check_array_rule(np.matvec, values((2, 3, 4), 1), values((4,), 2))
    check_array_rule(np.vecmat, values((3,), 1), values((2, 3, 4), 2))
    with pytest.warns(DeprecationWarning):
        check_array_rule(np.row_stack, [values((3,), 1), values((2, 3), 2)])


def test_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    a = well_conditioned((4, 3), 1)
    jax_check(np.linalg.pinv, jnp.linalg.pinv, a)
    jax_check(np.linalg.svd, jnp.linalg.svd, a, kwargs={"compute_uv": False})
    jax_check(np.linalg.matrix_power, jnp.linalg.matrix_power, well_conditioned((3, 3), 2), 3)
    jax_check(np.linalg.cond, jnp.linalg.cond, well_conditioned((3, 3), 2))
