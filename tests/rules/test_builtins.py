"""Rules for builtins against float64 central differences and analytic values."""

import collections
import itertools
import math

import numpy as np
import pytest
from _fd import assert_nondiff, check_rule, jvp, vjp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.runtime.cotangents import unbroadcast

SETTINGS = settings(max_examples=30, deadline=None)


def real(lo=-10.0, hi=10.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo=0.1, hi=10.0):
    return st.one_of(real(lo, hi), real(-hi, -lo))


def distinct(xs, gap=1e-2):
    s = sorted(xs)
    return all(b - a > gap for a, b in itertools.pairwise(s))


# ---- abs, float, pow ----

@SETTINGS
@given(x=away_from_zero(1e-3, 10))
def test_abs(x):
    check_rule(abs, x)


def test_abs_arrays_and_zero():
    check_rule(abs, np.array([[-1.0, 2.0], [0.5, -3.0]]))
    assert vjp(abs, 0, 1.0, 0.0) == 0.0
    assert jvp(abs, 0, 1.0, 0.0) == 0.0


@SETTINGS
@given(x=real())
def test_float(x):
    check_rule(float, x)


def test_float_values():
    assert vjp(float, 0, 2.0, 3) == 2.0
    assert vjp(float, 0, 2.0, "1.5") is None
    ct = vjp(float, 0, 2.0, np.array(3.0, dtype=np.float32))
    assert ct.shape == () and ct.dtype == np.float32 and ct == 2.0
    assert jvp(float, 0, np.array(5.0), np.array(3.0)) == 5.0


@SETTINGS
@given(x=real(0.1, 5), y=real(-3, 3))
def test_pow(x, y):
    check_rule(pow, x, y)


@SETTINGS
@given(x=away_from_zero(0.1, 5), n=st.integers(-3, 4))
def test_pow_negative_base(x, n):
    check_rule(pow, x, n, wrt=[0])


def test_pow_broadcasting():
    x, y = np.array([[0.5, 1.5, 2.0], [1.0, 3.0, 0.7]]), np.array([2.0, -1.0, 0.5])
    check_rule(pow, x, y)
    check_rule(pow, y + 2.0, 2.0)
    z = pow(x, y)
    assert unbroadcast(get_rule(pow).vjps[1](np.ones((2, 3)), z, x, y), y).shape == (3,)


def test_pow_three_arguments_has_no_gradient():
    rule = get_rule(pow)
    assert all(v is None or v(1.0, pow(3, 4, 5), 3, 4, 5) is None for v in rule.vjps)
    assert all(v is None or v(1.0, pow(3, 4, 5), 3, 4, 5) is None for v in rule.jvps)
    assert vjp(pow, 0, 1.0, 0.0, 0.0) == 0.0
    assert math.isnan(vjp(pow, 1, 1.0, -2.0, 2.0))


# ---- min and max ----

@pytest.mark.parametrize("fn", [min, max])
@SETTINGS
@given(xs=st.lists(real(), min_size=1, max_size=5))
def test_min_max_iterable(fn, xs):
    assume(distinct(xs))
    check_rule(fn, xs)
    check_rule(fn, tuple(xs))
    check_rule(fn, np.array(xs))


@pytest.mark.parametrize("fn", [min, max])
@SETTINGS
@given(xs=st.lists(real(), min_size=2, max_size=4))
def test_min_max_varargs(fn, xs):
    assume(distinct(xs))
    check_rule(fn, *xs)


@pytest.mark.parametrize("fn", [min, max])
@SETTINGS
@given(xs=st.lists(real(), min_size=1, max_size=5))
def test_min_max_key(fn, xs):
    assume(distinct([abs(x) for x in xs]))
    check_rule(fn, xs, kwargs={"key": abs})


def test_min_max_values():
    assert vjp(max, 0, 1.0, [1.0, 3.0, 2.0]) == [None, 1.0, None]
    assert vjp(max, 1, 2.0, 1.0, 3.0, 2.0) == 2.0
    assert vjp(max, 0, 2.0, 1.0, 3.0, 2.0) is None
    assert vjp(min, 0, 1.0, (4.0, -3.0, 2.0)) == (None, 1.0, None)
    assert vjp(min, 0, 1.0, [1.0, -3.0], key=abs) == [1.0, None]
    np.testing.assert_array_equal(vjp(max, 0, 1.0, np.array([1.0, 3.0])), [0.0, 1.0])
    assert vjp(max, 0, 1.0, (x for x in [1.0, 3.0])) == [None, 1.0]
    assert vjp(max, 0, 1.0, [], default=0.0) is None
    assert jvp(max, 0, [5.0, 6.0, 7.0], [1.0, 3.0, 2.0]) == 6.0
    assert jvp(max, 1, 5.0, 1.0, 3.0) == 5.0
    assert jvp(max, 0, 5.0, 1.0, 3.0) is None


def test_min_max_ties_go_to_the_first():
    # Python returns the first of equal extremes; all of the cotangent goes to it.
    assert vjp(max, 0, 1.0, [1.0, 3.0, 3.0]) == [None, 1.0, None]
    assert vjp(min, 0, 1.0, [2.0, 1.0, 1.0, 1.0]) == [None, 1.0, None, None]
    x = 3.0
    assert vjp(max, 0, 1.0, [1.0, x, x]) == [None, 1.0, None]
    assert vjp(max, 2, 1.0, 3.0, 1.0, 3.0) is None
    assert vjp(max, 0, 1.0, 3.0, 1.0, 3.0) == 1.0


# ---- sum ----

@SETTINGS
@given(xs=st.lists(real(), min_size=1, max_size=5), start=real())
def test_sum(xs, start):
    check_rule(sum, xs)
    check_rule(sum, tuple(xs))
    check_rule(sum, xs, start)
    check_rule(sum, np.array(xs))


def test_sum_values():
    assert vjp(sum, 0, 2.0, [1.0, 2.0]) == [2.0, 2.0]
    assert vjp(sum, 0, 2.0, (1.0, 2.0), 5.0) == (2.0, 2.0)
    assert vjp(sum, 1, 2.0, (1.0, 2.0), 5.0) == 2.0
    assert vjp(sum, 0, 2.0, (x for x in [1.0, 2.0])) == [2.0, 2.0]
    assert vjp(sum, 0, 2.0, []) == []
    P = collections.namedtuple("P", "a b")
    assert vjp(sum, 0, 1.0, P(1.0, 2.0)) == P(1.0, 1.0)
    assert jvp(sum, 0, [1.0, None, 3.0], [1.0, 2.0, 3.0]) == 4.0
    assert jvp(sum, 1, 7.0, [1.0, 2.0], 0.5) == 7.0
    assert jvp(sum, 0, None, [1.0, 2.0]) is None


def test_sum_of_lists_concatenates():
    check_rule(sum, [[1.0, 2.0], [3.0]], [])
    check_rule(sum, ((1.0,), (2.0, 3.0)), (4.0,))
    assert vjp(sum, 0, [1.0, 2.0, 3.0, 4.0], [[1.0], [2.0, 3.0]], [0.0]) == [[2.0], [3.0, 4.0]]
    assert vjp(sum, 1, [1.0, 2.0, 3.0, 4.0], [[1.0], [2.0, 3.0]], [0.0]) == [1.0]
    assert jvp(sum, 0, [None, [5.0]], [[1.0], [2.0]], []) == [None, 5.0]


def test_sum_of_arrays_broadcasting():
    xs = [np.array([1.0, 2.0, 3.0]), 2.0, np.array([[1.0], [2.0]])]
    check_rule(sum, xs)
    cts = vjp(sum, 0, np.ones((2, 3)), xs)
    assert [np.shape(c) for c in cts] == [(3,), (), (2, 1)]
    assert cts[1] == 6.0
    check_rule(sum, np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0]))


# ---- divmod ----

@SETTINGS
@given(x=real(-50, 50), y=away_from_zero(0.5, 10))
def test_divmod(x, y):
    q = x / y
    assume(abs(q - round(q)) > 1e-3 * (1 + abs(q)))
    check_rule(divmod, x, y)


def test_divmod_values():
    assert vjp(divmod, 0, (None, 1.0), -7.5, 2.0) == 1.0
    assert vjp(divmod, 1, (None, 1.0), -7.5, 2.0) == 4.0  # -7.5 == -4 * 2 + 0.5
    assert get_rule(divmod).rrule(7.5, 2.0)[1]((1.0, None)) == (None, None)
    assert jvp(divmod, 1, 1.0, 7.5, 2.0) == (None, -3.0)
    x, y = np.array([[7.5, -1.25, 3.0]] * 2), np.array([2.0, 0.5, -2.5])
    check_rule(divmod, x, y)
    gx, gy = get_rule(divmod).rrule(x, y)[1]((None, np.ones((2, 3))))
    assert gx.shape == (2, 3) and gy.shape == (3,)


# ---- no derivative ----

def test_nondiff():
    assert_nondiff(int, bool, round, len, range, isinstance, type, str)

