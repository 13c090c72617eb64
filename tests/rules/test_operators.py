"""Rules for the operator module against float64 central differences, on floats and arrays."""

import math
import operator

import numpy as np
import pytest
from _fd import assert_nondiff, check_rule, jvp, vjp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wengert.errors import UnsupportedError
from wengert.rules import get_rule
from wengert.runtime.cotangents import unbroadcast

SETTINGS = settings(max_examples=30, deadline=None)


def real(lo=-10.0, hi=10.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo=0.1, hi=10.0):
    return st.one_of(real(lo, hi), real(-hi, -lo))


def off_jump(x, y):
    """x / y is not within a difference step of an integer (where x % y jumps)."""
    q = x / y
    return abs(q - round(q)) > 1e-3 * (1.0 + abs(q))


# ---- arithmetic on floats ----

@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul,
                                operator.iadd, operator.isub, operator.imul])
@SETTINGS
@given(x=real(), y=real())
def test_add_sub_mul(op, x, y):
    check_rule(op, x, y)


@pytest.mark.parametrize("op", [operator.truediv, operator.itruediv])
@SETTINGS
@given(x=real(), y=away_from_zero())
def test_truediv(op, x, y):
    check_rule(op, x, y)


@pytest.mark.parametrize("op", [operator.mod, operator.imod])
@SETTINGS
@given(x=real(-50, 50), y=away_from_zero(0.5, 10))
def test_mod(op, x, y):
    assume(off_jump(x, y))
    check_rule(op, x, y)


@pytest.mark.parametrize("op", [operator.pow, operator.ipow])
@SETTINGS
@given(x=real(0.1, 5.0), y=real(-3.0, 3.0))
def test_pow_positive_base(op, x, y):
    check_rule(op, x, y)


@pytest.mark.parametrize("op", [operator.pow, operator.ipow])
@SETTINGS
@given(x=away_from_zero(0.1, 5.0), n=st.integers(-3, 4))
def test_pow_integer_exponent_any_base(op, x, n):
    # y not differentiated: its rule (which needs log x) is never evaluated, so x < 0 is fine.
    check_rule(op, x, float(n), wrt=[0])
    check_rule(op, x, n, wrt=[0])


@pytest.mark.parametrize("op", [operator.neg, operator.pos])
@SETTINGS
@given(x=real())
def test_neg_pos(op, x):
    check_rule(op, x)


@SETTINGS
@given(x=away_from_zero(1e-3, 10.0))
def test_abs(x):
    check_rule(operator.abs, x)


# ---- analytic values and conventions ----

def test_spot_values():
    assert vjp(operator.mul, 0, 2.0, 3.0, 5.0) == 10.0
    assert vjp(operator.mul, 1, 2.0, 3.0, 5.0) == 6.0
    assert vjp(operator.truediv, 1, 1.0, 3.0, 2.0) == -0.75
    assert vjp(operator.sub, 1, 1.5, 3.0, 2.0) == -1.5
    assert vjp(operator.pow, 0, 1.0, 3.0, 2.0) == 6.0
    assert vjp(operator.pow, 1, 1.0, 2.0, 3.0) == pytest.approx(8.0 * math.log(2.0))
    assert jvp(operator.pow, 1, 1.0, 2.0, 3.0) == pytest.approx(8.0 * math.log(2.0))
    assert vjp(operator.neg, 0, 2.0, 3.0) == -2.0
    assert jvp(operator.neg, 0, 2.0, 3.0) == -2.0


def test_abs_at_zero_is_zero():
    assert vjp(operator.abs, 0, 1.0, 0.0) == 0.0
    assert jvp(operator.abs, 0, 1.0, 0.0) == 0.0
    assert vjp(operator.abs, 0, 1.0, -2.0) == -1.0
    np.testing.assert_array_equal(vjp(operator.abs, 0, np.ones(3), np.array([-1.0, 0.0, 2.0])),
                                  [-1.0, 0.0, 1.0])


def test_mod_python_sign_conventions():
    # x % y == x - y * floor(x / y): d/dy = -floor(x / y), for every sign combination.
    for x, y in [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0)]:
        assert vjp(operator.mod, 0, 1.0, x, y) == 1.0
        assert vjp(operator.mod, 1, 1.0, x, y) == -math.floor(x / y)
    assert vjp(operator.mod, 1, 1.0, -7.5, 2.0) == 4.0


def test_pow_at_zero_base():
    assert vjp(operator.pow, 0, 1.0, 0.0, 0.0) == 0.0  # x**0 is constant
    assert vjp(operator.pow, 0, 1.0, 0.0, 1.0) == 1.0
    assert vjp(operator.pow, 0, 1.0, 0.0, 2.0) == 0.0
    assert vjp(operator.pow, 0, 1.0, 0.0, 0.5) == math.inf
    assert vjp(operator.pow, 1, 1.0, 0.0, 2.0) == 0.0  # 0**y is 0 for y > 0
    a = np.array([0.0, 0.0, 2.0])
    b = np.array([0.0, 2.0, 0.0])
    np.testing.assert_array_equal(vjp(operator.pow, 0, np.ones(3), a, b), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(vjp(operator.pow, 0, np.ones(3), a, 0.0), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(vjp(operator.pow, 1, np.ones(3), a, b),
                                  [0.0, 0.0, math.log(2.0)])


def test_pow_negative_base():
    assert vjp(operator.pow, 0, 1.0, -2.0, 2) == -4.0
    assert vjp(operator.pow, 0, 1.0, -2.0, 3.0) == 12.0
    assert math.isnan(vjp(operator.pow, 1, 1.0, -2.0, 2.0))  # no real log(-2)
    assert np.isnan(vjp(operator.pow, 1, np.ones(2), np.array([-2.0, 2.0]), 2.0)[0])


def test_floordiv_zero_gradient():
    assert_nondiff(operator.floordiv, operator.ifloordiv)


# ---- sequences: + concatenates, * repeats ----

def test_list_concatenation():
    check_rule(operator.add, [1.0, 2.0], [3.0])
    check_rule(operator.add, (1.0, 2.0), (3.0, 4.0, 5.0))
    check_rule(operator.concat, [1.0], [2.0, 3.0])
    assert vjp(operator.add, 0, [1.0, 2.0, 3.0], [0.5, 0.5], [0.5]) == [1.0, 2.0]
    assert vjp(operator.add, 1, [1.0, 2.0, 3.0], [0.5, 0.5], [0.5]) == [3.0]
    assert jvp(operator.add, 1, [7.0], [0.5, 0.5], [0.5]) == [None, None, 7.0]


def test_list_repetition():
    check_rule(operator.mul, [1.0, 2.0], 3)
    check_rule(operator.mul, 2, (1.0, 2.0))
    assert vjp(operator.mul, 0, [1.0, 2.0, 3.0, 4.0], [0.5, 0.5], 2) == [4.0, 6.0]
    assert vjp(operator.mul, 1, [1.0, 2.0, 3.0, 4.0], [0.5, 0.5], 2) is None
    assert vjp(operator.mul, 0, [], [0.5, 0.5], 0) is None


def test_inplace_list_concatenation():
    check_rule(operator.iadd, [1.0, 2.0], [3.0])
    check_rule(operator.iconcat, [1.0], (2.0, 3.0))
    check_rule(operator.imul, [1.0, 2.0], 2, wrt=[0])
    xs = [1.0, 2.0]
    z = operator.iadd(xs, [3.0])
    assert get_rule(operator.iadd).vjps[0]([1.0, 2.0, 3.0], z, xs, [3.0]) == [1.0, 2.0]
    assert get_rule(operator.iadd).vjps[1]([1.0, 2.0, 3.0], z, xs, [3.0]) == [3.0]


# ---- getitem ----

@SETTINGS
@given(xs=st.lists(real(), min_size=1, max_size=5), data=st.data())
def test_getitem_sequences(xs, data):
    i = data.draw(st.integers(0, len(xs) - 1))
    check_rule(operator.getitem, xs, i)
    check_rule(operator.getitem, tuple(xs), i)
    check_rule(operator.getitem, xs, slice(0, i + 1))
    check_rule(operator.getitem, np.array(xs), i)


def test_getitem_values():
    assert vjp(operator.getitem, 0, 2.0, [1.0, 2.0, 3.0], 1) == [None, 2.0, None]
    assert vjp(operator.getitem, 1, 2.0, [1.0, 2.0, 3.0], 1) is None
    assert vjp(operator.getitem, 0, 2.0, {"a": 1.0, "b": 3.0}, "b") == {"b": 2.0}
    assert jvp(operator.getitem, 0, {"a": 5.0}, {"a": 1.0, "b": 3.0}, "a") == 5.0
    assert jvp(operator.getitem, 0, {"a": 5.0}, {"a": 1.0, "b": 3.0}, "b") is None
    np.testing.assert_array_equal(vjp(operator.getitem, 0, 1.0, np.zeros(3), 2), [0, 0, 1.0])


# ---- arrays, with broadcasting ----

SHAPES = [((3,), ()), ((), (3,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 3), (2, 1))]
BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.mod, operator.pow]


def _array(shape, rng, lo, hi):
    return float(rng.uniform(lo, hi)) if shape == () else rng.uniform(lo, hi, shape)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", SHAPES)
def test_arrays_broadcasting(op, shapes):
    rng = np.random.default_rng(1)
    while True:
        x = _array(shapes[0], rng, 0.5, 3.0)
        y = _array(shapes[1], rng, 0.5, 3.0)
        q = np.asarray(x) / np.asarray(y)
        if op is not operator.mod or np.all(np.abs(q - np.round(q)) > 0.05):
            break
    check_rule(op, x, y)
    # cotangents come back in each input's shape after unbroadcast
    rule = get_rule(op)
    z = op(x, y)
    g = np.ones(np.shape(z))
    for i, a in enumerate((x, y)):
        assert np.shape(unbroadcast(rule.vjps[i](g, z, x, y), a)) == np.shape(a)


@pytest.mark.parametrize("op", [operator.neg, operator.pos, operator.abs])
def test_unary_arrays(op):
    check_rule(op, np.array([[-1.5, 2.0, 0.5], [3.0, -0.25, 1.0]]))


def test_zero_dim_array_with_scalar():
    check_rule(operator.mul, np.array(2.0), 3.0)
    check_rule(operator.pow, np.float64(2.0), np.array([1.0, 2.5]))


@pytest.mark.parametrize("op", [operator.iadd, operator.isub, operator.itruediv])
def test_inplace_arrays(op):
    # x is overwritten before the rule runs (the checker passes the updated operands).
    check_rule(op, np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.5]]), np.array([2.0, -0.5, 1.5]))


def test_inplace_array_guard():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    z = operator.imul(x, y)
    assert z is x
    rule = get_rule(operator.imul)
    np.testing.assert_array_equal(rule.vjps[0](np.ones(2), z, x, y), y)  # needs only y
    with pytest.raises(UnsupportedError, match="in-place"):
        rule.vjps[1](np.ones(2), z, x, y)  # needs x, which imul overwrote
    z = operator.iadd(x, y)
    np.testing.assert_array_equal(get_rule(operator.iadd).vjps[1](np.ones(2), z, x, y), 1.0)


def test_array_api_strict():
    xp = pytest.importorskip("array_api_strict")
    x = xp.asarray([0.0, 0.5, 2.0])
    y = xp.asarray([0.0, 2.0, 1.5])
    d = get_rule(operator.pow).vjps[0](xp.ones(3), x ** y, x, y)
    assert [float(v) for v in d] == pytest.approx([0.0, 1.0, 1.5 * 2.0 ** 0.5])
    d = get_rule(operator.pow).vjps[1](xp.ones(3), x ** y, x, y)
    assert [float(v) for v in d] == pytest.approx([0.0, 0.25 * math.log(0.5),
                                                    2.0 ** 1.5 * math.log(2.0)])
    d = get_rule(operator.abs).vjps[0](xp.ones(3), x, xp.asarray([-1.0, 0.0, 3.0]))
    assert [float(v) for v in d] == [-1.0, 0.0, 1.0]


# ---- no derivative ----

def test_nondiff():
    assert_nondiff(operator.lt, operator.le, operator.eq, operator.ne, operator.ge, operator.gt,
                   operator.not_, operator.truth, operator.is_, operator.is_not,
                   operator.contains, operator.index, operator.floordiv)

