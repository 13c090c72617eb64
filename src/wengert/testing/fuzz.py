"""Random programs against an oracle that shares nothing with wengert's analysis.

Each program is small, ordinary Python (scalars, lists, dicts, objects and dataclasses
updated in place, aliases, mutating callees, closures, recursion, NumPy with ``out=``;
issue 10's try/except, with, match, nonlocal cells and mutual recursion, f-strings and
print, generator functions, map/filter/reduce/partial, starred displays, dict(zip(...))
and **kwargs forwarding); the generators are in `wengert.testing.fuzz_programs`.
It is differentiated with respect to a random non-empty subset of its arguments, and
every float leaf of those arguments (a float, a list or dict item, an object field, an
array element) is checked against float64 central differences, each confirmed by a
second step size; a program whose two estimates disagree (a non-smooth point) is
skipped. The gradient must have the argument's shape: list → list, dict → dict,
dataclass → the same dataclass, other object → `wengert.Tangent`; ``None`` means zero.
An object reachable by several paths (``[o, o]``) has one set of fields: the gradient
entries at all its paths must add up to the derivative for that field.

Three implementations are checked on each program: ``value_and_grad`` (source),
``value_and_grad(mode="tape")`` (the run-time tape) and ``gradient`` (all arguments,
through ``pullback``). Each must also return the primal value, and leave the arguments
as one plain call leaves them (the tape excepted: it runs on copies of containers).
Forward mode is checked when asked for (``--mode jvp``): ``wengert.jvp`` along random
tangents of the arguments in argnums, against the central differences times the tangents
(refusals, ``UnsupportedError``, are counted apart from wrong answers, as for the others).
Second derivatives are checked when asked for (``--mode hessian``): ``wengert.hessian`` for a
subset of the scalar float arguments (or one list, dict or 1-D array of floats) against
central differences of ``wengert.grad`` (itself checked against differences of ``f`` by the
other modes, and at the point here), confirmed by a second step size, and against
`wengert.api_higher.dual_hessian` (the Dual path alone) where ``hessian`` took the composed
forward-over-reverse code; the summary counts which path each program took.

    python -m wengert.testing.fuzz --n 10000 --seed 1            # soak; exit status 1 on a wrong answer or a crash
    python -m wengert.testing.fuzz --n 1 --seed 1 --start 417    # program 417 of that run alone
    python -m wengert.testing.fuzz --gen aliases --mode source --shrink
    python -m wengert.testing.fuzz --n 400 --seed 11 --mode jvp         # forward mode (generated tangent code)
    python -m wengert.testing.fuzz --n 300 --seed 11 --mode hessian     # second derivatives (forward over reverse)
"""

from __future__ import annotations

import argparse
import dataclasses
import linecache
import math
import random
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import wengert
from wengert.testing.fuzz_hessian import _check_hessian
from wengert.testing.fuzz_oracle import (  # noqa: F401 (re-exported: tests use the oracle through this module)
    FD_TOL,
    GRAD_TOL,
    H_LARGE,
    H_SMALL,
    Failure,
    StructureError,
    _at,
    _call,
    _children,
    _close,
    _crash_kind,
    _get,
    _grad_at,
    _groups,
    _leaves,
    _path_text,
    _replace,
    _set,
    _state,
    _state_diff,
    central_difference,
)
from wengert.testing.fuzz_programs import GENERATORS, PRELUDE, Program, _Gen  # noqa: F401 (re-exported)


# ---- programs (the generators are in wengert.testing.fuzz_programs) ----

def generate(gen: str, seed: int, i: int) -> Program:
    """Program ``i`` of generator ``gen`` for ``seed``, with its random argnums; the same every time."""
    r = random.Random(f"{gen}:{seed}:{i}")
    prog = GENERATORS[gen](_Gen(r))
    ns = build(prog)
    positions = sorted({path[0][1] for path, _, _ in _leaves(_args(prog, ns))})
    prog.argnums = tuple(sorted(r.sample(positions, r.randint(1, len(positions)))))
    prog.single = len(prog.argnums) == 1 and r.random() < 0.5
    return prog


_builds = iter(range(1 << 62))
_MODULE = sys.modules.setdefault("wengert_fuzz_programs", types.ModuleType("wengert_fuzz_programs"))


def build(prog: Program) -> dict:
    """Execute the program's module (its source registered in linecache, as wengert reads source)."""
    src = PRELUDE + "\n\n" + prog.source()
    name = f"<wengert-fuzz-{prog.gen}-{next(_builds)}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    ns: dict = {"__name__": _MODULE.__name__}  # dataclass() looks its module up in sys.modules
    exec(compile(src, name, "exec"), ns)
    return ns


def _args(prog: Program, ns: dict) -> list:
    return list(eval(prog.args, ns))  # a fresh copy every time: programs mutate their arguments


# ---- implementations under test ----

def _source(f, prog, args):
    return wengert.value_and_grad(f, prog.argnums[0] if prog.single else prog.argnums)(*args)


def _tape(f, prog, args):
    return wengert.value_and_grad(f, prog.argnums[0] if prog.single else prog.argnums, mode="tape")(*args)


def _gradient(f, prog, args):
    """Zygote's ``gradient``: every argument; the value comes from a plain call on a copy."""
    return None, wengert.gradient(f, *args)


def _jvp(f, prog, args):
    """Not called: ``jvp`` mode is checked by `_check_jvp` (random tangents, one directional
    derivative), listed here so that ``--mode jvp`` selects it."""
    raise AssertionError("jvp mode is checked by _check_jvp")


def _hessian(f, prog, args):
    """Not called: ``hessian`` mode is checked by `_check_hessian` (second derivatives)."""
    raise AssertionError("hessian mode is checked by _check_hessian")


MODES: dict[str, Callable] = {"source": _source, "tape": _tape, "gradient": _gradient}
# forward mode and second derivatives, checked when asked for by name (--mode jvp, --mode hessian)
ALL_MODES: dict[str, Callable] = {**MODES, "jvp": _jvp, "hessian": _hessian}
# The tape runs f on tracked copies of lists, dicts and tuples (tape.trace), so by design their
# mutations do not reach the caller: its arguments' state is not compared.
STATE_UNCHECKED = {"tape"}


@dataclass
class Outcome:
    checks: int = 0
    skipped: str | None = None  # why the program was not checked
    failures: list[Failure] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # hessian mode: the path hessian took (hessian_path)


def check(prog: Program, modes: dict[str, Callable] = MODES) -> Outcome:
    """Run every implementation in ``modes`` on ``prog`` and compare with the oracle."""
    out = Outcome()
    ns = build(prog)
    f = ns["f"]
    fresh = lambda: _args(prog, ns)  # noqa: E731
    try:
        args = fresh()
        y = _call(f, args)
    except Exception as e:  # noqa: BLE001 - a program the generator got wrong: not wengert's fault
        out.skipped = f"primal raised {type(e).__name__}: {e}"
        return out
    if not math.isfinite(y):
        out.skipped = "primal value not finite"
        return out
    after = _state(args)
    expected = []  # (paths, estimate)
    for paths in _groups(fresh()):
        est = central_difference(f, fresh, paths[0])
        if est is None or not _close(est[0], est[1], FD_TOL):
            out.skipped = f"finite differences disagree at {_path_text(paths[0])}: {est}"
            return out
        expected.append((paths, est[0]))
    for mode, impl in modes.items():
        out.checks += 1
        if mode == "jvp":
            out.failures += _check_jvp(prog, f, fresh, y, after, expected)
            continue
        if mode == "hessian":
            fails, why = _check_hessian(prog, f, fresh, expected, out.paths)
            out.failures += fails
            if why is not None:
                out.checks -= 1
                out.skipped = why
            continue
        nums = tuple(range(len(args))) if mode == "gradient" else prog.argnums
        out.failures += _check_one(prog, f, fresh, impl, mode, nums, y, after, expected)
    return out


def _tangent_of(x, r: random.Random, out: dict, path=()):
    """A tangent for ``x`` with a random float at every float leaf (recorded in ``out`` by
    path): lists, tuples, dicts and arrays of the same shape, `wengert.Tangent` for objects."""
    if isinstance(x, (float, np.floating)):
        t = out[path] = round(r.uniform(-1.0, 1.0), 3)
        return t
    kids = [(step, _tangent_of(v, r, out, path + (step,))) for step, v in _children(x)]
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            return None
        t = np.zeros(x.shape)
        for (_, idx), v in kids:
            t[idx] = v
        return t
    if isinstance(x, (list, tuple)):
        items = [v for _, v in kids]
        return items if isinstance(x, list) else type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    if isinstance(x, dict):
        return {k: v for (_, k), v in kids}
    if kids:
        return wengert.Tangent(type(x), **{k: v for (_, k), v in kids})
    return None


def _check_jvp(prog, f, fresh, y, after, expected) -> list[Failure]:
    """``wengert.jvp`` along random tangents of the arguments in ``argnums`` (the others get
    None) against the sum of the central differences times those tangents. Programs where
    an argument asked for shares storage with another leaf (an alias) are not checked: a
    tangent structure cannot say that two of its leaves are one."""
    r = random.Random(f"jvp:{prog.gen}:{prog.source()}")
    args = fresh()
    if any(len(paths) > 1 and any(p[0][1] in prog.argnums for p in paths) for paths, _ in expected):
        return []
    by_path: dict = {}
    tangents = tuple(_tangent_of(a, r, by_path, (("i", i),)) if i in prog.argnums else None
                     for i, a in enumerate(args))
    want = sum(est * by_path[paths[0]] for paths, est in expected if paths[0] in by_path)
    try:
        value, got = wengert.jvp(f, args, tangents)
    except Exception as e:  # noqa: BLE001 - a crash is a finding
        tb = traceback.format_exception(e)
        return [Failure(prog, "jvp", _crash_kind(e), "".join(tb[-3:]).rstrip())]
    fails = []
    if not (isinstance(value, (int, float, np.floating)) and _close(float(value), y, 1e-9)):
        fails.append(Failure(prog, "jvp", "wrong primal", f"value {value!r}, a plain call gives {y!r}"))
    diff = _state_diff(_state(args), after)
    if diff:
        fails.append(Failure(prog, "jvp", "wrong state", "arguments left changed otherwise:\n" + "\n".join(diff)))
    try:
        got_f = 0.0 if got is None else float(got)
    except (TypeError, ValueError):
        return fails + [Failure(prog, "jvp", "wrong structure", f"tangent {got!r} for a float output")]
    if not _close(got_f, want, GRAD_TOL):
        fails.append(Failure(prog, "jvp", "wrong value",
                             f"tangents {tangents!r}\n  expected {want:.10g}, got {got_f:.10g}"))
    return fails


def _check_one(prog, f, fresh, impl, mode, nums, y, after, expected) -> list[Failure]:
    args = fresh()
    try:
        value, grads = impl(f, prog, args)
    except Exception as e:  # noqa: BLE001 - a crash is a finding
        tb = traceback.format_exception(e)
        return [Failure(prog, mode, _crash_kind(e), "".join(tb[-3:]).rstrip())]
    fails = []
    if value is not None and not (isinstance(value, (int, float, np.floating)) and _close(float(value), y, 1e-9)):
        fails.append(Failure(prog, mode, "wrong primal", f"value {value!r}, a plain call gives {y!r}"))
    diff = _state_diff(_state(args), after) if mode not in STATE_UNCHECKED else []
    if diff:
        fails.append(Failure(prog, mode, "wrong state", "arguments left changed otherwise:\n" + "\n".join(diff)))
    if mode != "gradient" and prog.single:
        grads = (grads,)
    if not isinstance(grads, tuple) or len(grads) != len(nums):
        return fails + [Failure(prog, mode, "wrong structure", f"expected {len(nums)} gradients, got {grads!r}")]
    by_pos = dict(zip(nums, grads))
    ref = fresh()
    lines = []
    for paths, est in expected:
        if any(p[0][1] not in by_pos for p in paths):
            continue  # not asked for (or aliased with an argument that was not)
        try:
            got = sum(_grad_at(by_pos[p[0][1]], ref[p[0][1]], p[1:]) for p in paths)
        except StructureError as e:
            return fails + [Failure(prog, mode, "wrong structure",
                                    f"gradient {grads!r}\n  {_path_text(paths[0])}: {e}")]
        if not _close(got, est, GRAD_TOL):
            where = " + ".join(_path_text(p) for p in paths)
            lines.append(f"  {where}: expected {est:.10g}, got {got:.10g}")
    if lines:
        fails.append(Failure(prog, mode, "wrong value", f"gradient {grads!r}\n" + "\n".join(lines)))
    return fails


# ---- shrinking: drop chunks and argnums while the same failure remains ----

def shrink(fail: Failure, modes: dict[str, Callable] = MODES) -> Failure:
    """A smaller program (fewer statements, fewer argnums) that fails the same way."""
    mode = {fail.mode: modes[fail.mode]}

    def same(prog):
        try:
            out = check(prog, mode)
        except Exception:  # noqa: BLE001
            return None
        return next((x for x in out.failures if x.kind == fail.kind), None)

    best = fail
    changed = True
    while changed:
        changed = False
        prog = best.prog
        for k in range(len(prog.chunks)):
            cand = dataclasses.replace(prog, chunks=prog.chunks[:k] + prog.chunks[k + 1:])
            hit = same(cand)
            if hit is not None:
                best, changed = hit, True
                break
        if not changed and len(prog.argnums) > 1:
            for n in prog.argnums:
                hit = same(dataclasses.replace(prog, argnums=(n,), single=True))
                if hit is not None:
                    best, changed = hit, True
                    break
    return best


# ---- the soak command ----

def run(n: int, seed: int, start: int = 0, gens=None, modes=None, out=sys.stdout, do_shrink=False,
        max_print: int = 50, paths: dict | None = None) -> tuple[int, int, list[Failure], int]:
    """Programs start .. start + n - 1, the generators taken in turn; prints each failure.
    Returns (checks, skipped, failures, programs); ``paths`` (hessian mode) gets the number
    of programs per path `hessian` took (`hessian_path`'s answer)."""
    gens = list(gens or GENERATORS)
    impls = {m: ALL_MODES[m] for m in (modes or MODES)}
    checks = skipped = 0
    failures: list[Failure] = []
    for i in range(start, start + n):
        gen = gens[i % len(gens)]
        prog = generate(gen, seed, i)
        result = check(prog, impls)
        checks += result.checks
        skipped += result.skipped is not None
        if paths is not None:
            for p in result.paths:
                paths[p] = paths.get(p, 0) + 1
        for fail in result.failures:
            failures.append(fail)
            if len(failures) <= max_print:
                shown = shrink(fail, impls) if do_shrink else fail
                print(f"[program {i}, --seed {seed} --start {i} --n 1]", shown.report(), file=out, flush=True)
        if i % 200 == 199:
            wengert.clear_cache()  # bounds memory over long runs (and exercises the cache)
    return checks, skipped, failures, n


def summary(n, checks, failures, skipped, paths: dict | None = None) -> str:
    wrong = sum(not x.crashed for x in failures)
    refused = sum(x.refused for x in failures)
    line = (f"{n} programs, {checks} checks, {wrong} wrong, {len(failures) - wrong - refused} crashed, "
            f"{refused} refused (UnsupportedError), {skipped} skipped")
    if paths:
        composed = sum(c for p, c in paths.items() if p.startswith("forward over reverse"))
        line += f"; hessian: {composed} forward over reverse, {sum(paths.values()) - composed} dual fallback"
    return line


def _reason(path: str) -> str:
    """A Dual fallback's reason with program-specific names and numbers taken out."""
    return re.sub(r"<wengert[^>]*>|\S*/\S+\.py|\b_?t?\d+\b", "N", path.splitlines()[0])[:110]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m wengert.testing.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of programs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="index of the first program (to rerun one)")
    ap.add_argument("--gen", action="append", choices=list(GENERATORS), help="generator(s) to use; default all")
    ap.add_argument("--mode", action="append", choices=list(ALL_MODES),
                    help="implementation(s) to check; default all but jvp and hessian")
    ap.add_argument("--shrink", action="store_true", help="print each failure shrunk to fewer statements")
    ap.add_argument("--max-print", type=int, default=50, help="print at most this many failures")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on refusals (UnsupportedError) too, not only on wrong answers and crashes")
    a = ap.parse_args(argv)
    paths: dict = {}
    checks, skipped, failures, n = run(a.n, a.seed, a.start, a.gen, a.mode, do_shrink=a.shrink,
                                       max_print=a.max_print, paths=paths)
    if failures:
        counts: dict = {}
        for x in failures:
            counts[(x.prog.gen, x.mode, x.kind)] = counts.get((x.prog.gen, x.mode, x.kind), 0) + 1
        print("failures by generator, mode and kind:")
        for key, c in sorted(counts.items()):
            print(f"  {c:6d}  {' / '.join(key)}")
        print("(programs are shown without their prelude, wengert.testing.fuzz.PRELUDE)")
    dual = {}
    for p, c in paths.items():
        if not p.startswith("forward over reverse"):
            dual[_reason(p)] = dual.get(_reason(p), 0) + c
    if dual:
        print("hessian by the Dual path, by reason:")
        for why, c in sorted(dual.items(), key=lambda kv: -kv[1]):
            print(f"  {c:6d}  {why}")
    print(summary(n, checks, failures, skipped, paths))
    return 1 if any(a.strict or not x.refused for x in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
