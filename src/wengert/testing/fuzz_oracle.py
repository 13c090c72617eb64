"""The oracle of wengert.testing.fuzz: paths to the float leaves of arguments, central
differences, comparing a gradient (or a tangent, or a Hessian) with them, and how a
failure is reported. Shared by the modes in `wengert.testing.fuzz` and `fuzz_hessian`."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import wengert
from wengert.testing.fuzz_programs import Program

H_SMALL, H_LARGE = 1e-5, 1e-4  # central-difference steps (relative to max(1, |leaf|))
FD_TOL = 1e-6  # the two estimates must agree this closely (relative, and absolute)
GRAD_TOL = 1e-5  # the gradient must agree with the estimate this closely

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


def _crash_kind(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = re.sub(r"<wengert[^>]*>|\S*/\S+\.py|\b\d+\b", "N", msg)  # one class for every program
    return f"crash: {type(e).__name__}: {msg[:90]}"
