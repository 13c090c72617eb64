"""Issue 10, expressions: f-strings and %-formatting, set displays, starred expressions in
displays and calls, generator functions, function-local and conditional imports.

Each function is differentiated with respect to subsets of its arguments (source mode) and
checked against float64 central differences; arguments are made afresh for every evaluation.
"""

import math

import numpy as np
import pytest

import wengert
from wengert import UnsupportedError


def fd(f, args, i, h=1e-6):
    up, dn = list(args), list(args)
    up[i] = args[i] + h
    dn[i] = args[i] - h
    return (f(*up) - f(*dn)) / (2 * h)


def check(f, *args, argnums=None):
    """grad(f, argnums=k) for every float argument k, and all of them at once."""
    floats = [i for i, a in enumerate(args) if isinstance(a, float)] if argnums is None else argnums
    for i in floats:
        g = wengert.grad(f, argnums=i)(*args)
        assert g == pytest.approx(fd(f, args, i), rel=1e-5, abs=1e-7), (f.__name__, i)
    if len(floats) > 1:
        gs = wengert.grad(f, argnums=tuple(floats))(*args)
        for i, g in zip(floats, gs):
            assert g == pytest.approx(fd(f, args, i), rel=1e-5, abs=1e-7), (f.__name__, i)


# ---- f-strings and %-formatting: no derivative, and no refusal ----

def fstring_in_loop(x, y):
    s = 0.0
    log = []
    for i in range(3):
        s = s + x * y * i
        print(f"step {i}: s={s:.3f} {x!r:>12} {y=}")
        log.append(f"{s:{8}.{3}f}")
    return s + len(log) * x


def percent_format(x, y):
    msg = "%.3f and %d" % (x * y, 3)
    label = "x=%s" % x
    print(msg, label, "{:.2f}".format(y))
    return x * y + len(msg) * 0.0


def test_fstring_inside_a_loop_keeps_the_gradient(capsys):
    check(fstring_in_loop, 1.5, 2.0)
    assert "step 2" in capsys.readouterr().out


def test_percent_and_str_format():
    check(percent_format, 1.5, 2.0)


def test_fstring_result_is_the_string():
    def f(x):
        s = f"{x:.1f}|{x!s}"
        return x * len(s)
    assert wengert.grad(f)(1.25) == pytest.approx(len(f"{1.25:.1f}|{1.25!s}"))


# ---- set displays ----

def set_membership(x, k):
    keys = {"a", "b", k}
    small = {i * i for i in range(4)}
    if "a" in keys and 4 in small:
        return x * len(keys) + x * x
    return x


def test_set_display_and_set_comprehension_of_constants():
    check(set_membership, 1.5, "c")


def test_a_set_of_differentiated_numbers_is_refused_by_name():
    def f(x, y):
        return sum({x, y})
    with pytest.raises(UnsupportedError, match="set"):
        wengert.grad(f)(1.0, 2.0)


# ---- starred expressions in displays and calls ----

def add3(a, b, c):
    return a * b + c


def starred_displays(x, y, z):
    xs = [x, y]
    a = [*xs, z, *xs]
    t = (z, *xs)
    d = {**{"p": x}, "q": y, **dict(r=z)}
    return a[0] * a[2] + a[4] * t[0] + t[2] + d["p"] * d["q"] * d["r"]


def starred_calls(x, y, z):
    a = (x,)
    b = [y, z]
    return add3(*a, *b) + add3(x, *b) + max(*b, x) + add3(*[z, z], y)


def test_starred_displays():
    check(starred_displays, 1.5, 2.0, 0.7)


def test_starred_calls():
    check(starred_calls, 1.5, 2.0, 0.7)


# ---- generator functions: run to the end when called, then consumed ----

def powers(x, n):
    for i in range(n):
        if i == 3:
            return
        yield x ** i
    yield from [x * 10.0, x * 20.0]


def evens(n):
    for i in range(n):
        if i % 2 == 0:
            yield i


def gen_consumers(x, y):
    s = sum(powers(x, 3))                       # sum
    for p in powers(y, 2):                      # for
        s = s + p * x
    ps = list(powers(x, 5))                     # list (stops at return)
    s = s + ps[-1] * y + len(ps)
    for i in evens(5):                          # a generator of ints, nothing differentiated
        s = s + i * y
    return s + sum(a * b for a, b in zip(powers(x, 2), powers(y, 2)))


def nested_generator(x, w):
    def scaled(k):
        for j in range(k):
            yield w * x ** j
    return sum(scaled(4)) + max(scaled(3))


def test_generator_functions_consumed_by_sum_for_list_zip():
    check(gen_consumers, 1.5, 0.7)


def test_nested_generator_capturing_differentiated_values():
    check(nested_generator, 1.5, 0.7)
    y, t = wengert.jvp(lambda x: nested_generator(x, 0.7), (1.5,), (1.0,))
    assert t == pytest.approx(fd(nested_generator, (1.5, 0.7), 0), rel=1e-6)


# ---- imports inside the function ----

def local_import(x, y):
    import math as m
    from math import cos
    import os.path
    from numpy import sum as npsum
    return m.sin(x) * cos(y) + npsum(np.array([x, y]) ** 2) + len(os.path.sep) * x


def conditional_import(x, use_numpy):
    if use_numpy:
        import numpy as backend
    else:
        import math as backend
    return backend.exp(x) * x


def import_not_taken(x, flag):
    if flag:
        import wengert_no_such_module  # noqa: F401  (never runs)
    return math.exp(x)


def test_function_local_imports():
    check(local_import, 0.4, 1.1)


def test_conditional_imports():
    check(conditional_import, 0.4, True, argnums=[0])
    check(conditional_import, 0.4, False, argnums=[0])


def test_an_import_in_a_branch_not_taken_never_runs():
    assert wengert.grad(import_not_taken)(0.3, False) == pytest.approx(math.exp(0.3))
    with pytest.raises(ImportError):
        wengert.grad(import_not_taken)(0.3, True)
