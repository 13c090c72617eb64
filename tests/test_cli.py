"""The command line, in-process (`wengert.cli.commands`) and as ``python -m wengert``."""

import io
import math
import subprocess
import sys
import textwrap

import pytest

import wengert
from wengert.cli import commands as cli
from wengert.cli import examples

SOURCE = textwrap.dedent(
    """
    import math

    def f(x, y):
        return x * math.sin(y)

    def pw(x, n):
        r = 1
        while n > 0:
            n -= 1
            r *= x
        return r

    def total(xs):
        s = 0.0
        for v in xs:
            s = s + v * v
        return s

    def broken(x):
        return x / 0.0

    class Box:
        @staticmethod
        def cube(x):
            return x * x * x

    not_a_function = 3
    """
)


@pytest.fixture
def funcs(tmp_path):
    path = tmp_path / "funcs.py"
    path.write_text(SOURCE)
    return str(path)


def run_main(argv):
    out = io.StringIO()
    rc = cli.main(argv, out=out)
    return rc, out.getvalue()


def grad_lines(text):
    """``{'value': ..., 'x': ..., ...}`` from the output of ``wengert grad``."""
    lines = text.strip().splitlines()
    got = {"value": lines[0].rpartition(" = ")[2]}
    for line in lines[1:]:
        name, _, val = line.partition(" = ")
        got[name.removeprefix("d/d")] = val
    return got


# ---- argument parsing and file loading (no transform needed) ----


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        ("-2", -2),
        ("3.0", 3.0),
        ("1e-3", 1e-3),
        ("[1.0, 2]", [1.0, 2]),
        ("(1, 2.5)", (1, 2.5)),
    ],
)
def test_parse_literal_keeps_types(text, value):
    got = cli.parse_literal(text)
    assert got == value and type(got) is type(value)
    if isinstance(value, list):
        assert [type(v) for v in got] == [type(v) for v in value]


@pytest.mark.parametrize("text", ["x", "3.0.1", "1 +", "__import__('os')", ""])
def test_parse_literal_rejects_non_literals(text):
    with pytest.raises(cli.InputError, match="not a Python literal"):
        cli.parse_literal(text)


def test_load_function_reads_source(funcs):
    import inspect

    f = cli.load_function(f"{funcs}:f")
    assert f(2.0, 0.5) == 2.0 * math.sin(0.5)
    assert "x * math.sin(y)" in inspect.getsource(f)
    assert cli.load_function(f"{funcs}:Box.cube")(2.0) == 8.0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("{d}/missing.py:f", "no such file"),
        ("{funcs}:g", "has no attribute 'g'"),
        ("{funcs}:not_a_function", "not callable"),
        ("{funcs}", "expected FILE.py:FUNCTION"),
        ("{funcs}:", "expected FILE.py:FUNCTION"),
    ],
)
def test_load_function_errors(funcs, tmp_path, spec, message):
    with pytest.raises(cli.InputError, match=message):
        cli.load_function(spec.format(funcs=funcs, d=tmp_path))


def test_load_function_syntax_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    return x +\n")
    with pytest.raises(cli.InputError, match=r"bad.py:2: syntax error"):
        cli.load_function(f"{bad}:f")


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["show"], ["grad"], ["grad", "x.py:f", "--bogus"]],
)
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("wengert: error:") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grad", "{funcs}:f", "2.0", "y"], "cannot parse argument 'y'"),
        (["grad", "{funcs}:f"], "needs at least one non-integer argument"),
        (["grad", "{funcs}:pw", "2", "3"], "ints get no gradient"),
        (["grad", "{funcs}:nope", "1.0"], "has no attribute"),
        (["show", "{d}/nothere.py:f"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_one_line(funcs, tmp_path, argv, message, capsys):
    argv = [a.format(funcs=funcs, d=tmp_path) for a in argv]
    rc, out = run_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and out == ""
    assert err.startswith("wengert: error:") and message in err and err.count("\n") == 1


# ---- end to end through wengert ----


def test_grad_prints_value_and_gradient(funcs):
    rc, out = run_main(["grad", f"{funcs}:f", "2.0", "0.5"])
    assert rc == 0
    got = grad_lines(out)
    assert float(got["value"]) == pytest.approx(2.0 * math.sin(0.5), rel=1e-15)
    assert float(got["x"]) == pytest.approx(math.sin(0.5), rel=1e-14)
    assert float(got["y"]) == pytest.approx(2.0 * math.cos(0.5), rel=1e-14)


def test_grad_keeps_int_arguments_int(funcs):
    # n = 3 must arrive as an int and get no gradient; as 3.0 it gets one (zero).
    rc, out = run_main(["grad", f"{funcs}:pw", "2.0", "3"])
    assert rc == 0
    got = grad_lines(out)
    assert out.startswith("pw(2.0, 3) = 8.0")
    assert float(got["x"]) == pytest.approx(12.0, rel=1e-14)
    assert got["n"] == "None"
    rc, out = run_main(["grad", f"{funcs}:pw", "2.0", "3.0"])
    assert rc == 0 and grad_lines(out)["n"] == "0.0"


def test_grad_of_list_argument(funcs):
    rc, out = run_main(["grad", f"{funcs}:total", "[1.0, -2.0, 0.5]"])
    assert rc == 0
    got = grad_lines(out)
    assert float(got["value"]) == pytest.approx(5.25)
    assert [float(v) for v in got["xs"].strip("[]").split(",")] == pytest.approx([2.0, -4.0, 1.0])


def test_error_in_function_exits_1_with_one_line(funcs, capsys):
    rc, _out = run_main(["grad", f"{funcs}:broken", "1.0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("wengert: error: ZeroDivisionError") and err.count("\n") == 1


def test_show_prints_ir_and_adjoint(funcs):
    f = cli.load_function(f"{funcs}:pw")
    rc, out = run_main(["show", f"{funcs}:pw"])
    assert rc == 0
    assert wengert.show_ir(f).rstrip() in out
    assert wengert.show_adjoint(f).rstrip() in out
    assert out.index("# IR of") < out.index("# adjoint of")


def test_demo_follows_the_talk():
    # The Wengert list of 5 sin(log x) first, then its derivative, then pow's IR and adjoint.
    rc, out = run_main(["demo"])
    assert rc == 0, out
    assert "PASS" in out and "FAIL" not in out and "MISMATCH" not in out
    wengert_list = "y1 = log(x)\ny2 = sin(y1)\ny3 = 5 * y2"
    assert str(wengert.trace(examples.sin_log, 2.0)) == wengert_list
    parts = [
        wengert_list,
        wengert.show_adjoint(examples.sin_log, 2.0).rstrip(),
        "5 cos(log x) / x",
        wengert.show_ir(examples.pow).rstrip(),
        wengert.show_adjoint(examples.pow, 2.0, 3).rstrip(),
        "n x^(n-1)",
        "PASS",
    ]
    where = [out.find(p) for p in parts]
    assert -1 not in where, [p for p, w in zip(parts, where) if w == -1]
    assert where == sorted(where)
    assert out.startswith("f(x) = 5 sin(log x) as a Wengert list")


def test_trace_is_public():
    t = wengert.trace(examples.sin_log, 2.0)
    assert "trace" in wengert.__all__
    assert t.value == pytest.approx(5 * math.sin(math.log(2.0)))
    assert t.backward(1.0)[0] == pytest.approx(5 * math.cos(math.log(2.0)) / 2.0)


def test_demo_fails_loudly_on_a_wrong_gradient():
    # The demo's check must be able to fail: feed it a gradient that is off by 1e-6.
    def off_grad(f):
        g = wengert.grad(f)
        return lambda *args: g(*args) * (1 + 1e-6)

    out = io.StringIO()
    rc = cli.run_demo(out, grad=off_grad)
    out = out.getvalue()
    assert rc == 1
    assert "FAIL" in out and "MISMATCH" in out


# ---- as a subprocess ----


def run_module(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "wengert", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_module_demo(tmp_path):
    p = run_module("demo", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "PASS" in p.stdout and "y1 = log(x)" in p.stdout and "show_adjoint(pow, 2.0, 3)" in p.stdout


def test_module_grad_and_show(funcs, tmp_path):
    p = run_module("grad", f"{funcs}:f", "2.0", "0.5", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = grad_lines(p.stdout)
    assert float(got["y"]) == pytest.approx(2.0 * math.cos(0.5), rel=1e-14)
    p = run_module("show", f"{funcs}:pw", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "# adjoint of" in p.stdout


def test_module_bad_input(funcs, tmp_path):
    p = run_module("grad", f"{funcs}:f", "2.0", "oops", cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("wengert: error: cannot parse argument 'oops'")
    assert p.stderr.count("\n") == 1
