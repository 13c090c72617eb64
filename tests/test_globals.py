"""Globals and closure cells are read when the gradient runs, never baked in."""

import math
import textwrap

import wengert

FLAG = True
SCALE = 2.0


def helper(x):
    return x * x


def uses_flag(x):
    if FLAG:
        return x * SCALE
    return x * x


def uses_helper(x):
    return helper(x) + math.sin(x)


def test_flipping_a_global_flag_changes_the_next_gradient():
    global FLAG, SCALE
    g = wengert.grad(uses_flag)
    assert g(3.0) == 2.0
    FLAG = False
    try:
        assert g(3.0) == 6.0
        SCALE = 5.0
        FLAG = True
        assert g(3.0) == 5.0
    finally:
        FLAG, SCALE = True, 2.0


def test_rebinding_a_global_function_changes_the_next_gradient():
    global helper
    g = wengert.grad(uses_helper)
    assert g(1.0) == 2.0 + math.cos(1.0)
    old = helper
    try:
        helper = lambda x: 10 * x  # noqa: E731
        assert g(1.0) == 10.0 + math.cos(1.0)
    finally:
        helper = old
    assert g(1.0) == 2.0 + math.cos(1.0)


def test_rebinding_a_module_function_in_a_global_module():
    import types

    fake = types.SimpleNamespace(sin=math.cos)
    ns = {"math": math}
    src = "def f(x):\n    return math.sin(x)\n"
    import linecache
    linecache.cache["<glob-test>"] = (len(src), None, src.splitlines(True), "<glob-test>")
    exec(compile(src, "<glob-test>", "exec"), ns)
    g = wengert.grad(ns["f"])
    assert g(0.5) == math.cos(0.5)
    ns["math"] = fake
    assert g(0.5) == -math.sin(0.5)


def test_redefined_function_gets_a_fresh_transform():
    import linecache
    ns = {}
    for k, body in enumerate(["x * x", "x * x * x"]):
        src = textwrap.dedent(f"def f(x):\n    return {body}\n")
        name = f"<redefine-{k}>"
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)
        exec(compile(src, name, "exec"), ns)
        assert wengert.grad(ns["f"])(2.0) == [4.0, 12.0][k]


def test_closure_cells_are_read_at_run_time():
    def make(a):
        def f(x):
            return a * x
        return f
    assert wengert.grad(make(2.0))(1.0) == 2.0
    assert wengert.grad(make(7.0))(1.0) == 7.0
