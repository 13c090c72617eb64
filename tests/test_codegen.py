"""Generated code: its shape, its names, and where it is registered."""

import inspect
import linecache

import wengert


def pow(x, n):
    r = 1
    while n > 0:
        n -= 1
        r *= x
    return r


POW_GRAD = """\
def pow_grad(_pass, x, n, r_bar=1.0):
    r_stack = []
    r = 1
    while n > 0:
        r_stack.append(r)
        n = n - 1  # line 12
        r = r * x  # line 13
    x_bar = 0.0
    for r_1 in reversed(r_stack):
        x_bar += r_bar * r_1
        r_bar = r_bar * x
    return r, None, (x_bar, None)
"""


def test_pow_adjoint_reads_like_the_hand_written_one():
    assert wengert.show_adjoint(pow, 2.0, 3) == POW_GRAD


def test_pullback_form_nests_the_back_function():
    src = wengert.show_adjoint(pow, 2.0, 3, fused=False)
    assert "def pow_pullback(_pass, x, n):" in src
    assert "    def pow_back(r_bar):" in src
    assert src.rstrip().endswith("return r, pow_back")


def test_generated_source_is_in_linecache():
    from wengert.dispatch.cache import compiled

    c = compiled(pow, ("float", "int"))
    fname = c.grad.__code__.co_filename
    assert fname.startswith("<wengert pow_grad from ") and __file__ in fname
    assert "r_stack.append(r)" in "".join(linecache.getlines(fname))
    assert "r_stack.append(r)" in inspect.getsource(c.grad)


def test_names_come_from_user_variables():
    def f(speed, angle):
        vx = speed * angle
        height = vx * vx
        return height
    src = wengert.show_adjoint(f, 1.0, 2.0)
    for name in ("speed_bar", "angle_bar", "vx_bar", "vx = speed * angle"):
        assert name in src


def test_specialised_per_argument_types():
    import numpy as np

    def f(x):
        return x * x
    floats = wengert.show_adjoint(f, 2.0)
    arrays = wengert.show_adjoint(f, np.ones(3))
    assert "unbroadcast" not in floats and "is not None" not in floats
    assert "unbroadcast" in arrays


def test_first_call_cost_does_not_grow_with_trip_count():
    import time

    def loop(x, n):
        s = 0.0
        for i in range(n):
            s = s + x * i
        return s

    def first_call(n):
        wengert.clear_cache()
        t = time.perf_counter()
        wengert.grad(loop)(1.0, n)
        return time.perf_counter() - t
    small = min(first_call(10) for _ in range(3))
    large = min(first_call(10_000) for _ in range(3))
    # the transform is the same; only running the loop differs (a few ms at most)
    assert large - small < 0.05
