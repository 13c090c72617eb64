"""Rules for the math module against float64 central differences and analytic values."""

import collections
import math

import numpy as np
import pytest
from _fd import assert_nondiff, check_rule, jvp, vjp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.rules.math import digamma

SETTINGS = settings(max_examples=30, deadline=None)


def real(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo, hi):
    return st.one_of(real(lo, hi), real(-hi, -lo))


def off_integers(x, margin=1e-2):
    return abs(x - round(x)) > margin


# (function, strategy for x inside its domain, away from singular points)
UNARY = [
    (math.sin, real(-10, 10)), (math.cos, real(-10, 10)), (math.tan, real(-1.4, 1.4)),
    (math.asin, real(-0.95, 0.95)), (math.acos, real(-0.95, 0.95)), (math.atan, real(-10, 10)),
    (math.sinh, real(-5, 5)), (math.cosh, real(-5, 5)), (math.tanh, real(-5, 5)),
    (math.asinh, real(-10, 10)), (math.acosh, real(1.05, 10)), (math.atanh, real(-0.95, 0.95)),
    (math.exp, real(-10, 10)), (math.expm1, real(-5, 5)), (math.log, real(0.05, 20)),
    (math.log2, real(0.05, 20)), (math.log10, real(0.05, 20)), (math.log1p, real(-0.9, 20)),
    (math.sqrt, real(0.05, 20)), (math.erf, real(-4, 4)), (math.erfc, real(-4, 4)),
    (math.lgamma, real(0.05, 30)), (math.gamma, real(0.05, 10)), (math.fabs, away_from_zero(1e-2, 10)),
    (math.degrees, real(-10, 10)), (math.radians, real(-500, 500)),
]
if hasattr(math, "exp2"):
    UNARY.append((math.exp2, real(-10, 10)))
if hasattr(math, "cbrt"):
    UNARY.append((math.cbrt, away_from_zero(0.05, 20)))


@pytest.mark.parametrize("fn, xs", UNARY, ids=[f.__name__ for f, _ in UNARY])
@SETTINGS
@given(data=st.data())
def test_unary(fn, xs, data):
    check_rule(fn, data.draw(xs))


@pytest.mark.parametrize("fn", [math.lgamma, math.gamma])
@SETTINGS
@given(x=real(-6, -0.05))
def test_gamma_negative(fn, x):
    assume(off_integers(x, 0.05))
    check_rule(fn, x)


# ---- two arguments ----

@SETTINGS
@given(y=real(-10, 10), x=real(-10, 10))
def test_atan2(y, x):
    assume(math.hypot(x, y) > 0.1)
    assume(not (x < 0 and abs(y) < 1e-2))  # the branch cut
    check_rule(math.atan2, y, x)


@SETTINGS
@given(x=real(0.1, 5), y=real(-3, 3))
def test_pow(x, y):
    check_rule(math.pow, x, y)


@SETTINGS
@given(x=away_from_zero(0.1, 5), n=st.integers(-3, 3))
def test_pow_negative_base(x, n):
    check_rule(math.pow, x, float(n), wrt=[0])


@SETTINGS
@given(x=real(0.05, 20), b=st.one_of(real(0.1, 0.9), real(1.1, 20)))
def test_log_base(x, b):
    check_rule(math.log, x, b)


@pytest.mark.parametrize("fn", [math.fmod, math.remainder])
@SETTINGS
@given(x=real(-50, 50), y=away_from_zero(0.5, 10))
def test_fmod_remainder(fn, x, y):
    q = x / y
    # the jumps (integer q for fmod, half-integer q for remainder) must be farther than the
    # difference step moves q (check_rule steps each argument by 1e-4 (1 + |arg|) times a
    # random direction): math.remainder at x = 40.7578125, y = 0.5 straddled one
    moved = 5 * 1e-4 * ((1 + abs(x)) / abs(y) + (1 + abs(y)) * abs(x) / y ** 2)
    assume(abs(q - round(q)) > moved and abs(q - math.floor(q) - 0.5) > moved)
    check_rule(fn, x, y)


@SETTINGS
@given(x=away_from_zero(1e-2, 10), y=away_from_zero(1e-3, 10))
def test_copysign(x, y):
    check_rule(math.copysign, x, y, wrt=[0])


@SETTINGS
@given(x=real(-10, 10), i=st.integers(-5, 5))
def test_ldexp(x, i):
    check_rule(math.ldexp, x, i)


@SETTINGS
@given(x=real(-10, 10), y=real(-10, 10))
def test_nextafter(x, y):
    check_rule(math.nextafter, x, y, wrt=[0])


# ---- several arguments, sequences, tuple outputs ----

@SETTINGS
@given(xs=st.lists(real(-10, 10), min_size=1, max_size=4))
def test_hypot(xs):
    assume(math.hypot(*xs) > 0.1)
    check_rule(math.hypot, *xs)


@SETTINGS
@given(p=st.lists(real(-10, 10), min_size=1, max_size=4), data=st.data())
def test_dist(p, data):
    q = data.draw(st.lists(real(-10, 10), min_size=len(p), max_size=len(p)))
    assume(math.dist(p, q) > 0.1)
    check_rule(math.dist, p, q)
    check_rule(math.dist, tuple(p), tuple(q))


@SETTINGS
@given(xs=st.lists(real(-3, 3), min_size=0, max_size=5))
def test_prod_fsum(xs):
    if xs:
        check_rule(math.prod, xs)
        check_rule(math.prod, tuple(xs))
        check_rule(math.fsum, xs)
        check_rule(math.fsum, tuple(xs))
    assert vjp(math.fsum, 0, 2.0, xs) == [2.0] * len(xs)


@SETTINGS
@given(x=away_from_zero(1e-3, 1e3))
def test_frexp_modf(x):
    m = math.frexp(x)[0]
    assume(1e-3 < abs(m) - 0.5 < 0.499)  # e jumps where |m| wraps from 1 to 0.5
    check_rule(math.frexp, x)
    assume(off_integers(x, 1e-4))
    check_rule(math.modf, x, h=1e-5)


if hasattr(math, "fma"):
    @SETTINGS
    @given(x=real(-5, 5), y=real(-5, 5), z=real(-5, 5))
    def test_fma(x, y, z):
        check_rule(math.fma, x, y, z)


if hasattr(math, "sumprod"):
    def test_sumprod():
        check_rule(math.sumprod, [1.0, 2.0, -3.0], (0.5, 4.0, 2.0))


# ---- analytic values and conventions ----

def test_spot_values():
    assert vjp(math.sin, 0, 2.0, 0.0) == 2.0
    assert vjp(math.cos, 0, 1.0, 0.0) == 0.0
    assert vjp(math.exp, 0, 1.0, 1.0) == math.e
    assert vjp(math.log, 0, 1.0, 4.0) == 0.25
    assert vjp(math.log, 0, 1.0, 8.0, 2.0) == pytest.approx(1 / (8 * math.log(2)))
    assert vjp(math.log, 1, 1.0, 8.0, 2.0) == pytest.approx(-3.0 / (2.0 * math.log(2)))
    assert vjp(math.sqrt, 0, 1.0, 4.0) == 0.25
    assert vjp(math.tanh, 0, 1.0, 0.0) == 1.0
    assert vjp(math.erf, 0, 1.0, 0.0) == pytest.approx(2 / math.sqrt(math.pi))
    assert vjp(math.atan2, 0, 1.0, 1.0, 1.0) == pytest.approx(0.5)
    assert vjp(math.atan2, 1, 1.0, 1.0, 1.0) == pytest.approx(-0.5)
    assert vjp(math.degrees, 0, 1.0, 3.0) == pytest.approx(180 / math.pi)
    assert vjp(math.lgamma, 0, 1.0, 1.0) == pytest.approx(-0.5772156649015329, abs=1e-14)
    assert vjp(math.gamma, 0, 1.0, 2.0) == pytest.approx(1 - 0.5772156649015329, abs=1e-14)
    assert vjp(math.ldexp, 0, 1.0, 3.0, 4) == 16.0
    assert vjp(math.ldexp, 1, 1.0, 3.0, 4) is None
    assert vjp(math.frexp, 0, (1.0, None), 12.0) == 1 / 16
    assert vjp(math.frexp, 0, (None, 1.0), 12.0) is None
    assert vjp(math.modf, 0, (1.0, 5.0), 2.5) == 1.0
    assert jvp(math.modf, 0, 1.0, 2.5) == (1.0, None)


def test_singular_points():
    assert vjp(math.sqrt, 0, 1.0, 0.0) == math.inf
    assert vjp(math.asin, 0, 1.0, 1.0) == math.inf
    assert vjp(math.acos, 0, 1.0, -1.0) == -math.inf
    assert vjp(math.acosh, 0, 1.0, 1.0) == math.inf
    assert vjp(math.cbrt, 0, 1.0, 0.0) == math.inf
    assert vjp(math.fabs, 0, 1.0, 0.0) == 0.0
    assert vjp(math.copysign, 0, 1.0, 0.0, -1.0) == 0.0
    assert vjp(math.copysign, 0, 1.0, 2.0, -1.0) == -1.0
    assert vjp(math.copysign, 0, 1.0, -2.0, -0.0) == 1.0
    assert vjp(math.copysign, 1, 1.0, 2.0, -1.0) is None
    assert vjp(math.hypot, 0, 1.0, 0.0, 0.0) == 0.0
    assert vjp(math.hypot, 2, 1.0, 0.0, 0.0, 0.0) == 0.0
    assert jvp(math.hypot, 0, 1.0, 0.0, 0.0) is None
    assert vjp(math.dist, 0, 1.0, [1.0, 2.0], [1.0, 2.0]) == [0.0, 0.0]
    assert math.isnan(vjp(math.atan2, 0, 1.0, 0.0, 0.0))
    assert vjp(math.pow, 0, 1.0, 0.0, 0.0) == 0.0
    assert vjp(math.pow, 1, 1.0, 0.0, 2.0) == 0.0


def test_fmod_remainder_quotients():
    assert vjp(math.fmod, 1, 1.0, -7.5, 2.0) == 3.0  # fmod truncates: -7.5 == -3 * 2 - 1.5
    assert vjp(math.remainder, 1, 1.0, 7.5, 2.0) == -4.0  # rounds half to even: 7.5 - 4 * 2
    assert vjp(math.remainder, 1, 1.0, 5.0, 2.0) == -2.0


def test_prod_with_zeros():
    assert vjp(math.prod, 0, 1.0, [2.0, 0.0, 3.0]) == [0.0, 6.0, 0.0]
    assert vjp(math.prod, 0, 1.0, (2.0, 0.0, 0.0)) == (0.0, 0.0, 0.0)
    assert vjp(math.prod, 0, 1.0, [2.0, 3.0], start=5.0) == [15.0, 10.0]
    assert jvp(math.prod, 0, [1.0, None], [2.0, 3.0]) == 3.0
    assert vjp(math.prod, 0, 1.0, np.array([2.0, 3.0])).tolist() == [3.0, 2.0]


def test_namedtuple_cotangents():
    P = collections.namedtuple("P", "x y")
    ct = vjp(math.dist, 0, 1.0, P(3.0, 4.0), P(0.0, 0.0))
    assert isinstance(ct, P) and ct == P(0.6, 0.8)


# ---- digamma ----

@settings(max_examples=50, deadline=None)
@given(x=st.one_of(real(1e-3, 1e3), real(-30, 0)))
def test_digamma_against_scipy(x):
    special = pytest.importorskip("scipy.special")
    assume(x > 0 or off_integers(x, 1e-3))
    assert digamma(x) == pytest.approx(float(special.digamma(x)), rel=1e-12, abs=1e-13)


def test_digamma_values():
    special = pytest.importorskip("scipy.special")
    for x in [1e-8, 0.5, 1.0, 1.4616321449683622, 2.0, 9.99, 10.0, 1e8, -0.5, -2.5, -123.25]:
        assert digamma(x) == pytest.approx(float(special.digamma(x)), rel=1e-12, abs=1e-14)
    assert math.isnan(digamma(0.0)) and math.isnan(digamma(-3.0))


# ---- coverage of the module ----

NONDIFF = [math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
           math.factorial, math.comb, math.perm, math.gcd, math.lcm, math.isqrt, math.ulp]
EXEMPT: set[str] = set()  # math functions deliberately without a rule (none so far)


def test_nondiff():
    assert_nondiff(*NONDIFF)


def test_every_math_function_has_a_rule():
    missing = []
    for name in dir(math):
        fn = getattr(math, name)
        if name.startswith("_") or not callable(fn) or name in EXEMPT:
            continue
        rule = get_rule(fn)
        if rule is None or not (rule.has_reverse and rule.has_forward):
            missing.append(name)
    assert not missing, f"math functions without a reverse and forward rule: {missing}"


def test_differentiable_functions_are_not_nondiff():
    for name in dir(math):
        fn = getattr(math, name)
        if callable(fn) and not name.startswith("_") and fn not in NONDIFF:
            assert not get_rule(fn).nondiff, name


def test_rules_run_on_numpy_scalars():
    check_rule(math.sin, np.float64(0.3))
    assert vjp(math.fabs, 0, 1.0, np.float64(-2.0)) == -1.0
