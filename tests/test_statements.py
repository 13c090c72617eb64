"""Statements beyond if/while/for: shared cells (``nonlocal``, rebound captured variables,
mutual recursion of nested functions), ``global``, ``try``, ``with``, ``match`` and local
classes, each differentiated with respect to subsets of the arguments and checked against
float64 central differences (the style of test_soundness)."""

import itertools

import pytest

import wengert
from wengert import UnsupportedError


def fd(f, make, argnum, h=1e-6):
    def at(dx):
        args = list(make())
        args[argnum] = args[argnum] + dx
        return f(*args)
    return (at(h) - at(-h)) / (2 * h)


def grad_wrt(f, make, argnums):
    return wengert.grad(f, argnums=argnums)(*make())


def check(f, make, floats=(0, 1)):
    """Reverse mode against central differences for every non-empty subset of the float
    arguments, and forward mode (jvp) along each of them."""
    for r in range(1, len(floats) + 1):
        for sub in itertools.combinations(floats, r):
            g = grad_wrt(f, make, sub if len(sub) > 1 else sub[0])
            g = g if len(sub) > 1 else (g,)
            for i, gi in zip(sub, g):
                assert gi == pytest.approx(fd(f, make, i), rel=1e-5, abs=1e-6), (f.__name__, sub, i)
    for i in floats:
        args = list(make())

        def along(v, i=i, args=args):
            a = list(args)
            a[i] = v
            return f(*a)
        _, t = wengert.jvp(along, (args[i],), (1.0,))
        assert t == pytest.approx(fd(f, make, i), rel=1e-5, abs=1e-6), (f.__name__, "jvp", i)


# ---- shared cells: nonlocal, rebound captured variables, mutual recursion ----

def mutual_recursion(x, y, n):
    def ev(k):
        return x if k == 0 else od(k - 1) * y
    def od(k):
        return y if k == 0 else ev(k - 1) + x
    return ev(n) + od(n) * x


def nonlocal_counter(x, y, n):
    acc = x
    def add(v):
        nonlocal acc
        acc = acc * v + y
    for _ in range(n):
        add(x)
    add(y)
    return acc


def rebound_after_capture(x, y, n):
    a = x
    f = lambda: a * y  # noqa: E731
    a = a * 3.0
    return f() + a


def loop_variable_late_binding(x, y, n):
    fs = []
    for i in range(3):
        fs.append(lambda: x * i + y)
    return fs[0]() + fs[1]()


def read_before_assigned(x, y, n):
    def g():
        return a * a + y
    a = x * y
    return g()


def nested_nonlocal_two_levels(x, y, n):
    s = x
    def outer():
        def inner():
            nonlocal s
            s = s * y
        inner()
        inner()
    outer()
    return s + x


@pytest.mark.parametrize("f", [mutual_recursion, nonlocal_counter, rebound_after_capture,
                               loop_variable_late_binding, read_before_assigned,
                               nested_nonlocal_two_levels])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_shared_cells(f, n):
    check(f, lambda: (0.7, 1.3, n))


def make_scaled(w):
    a = w
    def g(x):
        return a * x * x
    a = a * 2.0
    return g


def make_counter(w):
    n = 0.0
    def g(x):
        nonlocal n
        n = n + 1.0
        return w * x * n
    return g


def test_closure_made_by_python_reads_its_rebound_variable():
    # made by plain Python: its closure cell holds the value, not a wengert Cell
    g = make_scaled(1.5)
    assert wengert.grad(g)(2.0) == pytest.approx(2 * 3.0 * 2.0)
    _, t = wengert.jvp(g, (2.0,), (1.0,))
    assert t == pytest.approx(12.0)


def test_closure_made_by_python_writing_nonlocal_is_refused():
    g = make_counter(1.5)
    with pytest.raises(UnsupportedError, match="nonlocal 'n'"):
        wengert.grad(g)(2.0)


def test_closure_cotangent_holds_the_cell():
    def f(x, y):
        a = x
        g = lambda: a * y  # noqa: E731
        a = a * 2.0
        return g
    def h(x, y):
        return f(x, y)()
    assert wengert.grad(h, argnums=(0, 1))(1.5, 2.0) == pytest.approx((4.0, 3.0))
