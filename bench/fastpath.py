"""Fast-path benchmark: the performance table of issue 8, item 4, measured in one process.

    python bench/fastpath.py              # full run, about 20 s on 2 shared cores
    python bench/fastpath.py --quick      # smoke run (few repeats; tests/test_bench.py uses it)
    python bench/fastpath.py --markdown   # also prints the issue's table in Markdown
    python bench/fastpath.py --rows dict_params,sin_log --out /tmp/fastpath.json

Rows (the workloads are imported from bench/scalar.py, bench/structures.py and
bench/workloads.py; only the dict-of-parameters model is defined here):

| row | program | w.r.t. | target |
|---|---|---|---|
| ``dict_params`` | polynomial of degree 9, coefficients in a dict ``{"c0": .., "c9": ..}``, squared error over 100 (x, y) points | the dict | <= 3x primal |
| ``particles_drag`` | structures.particles_loss: 20 dataclass particles, 100 steps, fields updated in place | drag (argnums=1) | <= 2x hand |
| ``particles_ps`` | the same | the particle list (argnums=0) | <= 2x hand |
| ``mlp`` | structures.mlp_loss: class MLP on lists of lists | the model | <= 3x hand |
| ``sin_log`` | ``grad(f)(x)``, f = 5 sin(log x), the wrapper built once | x | <= 3x primal |
| ``contfrac`` | recursive continued fraction, depth 200 | x | <= 3x primal |
| ``pow`` | the pow loop, n = 1000 | x | <= 1.3x hand (unchanged) |
| ``rk4`` | projectile with drag, 1000 RK4 steps | angle, speed | <= 1.3x hand (unchanged) |

Each row times three thunks with ``_timing.measure``: the primal, the hand-written
reverse-mode gradient and wengert (``value_and_grad``, or ``grad`` for
``sin_log``), interleaved in rounds, so every wengert sample is paired with the
primal's and the hand-written gradient's taken in the same process; the medians
give the ratios. One thread: the BLAS/OpenMP thread variables are set before
anything imports NumPy.

Checks, before anything is timed: every hand-written gradient against float64
central differences, and wengert's value and gradient against the hand-written
ones (max error relative to the largest entry, printed). A row whose check fails
is not timed; it is reported as FAILED and the exit status is 1.
"""

from __future__ import annotations

import os

# One thread, set before numpy is imported (wengert imports it).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import math
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _timing
import scalar
import structures as S
import workloads as W

import wengert

MATCH_RTOL = 1e-6  # wengert's gradient against the hand-written one (the bar)
FD_RTOL = 1e-5  # hand-written gradients against central differences

# ---- dict of parameters: a polynomial model (the only workload defined here) ----

DEGREE = 9
KEYS = tuple(f"c{i}" for i in range(DEGREE + 1))  # "c0" .. "c9"; wengert rejects f-strings inside


def poly_loss(params, xs, ys):
    """Mean squared error of sum_i params["c<i>"] * x**i over the points (xs, ys)."""
    total = 0.0
    for x, y in zip(xs, ys):
        pred = 0.0
        for i, key in enumerate(KEYS):
            pred = pred + params[key] * x**i
        r = pred - y
        total = total + r * r
    return total / len(xs)


def poly_hand(params, xs, ys):
    """Value and the dict of cotangents of `poly_loss`, reverse mode by hand.

    Each point's residual is all its adjoint needs besides the powers of x, so
    the reverse sweep of one point runs right after its forward sweep.
    """
    cs = [params[k] for k in KEYS]
    c_bar = [0.0] * len(KEYS)
    scale = 2.0 / len(xs)  # d(total / n)/d r = 2 r / n
    total = 0.0
    for x, y in zip(xs, ys):
        pows = [x**i for i in range(len(KEYS))]
        pred = 0.0
        for c, xi in zip(cs, pows):
            pred = pred + c * xi
        r = pred - y
        total = total + r * r
        r_bar = scale * r
        for i, xi in enumerate(pows):
            c_bar[i] += r_bar * xi
    return total / len(xs), dict(zip(KEYS, c_bar))


def poly_args(n=100, seed=3):
    rng = random.Random(seed)
    params = {k: rng.uniform(-1.0, 1.0) for k in KEYS}
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    ys = [math.sin(3.0 * x) + rng.gauss(0.0, 0.1) for x in xs]
    return params, xs, ys


def fd_poly(params, xs, ys, eps=1e-6):
    out = []
    for k in KEYS:
        up, dn = dict(params), dict(params)
        up[k] += eps
        dn[k] -= eps
        out.append((poly_loss(up, xs, ys) - poly_loss(dn, xs, ys)) / (2 * eps))
    return out


# ---- rows ----


@dataclass
class Row:
    """One line of the table: three thunks, how to flatten their gradients, the target."""

    name: str
    title: str
    primal: Callable[[], object]
    hand: Callable[[], tuple]  # -> (value, gradient)
    wengert: Callable[[], object]
    flat_hand: Callable[[tuple], list[float]]
    flat_wengert: Callable[[object], tuple[float | None, list[float]]]  # -> (value or None, grads)
    fd: Callable[[], list[float]]  # central differences of the primal, in flat_hand's order
    target: str  # "primal" or "hand": which ratio the target bounds
    bound: float
    target_text: str
    result: dict = field(default_factory=dict)


def _f(v) -> float:
    return 0.0 if v is None else float(v)


def _particle_fields(ps) -> list[float]:
    return [_f(getattr(p, a, None)) for p in ps for a in ("x", "y", "vx", "vy")]


def _typed_particles(ps) -> list[float]:
    if not (isinstance(ps, list) and all(type(p) is S.Particle for p in ps)):
        raise TypeError(f"particle cotangents are not a list of Particle: {type(ps).__name__}")
    return _particle_fields(ps)


def _scalar_row(name, wl_name, title, target, bound, target_text, use_grad=False) -> Row:
    """A row from bench/scalar.py's workload ``wl_name`` (functions in bench/workloads.py)."""
    wl = next(w for w in scalar.WORKLOADS if w.name == wl_name)
    f, args, hand = getattr(W, wl.fn), wl.args, wl.hand
    nums = scalar._argnums(wl)

    def flat(grads):
        return [_f(g) for g in (grads if isinstance(wl.argnums, tuple) else (grads,))]

    if use_grad:
        g = wengert.grad(f, argnums=wl.argnums)
        run, flat_w = (lambda: g(*args)), (lambda r: (None, flat(r)))
    else:
        vg = wengert.value_and_grad(f, argnums=wl.argnums)
        run, flat_w = (lambda: vg(*args)), (lambda r: (_f(r[0]), flat(r[1])))
    return Row(
        name, title,
        primal=lambda: f(*args),
        hand=lambda: hand(*args),
        wengert=run,
        flat_hand=lambda r: flat(r[1]),
        flat_wengert=flat_w,
        fd=lambda: [scalar.central_difference(f, args, i) for i in nums],
        target=target, bound=bound, target_text=target_text,
    )


def make_rows() -> list[Row]:
    params, xs, ys = poly_args()
    vg_poly = wengert.value_and_grad(poly_loss)
    ps, drag = S.particles_args(20)
    steps = 100
    vg_drag = wengert.value_and_grad(S.particles_loss, argnums=1)
    vg_ps = wengert.value_and_grad(S.particles_loss, argnums=0)
    fd_ps = lambda: S.fd_particles(ps, drag, steps)  # noqa: E731 - x, y, vx, vy per particle, then drag
    model, X, T = S.mlp_args()
    vg_mlp = wengert.value_and_grad(S.mlp_loss)
    return [
        Row(
            "dict_params", "dict of 10 float parameters, 100 points",
            primal=lambda: poly_loss(params, xs, ys),
            hand=lambda: poly_hand(params, xs, ys),
            wengert=lambda: vg_poly(params, xs, ys),
            flat_hand=lambda r: [r[1][k] for k in KEYS],
            flat_wengert=lambda r: (_f(r[0]), [_f(r[1].get(k)) for k in KEYS]),
            fd=lambda: fd_poly(params, xs, ys),
            target="primal", bound=3.0, target_text="≤ 3× primal",
        ),
        Row(
            "particles_drag", "20 dataclass particles, 100 steps, w.r.t. drag",
            primal=lambda: S.particles_loss(ps, drag, steps=steps),
            hand=lambda: S.particles_hand(ps, drag, steps=steps),
            wengert=lambda: vg_drag(ps, drag, 4.0, 0.01, steps),
            flat_hand=lambda r: [r[1][1]],
            flat_wengert=lambda r: (_f(r[0]), [_f(r[1])]),
            fd=lambda: fd_ps()[-1:],
            target="hand", bound=2.0, target_text="≤ 2× hand",
        ),
        Row(
            "particles_ps", "20 dataclass particles, 100 steps, w.r.t. the particles",
            primal=lambda: S.particles_loss(ps, drag, steps=steps),
            hand=lambda: S.particles_hand(ps, drag, steps=steps),
            wengert=lambda: vg_ps(ps, drag, 4.0, 0.01, steps),
            flat_hand=lambda r: _particle_fields(r[1][0]),
            flat_wengert=lambda r: (_f(r[0]), _typed_particles(r[1])),
            fd=lambda: fd_ps()[:-1],
            target="hand", bound=2.0, target_text="≤ 2× hand",
        ),
        Row(
            "mlp", "class MLP on lists of lists (8-16-1, batch 8)",
            primal=lambda: S.mlp_loss(model, X, T),
            hand=lambda: S.mlp_hand(model, X, T),
            wengert=lambda: vg_mlp(model, X, T),
            flat_hand=lambda r: S.flat_mlp(S.model_layers(r[1])),
            flat_wengert=lambda r: (_f(r[0]), S.flat_mlp(S.model_layers(r[1]))),
            fd=lambda: S.fd_mlp(model, X, T),
            target="hand", bound=3.0, target_text="≤ 3× hand",
        ),
        _scalar_row("sin_log", "sin_log", "grad(f)(x), f = 5 sin(log x)",
                    "primal", 3.0, "≤ 3× primal", use_grad=True),
        _scalar_row("contfrac", "contfrac", "recursion, depth 200", "primal", 3.0, "≤ 3× primal"),
        _scalar_row("pow", "pow", "pow loop, n = 1000", "hand", 1.3, "unchanged (~1.0–1.3× hand)"),
        _scalar_row("rk4", "projectile", "RK4 drag, 1000 steps", "hand", 1.3,
                    "unchanged (~1.0–1.3× hand)"),
    ]


# ---- checking and timing ----


def max_rel_err(got: list[float], want: list[float]) -> float:
    """Largest absolute difference over the largest entry of ``want``."""
    if len(got) != len(want):
        return math.inf
    scale = max((abs(v) for v in want), default=0.0) or 1.0
    return max((abs(a - b) for a, b in zip(got, want)), default=0.0) / scale


def check(row: Row) -> str:
    """'' if the row's gradients are right, else why not. Fills row.result's errors."""
    res = row.result
    hand_r = row.hand()
    hand_g = row.flat_hand(hand_r)
    err = max_rel_err(hand_g, row.fd())
    res["hand_vs_fd"] = err
    value = row.primal()
    if not err <= FD_RTOL:
        return f"hand-written gradient vs central differences: rel err {err:.3g}"
    if not math.isclose(_f(hand_r[0]), _f(value), rel_tol=1e-12, abs_tol=1e-15):
        return f"hand-written value {hand_r[0]!r} != primal {value!r}"
    try:
        wengert.clear_cache()
        t0 = time.perf_counter()
        w_value, w_g = row.flat_wengert(row.wengert())
        res["wengert_first_call_s"] = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - reported, and the row is not timed
        return f"wengert raised {type(e).__name__}: {str(e).strip().splitlines()[0][:160] if str(e).strip() else ''}"
    err = max_rel_err(w_g, hand_g)
    res["wengert_vs_hand"] = err
    if not err <= MATCH_RTOL:
        return f"wengert's gradient vs hand-written: rel err {err:.3g}"
    if w_value is not None and not math.isclose(w_value, _f(value), rel_tol=1e-12, abs_tol=1e-15):
        return f"wengert's value {w_value!r} != primal {value!r}"
    return ""


def run_row(row: Row, settings: dict) -> None:
    res = row.result
    why = check(row)
    res["status"] = f"FAILED ({why})" if why else "ok"
    if why:
        return
    thunks = {"primal": row.primal, "hand": row.hand, "wengert": row.wengert}
    timings = _timing.measure(thunks, **settings)
    med = {k: t.median for k, t in timings.items()}
    res["times"] = {k: t.as_dict() for k, t in timings.items()}
    res["ratios"] = {
        "wengert/primal": med["wengert"] / med["primal"],
        "wengert/hand": med["wengert"] / med["hand"],
        "hand/primal": med["hand"] / med["primal"],
    }
    res["met"] = res["ratios"][f"wengert/{row.target}"] <= row.bound


SETTINGS = {
    "full": {"target": 0.02, "repeats": 9, "min_repeats": 3, "budget": 3.0},
    "quick": {"target": 0.002, "repeats": 3, "min_repeats": 1, "budget": 0.05},
}


# ---- reporting ----


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3g}×"


def _ratio(row: Row, key: str) -> float | None:
    return row.result.get("ratios", {}).get(key)


def _met(row: Row) -> str:
    if "met" not in row.result:
        return "FAILED"
    return "yes" if row.result["met"] else "no"


def text_table(rows: list[Row]) -> str:
    header = ["row", "primal", "hand", "wengert", "wengert/primal", "wengert/hand", "target", "met?",
              "wengert vs hand", "hand vs FD"]
    lines = [header]
    for r in rows:
        t = r.result.get("times", {})
        lines.append([
            r.name,
            fmt_time(t.get("primal", {}).get("median_s")),
            fmt_time(t.get("hand", {}).get("median_s")),
            fmt_time(t.get("wengert", {}).get("median_s")),
            fmt_ratio(_ratio(r, "wengert/primal")),
            fmt_ratio(_ratio(r, "wengert/hand")),
            r.target_text,
            _met(r),
            f"{r.result['wengert_vs_hand']:.2g}" if "wengert_vs_hand" in r.result else "-",
            f"{r.result['hand_vs_fd']:.2g}" if "hand_vs_fd" in r.result else "-",
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    for r in rows:
        out.append(f"{r.name}: {r.title}; {r.result.get('status')}")
    return "\n".join(out)


def markdown(rows: list[Row], meta: dict) -> str:
    out = [
        "| workload | wengert / primal | wengert / hand | target | met? |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.title} | {fmt_ratio(_ratio(r, 'wengert/primal'))} | "
            f"{fmt_ratio(_ratio(r, 'wengert/hand'))} | {r.target_text} | {_met(r)} |"
        )
    out.append(
        f"\n{'Quick' if meta['quick'] else 'Full'} run of bench/fastpath.py, {meta['date']}, "
        f"wengert at {meta['commit'] or '?'}, one thread, {meta['platform']} ({meta['cpus']} CPUs), "
        f"Python {meta['python']}; medians of interleaved measurements."
    )
    return "\n".join(out)


def _commit() -> str | None:
    try:
        p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                           text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ":/src"], cwd=HERE,
                               capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return None
    return (p.stdout.strip() + (" + uncommitted changes in src/" if dirty else "")) or None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: few, short repeats")
    ap.add_argument("--markdown", action="store_true", help="also print the issue's table")
    ap.add_argument("--rows", default=None, help="comma-separated row names (default: all)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args(argv)
    rows = make_rows()
    if a.rows:
        wanted = [n.strip() for n in a.rows.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {r.name for r in rows})
        if unknown:
            ap.error(f"unknown row: {', '.join(unknown)}")
        rows = [r for r in rows if r.name in wanted]
    settings = SETTINGS["quick" if a.quick else "full"]
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "threads": 1,
        "quick": a.quick,
        "settings": settings,
    }
    t0 = time.perf_counter()
    for row in rows:
        print(f"[{time.perf_counter() - t0:6.1f} s] {row.name} ...", file=sys.stderr)
        run_row(row, settings)
    meta["total_s"] = time.perf_counter() - t0
    print(text_table(rows))
    if a.markdown:
        print("\n" + markdown(rows, meta))
    print(f"\ntotal {meta['total_s']:.1f} s")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"meta": meta, "rows": {r.name: {"title": r.title, "target": r.target_text,
                                                       **r.result} for r in rows}}, fh, indent=2)
    failed = [r.name for r in rows if r.result.get("status") != "ok"]
    if failed:
        print(f"FAILED rows: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
