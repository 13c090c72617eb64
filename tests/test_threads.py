"""Many threads transforming, differentiating and clearing the caches at once (issue 8).

Every thread must get the single-threaded answer every time: a gradient is
published only complete (with its recursive calls linked), the recursion state of
the return-type analysis is per thread, and `clear_cache` may run at any moment.
The switch interval is made tiny so that threads interleave inside transforms.
"""

import math
import random
import sys
import threading

import pytest

import wengert

THREADS = 8
ROUNDS = 12


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def even(x, n):
    if n == 0:
        return x
    return odd(1.5 * x, n - 1)


def odd(x, n):
    if n == 0:
        return x * x
    return even(x + 1.0, n - 1)


def scaled_power(c):
    def f(x):
        return c * power(x, 3)

    return f


def mixed(x, y, n):
    return power(x, n) * y + math.sin(y)


class Body:
    def __init__(self, m, v):
        self.m = m
        self.v = v


def energy(b, k):
    return k * b.m * b.v * b.v


def _tasks():
    """name -> (compute, analytic value): each compute makes its gradient function anew,
    so every call looks its compiled code up (and transforms it after a clear)."""
    x = 1.3
    return {
        "grad power": (lambda: wengert.grad(power)(x, 5), 5 * x ** 4),
        "grad mixed y": (lambda: wengert.grad(mixed, argnums=1)(x, 0.7, 4), x ** 4 + math.cos(0.7)),
        "grad mixed x": (lambda: wengert.grad(mixed, argnums=0)(x, 0.7, 4), 4 * x ** 3 * 0.7),
        # even(x, 3) = odd(1.5x, 2) = even(1.5x + 1, 1) = odd(2.25x + 1.5, 0) = (2.25x + 1.5)^2
        "grad mutual": (lambda: wengert.grad(even)(x, 3), 2 * 2.25 * (2.25 * x + 1.5)),
        "jvp power": (lambda: wengert.jvp(lambda t: power(t, 4), (x,), (1.0,)), (x ** 4, 4 * x ** 3)),
        "jvp mutual": (lambda: wengert.jvp(lambda t: even(t, 3), (x,), (2.0,)),
                       ((2.25 * x + 1.5) ** 2, 2.0 * 2 * 2.25 * (2.25 * x + 1.5))),
        "hessian power": (lambda: wengert.hessian(power)(x, 5), 20 * x ** 3),
        "grad grad power": (lambda: wengert.grad(wengert.grad(power))(x, 4), 12 * x ** 2),
        "grad closure": (lambda: wengert.grad(scaled_power(2.5))(x), 2.5 * 3 * x ** 2),
        "grad object": (lambda: _fields(wengert.grad(energy)(Body(2.0, x), 0.5)),
                        {"m": 0.5 * x * x, "v": 2 * 0.5 * 2.0 * x}),
        "grad object k": (lambda: wengert.grad(energy, argnums=1)(Body(2.0, x), 0.5), 2.0 * x * x),
    }


def _fields(t):
    return {k: getattr(t, k) for k in ("m", "v")}


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_close(p, q) for p, q in zip(a, b))
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.fixture
def racy():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
        wengert.clear_cache()


def test_first_time_gradients_from_many_threads_with_clear_cache_between(racy):
    tasks = _tasks()
    wengert.clear_cache()
    reference = {name: compute() for name, (compute, _) in tasks.items()}
    for name, (_, exact) in tasks.items():
        assert _close(reference[name], exact), (name, reference[name], exact)

    barrier = threading.Barrier(THREADS)
    wrong: list = []
    errors: list = []

    def worker(index: int) -> None:
        rng = random.Random(index)
        names = list(tasks)
        try:
            for _ in range(ROUNDS):
                barrier.wait()
                if index == 0:
                    wengert.clear_cache()  # while the others start transforming
                rng.shuffle(names)
                for name in names:
                    if rng.random() < 0.1:
                        wengert.clear_cache()
                    got = tasks[name][0]()
                    if got != reference[name]:
                        wrong.append((name, got, reference[name]))
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert not wrong, wrong[:5]


def test_one_recursive_function_from_many_threads_at_its_first_call(racy):
    """All threads ask for the same first transform of a recursive function at once."""
    exact = 6 * 1.1 ** 5
    barrier = threading.Barrier(THREADS)
    results: list = []

    def worker() -> None:
        for _ in range(ROUNDS * 2):
            barrier.wait()
            wengert.clear_cache()
            barrier.wait()
            results.append(wengert.grad(power)(1.1, 6))
            results.append(wengert.jvp(lambda t: power(t, 6), (1.1,), (1.0,))[1])

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == THREADS * ROUNDS * 4
    assert all(math.isclose(r, exact, rel_tol=1e-12) for r in results), sorted(set(results))
