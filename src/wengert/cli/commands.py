"""The ``wengert`` command line: a demo, and gradients of functions in files.

    wengert demo                          the talk: a Wengert list, its derivative, pow's IR and adjoint
    wengert show path/to/file.py:f        print f's IR and its adjoint code
    wengert grad path/to/file.py:f 3.0 2  print f(3.0, 2) and its gradient

Also reachable as ``python -m wengert``. Arguments of ``grad`` are Python
literals (`ast.literal_eval`): ``2`` stays an int, ``2.0`` a float, ``[1.0, 2.0]``
a list. Ints get no gradient (``None``): they are counts, write ``3.0`` to
differentiate at 3. Bad input exits with status 2 and one line on stderr; an error raised
by wengert or by the function exits with status 1, one line as well
(``--traceback`` shows the whole traceback).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import math
import os
import sys
from collections.abc import Callable, Sequence

import wengert

# Relative tolerances of the demo's checks: the reverse pass of 5 sin(log x)
# rounds differently from the closed form only in the last bit or two; the pow
# loop accumulates n products, so its error grows with n.
_SIN_LOG_RTOL = 1e-13
_POW_RTOL = 1e-12


class InputError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(2, f"wengert: error: {message} (see {self.prog} --help)\n")


def load_function(spec: str) -> Callable:
    """The function named by ``path/to/file.py:name`` (``name`` may be dotted, ``Cls.method``).

    The file is loaded as a module with a file location, so `inspect.getsource`
    (and therefore wengert) can read the function's source.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise InputError(f"expected FILE.py:FUNCTION, got {spec!r}")
    if not os.path.isfile(path):
        raise InputError(f"no such file: {path}")
    path = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = f"_wengert_cli_{stem}_{abs(hash(path)):x}"
    module = sys.modules.get(modname)
    if module is None or getattr(module, "__file__", None) != path:
        spec_ = importlib.util.spec_from_file_location(modname, path)
        if spec_ is None or spec_.loader is None:
            raise InputError(f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(spec_)
        sys.modules[modname] = module  # dataclasses and pickling look modules up here
        # Like `python file.py`: the file's folder comes first, so sibling imports work.
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec_.loader.exec_module(module)
        except SyntaxError as e:
            del sys.modules[modname]
            raise InputError(f"{path}:{e.lineno}: syntax error: {e.msg}") from e
        except BaseException:
            del sys.modules[modname]
            raise
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{path} has no attribute {name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{name} in {path} is not callable")
    return obj


def parse_literal(text: str):
    """One command-line argument as a Python literal: ints stay ints, floats floats."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InputError(
            f"cannot parse argument {text!r}: not a Python literal (e.g. 3.0, 2, [1.0, 2.0])"
        ) from None


def _arg_names(f: Callable, n: int) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        if i < len(params) and params[i].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            names.append(params[i].name)
        else:
            names.append(f"arg{i}")
    return names


def _close(a: float, b: float, rtol: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= rtol * max(1.0, abs(b))


# ---- commands ----


def cmd_demo(args, out) -> int:
    return run_demo(out)


def run_demo(out, grad: Callable | None = None) -> int:
    """The demo, in the order of the talk: the Wengert list of ``5 sin(log x)``, its
    derivative, then the ``pow`` loop's IR and adjoint; each gradient is checked against its
    closed form. ``grad`` replaces `wengert.grad` (tests use it to show the check can fail)."""
    from wengert.cli import examples

    grad = wengert.grad if grad is None else grad
    ok = True
    print("f(x) = 5 sin(log x) as a Wengert list, recorded by wengert.trace(f, 2.0):", file=out)
    print(wengert.trace(examples.sin_log, 2.0), file=out)

    print("\nIts derivative: the adjoint wengert generates, show_adjoint(f, 2.0):", file=out)
    print(wengert.show_adjoint(examples.sin_log, 2.0).rstrip(), file=out)
    print("\nwengert's df/dx against 5 cos(log x) / x", file=out)
    df = grad(examples.sin_log)
    print(f"  {'x':>6}  {'wengert':>24}  {'5 cos(log x) / x':>24}", file=out)
    for x in (0.5, 1.0, 2.0, 3.7, 10.0):
        got, want = df(x), 5 * math.cos(math.log(x)) / x
        good = _close(got, want, _SIN_LOG_RTOL)
        ok &= good
        print(f"  {x:>6}  {got!r:>24}  {want!r:>24}  {'ok' if good else 'MISMATCH'}", file=out)

    print("\npow(x, n), a while loop; its IR, show_ir(pow):", file=out)
    print(wengert.show_ir(examples.pow).rstrip(), file=out)
    print("\nIts adjoint, show_adjoint(pow, 2.0, 3): the adjoint of the loop is a loop", file=out)
    print(wengert.show_adjoint(examples.pow, 2.0, 3).rstrip(), file=out)
    print("\nwengert's d/dx pow(x, n) against n x^(n-1)", file=out)
    dpow = grad(examples.pow)
    print(f"  {'x':>6} {'n':>4}  {'wengert':>24}  {'n x^(n-1)':>24}", file=out)
    for x, n in ((2.0, 3), (1.5, 5), (0.9, 10), (1.001, 1000)):
        got, want = dpow(x, n), n * x ** (n - 1)
        good = _close(got, want, _POW_RTOL)
        ok &= good
        print(
            f"  {x:>6} {n:>4}  {got!r:>24}  {want!r:>24}  {'ok' if good else 'MISMATCH'}", file=out
        )
    print(
        f"\n{'PASS' if ok else 'FAIL'}: wengert's gradients "
        f"{'match' if ok else 'do NOT match'} the closed forms",
        file=out,
    )
    return 0 if ok else 1


def cmd_show(args, out) -> int:
    f = load_function(args.function)
    print(f"# IR of {args.function}", file=out)
    print(wengert.show_ir(f).rstrip(), file=out)
    print(f"\n# adjoint of {args.function}", file=out)
    print(wengert.show_adjoint(f).rstrip(), file=out)
    return 0


def cmd_grad(args, out) -> int:
    f = load_function(args.function)
    values = [parse_literal(a) for a in args.args]
    # Ints (and bools) are counts and flags, not points to differentiate at:
    # they get no gradient. Write 3.0 to differentiate at 3.
    nums = tuple(i for i, v in enumerate(values) if not isinstance(v, (int, bool)))
    if not nums:
        raise InputError(
            f"{args.function} needs at least one non-integer argument to differentiate "
            "(ints get no gradient: write 3.0, not 3)"
        )
    value, grads = wengert.value_and_grad(f, argnums=nums)(*values)
    by_arg = dict(zip(nums, grads))
    call = ", ".join(repr(v) for v in values)
    print(f"{args.function.rpartition(':')[2]}({call}) = {value!r}", file=out)
    for i, name in enumerate(_arg_names(f, len(values))):
        print(f"d/d{name} = {by_arg.get(i)!r}", file=out)
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="wengert", description="Gradients of ordinary Python by source transformation."
    )
    p.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    d = sub.add_parser("demo", help="the talk's examples: a Wengert list, pow's IR and adjoint, checked")
    d.set_defaults(run=cmd_demo)
    s = sub.add_parser("show", help="print a function's IR and its adjoint code")
    s.add_argument("function", metavar="FILE.py:FUNCTION")
    s.set_defaults(run=cmd_show)
    g = sub.add_parser("grad", help="print a function's value and gradient at the given arguments")
    g.add_argument("function", metavar="FILE.py:FUNCTION")
    g.add_argument("args", nargs="*", metavar="ARG", help="Python literals: 3.0, 2, [1.0, 2.0]")
    g.set_defaults(run=cmd_grad)
    return p


def main(argv: Sequence[str] | None = None, out=None) -> int:
    """Run the command line; returns the exit status."""
    out = sys.stdout if out is None else out
    args = make_parser().parse_args(argv)
    try:
        return args.run(args, out)
    except InputError as e:
        print(f"wengert: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.traceback:
            raise
        msg = str(e).strip().splitlines()
        print(
            f"wengert: error: {type(e).__name__}: {msg[0] if msg else ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
