"""Rules of NumPy functions that move elements (labelled gathers) against float64 finite differences."""

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values
from _fd import assert_nondiff

A = values((3, 4), 1)
V = values((4,), 2)

GATHERS = [  # (function, args, kwargs)
    (np.append, (V, values((2,), 3)), {}),
    (np.append, (A, values((1, 4), 3)), {"axis": 0}),
    (np.append, (V, 1.5), {}),
    (np.insert, (V, 1, 2.5), {}),
    (np.insert, (A, [0, 2], values((3, 1), 4)), {"axis": 1}),
    (np.insert, (A, 1, values((4,), 5)), {"axis": 0}),
    (np.delete, (A, 1, 0), {}),
    (np.delete, (V, [0, 2]), {}),
    (np.block, ([[A, values((3, 2), 6)], [values((1, 6), 7)]],), {}),
    (np.block, ([V, 2.0],), {}),
    (np.unstack, (A,), {"axis": 1}),
    (np.resize, (V, (3, 3)), {}),
    (np.rollaxis, (values((2, 3, 4), 1), 2), {}),
    (np.linalg.matrix_transpose, (values((2, 3, 4), 1),), {}),
    (np.meshgrid, (V, values((3,), 2)), {}),
    (np.meshgrid, (V, values((3,), 2)), {"indexing": "ij", "sparse": True}),
    (np.compress, ([True, False, True], A), {"axis": 0}),
    (np.extract, (A > 0, A), {}),
    (np.choose, (np.array([0, 1, 2, 1]), [V, values((4,), 8), 3.0]), {}),
    (np.choose, (np.array([[0, 1], [1, 0]]), [values((2, 2), 1), values((2,), 2)]), {}),
    (np.select, ([V > 0.5, V < -0.5], [V, values((4,), 9)], 1.5), {}),
    (np.tril, (A,), {}),
    (np.triu, (values((2, 3, 3), 1), 1), {}),
    (np.diagflat, (values((2, 2), 1), -1), {}),
    (np.fft.fftshift, (A,), {}),
    (np.fft.ifftshift, (A,), {"axes": 0}),
    (np.partition, (values((7,), 1), 3), {}),
    (np.partition, (A, [1, 2]), {"axis": 1}),
    (np.partition, (A, 5), {"axis": None}),
]


@pytest.mark.parametrize(("fn", "args", "kwargs"), GATHERS, ids=lambda p: getattr(p, "__name__", ""))
def test_gather(fn, args, kwargs):
    check_array_rule(fn, *args, kwargs=kwargs)


def test_trim_zeros():
    # finite differences move the zeros that decide the cut: check the rule against the slice it keeps
    from _fd import jvp, vjp

    x = np.array([0.0, 0.0, 1.5, 0.0, -2.0, 0.0])
    g = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(vjp(np.trim_zeros, 0, g, x), [0, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(jvp(np.trim_zeros, 0, np.arange(6.0), x), [2, 3, 4])
    np.testing.assert_array_equal(vjp(np.trim_zeros, 0, np.ones(5), x, "b"), [1, 1, 1, 1, 1, 0])


def test_gather_sends_copies_back_summed():
    from _fd import vjp

    g = np.ones((3, 3))
    np.testing.assert_array_equal(vjp(np.resize, 0, g, np.array([1.0, 2.0]), (3, 3)), [5.0, 4.0])


@pytest.mark.parametrize(("np_fn", "name", "args", "kwargs"), [
    (np.append, "append", (V, values((2,), 3)), {}),
    (np.tril, "tril", (A,), {"k": -1}),
    (np.delete, "delete", (A, 1, 1), {}),
    (np.insert, "insert", (V, 2, 0.5), {}),
])
def test_against_jax(np_fn, name, args, kwargs):
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np_fn, getattr(jnp, name), *args, kwargs=kwargs)


def test_index_helpers_nondiff():
    assert_nondiff(np.argpartition, np.ix_, np.tril_indices, np.triu_indices, np.diag_indices, np.fft.fftfreq)
