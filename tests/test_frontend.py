"""Python -> SSA IR: printed form, verifier, normalisation."""

import linecache

import pytest

import wengert
from wengert import ir
from wengert.frontend.lower import lower


def pow(x, n):
    r = 1
    while n > 0:
        n -= 1
        r *= x
    return r


POW_IR = """\
pow(%1, %2)    # x, n    line 12
  %10, %11 = while (%2, 1)    # n, r    line 14
    header: (%3, %4)    # n, r
      %5 = gt(%3, 0)    # line 14
      cond %5
    body: (%6, %7)    # n, r
      %8 = isub(%6, 1)    # n    line 15
      %9 = imul(%7, %1)    # r    line 16
      continue %8, %9
  return %11
"""


def test_pow_ir_prints_like_irtools():
    assert wengert.show_ir(pow) == POW_IR


def test_every_corpus_function_verifies():
    import corpus_core
    import corpus_mutation

    n = 0
    for mod in (corpus_core, corpus_mutation):
        for name in dir(mod):
            f = getattr(mod, name)
            if callable(f) and getattr(f, "__module__", None) == mod.__name__ and hasattr(f, "__code__"):
                ir.verify(lower(f))
                n += 1
    assert n > 40


def test_verifier_catches_use_before_definition():
    f = lower(pow)
    body = f.body.stmts[0].body
    body.stmts.reverse()  # imul now uses... isub's result order swapped is still fine; break it:
    body.term.values[0] = ir.Value(999)
    with pytest.raises(ir.VerifyError):
        ir.verify(f)


def test_break_continue_return_are_normalised():
    def f(x):
        for i in range(5):
            if x > 3:
                return x
            if i == 2:
                continue
            x = x * 2
        return -x
    text = wengert.show_ir(f)
    assert "break" in text and "continue" in text
    assert sum(line.strip().startswith("return ") for line in text.splitlines()) == 1
    ir.verify(lower(f))


def test_ir_keeps_user_names_and_lines():
    text = wengert.show_ir(pow)
    assert "# n, r" in text and "line 15" in text


def test_lambda_found_among_several_on_one_line():
    fs = [lambda x: x * 2, lambda x: x * 3]  # noqa: E731
    assert wengert.grad(fs[0])(1.0) == 2.0
    assert wengert.grad(fs[1])(1.0) == 3.0


def test_function_without_source_uses_the_tape():
    src = "def f(x):\n    return x * x * 3\n"
    ns = {}
    exec(compile(src, "<no-source-anywhere>", "exec"), ns)
    assert linecache.getlines("<no-source-anywhere>") == []
    assert wengert.grad(ns["f"])(2.0) == 12.0
