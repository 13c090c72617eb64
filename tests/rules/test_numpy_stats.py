"""NumPy statistics rules (quantiles, nan reductions, average, cov, corrcoef) against finite differences."""

import numpy as np
import pytest
from _array_fd import check_array_rule, jax_check, values
from _fd import vjp

A = values((3, 5), 1)  # distinct values: order statistics are differentiable there
NAN = np.where(values((3, 5), 2) > 1.2, np.nan, A)


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
@pytest.mark.parametrize(("q", "axis", "keepdims"), [(0.3, None, False), ([0.15, 0.45, 0.8], 1, False),
                                                     (0.7, 0, True), (0.45, (0, 1), False)])
def test_quantile(method, q, axis, keepdims):
    check_array_rule(np.quantile, A, q, kwargs={"axis": axis, "method": method, "keepdims": keepdims})


def test_median_percentile():
    check_array_rule(np.median, A)
    check_array_rule(np.median, A, kwargs={"axis": 1, "keepdims": True})
    check_array_rule(np.percentile, A, [20.0, 85.0], kwargs={"axis": 0})
    check_array_rule(np.quantile, A, 0.5, kwargs={"method": "midpoint", "axis": 1}, wrt=[0])  # pos 2: no midpoint


def test_nan_order_statistics():
    check_array_rule(np.nanmedian, NAN, kwargs={"axis": 1}, h=1e-4)
    check_array_rule(np.nanquantile, NAN, [0.2, 0.7], kwargs={"axis": 0}, h=1e-4)
    check_array_rule(np.nanpercentile, NAN, 40.0, h=1e-4)
    assert vjp(np.nanmedian, 0, np.ones(3), NAN, axis=1)[np.isnan(NAN)].sum() == 0


@pytest.mark.parametrize("fn", [np.nanmean, np.nanmax, np.nanmin, np.nanprod, np.nanvar, np.nanstd,
                                np.nancumsum, np.nancumprod])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_nan_reductions(fn, axis):
    check_array_rule(fn, NAN, kwargs={"axis": axis}, h=1e-4)
    ct = vjp(fn, 0, np.ones_like(fn(NAN, axis=axis)), NAN, axis=axis)
    assert np.all(ct[np.isnan(NAN)] == 0)


def test_nancumprod_with_zeros():
    x = np.array([1.5, np.nan, 0.0, 2.0, -1.0])
    check_array_rule(np.nancumprod, x, h=1e-4)


def test_nanvar_ddof_keepdims():
    check_array_rule(np.nanvar, NAN, kwargs={"axis": 1, "ddof": 1, "keepdims": True}, h=1e-4)


def test_ptp():
    check_array_rule(np.ptp, A)
    check_array_rule(np.ptp, A, kwargs={"axis": 1, "keepdims": True})


def test_average():
    check_array_rule(np.average, A)
    check_array_rule(np.average, A, 1, values((5,), 3, 0.5, 2))
    check_array_rule(np.average, A, None, values((3, 5), 4, 0.5, 2))
    check_array_rule(np.average, A, kwargs={"axis": 0, "weights": values((3,), 5, 0.5, 2)})


def test_bincount_weights():
    x = np.array([0, 2, 2, 4])
    check_array_rule(np.bincount, x, values((4,), 1), wrt=[1])


@pytest.mark.parametrize(("args", "kwargs"), [
    ((A,), {}), ((A,), {"rowvar": False}), ((A[0],), {}), ((A, values((2, 5), 2)), {}),
    ((A,), {"bias": True}), ((A,), {"ddof": 2}), ((A[0], A[1]), {}),
])
def test_cov(args, kwargs):
    check_array_rule(np.cov, *args, kwargs=kwargs)


@pytest.mark.parametrize(("args", "kwargs"), [((A,), {}), ((A,), {"rowvar": False}), ((A[0], A[1]), {})])
def test_corrcoef(args, kwargs):
    check_array_rule(np.corrcoef, *args, kwargs=kwargs)


def test_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.median, jnp.median, A, kwargs={"axis": 1})
    jax_check(np.quantile, jnp.quantile, A, 0.3, wrt=[0])
    jax_check(np.nanmean, jnp.nanmean, NAN, kwargs={"axis": 0})
    jax_check(np.cov, jnp.cov, A)
    jax_check(np.corrcoef, jnp.corrcoef, A)
    jax_check(np.ptp, jnp.ptp, A, kwargs={"axis": 0})
