"""Unsupported constructs and missing rules fail loudly, naming the user's file and line."""

import math
import sys

import pytest

import wengert
from wengert import UnsupportedError

HERE = __file__


def with_try(x):
    try:
        return x * 2
    except ValueError:
        return x


def with_global(x):
    global COUNTER
    COUNTER = x
    return x


def with_with(x):
    with open(__file__):
        return x


def with_nonlocal(x):
    y = x

    def inner():
        nonlocal y
        y = y * 2
        return y
    return inner()


def with_del(x):
    y = x
    del y
    return x


def with_fstring(x):
    s = f"{x}"
    return x if s else x


def with_import(x):
    import os  # noqa: F401
    return x


def rebinding_captured(x):
    y = x
    f = lambda: y * 2  # noqa: E731
    y = 3.0
    return f()


@pytest.mark.parametrize("fn,what", [
    (with_del, "Delete"),
    (with_global, "Global"),
])
def test_unsupported_constructs_name_file_and_line(fn, what):
    with pytest.raises(UnsupportedError) as e:
        wengert.grad(fn)(1.0)
    msg = str(e.value)
    assert what.lower() in msg.lower()
    assert msg.startswith(f"{HERE}:")
    line = int(msg.split(":")[1])
    assert fn.__code__.co_firstlineno <= line <= fn.__code__.co_firstlineno + 8


def test_fstrings_and_local_imports_run():  # issue 10: no derivative, but no refusal either
    assert wengert.grad(with_fstring)(1.0) == 1.0
    assert wengert.grad(with_import)(1.0) == 1.0


def send_gen(x):
    y = yield x
    yield y


def test_generator_send_is_refused():
    # generators run to the end when called (tests/test_expressions.py); a yield used as a
    # value (send) cannot be
    with pytest.raises(UnsupportedError, match="yield"):
        wengert.grad(lambda x: sum(send_gen(x)))(1.0)


def test_try_and_with_run():  # issue 10: differentiated (tests/test_statements.py)
    assert wengert.grad(with_try)(1.0) == 2.0
    assert wengert.grad(with_with)(1.0) == 1.0


def test_nonlocal_and_rebound_captured_are_shared_cells():
    # once refused; now differentiated (tests/test_statements.py)
    assert wengert.grad(with_nonlocal)(1.0) == 2.0
    assert wengert.grad(rebinding_captured)(1.0) == 0.0


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match needs 3.10")
def test_match_runs():
    ns = {}
    src = "def m(x):\n    match x:\n        case _:\n            return x\n"
    import linecache
    linecache.cache["<match-test>"] = (len(src), None, src.splitlines(True), "<match-test>")
    exec(compile(src, "<match-test>", "exec"), ns)
    assert wengert.grad(ns["m"])(1.0) == 1.0  # issue 10: match is lowered to ifs now


def test_callable_without_source_or_rule_names_it_and_the_fix():
    class Opaque:
        __call__ = staticmethod(math.fsum)  # not a Python function: no source
    import numpy as np

    def f(x):
        return np.frompyfunc(math.sin, 1, 1)(x)
    with pytest.raises(UnsupportedError) as e:
        wengert.grad(f)(1.0)
    msg = str(e.value)
    assert "no rule" in msg and "wengert.defvjp(" in msg


def test_user_exception_points_at_user_line():
    def inner(x):
        if x < 0:
            raise ValueError("negative")
        return math.sqrt(x)

    def f(x):
        return inner(x - 10.0)
    with pytest.raises(ValueError) as e:
        wengert.grad(f)(1.0)
    notes = "\n".join(getattr(e.value, "__notes__", []))
    line = inner.__code__.co_firstlineno + 2
    if sys.version_info >= (3, 11):
        assert f"{HERE}:{line}" in notes


def test_traceback_shows_generated_source():
    import traceback

    def f(x):
        return math.log(x)
    try:
        wengert.grad(f)(-1.0)
    except ValueError:
        tb = traceback.format_exc()
    assert "<wengert f_" in tb and "math.log(x)" in tb


def test_no_silent_wrong_gradient_for_a_c_function_reading_an_active_object():
    import numpy as np

    def f(x):
        a = np.ones(3) * x
        return float(np.frompyfunc(lambda v: v, 1, 1)(a).sum())
    with pytest.raises((UnsupportedError, TypeError)):
        wengert.grad(f)(2.0)
