"""Array benchmark: wengert's NumPy gradients against hand-written NumPy gradients and peers.

    python bench/arrays.py                     # full run, about 3 minutes on 2 cores
    python bench/arrays.py --quick             # smoke run
    python bench/arrays.py --only primal,hand,wengert --workloads mlp,rosen_1e4

Workloads: a 2-layer tanh MLP with mean-squared loss (batch 64, in 128,
hidden 256, out 10) and a big one (batch 512, hidden 1024); an RNN unrolled in
a Python loop (50 steps, hidden 64, batch 16, input 32, out 10); vectorised
Rosenbrock at n = 10^4 and 10^6. Gradients are taken with respect to the
parameters (MLP, RNN) or x (Rosenbrock), never the data.

Methods: ``primal`` (the loss alone), ``hand`` (the gradient written by hand in
NumPy, checked against central differences along random directions before
anything is timed), ``wengert`` (`wengert.value_and_grad`), and when installed
``autograd`` (HIPS), ``torch`` (float64, eager, CPU), ``jax`` and ``jax_jit``
(``jax.value_and_grad``, float64). The peers run the same source with ``np``
rebound to their module. Every gradient is compared with the hand-written one
(relative 1e-8); a mismatch is reported as WRONG and the script exits with 1.

Everything runs on one thread (set below, before NumPy is imported). Times are
medians of interleaved measurements, each gradient's paired with the primal's in
the same process (bench/_timing.py). Peak memory is tracemalloc's peak over one
call, for the NumPy-based methods (torch and JAX allocate outside its view).
Results: a table on stdout and bench/results_arrays.json.
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
import gc
import importlib.metadata
import json
import platform
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _timing

import wengert

METHODS = ("primal", "hand", "wengert", "autograd", "torch", "jax", "jax_jit")
PEERS = ("autograd", "torch", "jax", "jax_jit")
MEMORY = ("primal", "hand", "wengert", "autograd")  # the methods tracemalloc sees
FD_RTOL = 1e-5
MATCH_RTOL = 1e-8

# ---- the programs (plain NumPy; peers rebind `np`) ----


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - Y) ** 2)


def rnn(Wx, Wh, b, Wo, xs, y, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.mean((h @ Wo - y) ** 2)


def rosenbrock(x):
    a = x[:-1]
    return np.sum(100.0 * (x[1:] - a * a) ** 2 + (1.0 - a) ** 2)


# ---- hand-written gradients: (value, tuple of gradients) ----


def mlp_hand(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    r = h @ W2 + b2 - Y
    loss = np.mean(r ** 2)
    g_out = (2.0 / r.size) * r
    gW2 = h.T @ g_out
    gb2 = g_out.sum(axis=0)
    ga = (g_out @ W2.T) * (1.0 - h * h)
    gW1 = X.T @ ga
    gb1 = ga.sum(axis=0)
    return loss, (gW1, gb1, gW2, gb2)


def rnn_hand(Wx, Wh, b, Wo, xs, y, h0):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    r = h @ Wo - y
    loss = np.mean(r ** 2)
    g_out = (2.0 / r.size) * r
    gWo = h.T @ g_out
    gh = g_out @ Wo.T
    gWx = np.zeros_like(Wx)
    gWh = np.zeros_like(Wh)
    gb = np.zeros_like(b)
    for t in range(xs.shape[0] - 1, -1, -1):
        ga = gh * (1.0 - hs[t + 1] * hs[t + 1])
        gWx += xs[t].T @ ga
        gWh += hs[t].T @ ga
        gb += ga.sum(axis=0)
        gh = ga @ Wh.T
    return loss, (gWx, gWh, gb, gWo)


def rosenbrock_hand(x):
    a = x[:-1]
    d = x[1:] - a * a
    e = 1.0 - a
    loss = np.sum(100.0 * d * d + e * e)
    g = np.empty_like(x)
    g[:-1] = -400.0 * d * a - 2.0 * e
    g[-1] = 0.0
    g[1:] += 200.0 * d
    return loss, (g,)


# ---- workloads ----


@dataclass(slots=True)
class Workload:
    name: str
    title: str
    fn: Callable
    hand: Callable
    make: Callable[[np.random.Generator], tuple]
    argnums: tuple[int, ...]
    args: tuple = field(default=())


def _mlp_args(batch, d_in, hidden, d_out):
    def make(r):
        return (r.standard_normal((d_in, hidden)) / np.sqrt(d_in), 0.1 * r.standard_normal(hidden),
                r.standard_normal((hidden, d_out)) / np.sqrt(hidden), 0.1 * r.standard_normal(d_out),
                r.standard_normal((batch, d_in)), r.standard_normal((batch, d_out)))
    return make


def _rnn_args(steps, batch, d_in, hidden, d_out):
    def make(r):
        return (r.standard_normal((d_in, hidden)) / np.sqrt(d_in),
                r.standard_normal((hidden, hidden)) / np.sqrt(hidden), 0.1 * r.standard_normal(hidden),
                r.standard_normal((hidden, d_out)) / np.sqrt(hidden),
                r.standard_normal((steps, batch, d_in)), r.standard_normal((batch, d_out)),
                np.zeros((batch, hidden)))
    return make


def _rosen_args(n):
    return lambda r: (1.0 + 0.3 * r.standard_normal(n),)


WORKLOADS = [
    Workload("mlp", "MLP 64x128-256-10", mlp, mlp_hand, _mlp_args(64, 128, 256, 10), (0, 1, 2, 3)),
    Workload("mlp_big", "MLP 512x128-1024-10", mlp, mlp_hand, _mlp_args(512, 128, 1024, 10), (0, 1, 2, 3)),
    Workload("rnn", "RNN 50 steps, 16x32-64-10", rnn, rnn_hand, _rnn_args(50, 16, 32, 64, 10), (0, 1, 2, 3)),
    Workload("rosen_1e4", "Rosenbrock n=1e4", rosenbrock, rosenbrock_hand, _rosen_args(10 ** 4), (0,)),
    Workload("rosen_1e6", "Rosenbrock n=1e6", rosenbrock, rosenbrock_hand, _rosen_args(10 ** 6), (0,)),
]


class NotAvailable(Exception):
    """A method that does not apply, or is not installed."""


# ---- methods: each returns a thunk and a converter to (value, grads as NumPy) ----


def _rebind(fn, module):
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__)


def _np_result(r):
    value, grads = r
    return float(value), tuple(np.asarray(g) for g in grads)


def m_primal(wl):
    f, args = wl.fn, wl.args
    return (lambda: f(*args)), (lambda r: (float(r), None))


def m_hand(wl):
    f, args = wl.hand, wl.args
    return (lambda: f(*args)), _np_result


def m_wengert(wl):
    vg = wengert.value_and_grad(wl.fn, argnums=wl.argnums)
    args = wl.args
    return (lambda: vg(*args)), _np_result


def m_autograd(wl):
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        raise NotAvailable("not installed") from None
    vg = autograd.value_and_grad(_rebind(wl.fn, anp), wl.argnums)
    args = wl.args
    return (lambda: vg(*args)), _np_result


def m_torch(wl):
    try:
        import torch
    except ImportError:
        raise NotAvailable("not installed") from None
    torch.set_num_threads(1)
    ns = types.SimpleNamespace(tanh=torch.tanh, mean=torch.mean, sum=torch.sum)
    f = _rebind(wl.fn, ns)
    args = [torch.tensor(a, dtype=torch.float64, requires_grad=i in wl.argnums)
            for i, a in enumerate(wl.args)]
    inputs = [args[i] for i in wl.argnums]

    def run():
        out = f(*args)
        return out, torch.autograd.grad(out, inputs)

    return run, (lambda r: (float(r[0].detach()), tuple(g.numpy() for g in r[1])))


def _jax():
    try:
        import jax
    except ImportError:
        raise NotAvailable("not installed") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def m_jax(wl, jit=False):
    jax = _jax()
    vg = jax.value_and_grad(_rebind(wl.fn, jax.numpy), argnums=wl.argnums)
    if jit:
        vg = jax.jit(vg)
    args = tuple(jax.numpy.asarray(a) for a in wl.args)
    return (lambda: jax.block_until_ready(vg(*args))), _np_result


def m_jax_jit(wl):
    return m_jax(wl, jit=True)


MAKERS = {name: globals()[f"m_{name}"] for name in METHODS}

# ---- checks ----


def check_hand(wl: Workload, rng: np.random.Generator, directions: int = 2) -> None:
    """Abort unless the hand-written gradient matches central differences along random directions."""
    value, grads = wl.hand(*wl.args)
    primal = wl.fn(*wl.args)
    if not np.isclose(value, primal, rtol=1e-12):
        sys.exit(f"hand-written {wl.name}: value {value!r} != primal {primal!r}")
    for i, g in zip(wl.argnums, grads):
        x = wl.args[i]
        if g.shape != x.shape:
            sys.exit(f"hand-written {wl.name}: gradient {i} has shape {g.shape}, expected {x.shape}")
        for _ in range(directions):
            v = rng.standard_normal(x.shape)
            h = 1e-6 * max(1.0, float(np.abs(x).max()))
            up = list(wl.args)
            down = list(wl.args)
            up[i], down[i] = x + h * v, x - h * v
            fd = (wl.fn(*up) - wl.fn(*down)) / (2 * h)
            exact = float(np.vdot(g, v))
            if not abs(exact - fd) <= FD_RTOL * max(1.0, abs(fd)):
                sys.exit(f"hand-written gradient of {wl.name} w.r.t. argument {i}: <g, v> = {exact!r}, "
                         f"central differences give {fd!r}: fix bench/arrays.py")


def mismatch(got, want) -> str:
    (v, gs), (wv, wgs) = got, want
    if not np.isclose(v, wv, rtol=MATCH_RTOL, atol=1e-12):
        return f"value {v!r}, expected {wv!r}"
    if len(gs) != len(wgs):
        return f"{len(gs)} gradients, expected {len(wgs)}"
    for k, (g, wg) in enumerate(zip(gs, wgs)):
        if np.shape(g) != np.shape(wg):
            return f"gradient {k} has shape {np.shape(g)}, expected {np.shape(wg)}"
        scale = max(1.0, float(np.abs(wg).max()))
        err = float(np.abs(g - wg).max())
        if not err <= MATCH_RTOL * scale:
            return f"gradient {k} differs from the hand-written one by {err:.3g} (scale {scale:.3g})"
    return ""


def peak_bytes(thunk) -> int:
    """tracemalloc's peak over one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = thunk()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


# ---- running ----


@dataclass(slots=True)
class Settings:
    target: float
    repeats: int
    min_repeats: int
    budget: float

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        return cls(0.002, 1, 1, 0.05) if quick else cls(0.05, 9, 3, 3.0)


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:160]


def run_workload(wl: Workload, methods, settings: Settings) -> dict:
    rng = np.random.default_rng(0)
    wl.args = wl.make(rng)
    check_hand(wl, rng)
    want = _np_result(wl.hand(*wl.args))
    thunks, first, status = {}, {}, {}
    for name in methods:
        try:
            thunk, convert = MAKERS[name](wl)
            result = thunk()  # the first call compiles (wengert, jit): not a per-call time
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
        why = "" if name == "primal" else mismatch(got, want)
        status[name] = f"WRONG ({why})" if why else "ok"
        if not why:
            thunks[name] = thunk
    timings = _timing.measure(thunks, target=settings.target, repeats=settings.repeats,
                              min_repeats=settings.min_repeats, budget=settings.budget, first=first)
    med = {k: t.median for k, t in timings.items()}
    memory = {m: peak_bytes(thunks[m]) for m in MEMORY if m in thunks}

    def ratio(a, b):
        return a / b if a is not None and b else None

    w = med.get("wengert")
    ratios = {"wengert/hand": ratio(w, med.get("hand")), "wengert/primal": ratio(w, med.get("primal")),
              "hand/primal": ratio(med.get("hand"), med.get("primal"))}
    for peer in PEERS:
        if peer in methods:
            ratios[f"{peer}/wengert"] = ratio(med.get(peer), w)
    ratios["mem wengert/hand"] = ratio(memory.get("wengert"), memory.get("hand"))
    return {"title": wl.title, "times": {k: t.as_dict() for k, t in timings.items()}, "status": status,
            "ratios": ratios, "peak_bytes": memory, "first_call_s": first}


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


def fmt_bytes(b):
    return "-" if b is None else f"{b / 2 ** 20:.3g} MiB"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def report(results: dict, methods) -> str:
    wls = results["workloads"]
    out = ["Seconds per call (median; one thread):"]
    out.append(table(["workload", *methods],
                     [[n, *(fmt_time(r["times"].get(m, {}).get("median_s")) for m in methods)]
                      for n, r in wls.items()]))
    keys = list(next(iter(wls.values()))["ratios"])
    out.append("\nRatios (peer/wengert above 1: wengert is faster):")
    out.append(table(["workload", *keys], [[n, *(fmt_ratio(r["ratios"].get(k)) for k in keys)]
                                          for n, r in wls.items()]))
    mem = [m for m in MEMORY if m in methods]
    out.append("\nPeak memory of one call (tracemalloc):")
    out.append(table(["workload", *mem], [[n, *(fmt_bytes(r["peak_bytes"].get(m)) for m in mem)]
                                         for n, r in wls.items()]))
    notes = [f"  {n}: {m}: {s}" for n, r in wls.items() for m, s in r["status"].items() if s != "ok"]
    if notes:
        out += ["\nNotes:", *notes]
    return "\n".join(out)


def versions() -> dict:
    v = {"python": platform.python_version()}
    for dist in ("wengert", "numpy", "autograd", "torch", "jax", "jaxlib"):
        try:
            v[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            v[dist] = None
    return v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run (rough numbers)")
    p.add_argument("--only", default=",".join(METHODS), help="comma-separated methods")
    p.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS))
    p.add_argument("--out", default=os.path.join(HERE, "results_arrays.json"))
    a = p.parse_args(argv)
    methods = [m.strip() for m in a.only.split(",") if m.strip()]
    names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    bad = [m for m in methods if m not in METHODS] + [n for n in names if n not in {w.name for w in WORKLOADS}]
    if bad:
        p.error(f"unknown method or workload: {', '.join(bad)}")
    methods = [m for m in METHODS if m in methods]
    settings = Settings.for_mode(a.quick)
    results = {
        "meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "platform": platform.platform(),
                 "cpus": os.cpu_count(), "threads": 1, "quick": a.quick, "methods": methods,
                 "versions": versions(), "settings": {k: getattr(settings, k) for k in Settings.__slots__}},
        "workloads": {},
    }
    t0 = time.perf_counter()
    for wl in WORKLOADS:
        if wl.name in names:
            results["workloads"][wl.name] = run_workload(wl, methods, settings)
            wl.args = ()  # free the big arrays
    results["meta"]["elapsed_s"] = time.perf_counter() - t0
    with open(a.out, "w") as fh:
        json.dump(results, fh, indent=1)
    print(report(results, methods))
    print(f"\n{time.perf_counter() - t0:.0f} s; results in {a.out}")
    wrong = any(s.startswith("WRONG") for r in results["workloads"].values() for s in r["status"].values())
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
