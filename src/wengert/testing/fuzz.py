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
from wengert.api_higher import dual_hessian
from wengert.dispatch.compose import hessian_path
from wengert.testing.fuzz_programs import GENERATORS, PRELUDE, Program, _Gen  # noqa: F401 (re-exported)

H_SMALL, H_LARGE = 1e-5, 1e-4  # central-difference steps (relative to max(1, |leaf|))
FD_TOL = 1e-6  # the two estimates must agree this closely (relative, and absolute)
GRAD_TOL = 1e-5  # the gradient must agree with the estimate this closely


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


# ---- the oracle: paths to float leaves, central differences ----
# A path is a tuple of steps: ("i", index) into a list, ("k", key) into a dict,
# ("a", name) into an object, ("e", index) into an array.

def _children(x):
    if isinstance(x, (list, tuple)):
        return [(("i", i), v) for i, v in enumerate(x)]
    if isinstance(x, dict):
        return [(("k", k), v) for k, v in x.items()]
    if isinstance(x, np.ndarray):
        return [(("e", idx), x[idx]) for idx in np.ndindex(x.shape)] if x.dtype.kind == "f" else []
    if hasattr(x, "__dict__") and not callable(x):
        return [(("a", k), v) for k, v in vars(x).items()]
    return []


def _leaves(x, path=()):
    """(path, container, step) for every float leaf of ``x``."""
    for step, v in _children(x):
        if isinstance(v, (float, np.floating)):
            yield path + (step,), x, step
        else:
            yield from _leaves(v, path + (step,))


def _get(x, step):
    kind, key = step
    return getattr(x, key) if kind == "a" else x[key]


def _set(x, step, value):
    kind, key = step
    if kind == "a":
        setattr(x, key, value)
    else:
        x[key] = value


def _replace(x, path, value):
    """``x`` with the leaf at ``path`` set to ``value``: tuples are rebuilt, the rest changed in place."""
    if not path:
        return value
    new = _replace(_get(x, path[0]), path[1:], value)
    if isinstance(x, tuple):
        return tuple(new if i == path[0][1] else v for i, v in enumerate(x))
    _set(x, path[0], new)
    return x


def _at(args, path):
    x = args
    for step in path:
        x = _get(x, step)
    return x


def _groups(args: tuple) -> list[list[tuple]]:
    """Float leaves of the arguments, as lists of paths that reach the same storage (aliases)."""
    groups: dict = {}
    for path, container, step in _leaves(args):
        key = (id(container), step[1]) if container is not args else ("arg", step[1])
        groups.setdefault(key, []).append(path)
    return list(groups.values())


def _call(f, args):
    y = f(*args)
    return float(y)


def central_difference(f, fresh: Callable[[], tuple], path: tuple) -> tuple[float, float] | None:
    """Two central-difference estimates of df/d(leaf at path), steps H_SMALL and H_LARGE,
    each on fresh arguments; None where either evaluation fails or is not finite."""
    out = []
    for h in (H_SMALL, H_LARGE):
        vals = []
        for sign in (1, -1):
            args = fresh()
            v = float(_at(args, path))
            step = h * max(1.0, abs(v))
            _replace(args, path, v + sign * step)
            try:
                vals.append(_call(f, args))
            except Exception:  # noqa: BLE001 - a domain error at the perturbed point: no estimate
                return None
        out.append((vals[0] - vals[1]) / (2 * step))
    return (out[0], out[1]) if all(math.isfinite(e) for e in out) else None


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1.0 + abs(b))


# ---- comparing a gradient with the estimates ----

class StructureError(Exception):
    """The gradient does not have the shape of the argument."""


def _grad_at(g, x, path) -> float:
    """The gradient's entry at ``path``, walking the gradient ``g`` alongside the primal ``x``."""
    where = ""
    for kind, key in path:
        if g is None:
            return 0.0
        child = _get(x, (kind, key))
        where += f".{key}" if kind == "a" else f"[{key!r}]"
        if kind == "i":
            if not isinstance(g, (list, tuple)) or len(g) <= key:
                raise StructureError(f"{where}: expected a list of length >= {key + 1}, got {g!r}")
            g = g[key]
        elif kind == "k":
            if not isinstance(g, dict):
                raise StructureError(f"{where}: expected a dict, got {g!r}")
            g = g.get(key)
        elif kind == "e":
            if getattr(g, "shape", None) != x.shape:
                raise StructureError(f"{where}: expected an array of shape {x.shape}, got {g!r}")
            g = g[key]
        else:
            want = type(x) if dataclasses.is_dataclass(x) else wengert.Tangent
            if type(g) is not want:
                raise StructureError(f"{where}: expected {want.__name__}, got {g!r}")
            g = g.__dict__.get(key)
        x = child
    if g is None:
        return 0.0
    if not isinstance(g, (int, float, np.floating)) and getattr(g, "shape", None) != ():
        raise StructureError(f"{where or 'the argument'}: expected a number, got {g!r}")
    return float(g)


def _path_text(path):
    pos, rest = path[0][1], path[1:]
    return f"arg {pos}" + "".join(f".{k}" if kind == "a" else f"[{k!r}]" for kind, k in rest)


def _state(x, path=(), out=None) -> dict:
    """Everything a call may change in its arguments, by path, for comparing two runs."""
    out = {} if out is None else out
    kids = _children(x)
    if kids or isinstance(x, (list, tuple, dict, np.ndarray)) or hasattr(x, "__dict__"):
        out[path] = (type(x).__name__, len(kids))
        for step, v in kids:
            _state(v, path + (step,), out)
    else:
        out[path] = float(x) if isinstance(x, (float, np.floating)) else x
    return out


def _state_diff(got: dict, want: dict) -> list[str]:
    def same(a, b):
        if isinstance(a, float) and isinstance(b, float):
            return _close(a, b, 1e-9) or (math.isnan(a) and math.isnan(b))
        return a == b

    return [f"  {_path_text(p) if p else 'arguments'}: {got.get(p, 'missing')!r}, "
            f"a plain call leaves {want.get(p, 'nothing')!r}"
            for p in dict.fromkeys([*want, *got]) if not same(got.get(p), want.get(p))]


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
class Failure:
    prog: Program
    mode: str
    kind: str  # "wrong value", "wrong structure", "wrong primal", "wrong state", "crash: <Type>"
    detail: str

    @property
    def crashed(self) -> bool:
        return self.kind.startswith("crash")

    @property
    def refused(self) -> bool:
        """A clear refusal (`UnsupportedError` naming the construct): not a wrong answer."""
        return self.kind.startswith("crash: UnsupportedError")

    def report(self) -> str:
        p = self.prog
        nums = "all (wengert.gradient)" if self.mode == "gradient" else p.argnums[0] if p.single else p.argnums
        return (f"---- {p.gen} / {self.mode}: {self.kind}\n{p.source()}"
                f"args = {p.args}\nargnums = {nums}\n{self.detail}\n")


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


# ---- second derivatives (--mode hessian) ----

HESS_MAX = 4  # at most this many scalar directions per program (each costs 4 gradients per step size)


def _flat_floats(x) -> bool:
    """A list or dict of floats, or a 1-D float array: one argument `hessian` takes whole."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype.kind == "f" and 0 < x.size <= HESS_MAX
    vals = list(x.values()) if isinstance(x, dict) else x if type(x) is list else None
    return bool(vals) and len(vals) <= HESS_MAX and all(type(v) is float for v in vals)


def _hessian_argnums(prog: Program, args: list):
    """``argnums`` for `wengert.hessian`: the program's own where they are scalar floats
    (or one flat container, given as an int), else a random subset of its scalar float
    arguments (drawn from the arguments and argnums, so that shrinking chunks keeps it);
    None where there is none (no Hessian to check)."""
    if prog.single and _flat_floats(args[prog.argnums[0]]):
        return prog.argnums[0]
    floats = [i for i, a in enumerate(args) if type(a) is float]
    chosen = [i for i in prog.argnums if i in floats][:HESS_MAX]
    if not chosen and floats:
        r = random.Random(f"hessian:{prog.gen}:{prog.args}:{prog.argnums}")
        chosen = sorted(r.sample(floats, r.randint(1, min(HESS_MAX, len(floats)))))
    if not chosen:
        return None
    return chosen[0] if prog.single and len(chosen) == 1 else tuple(chosen)


def _hessian_paths(args, argnums) -> list[tuple]:
    """The scalar directions of ``argnums``, as paths (in `leaves` order: hessian's rows)."""
    if isinstance(argnums, tuple):
        return [(("i", i),) for i in argnums]
    if type(args[argnums]) is float:
        return [(("i", argnums),)]
    return [p for p, _, _ in _leaves(args[argnums], (("i", argnums),))]


def _grad_vector(g, args, argnums, paths) -> list[float]:
    """``wengert.grad(f, argnums)``'s entries at ``paths`` (``None`` or a missing entry: zero)."""
    by_pos = dict(zip(argnums, g)) if isinstance(argnums, tuple) else {argnums: g}
    return [_grad_at(by_pos[p[0][1]], args[p[0][1]], p[1:]) for p in paths]


def _hessian_estimate(f, fresh, argnums, paths):
    """Central differences of the gradient along each path, at two step sizes: the matrix
    ``E[k][j]`` = d(gradient j)/d(leaf k), or a string saying why there is none."""
    g = wengert.grad(f, argnums)
    cols = []
    for path in paths:
        ests = []
        for h in (H_SMALL, H_LARGE):
            vals = []
            for sign in (1, -1):
                args = fresh()
                v = float(_at(args, path))
                step = h * max(1.0, abs(v))
                args = _replace(args, path, v + sign * step)
                try:
                    vals.append(np.array(_grad_vector(g(*args), args, argnums, paths)))
                except Exception as e:  # noqa: BLE001 - a domain error, or a gradient the other modes report
                    return f"the gradient raised {type(e).__name__} at a perturbed point"
            ests.append((vals[0] - vals[1]) / (2 * step))
        if not all(np.isfinite(e).all() for e in ests):
            return "gradient differences not finite"
        if not all(_close(a, b, FD_TOL) for a, b in zip(*ests)):
            return f"gradient differences disagree along {_path_text(path)}: {ests[0]} vs {ests[1]}"
        cols.append(ests[0])
    return np.array(cols)


def _hessian_matrix(H, args, argnums, n: int):
    """``hessian``'s answer as an n x n matrix, or a string saying how its structure is wrong."""
    x = None if isinstance(argnums, tuple) else args[argnums]
    if isinstance(argnums, tuple):
        if not (isinstance(H, tuple) and len(H) == n and all(isinstance(r, tuple) and len(r) == n for r in H)):
            return f"expected {n} tuples of {n} numbers, got {H!r}"
        rows = H
    elif type(x) is float:
        if not isinstance(H, float):
            return f"expected a float, got {H!r}"
        rows = [[H]]
    elif isinstance(x, dict):
        keys = list(x)
        if not (isinstance(H, dict) and list(H) == keys and all(isinstance(r, dict) and list(r) == keys
                                                                  for r in H.values())):
            return f"expected a dict of dicts over {keys}, got {H!r}"
        rows = [[H[a][b] for b in keys] for a in keys]
    else:
        if not (isinstance(H, np.ndarray) and H.shape == (n, n)):
            return f"expected an array of shape {(n, n)}, got {H!r}"
        rows = H
    try:
        return np.array(rows, dtype=float).reshape(n, n)
    except (TypeError, ValueError):
        return f"entries that are not numbers: {H!r}"


def _compare_hessian(prog, name, H, args, argnums, want, label) -> list[Failure]:
    got = _hessian_matrix(H, args, argnums, len(want))
    if isinstance(got, str):
        return [Failure(prog, "hessian", f"wrong structure{label}", f"{name}: {got}")]
    bad = [(k, j) for k in range(len(want)) for j in range(len(want)) if not _close(got[k, j], want[k, j], GRAD_TOL)]
    if not bad:
        return []
    lines = [f"  H[{k}][{j}]: expected {want[k, j]:.10g}, got {got[k, j]:.10g}" for k, j in bad[:6]]
    return [Failure(prog, "hessian", f"wrong value{label}", f"{name} at argnums {argnums!r}\n" + "\n".join(lines))]


def _check_hessian(prog, f, fresh, expected, paths_taken: list) -> tuple[list[Failure], str | None]:
    """``wengert.hessian(f, argnums)`` against central differences of ``wengert.grad(f, argnums)``
    and, where it took the composed path, against `dual_hessian` (the Dual path alone).
    Returns the failures and why the program was not checked (None: it was). The path taken
    (`hessian_path`, asked after the call: a sweep refused at run time falls back) goes to
    ``paths_taken``."""
    args = fresh()
    argnums = _hessian_argnums(prog, args)
    if argnums is None:
        return [], "no float argument (no Hessian)"
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if any(len(paths) > 1 and any(p[0][1] in nums for p in paths) for paths, _ in expected):
        return [], "an argument asked for shares storage with another (an alias)"
    paths = _hessian_paths(args, argnums)
    # the gradient at the point must agree with the differences of f (else the other modes report it)
    by_path = {paths_[0]: est for paths_, est in expected}
    try:
        g0 = _grad_vector(wengert.grad(f, argnums)(*fresh()), args, argnums, paths)
    except Exception as e:  # noqa: BLE001
        return [], f"the gradient raised {type(e).__name__} (reported by the other modes)"
    if not all(_close(a, by_path.get(p, a), GRAD_TOL) for a, p in zip(g0, paths)):
        return [], "the gradient disagrees with differences of f (reported by the other modes)"
    est = _hessian_estimate(f, fresh, argnums, paths)
    if isinstance(est, str):
        return [], est
    want = (est + est.T) / 2  # d2f/dxk dxj: symmetric where f is twice differentiable
    fails: list[Failure] = []
    try:
        H = wengert.hessian(f, argnums)(*fresh())
    except Exception as e:  # noqa: BLE001 - a crash is a finding
        tb = traceback.format_exception(e)
        H = None
        fails.append(Failure(prog, "hessian", _crash_kind(e), "".join(tb[-3:]).rstrip()))
    try:
        path = hessian_path(f, *fresh(), argnums=argnums)
    except Exception as e:  # noqa: BLE001
        path = f"hessian_path raised {type(e).__name__}"
    paths_taken.append(path)
    if H is not None:
        fails += _compare_hessian(prog, "hessian", H, args, argnums, want, "")
    if path.startswith("forward over reverse"):  # the Dual path, as a second oracle
        try:
            Hd = dual_hessian(f, argnums)(*fresh())
        except Exception as e:  # noqa: BLE001
            tb = traceback.format_exception(e)
            fails.append(Failure(prog, "hessian", _crash_kind(e) + " [dual path]", "".join(tb[-3:]).rstrip()))
        else:
            fails += _compare_hessian(prog, "dual_hessian", Hd, args, argnums, want, " [dual path]")
    return fails, None


def _crash_kind(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = re.sub(r"<wengert[^>]*>|\S*/\S+\.py|\b\d+\b", "N", msg)  # one class for every program
    return f"crash: {type(e).__name__}: {msg[:90]}"


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
