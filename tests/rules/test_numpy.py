"""NumPy elementwise, reduction, constructor and method rules against float64 finite differences."""

import math

import numpy as np
import pytest
from _array_fd import (
    SETTINGS,
    arrays,
    broadcast_pair,
    check_array_rule,
    jax_check,
    separated,
    values,
)
from _fd import assert_nondiff, jvp, vjp
from hypothesis import assume, given
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.runtime.cotangents import unbroadcast

# ---- elementwise ----

UNARY = [  # (function, domain)
    (np.negative, (-2, 2)), (np.positive, (-2, 2)), (np.square, (-2, 2)), (np.sqrt, (0.1, 3)),
    (np.cbrt, (0.1, 3)), (np.reciprocal, (0.2, 3)), (np.exp, (-2, 2)), (np.exp2, (-2, 2)),
    (np.expm1, (-2, 2)), (np.log, (0.1, 3)), (np.log2, (0.1, 3)), (np.log10, (0.1, 3)),
    (np.log1p, (-0.5, 3)), (np.sin, (-3, 3)), (np.cos, (-3, 3)), (np.tan, (-1.2, 1.2)),
    (np.arcsin, (-0.9, 0.9)), (np.arccos, (-0.9, 0.9)), (np.arctan, (-3, 3)), (np.sinh, (-2, 2)),
    (np.cosh, (-2, 2)), (np.tanh, (-2, 2)), (np.arcsinh, (-3, 3)), (np.arccosh, (1.1, 3)),
    (np.arctanh, (-0.9, 0.9)), (np.abs, (0.05, 2)), (np.fabs, (0.05, 2)), (np.deg2rad, (-9, 9)),
    (np.rad2deg, (-2, 2)), (np.conjugate, (-2, 2)),
]


@pytest.mark.parametrize(("fn", "domain"), UNARY, ids=lambda p: getattr(p, "__name__", ""))
@SETTINGS
@given(data=st.data())
def test_unary(fn, domain, data):
    lo, hi = domain
    x = data.draw(arrays(lo, hi))
    if fn in (np.abs, np.fabs):
        x = x * np.sign(values(x.shape, 1))  # both signs, away from the kink at 0
    check_array_rule(fn, x)
    check_array_rule(fn, float(np.mean(x)) if x.size else lo + 0.5)  # a Python float


BINARY = [  # (function, domain of the first, domain of the second)
    (np.add, (-2, 2), (-2, 2)), (np.subtract, (-2, 2), (-2, 2)), (np.multiply, (-2, 2), (-2, 2)),
    (np.divide, (-2, 2), (0.5, 2)), (np.true_divide, (-2, 2), (0.5, 2)), (np.power, (0.5, 2), (-2, 2)),
    (np.float_power, (0.5, 2), (-2, 2)), (np.arctan2, (-2, 2), (0.5, 2)), (np.hypot, (-2, 2), (0.5, 2)),
    (np.logaddexp, (-2, 2), (-2, 2)), (np.logaddexp2, (-2, 2), (-2, 2)),
    (np.remainder, (0.1, 3), (0.7, 1.3)), (np.fmod, (0.1, 3), (0.7, 1.3)),
]


def rescale(x, lo, hi):
    """x drawn from [-2, 2) moved to [lo, hi), a Python float staying one."""
    y = lo + (x + 2) / 4 * (hi - lo)
    return float(y) if isinstance(x, float) else y


@pytest.mark.parametrize(("fn", "da", "db"), BINARY, ids=lambda p: getattr(p, "__name__", ""))
@SETTINGS
@given(data=st.data())
def test_binary_broadcasting(fn, da, db, data):
    a, b = (rescale(x, *d) for x, d in zip(data.draw(broadcast_pair()), (da, db)))
    if fn in (np.remainder, np.fmod):
        q = a / b
        assume(np.all(np.abs(q - np.round(q)) > 1e-2))  # away from the jumps
    check_array_rule(fn, a, b)


@pytest.mark.parametrize("fn", [np.maximum, np.minimum, np.fmax, np.fmin])
@SETTINGS
@given(pair=broadcast_pair())
def test_extrema_elementwise(fn, pair):
    a, b = pair
    separated(a, b)
    check_array_rule(fn, a, b)


@pytest.mark.parametrize("fn", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_extrema_ties_split_evenly(fn):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])
    g = np.ones(3)
    win = (a > b) if fn in (np.maximum, np.fmax) else (a < b)
    expect_a = np.where(a == b, 0.5, win.astype(float))
    np.testing.assert_array_equal(vjp(fn, 0, g, a, b), expect_a)
    np.testing.assert_array_equal(vjp(fn, 1, g, a, b), 1 - expect_a)
    np.testing.assert_array_equal(jvp(fn, 0, g, a, b), expect_a)


def test_fmax_ignores_nan():
    a, b = np.array([np.nan, 2.0]), np.array([1.0, np.nan])
    g = np.ones(2)
    np.testing.assert_array_equal(vjp(np.fmax, 0, g, a, b), [0.0, 1.0])
    np.testing.assert_array_equal(vjp(np.fmax, 1, g, a, b), [1.0, 0.0])


def test_power_at_zero():
    x, p = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    g = np.ones(3)
    np.testing.assert_array_equal(vjp(np.power, 0, g, x, p), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(vjp(np.power, 1, g, x, p), [0.0, 0.0, math.log(2.0)])
    assert vjp(np.power, 0, 1.0, 3.0, 2) == 6.0  # integer exponent


def test_abs_sign_at_zero():
    assert vjp(np.abs, 0, 1.0, 0.0) == 0.0
    assert_nondiff(np.sign, np.floor, np.ceil, np.round, np.around, np.trunc, np.rint, np.heaviside)


@SETTINGS
@given(a=arrays(min_dims=1, max_dims=2), lo=st.floats(-1.5, 0), hi=st.floats(0.1, 1.5))
def test_clip_scalar_bounds(a, lo, hi):
    separated(a, [lo, hi])
    check_array_rule(np.clip, a, lo, hi)
    check_array_rule(np.clip, a, None, hi)
    check_array_rule(np.clip, a, lo, None)
    check_array_rule(np.ndarray.clip, a, lo, hi)


@SETTINGS
@given(data=st.data())
def test_clip_array_bounds(data):
    a, lo = data.draw(broadcast_pair(floats=False))
    hi = lo + 0.5 + data.draw(arrays(0, 1, shape=lo.shape))
    separated(a, lo, hi)
    check_array_rule(np.clip, a, lo, hi)


def test_clip_ties_follow_the_composition():
    a = np.array([0.0, 1.0, 0.5])
    g = np.ones(3)
    np.testing.assert_array_equal(vjp(np.clip, 0, g, a, 0.0, 1.0), [0.5, 0.5, 1.0])
    assert vjp(np.clip, 1, g, a, 0.0, 1.0).tolist() == [0.5, 0.0, 0.0]
    assert vjp(np.clip, 0, g, a, min=0.0, max=1.0).tolist() == [0.5, 0.5, 1.0]


@SETTINGS
@given(data=st.data())
def test_where(data):
    a, b = data.draw(broadcast_pair(floats=False))
    cond = np.random.default_rng(0).random(np.broadcast_shapes(a.shape, b.shape)) > 0.5
    check_array_rule(np.where, cond, a, b)
    assert vjp(np.where, 0, np.ones(cond.shape), cond, a, b) is None


def test_elementwise_keywords_are_rejected():
    with pytest.raises(TypeError):
        vjp(np.sin, 0, np.ones(2), np.ones(2), dtype=np.float64)


def test_elementwise_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    a, b = values((3, 1), 1), values((4,), 2) + 3
    for fn, jfn in [(np.multiply, jnp.multiply), (np.divide, jnp.divide), (np.power, jnp.power),
                    (np.arctan2, jnp.arctan2), (np.logaddexp, jnp.logaddexp), (np.hypot, jnp.hypot)]:
        jax_check(fn, jfn, np.abs(a) + 0.5, b)
    ties = np.array([1.0, 2.0, 3.0])
    jax_check(np.maximum, jnp.maximum, ties, np.array([1.0, 0.0, 3.0]))
    jax_check(np.clip, jnp.clip, np.array([0.0, 1.0, 0.5, 2.0]), 0.0, 1.0, wrt=[0])


# ---- reductions ----

METHODS = {getattr(np.ndarray, name) for name in ["sum", "mean", "prod", "max", "min", "var", "std"]}


@st.composite
def array_and_axis(draw, lo=-2.0, hi=2.0, min_side=0):
    """An array, an axis (None, int, or a tuple of axes, maybe empty) and keepdims."""
    x = draw(arrays(lo, hi, min_side=min_side))
    options = [st.none()]
    if x.ndim:
        options += [st.integers(-x.ndim, x.ndim - 1), st.lists(st.integers(0, x.ndim - 1), unique=True).map(tuple)]
    return x, draw(st.one_of(*options)), draw(st.booleans())


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.prod, np.ndarray.sum, np.ndarray.mean, np.ndarray.prod, np.nansum])
@SETTINGS
@given(xak=array_and_axis(min_side=1))
def test_linear_reductions(fn, xak):
    x, axis, keepdims = xak
    assume(x.ndim or fn not in METHODS)  # x + h * v turns a 0-d array into a NumPy scalar
    check_array_rule(fn, x, kwargs={"axis": axis, "keepdims": keepdims})
    check_array_rule(fn, x, axis)


def test_prod_initial():
    x = values((2, 3), 4)
    check_array_rule(np.prod, x, kwargs={"axis": 1, "initial": 2.5})


def test_sum_empty_and_where():
    check_array_rule(np.sum, np.zeros((0, 3)), kwargs={"axis": 0})
    x = values((3, 4), 0)
    mask = x > 0
    check_array_rule(np.sum, x, kwargs={"axis": 1, "where": mask})
    np.testing.assert_array_equal(vjp(np.sum, 0, np.ones(3), x, axis=1, where=mask), mask)


@pytest.mark.parametrize(
    "x",
    [np.array([2.0, 0.0, 3.0]), np.array([0.0, 0.0, 3.0]), np.array([[1.0, 0.0], [0.0, 0.0]]),
     np.array([[2.0, 0.0, 3.0], [0.0, 1.5, 0.0], [1.0, 2.0, 3.0]])],
)
def test_prod_with_zeros(x):
    for axis in [None, 0, -1]:
        check_array_rule(np.prod, x, kwargs={"axis": axis})
    g = vjp(np.prod, 0, 1.0, x.ravel())
    others = [np.prod(np.delete(x.ravel(), i)) for i in range(x.size)]
    np.testing.assert_array_equal(g, others)


@pytest.mark.parametrize("fn", [np.max, np.min, np.amax, np.amin, np.ndarray.max, np.ndarray.min])
@SETTINGS
@given(xak=array_and_axis(min_side=1))
def test_extremum_reductions(fn, xak):
    x, axis, keepdims = xak
    assume(x.ndim or fn not in METHODS)
    separated(x)
    check_array_rule(fn, x, kwargs={"axis": axis, "keepdims": keepdims})


def test_max_ties_split_evenly():
    x = np.array([[2.0, 5.0, 5.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(vjp(np.max, 0, np.array([1.0, 3.0]), x, axis=1), [[0, 0.5, 0.5], [1, 1, 1]])
    np.testing.assert_allclose(jvp(np.max, 0, np.ones((2, 3)), x, axis=1), [1.0, 1.0])
    np.testing.assert_array_equal(vjp(np.max, 0, 1.0, np.array([1.0, 2.0]), initial=5.0), [0.0, 0.0])
    jax_check(np.max, pytest.importorskip("jax.numpy").max, x, kwargs={"axis": 1})


@pytest.mark.parametrize("fn", [np.var, np.std, np.ndarray.var, np.ndarray.std])
@SETTINGS
@given(xak=array_and_axis(min_side=2), ddof=st.sampled_from([0, 1]))
def test_var_std(fn, xak, ddof):
    x, axis, keepdims = xak
    assume(x.ndim or fn not in METHODS)
    assume(np.sum(np.ones(x.shape), axis=axis).min(initial=np.inf) > ddof)  # every group > ddof
    check_array_rule(fn, x, kwargs={"axis": axis, "keepdims": keepdims, "ddof": ddof})


def test_std_of_constant_is_zero_slope():
    np.testing.assert_array_equal(vjp(np.std, 0, 1.0, np.ones(3)), np.zeros(3))
    np.testing.assert_array_equal(vjp(np.std, 0, np.ones(3), values(3, 0), axis=()), np.zeros(3))


def test_var_correction_keyword():
    x = values((3, 4), 3)
    np.testing.assert_allclose(vjp(np.var, 0, np.ones(4), x, axis=0, correction=1),
                               vjp(np.var, 0, np.ones(4), x, axis=0, ddof=1))


@pytest.mark.parametrize("fn", [np.cumsum, np.cumprod, np.ndarray.cumsum, np.ndarray.cumprod])
@SETTINGS
@given(data=st.data())
def test_cumulative(fn, data):
    x = data.draw(arrays(min_dims=1, min_side=1))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    check_array_rule(fn, x, kwargs={"axis": axis})


@pytest.mark.parametrize("fn", [np.cumulative_sum, np.cumulative_prod])
@pytest.mark.parametrize("include_initial", [False, True])
@SETTINGS
@given(data=st.data())
def test_cumulative_array_api_forms(fn, include_initial, data):
    x = data.draw(arrays(min_dims=1, min_side=1))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim > 1 else data.draw(
        st.one_of(st.none(), st.just(0)))
    check_array_rule(fn, x, kwargs={"axis": axis, "include_initial": include_initial})


@pytest.mark.parametrize(
    "x",
    [np.array([2.0, 0.0, 3.0, 4.0]), np.array([0.0, 2.0, 0.0, 3.0]), np.array([1.5, 2.0, 3.0, 0.0]),
     np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [2.0, 3.0, 0.5]])],
)
def test_cumprod_with_zeros(x):
    for axis in [None, 0, -1]:
        check_array_rule(np.cumprod, x, kwargs={"axis": axis})
    # exact: the Jacobian of cumprod of [a, 0, b] has entries a, not nan
    np.testing.assert_array_equal(vjp(np.cumprod, 0, np.array([0.0, 1.0, 0.0]), np.array([2.0, 0.0, 3.0])),
                                  [0.0, 2.0, 0.0])


def test_reductions_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    x = values((3, 4), 5)
    x[1, 2] = 0.0
    for fn, jfn in [(np.sum, jnp.sum), (np.mean, jnp.mean), (np.prod, jnp.prod), (np.var, jnp.var),
                    (np.std, jnp.std), (np.cumsum, jnp.cumsum), (np.cumprod, jnp.cumprod)]:
        jax_check(fn, jfn, x, kwargs={"axis": 1})
    jax_check(np.var, jnp.var, x, kwargs={"axis": 0, "ddof": 1})


# ---- constructors ----


def test_constructors():
    assert_nondiff(np.zeros, np.ones, np.empty, np.eye, np.identity, np.zeros_like, np.ones_like)
    check_array_rule(np.full, (2, 3), 1.5)
    check_array_rule(np.full, (2, 3), np.array([1.0, 2.0, 3.0]))
    check_array_rule(np.full_like, np.zeros(3), 2.5, wrt=[1])
    assert vjp(np.full, 1, np.ones((2, 2)), (2, 2), 1.0) == 4.0
    check_array_rule(np.arange, 0.5, 3.2, 0.5)  # length stays 6 in the steps
    check_array_rule(np.arange, 0.5, 3.2, wrt=[0])
    assert vjp(np.arange, 0, np.ones(3), 3.0) is None
    check_array_rule(np.linspace, 0.5, 2.0, 5)
    check_array_rule(np.linspace, 0.5, 2.0, 5, False)
    check_array_rule(np.linspace, np.array([0.0, 1.0]), np.array([2.0, -1.0]), 4)
    check_array_rule(np.linspace, 1.0, 2.0, 1)


# ---- array methods ----


def test_methods_share_the_functions_rules():
    x = values((2, 3), 7)
    check_array_rule(np.ndarray.sum, x, 1)
    check_array_rule(np.ndarray.mean, x, kwargs={"axis": 0})
    check_array_rule(np.ndarray.conj, x)
    assert_nondiff(np.ndarray.round, np.ndarray.argmax, np.ndarray.argsort)
    for name in ["sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "reshape",
                 "transpose", "swapaxes", "squeeze", "ravel", "flatten", "dot", "clip", "astype",
                 "copy", "item", "take", "repeat", "trace", "diagonal"]:
        rule = get_rule(getattr(np.ndarray, name))
        assert rule is not None and rule.has_reverse and rule.has_forward, name


def test_scalar_inputs_give_float_cotangents():
    g = vjp(np.multiply, 1, np.ones(3), np.ones(3), 2.0)
    assert isinstance(unbroadcast(g, 2.0), float)
    assert isinstance(vjp(np.sin, 0, 1.0, 0.5), float)


# ---- the same derivative code on torch tensors (array API) ----

TORCH_CASES = [
    (np.sin, (0,), {}), (np.log, (0,), {}), (np.tanh, (0,), {}), (np.abs, (0,), {}),
    (np.multiply, (0, 1), {}), (np.divide, (0, 1), {}), (np.power, (0, 1), {}), (np.maximum, (0, 1), {}),
    (np.fmax, (0, 1), {}), (np.logaddexp, (0, 1), {}), (np.hypot, (0, 1), {}),
    (np.sum, (0,), {"axis": 1}), (np.mean, (0,), {"axis": 0, "keepdims": True}), (np.prod, (0,), {"axis": 1}),
    (np.max, (0,), {"axis": 1}), (np.var, (0,), {"axis": 1}), (np.std, (0,), {}), (np.cumsum, (0,), {"axis": 1}),
    (np.cumprod, (0,), {"axis": 1}), (np.transpose, (0,), {}), (np.trace, (0,), {}), (np.diagonal, (0,), {}),
]


@pytest.mark.parametrize(("fn", "wrt", "kwargs"), TORCH_CASES, ids=lambda p: getattr(p, "__name__", ""))
def test_rules_run_on_torch_tensors(fn, wrt, kwargs):
    torch = pytest.importorskip("torch")
    args = (values((3, 4), 1) + 2.5, values((4,), 2) + 2.5)[: 1 + max(wrt)]
    y = fn(*args, **kwargs)
    g = values(np.shape(y), 3)
    rule = get_rule(fn)
    for i in wrt:
        expected = rule.vjps[i](g, y, *args, **kwargs)
        got = rule.vjps[i](torch.tensor(g), torch.tensor(np.asarray(y)), *map(torch.tensor, args), **kwargs)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_abs_of_complex_follows_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    z = np.array([1 + 2j, -0.5 + 0.3j, 0j])
    g = np.array([1.0, -2.0, 0.5])
    _, back = jax.vjp(jax.numpy.abs, z)
    np.testing.assert_allclose(vjp(np.abs, 0, g, z), np.asarray(back(g)[0]))
    _, t = jax.jvp(jax.numpy.abs, (z,), (z[::-1],))
    np.testing.assert_allclose(jvp(np.abs, 0, z[::-1], z), np.asarray(t))


def test_rules_made_in_a_loop_keep_their_own_defaults_when_inlined():
    # np.maximum and np.minimum share one lambda code object, with different captured defaults
    import wengert

    def f(x):
        return np.sum(np.minimum(x, 0.5)) + 10 * np.sum(np.maximum(x, 0.5))

    np.testing.assert_array_equal(wengert.grad(f)(np.array([0.2, 0.9])), [1.0, 10.0])
