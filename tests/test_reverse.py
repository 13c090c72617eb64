"""Reverse mode by source transformation: every construct of the core, against
analytic derivatives and float64 central finite differences."""

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import corpus_core as C
import wengert
from wengert.testing import check_grads

floats = st.floats(min_value=0.2, max_value=3.0, allow_nan=False)
SETTINGS = settings(max_examples=25, deadline=None)


def check(f, *args):
    check_grads(f, *args, modes=("source",))


# ---- straight-line code and operators ----

@SETTINGS
@given(floats, floats)
def test_arithmetic_operators(x, y):
    assume(abs(x - round(x)) > 1e-3 and abs(x % 3.0 - 3.0) > 1e-3)  # floor and mod jump there
    check(C.f_arith, x, y)


def test_talk_example_against_analytic():
    f = lambda x: 5 * math.sin(math.log(x))  # noqa: E731
    for x in (0.5, 1.0, 2.0, 7.3):
        assert wengert.grad(f)(x) == pytest.approx(5 * math.cos(math.log(x)) / x, rel=1e-12)


def test_every_binary_operator():
    ops = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / y,
           lambda x, y: x ** y, lambda x, y: x % y, lambda x, y: -x + (+y), lambda x, y: x // y + y]
    for f in ops:
        check(f, 1.7, 0.6)


def test_augmented_assignment():
    def f(x, y):
        z = x
        z += y
        z *= x
        z -= y
        z /= 2.0
        z **= 2
        return z
    check(f, 1.3, 0.4)


@pytest.mark.parametrize("x", [1.5, 0.5, -0.5])
def test_if_elif_else(x):
    check(C.f_if, x)


def test_comparisons_and_chains():
    check(C.f_chain, 1.5)
    check(C.f_chain, 6.5)
    assert wengert.grad(C.f_chain)(1.5) == 2.0
    assert wengert.grad(C.f_chain)(6.5) == 1.0


@pytest.mark.parametrize("x", [1.5, -1.5])
def test_short_circuit_and_or(x):
    check(C.f_and_or, x)


def test_short_circuit_does_not_evaluate():
    def f(x):
        return x > 0 and math.log(x)
    assert wengert.grad(f)(2.0) == pytest.approx(0.5)
    assert wengert.value_and_grad(f)(-1.0) == (False, 0.0)


def test_not_and_conditional_expression():
    def f(x):
        y = x * 2 if not x > 1 else x * 3
        return y
    assert wengert.grad(f)(0.5) == 2.0
    assert wengert.grad(f)(1.5) == 3.0


# ---- loops ----

@SETTINGS
@given(st.floats(min_value=0.5, max_value=1.5), st.integers(min_value=0, max_value=8))
def test_while_pow(x, n):
    assert wengert.grad(C.f_while)(x, n) == pytest.approx(n * x ** (n - 1) if n else 0.0)


def test_for_over_range_list_tuple_zip_enumerate_reversed():
    check(C.f_for_range, 1.2)
    check(C.f_genexp, [1.0, 2.0], [3.0, 4.0])
    check(C.f_genexp, (1.0, 2.0), (3.0, 4.0))
    check(C.f_enumerate, [1.0, 2.0, 3.0])
    check(C.f_reversed, [1.0, 2.0, 3.0])


def test_list_gradient_has_list_shape():
    g = wengert.grad(C.f_enumerate)([1.0, 2.0, 3.0])
    assert g == [0.0, 1.0, 2.0]
    g = wengert.grad(C.f_genexp)((1.0, 2.0), (3.0, 4.0))
    assert g == (3.0, 4.0)


@pytest.mark.parametrize("x", [0.5, 1.5, 4.0])
def test_break(x):
    check(C.f_break, x)


def test_continue():
    check(C.f_continue, 1.5)
    assert wengert.grad(C.f_continue)(1.0) == 1 + 3 + 5


@pytest.mark.parametrize("x", [0.001, 1.2, 9.0])
def test_early_return_in_loop(x):
    check(C.f_early_return, x)


def test_nested_loops():
    check(C.f_nested, 0.7)


def test_loop_else():
    check(C.f_while_else, 1.1)

    def f(x):
        for i in range(5):
            if x > 100:
                break
            x = x * 2
        else:
            x = x * 10
        return x
    assert wengert.grad(f)(1.0) == 320.0
    assert wengert.grad(f)(10.0) == 16.0


def test_while_data_dependent_trip_count():
    check(C.projectile, 0.7, 10.0)


def test_swap_in_loop():
    check(C.f_swap, 1.1, 0.9)


def test_loop_not_unrolled():
    src = wengert.show_adjoint(C.f_while, 2.0, 500)
    assert src.count("    while ") == 1 and "reversed(" in src
    assert len(src.splitlines()) < 20


def test_loop_memory_is_floats_not_closures():
    # the adjoint of pow saves one float per iteration and creates no closures
    src = wengert.show_adjoint(C.f_while, 2.0, 5)
    assert "lambda" not in src and "_back" not in src and "def " not in src.split("\n", 1)[1]


# ---- calls ----

def test_calls_to_user_functions():
    check(C.f_call, 0.8)


@pytest.mark.parametrize("n", [0, 1, 5, 30])
def test_recursion(n):
    assert wengert.grad(C.fact)(1.1, n) == pytest.approx(n * 1.1 ** (n - 1) if n else 0.0)


def test_mutual_recursion():
    check(C.f_mutual, 0.9)


def test_default_keyword_star_args():
    check(C.f_defaults, 1.5)
    check(C.f_kwcall, 1.5)
    check(C.f_star, 1.5, 2.5)
    assert wengert.gradient(C.f_kwargs, 1.5, a=2.0) == (2.0,)
    assert wengert.gradient(C.f_defaults, 1.5, 2.0) == (6.0, 4.5)


# ---- closures, lambdas, higher-order functions ----

def test_lambda_capturing_differentiated_variable():
    def f(x):
        g = lambda y: x * y  # noqa: E731
        return g(3.0)
    assert wengert.grad(f)(2.0) == 3.0


def test_nested_def_and_higher_order():
    check(C.f_nested_def, 1.5)
    check(C.f_closure, 1.5)
    check(C.f_hof, 1.5)


def test_gradient_for_closure_itself():
    a = 2.0

    def f(x):
        return a * x * x
    y, back = wengert.pullback(f, 3.0)
    fbar, xbar = back(1.0)
    assert xbar == 12.0 and fbar == {"a": 9.0}


def test_function_passed_as_argument():
    def apply(h, x):
        return h(x) * 2
    def f(x):
        return apply(lambda t: t * x, 3.0)
    assert wengert.grad(f)(1.5) == 6.0


# ---- comprehensions, tuples ----

def test_comprehensions():
    check(C.f_listcomp, 1.5)
    assert wengert.grad(C.f_listcomp)(1.0) == 0 + 1 + 3

    def nested(x):
        return sum([x * i * j for i in range(3) for j in range(3) if i != j])
    check(nested, 1.3)


def test_tuples():
    check(C.f_tuples, 1.5, 2.5)
    check(C.f_multi_return, 1.5)

    def ret_tuple(x, y):
        return x * y, x + y
    y, back = wengert.pullback(ret_tuple, 2.0, 3.0)
    assert y == (6.0, 5.0)
    assert back((1.0, 0.0)) == (None, 3.0, 2.0)
    assert back((None, 1.0)) == (None, 1.0, 1.0)


# ---- rules of math and builtins inside programs ----

def test_math_and_builtins_in_programs():
    check(C.f_math, 1.3)
    check(C.f_builtins, 1.3, 0.4)


def test_nondifferentiable_arguments_get_none():
    def f(x, n, s, flag):
        return x * n if flag and s == "a" else x
    assert wengert.gradient(f, 2.0, 3, "a", True) == (3.0, None, None, None)


def test_int_argument_differentiated_as_float():
    assert wengert.grad(lambda x: x * x)(3) == 6.0
