"""Scalar benchmark: wengert's gradients against the primal, hand-written gradients and peers.

    python bench/scalar.py                     # full run, about 3 minutes on 2 cores
    python bench/scalar.py --quick             # smoke run, seconds
    python bench/scalar.py --only wengert,primal,hand --out /tmp/r.json

Workloads (bench/workloads.py): 5 sin(log x); the ``pow`` loop with n = 1000; a
projectile with quadratic drag, 1000 RK4 steps, d(range)/d(angle, speed); a
recursive continued fraction of depth 200; the projectile run until it lands
(``while y > 0``, a data-dependent trip count).

Methods: ``primal`` (the plain function), ``hand`` (reverse mode written by
hand, checked against central finite differences before anything is timed),
``wengert`` (`wengert.value_and_grad`), and when installed ``autograd`` (HIPS),
``torch`` (eager, float64 0-d tensors), ``jax`` (``jax.value_and_grad``, no jit)
and ``jax_jit``. Every gradient is checked against the hand-written one; a
mismatch is reported as WRONG and the script exits with status 1.

Everything runs on one thread. Times are medians of seconds per call, each
measurement long enough (>= 20 ms, or one call) and interleaved with the
primal's (bench/_timing.py). ``jax_jit`` runs in a child process with a time
limit, since jit unrolls Python loops into one XLA program whose compilation can
take minutes; that child times the primal and wengert too, so its ratios are
paired as well. First-call cost is `wengert.clear_cache` followed by one call
(transform, compile and run), for each workload and for a 50-line function with
branches. Results: a table on stdout and bench/results.json.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy, torch or jax are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse
import importlib.metadata
import json
import math
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

import _timing
import workloads as W

import wengert

METHODS = ("primal", "hand", "wengert", "autograd", "torch", "jax", "jax_jit")
PEERS = ("autograd", "torch", "jax", "jax_jit")
FD_RTOL = 1e-5  # hand-written gradient against central differences
MATCH_RTOL = 1e-8  # every method's gradient against the hand-written one


@dataclass(slots=True)
class Workload:
    name: str
    title: str
    fn: str  # attribute of bench/workloads.py, and of its rebound copies
    args: tuple
    argnums: int | tuple[int, ...]
    hand: Callable
    static: tuple[int, ...] = ()  # int arguments: static under jax.jit


WORKLOADS = [
    Workload("sin_log", "5 sin(log x)", "sin_log", (2.0,), 0, W.sin_log_hand),
    Workload("pow", "pow loop, n = 1000", "pow", (1.0003, 1000), 0, W.pow_hand, (1,)),
    Workload(
        "projectile", "RK4 drag, 1000 steps", "projectile", (0.7, 30.0), (0, 1), W.projectile_hand
    ),
    Workload("contfrac", "recursion, depth 200", "contfrac", (0.7, 200), 0, W.contfrac_hand, (1,)),
    Workload(
        "landing",
        "RK4 drag, until landing",
        "projectile_landing",
        (0.7, 30.0),
        (0, 1),
        W.projectile_landing_hand,
    ),
]


@dataclass(slots=True)
class Settings:
    target: float
    repeats: int
    min_repeats: int
    budget: float
    slow: float
    first_repeats: int
    jit_timeout: float

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(0.002, 3, 1, 0.05, 0.2, 1, 20.0)
        return cls(0.02, 7, 3, 2.0, 5.0, 3, 30.0)


class NotAvailable(Exception):
    """A method that does not apply to a workload, or is not installed."""


# ---- methods: each returns a thunk and a converter to (value, grads) ----


def _argnums(wl: Workload) -> tuple[int, ...]:
    return wl.argnums if isinstance(wl.argnums, tuple) else (wl.argnums,)


def _as_result(value, grads, wl: Workload):
    grads = grads if isinstance(wl.argnums, tuple) else (grads,)
    return float(value), tuple(float(g) for g in grads)


def m_primal(wl):
    f, args = getattr(W, wl.fn), wl.args
    return (lambda: f(*args)), (lambda r: (float(r), None))


def m_hand(wl):
    f, args = wl.hand, wl.args
    return (lambda: f(*args)), (lambda r: _as_result(*r, wl))


def m_wengert(wl):
    vg = wengert.value_and_grad(getattr(W, wl.fn), argnums=wl.argnums)
    args = wl.args
    return (lambda: vg(*args)), (lambda r: _as_result(*r, wl))


def m_autograd(wl):
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        raise NotAvailable("not installed") from None
    vg = autograd.value_and_grad(getattr(_rebound("autograd", anp), wl.fn), wl.argnums)
    args = wl.args
    return (lambda: vg(*args)), (lambda r: _as_result(*r, wl))


def m_torch(wl):
    torch = _torch()
    f = getattr(_rebound("torch", _torch_math(torch)), wl.fn)
    nums = _argnums(wl)
    args = [
        torch.tensor(a, dtype=torch.float64, requires_grad=True) if i in nums else a
        for i, a in enumerate(wl.args)
    ]
    inputs = [args[i] for i in nums]

    def run():
        out = f(*args)
        return out, torch.autograd.grad(out, inputs)

    return run, (lambda r: (float(r[0].detach()), tuple(float(g) for g in r[1])))


def m_jax(wl):
    jax = _jax()
    vg = jax.value_and_grad(getattr(_rebound("jax", jax.numpy), wl.fn), argnums=wl.argnums)
    args = wl.args
    return (lambda: jax.block_until_ready(vg(*args))), (lambda r: _as_result(*r, wl))


def m_jax_jit(wl):
    jax = _jax()
    vg = jax.value_and_grad(getattr(_rebound("jax", jax.numpy), wl.fn), argnums=wl.argnums)
    jitted = jax.jit(vg, static_argnums=wl.static)
    args = wl.args
    return (lambda: jax.block_until_ready(jitted(*args))), (lambda r: _as_result(*r, wl))


MAKERS = {name: globals()[f"m_{name}"] for name in METHODS}

_REBOUND: dict[str, types.SimpleNamespace] = {}


def _rebound(key, math_like):
    if key not in _REBOUND:
        _REBOUND[key] = W.rebind(math_like, vars(W))
    return _REBOUND[key]


def _torch():
    try:
        import torch
    except ImportError:
        raise NotAvailable("not installed") from None
    torch.set_num_threads(1)
    return torch


def _torch_math(torch):
    names = ("sin", "cos", "log", "exp", "sqrt", "tanh")
    return types.SimpleNamespace(**{n: getattr(torch, n) for n in names})


def _jax():
    try:
        import jax
    except ImportError:
        raise NotAvailable("not installed") from None
    jax.config.update("jax_enable_x64", True)  # float64, like the others
    return jax


# ---- checks ----


def central_difference(f, args, i, h_rel=1e-6):
    h = h_rel * max(1.0, abs(args[i]))
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def check_hand(wl: Workload) -> None:
    """Abort unless the hand-written gradient matches central differences."""
    f = getattr(W, wl.fn)
    value, grads = _as_result(*wl.hand(*wl.args), wl)
    if value != f(*wl.args):
        sys.exit(f"hand-written {wl.name}: value {value!r} != primal {f(*wl.args)!r}")
    for i, g in zip(_argnums(wl), grads):
        fd = central_difference(f, wl.args, i)
        if not abs(g - fd) <= FD_RTOL * max(1.0, abs(fd)):
            sys.exit(
                f"hand-written gradient of {wl.name} w.r.t. argument {i} is {g!r}, "
                f"central differences give {fd!r}: fix bench/workloads.py"
            )


def mismatch(got, want) -> str:
    """Why ``got`` (value, grads) differs from ``want``, or '' when they agree."""
    (v, gs), (wv, wgs) = got, want
    if not math.isclose(v, wv, rel_tol=MATCH_RTOL, abs_tol=1e-12):
        return f"value {v!r}, expected {wv!r}"
    for k, (g, wg) in enumerate(zip(gs, wgs)):
        if not math.isclose(g, wg, rel_tol=MATCH_RTOL, abs_tol=1e-12):
            return f"gradient {k} is {g!r}, hand-written gives {wg!r}"
    return ""


# ---- running ----


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:160]


def prepare(wl: Workload, methods, want):
    """Build, warm up and check each method; returns thunks, warm-up times and statuses."""
    thunks, first, status = {}, {}, {}
    for name in methods:
        try:
            thunk, convert = MAKERS[name](wl)
            t0 = time.perf_counter()
            result = thunk()
            first[name] = time.perf_counter() - t0
            got = convert(result)
        except NotAvailable as e:
            status[name] = f"n/a ({e})"
            continue
        except Exception as e:  # noqa: BLE001 - any failure is reported, not fatal
            status[name] = f"n/a ({_one_line(e)})"
            continue
        if name != "primal":
            why = mismatch(got, want)
            if why:
                status[name] = f"WRONG ({why})"
                continue
        thunks[name] = thunk
        status[name] = "ok"
    return thunks, first, status


def wengert_first_call(fn, args, argnums, repeats) -> float:
    """Median seconds of the first call after `wengert.clear_cache` (transform + compile + run)."""
    samples = []
    for _ in range(repeats):
        wengert.clear_cache()
        t0 = time.perf_counter()
        wengert.value_and_grad(fn, argnums=argnums)(*args)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_jit_child(wl: Workload, quick: bool, timeout: float) -> dict:
    """jax_jit (with primal and wengert, paired) for one workload in a child process."""
    cmd = [sys.executable, os.path.abspath(__file__), "--jit-child", wl.name]
    if quick:
        cmd.append("--quick")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"n/a (jit compile + run took over {timeout:.0f} s)"}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": f"n/a (child failed: {err[:160]})"}
    return json.loads(lines[-1])


def jit_child(name: str, settings: Settings) -> None:
    """Child process of `run_jit_child`: prints one JSON line."""
    wl = next(w for w in WORKLOADS if w.name == name)
    want = _as_result(*wl.hand(*wl.args), wl)
    thunks, first, status = prepare(wl, ("primal", "wengert", "jax_jit"), want)
    out = {"status": status.get("jax_jit", "n/a"), "first_call_s": first.get("jax_jit")}
    if "jax_jit" in thunks:
        timings = measure(thunks, first, settings)
        out["times"] = {k: t.as_dict() for k, t in timings.items()}
    print(json.dumps(out))


def measure(thunks, first, settings: Settings):
    return _timing.measure(
        thunks,
        target=settings.target,
        repeats=settings.repeats,
        min_repeats=settings.min_repeats,
        budget=settings.budget,
        first=first,
        slow=settings.slow,
    )


def ratio(a, b):
    return a / b if a is not None and b else None


def run_workload(wl: Workload, methods, settings: Settings, quick: bool) -> dict:
    check_hand(wl)
    want = _as_result(*wl.hand(*wl.args), wl)
    res = {"title": wl.title, "args": list(wl.args), "argnums": wl.argnums, "first_call_s": {}}
    in_process = [m for m in methods if m != "jax_jit"]
    first_wengert = None
    if "wengert" in in_process:
        try:
            first_wengert = wengert_first_call(
                getattr(W, wl.fn), wl.args, wl.argnums, settings.first_repeats
            )
        except Exception as e:  # noqa: BLE001 - prepare() reports it in the status too
            res["first_call_error"] = _one_line(e)
    thunks, first, status = prepare(wl, in_process, want)
    timings = measure(thunks, first, settings) if thunks else {}
    times = {k: t.as_dict() for k, t in timings.items()}
    med = {k: t.median for k, t in timings.items()}
    if first_wengert is not None and "wengert" in med:
        res["first_call_s"]["wengert"] = first_wengert
    paired_wengert = {}  # peer -> the wengert median it is compared with
    if "jax_jit" in methods:
        child = run_jit_child(wl, quick, settings.jit_timeout)
        status["jax_jit"] = child["status"]
        if "times" in child:
            times["jax_jit"] = child["times"]["jax_jit"]
            med["jax_jit"] = times["jax_jit"]["median_s"]
            res["first_call_s"]["jax_jit"] = child["first_call_s"]
            if "wengert" in child["times"]:
                paired_wengert["jax_jit"] = child["times"]["wengert"]["median_s"]
    w = med.get("wengert")
    ratios = {
        "wengert/primal": ratio(w, med.get("primal")),
        "wengert/hand": ratio(w, med.get("hand")),
        "hand/primal": ratio(med.get("hand"), med.get("primal")),
    }
    for peer in PEERS:
        if peer in methods:
            ratios[f"{peer}/wengert"] = ratio(med.get(peer), paired_wengert.get(peer, w))
    res.update(times=times, status=status, ratios=ratios)
    return res


# ---- reporting ----


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.3g}x"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def report(results: dict, methods) -> str:
    wls = results["workloads"]
    out = ["Seconds per call (median; one thread):"]
    rows = [
        [name, *(fmt_time(r["times"].get(m, {}).get("median_s")) for m in methods)]
        for name, r in wls.items()
    ]
    out.append(table(["workload", *methods], rows))
    keys = [k for k in next(iter(wls.values()))["ratios"]]
    out.append("\nRatios (lower is faster for the first named):")
    rows = [[name, *(fmt_ratio(r["ratios"].get(k)) for k in keys)] for name, r in wls.items()]
    out.append(table(["workload", *keys], rows))
    notes = [
        f"  {name}: {m}: {s}"
        for name, r in wls.items()
        for m, s in r["status"].items()
        if s != "ok"
    ]
    notes += [
        f"  {name}: {m}: {t['note']}"
        for name, r in wls.items()
        for m, t in r["times"].items()
        if t.get("note")
    ]
    if notes:
        out.append("\nNotes:")
        out += notes
    fc = results["first_call"]
    if fc:
        out.append("\nFirst call (transform + compile + one run) vs a warm call:")
        rows = []
        for name, r in fc.items():
            rows.append(
                [
                    name,
                    fmt_time(r.get("wengert")),
                    fmt_time(r.get("wengert_warm")),
                    fmt_time(r.get("jax_jit")),
                ]
            )
        out.append(table(["workload", "wengert first", "wengert warm", "jax_jit first"], rows))
    return "\n".join(out)


def markdown(results: dict) -> str:
    """The README's benchmark table, filled from ``results``."""
    cols = [
        ("primal", lambda r: fmt_time(_med(r, "primal"))),
        ("hand-written", lambda r: fmt_time(_med(r, "hand"))),
        ("wengert", lambda r: fmt_time(_med(r, "wengert"))),
        ("wengert / primal", lambda r: fmt_ratio(r["ratios"].get("wengert/primal"))),
        ("wengert / hand", lambda r: fmt_ratio(r["ratios"].get("wengert/hand"))),
    ]
    for peer, label in (
        ("autograd", "autograd"),
        ("torch", "torch"),
        ("jax", "jax"),
        ("jax_jit", "jax jit"),
    ):
        cols.append(
            (f"{label} / wengert", lambda r, p=peer: fmt_ratio(r["ratios"].get(f"{p}/wengert")))
        )
    cols.append(("wengert first call", lambda r: fmt_time(r["first_call_s"].get("wengert"))))
    lines = [
        "| workload | " + " | ".join(c for c, _ in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for r in results["workloads"].values():
        lines.append(f"| {r['title']} | " + " | ".join(f(r) for _, f in cols) + " |")
    m = results["meta"]
    v = ", ".join(f"{k} {x}" for k, x in m["versions"].items() if x)
    lines.append(
        f"\n{'Quick run' if m['quick'] else 'Full run'} of bench/scalar.py, {m['date']}, "
        f"one thread, {m['platform']} ({m['cpus']} CPUs); {v}. "
        "`-`: not run or n/a (see the notes of the run)."
    )
    return "\n".join(lines)


def _med(r, method):
    return r["times"].get(method, {}).get("median_s")


def versions() -> dict:
    v = {"python": platform.python_version()}
    for dist in ("wengert", "numpy", "autograd", "torch", "jax", "jaxlib"):
        try:
            v[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            v[dist] = None
    return v


def first_call_branchy(settings: Settings) -> dict:
    """First-call cost of the 50-line straight-line-plus-branches function, checked by FD."""
    args = (0.8, 1.3)
    t = wengert_first_call(W.branchy, args, (0, 1), settings.first_repeats)
    vg = wengert.value_and_grad(W.branchy, argnums=(0, 1))
    _, grads = vg(*args)
    for i, g in enumerate(grads):
        fd = central_difference(W.branchy, args, i)
        if not abs(g - fd) <= FD_RTOL * max(1.0, abs(fd)):
            return {"status": f"WRONG (gradient {i} is {g!r}, central differences {fd!r})"}
    warm = _timing.time_calls(lambda: vg(*args), 1000 if settings.target > 0.005 else 100)
    return {"status": "ok", "wengert": t, "wengert_warm": warm}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run (rough numbers)")
    p.add_argument("--only", default=",".join(METHODS), help="comma-separated methods")
    p.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS))
    p.add_argument("--out", default=os.path.join(HERE, "results.json"))
    p.add_argument("--markdown", action="store_true", help="also print the README's table")
    p.add_argument("--jit-child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    settings = Settings.for_mode(a.quick)
    if a.jit_child:
        jit_child(a.jit_child, settings)
        return 0
    methods = [m.strip() for m in a.only.split(",") if m.strip()]
    names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    bad = [m for m in methods if m not in METHODS] + [
        n for n in names if n not in {w.name for w in WORKLOADS}
    ]
    if bad:
        p.error(f"unknown method or workload: {', '.join(bad)}")
    methods = [m for m in METHODS if m in methods]  # canonical order

    results = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "threads": 1,
            "quick": a.quick,
            "methods": methods,
            "versions": versions(),
            "settings": {k: getattr(settings, k) for k in Settings.__slots__},
        },
        "workloads": {},
        "first_call": {},
    }
    t_start = time.perf_counter()
    for wl in WORKLOADS:
        if wl.name not in names:
            continue
        print(f"[{time.perf_counter() - t_start:6.1f} s] {wl.name} ...", file=sys.stderr)
        r = run_workload(wl, methods, settings, a.quick)
        results["workloads"][wl.name] = r
        fc = dict(r["first_call_s"])
        if "wengert" in r["times"]:
            fc["wengert_warm"] = r["times"]["wengert"]["median_s"]
        results["first_call"][wl.name] = fc
    if "wengert" in methods:
        try:
            results["first_call"]["branchy"] = first_call_branchy(settings)
        except Exception as e:  # noqa: BLE001 - reported in the results
            results["first_call"]["branchy"] = {"status": f"n/a ({_one_line(e)})"}
    results["meta"]["total_s"] = time.perf_counter() - t_start

    print(report(results, methods))
    if a.markdown:
        print("\n" + markdown(results))
    with open(a.out, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\nwrote {a.out}")
    wrong = [
        f"{name}: {m}"
        for name, r in results["workloads"].items()
        for m, s in r["status"].items()
        if s.startswith("WRONG")
    ]
    if results["first_call"].get("branchy", {}).get("status", "").startswith("WRONG"):
        wrong.append("branchy: wengert")
    if wrong:
        print(f"WRONG gradients: {', '.join(wrong)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
