"""NumPy difference, integration, interpolation and grid rules against float64 finite differences."""

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values

A = values((3, 5), 1)
V = values((6,), 2)


@pytest.mark.parametrize(("args", "kwargs"), [
    ((V,), {}), ((A,), {"axis": 0}), ((A, 2), {}), ((V,), {"prepend": 0.5, "append": [1.0, 2.0]}),
    ((A,), {"n": 2, "axis": 1, "prepend": values((3, 1), 3)}),
])
def test_diff(args, kwargs):
    check_array_rule(np.diff, *args, kwargs=kwargs)


def test_ediff1d():
    check_array_rule(np.ediff1d, A)
    check_array_rule(np.ediff1d, V, values((2,), 3), 1.5)


@pytest.mark.parametrize(("args", "kwargs"), [
    ((V,), {}), ((V, 0.3), {}), ((A,), {}), ((A, 0.5, 2.0), {}), ((A,), {"axis": 1, "edge_order": 2}),
    ((V, np.cumsum(values((6,), 4, 0.5, 1.0))), {}), ((V, np.cumsum(values((6,), 4, 0.5, 1.0))), {"edge_order": 2}),
    ((values((3, 12), 1), 0.5, np.cumsum(values((12,), 4, 0.5, 1.0))), {}),
])
def test_gradient(args, kwargs):
    check_array_rule(np.gradient, *args, kwargs=kwargs)


@pytest.mark.parametrize(("args", "kwargs"), [
    ((A,), {}), ((A,), {"axis": 0}), ((V, np.cumsum(values((6,), 3, 0.1, 1.0))), {}),
    ((A, np.cumsum(values((5,), 4, 0.1, 1.0))), {}), ((A, None, 0.7), {}),
    ((A, np.cumsum(values((3, 5), 5, 0.1, 1.0), axis=0)), {"axis": 0}),
])
def test_trapezoid(args, kwargs):
    check_array_rule(np.trapezoid, *args, kwargs=kwargs)


XP = np.array([-1.5, -0.4, 0.3, 1.1, 2.0])
X = np.array([-1.9, -1.0, 0.0, 0.31, 1.5, 1.999, 2.5])


def test_interp():
    check_array_rule(np.interp, X, XP, values((5,), 1))
    check_array_rule(np.interp, 0.7, XP, values((5,), 1))
    check_array_rule(np.interp, X, XP, values((5,), 1), kwargs={"left": -3.0, "right": 4.0})


def test_grids():
    check_array_rule(np.logspace, 0.5, 2.0, 7)
    check_array_rule(np.logspace, 0.5, 2.0, 4, False, 2.0)
    check_array_rule(np.geomspace, 0.5, 8.0, 5)
    check_array_rule(np.geomspace, -2.0, -8.0, 5, kwargs={"endpoint": False})
    check_array_rule(np.geomspace, values((2,), 1, 1, 2), values((2,), 2, 3, 4), 4, kwargs={"axis": 1})


def test_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.diff, jnp.diff, A, kwargs={"n": 2})
    jax_check(np.interp, jnp.interp, X, XP, values((5,), 1))
    jax_check(np.trapezoid, jnp.trapezoid, A)
    jax_check(np.gradient, jnp.gradient, V)
    jax_check(np.ediff1d, jnp.ediff1d, V)
