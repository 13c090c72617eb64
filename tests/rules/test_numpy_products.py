"""NumPy convolution, Kronecker, cross-product and polynomial rules against float64 finite differences."""

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values


@pytest.mark.parametrize("fn", [np.convolve, np.correlate])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize(("n", "m"), [(5, 3), (3, 5), (4, 4), (1, 3), (6, 2)])
def test_convolve_correlate(fn, mode, n, m):
    check_array_rule(fn, values((n,), 1), values((m,), 2), mode)


@pytest.mark.parametrize(("sa", "sb"), [((2, 3), (3, 2)), ((3,), (2,)), ((2,), (2, 3)), ((), (3,)),
                                      ((2, 1, 2), (2, 2))])
def test_kron(sa, sb):
    check_array_rule(np.kron, values(sa, 1), values(sb, 2))


def test_cross():
    check_array_rule(np.cross, values((3,), 1), values((3,), 2))
    check_array_rule(np.cross, values((4, 3), 1), values((3,), 2))
    check_array_rule(np.cross, values((3, 4), 1), values((4, 3), 2), kwargs={"axisa": 0, "axisc": 0})
    check_array_rule(np.linalg.cross, values((2, 3), 1), values((2, 3), 2))


def test_polynomials():
    p, q = values((4,), 1), values((2,), 2)
    check_array_rule(np.vander, values((4,), 3))
    check_array_rule(np.vander, values((3,), 3), 5, True)
    check_array_rule(np.polyval, p, values((2, 3), 4))
    check_array_rule(np.polyval, [1.5, -0.5, 2.0], 0.7)
    for fn in (np.polyadd, np.polysub, np.polymul):
        check_array_rule(fn, p, q)
        check_array_rule(fn, q, p)
    check_array_rule(np.polyder, p)
    check_array_rule(np.polyder, p, 2)
    check_array_rule(np.polyint, p)
    check_array_rule(np.polyint, p, 2, [1.0, 2.0])


def test_polyfit():
    x = np.linspace(-1, 1, 7) + values((7,), 1) * 0.05
    check_array_rule(np.polyfit, x, values((7,), 2), 2)
    check_array_rule(np.polyfit, x, values((7, 2), 3), 3)
    check_array_rule(np.polyfit, x, values((7,), 2), 2, kwargs={"w": values((7,), 4, 0.5, 2)})


def test_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.convolve, jnp.convolve, values((5,), 1), values((3,), 2), "same")
    jax_check(np.correlate, jnp.correlate, values((5,), 1), values((3,), 2), "full")
    jax_check(np.kron, jnp.kron, values((2, 3), 1), values((3, 2), 2))
    jax_check(np.cross, jnp.cross, values((4, 3), 1), values((4, 3), 2))
    jax_check(np.polyval, jnp.polyval, values((4,), 1), values((3,), 2))
    jax_check(np.polyfit, jnp.polyfit, np.linspace(-1, 1, 7), values((7,), 2), 2, wrt=[1])
