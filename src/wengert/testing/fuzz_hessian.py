"""``--mode hessian`` of wengert.testing.fuzz: `wengert.hessian` on random programs.

For a subset of a program's scalar float arguments (or one list, dict or 1-D array of
floats), ``wengert.hessian(f, argnums)`` is compared with central differences of
``wengert.grad(f, argnums)`` (the gradient is checked against differences of ``f`` by the
other modes, and at the point here), confirmed by a second step size, and, where it took
the composed forward-over-reverse path, `dual_hessian` (the Dual path alone) is compared
with the same estimate. `hessian_path` after the call says which path was taken.
"""

from __future__ import annotations

import random
import traceback

import numpy as np

import wengert
from wengert.api_higher import dual_hessian
from wengert.dispatch.compose import hessian_path
from wengert.testing.fuzz_oracle import (
    FD_TOL,
    GRAD_TOL,
    H_LARGE,
    H_SMALL,
    Failure,
    _at,
    _close,
    _crash_kind,
    _grad_at,
    _leaves,
    _path_text,
    _replace,
)
from wengert.testing.fuzz_programs import Program

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
