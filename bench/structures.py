"""Structures benchmark: gradients of programs over objects, against the primal,
hand-written gradients and peers.

    python bench/structures.py            # full run, well under 2 minutes on 2 cores
    python bench/structures.py --quick    # smoke run, a few seconds (fewer steps, fewer repeats)

Workloads:

- ``particles``: 20 ``dataclass`` particles (x, y, vx, vy), 100 semi-implicit Euler
  steps of a spring (k) and linear drag force, plain Python floats, objects updated
  in place; loss = sum of squared final positions. Differentiated w.r.t. the
  initial particle list (the gradient is a list of ``Particle`` holding
  cotangents) and the drag coefficient.
- ``mlp``: a class-based MLP on Python floats: ``Linear`` objects holding weight
  lists, a ``Sequential`` calling them in a loop, 8 -> 16 (tanh) -> 1; mean
  squared loss over a batch of 8 samples. Differentiated w.r.t. the model object.

Methods: ``primal``; ``hand`` (reverse mode written by hand for the same
algorithm: a forward pass pushing what the adjoint needs, a reverse pass popping
it; checked against central finite differences before anything is timed, and the
script aborts on a mismatch); ``wengert`` (``wengert.value_and_grad``), checked
against ``hand``; ``autograd`` (HIPS; the objects are rebuilt inside the function
from nested lists, since autograd cannot differentiate w.r.t. a dataclass or a
user object) and ``torch`` (eager, float64 0-d tensors as the leaves, the same
objects built around them) when installed, both checked against ``hand`` too.

One thread (set before NumPy/torch are imported, plus ``torch.set_num_threads(1)``).
Times are medians of interleaved measurements (bench/_timing.py), each gradient's
samples paired with the primal's in the same process. Memory: tracemalloc's peak
during one call, above what was allocated before it, for the primal, hand,
wengert and autograd (torch allocates outside tracemalloc's view). Results: a
table on stdout and bench/results_structures.json; exit status 1 if a gradient
is wrong.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import gc
import importlib.metadata
import itertools
import json
import math
import platform
import random
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _timing

import wengert

METHODS = ("primal", "hand", "wengert", "autograd", "torch")
MEMORY = ("primal", "hand", "wengert", "autograd")
FD_RTOL = 1e-6  # hand-written gradient against central differences
MATCH_RTOL = 1e-9  # every method's gradient against the hand-written one

# ---- workload 1: particle system of dataclasses ----


@dataclass
class Particle:
    x: float
    y: float
    vx: float
    vy: float


def particles_loss(ps0, drag, k=4.0, dt=0.01, steps=100):
    ps = [Particle(p.x, p.y, p.vx, p.vy) for p in ps0]
    for _ in range(steps):
        for p in ps:
            p.vx = p.vx + dt * (-k * p.x - drag * p.vx)
            p.vy = p.vy + dt * (-k * p.y - drag * p.vy)
            p.x = p.x + dt * p.vx
            p.y = p.y + dt * p.vy
    total = 0.0
    for p in ps:
        total = total + p.x * p.x + p.y * p.y
    return total


def particles_hand(ps0, drag, k=4.0, dt=0.01, steps=100):
    """Value and (list of Particle cotangents, drag cotangent) of `particles_loss`."""
    ps = [Particle(p.x, p.y, p.vx, p.vy) for p in ps0]
    stack = []
    push = stack.append
    for _ in range(steps):
        for p in ps:
            push(p.vx)
            push(p.vy)
            p.vx = p.vx + dt * (-k * p.x - drag * p.vx)
            p.vy = p.vy + dt * (-k * p.y - drag * p.vy)
            p.x = p.x + dt * p.vx
            p.y = p.y + dt * p.vy
    total = 0.0
    for p in ps:
        total = total + p.x * p.x + p.y * p.y
    bars = [Particle(2.0 * p.x, 2.0 * p.y, 0.0, 0.0) for p in ps]
    drag_bar = 0.0
    decay = 1.0 - dt * drag
    dtk = dt * k
    pop = stack.pop
    rbars = bars[::-1]
    for _ in range(steps):
        for b in rbars:
            vy = pop()
            vx = pop()
            b.vy += dt * b.y                    # y = y + dt * vy
            b.vx += dt * b.x                    # x = x + dt * vx
            drag_bar -= dt * (vx * b.vx + vy * b.vy)
            b.x -= dtk * b.vx                   # vx = vx + dt * (-k x - drag vx)
            b.y -= dtk * b.vy
            b.vx *= decay
            b.vy *= decay
    return total, (bars, drag_bar)


def particles_args(n, seed=0):
    rng = random.Random(seed)
    ps = [Particle(*(rng.uniform(-1.0, 1.0) for _ in range(4))) for _ in range(n)]
    return ps, 0.3


# ---- workload 2: class-based MLP on floats ----


class Linear:
    def __init__(self, w, b, act):
        self.w = w          # list of rows (lists of floats)
        self.b = b
        self.act = act      # tanh after the affine map?

    def __call__(self, xs):
        out = []
        for row, bias in zip(self.w, self.b):
            s = bias
            for wi, xi in zip(row, xs):
                s = s + wi * xi
            out.append(math.tanh(s) if self.act else s)
        return out


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, xs):
        for layer in self.layers:
            xs = layer(xs)
        return xs


def mlp_loss(model, X, T):
    total = 0.0
    for xs, t in zip(X, T):
        y = model(xs)[0]
        total = total + (y - t) * (y - t)
    return total / len(X)


def mlp_hand(model, X, T):
    """Value and the model's cotangent (a Sequential of Linear holding cotangents)."""
    layers = model.layers
    gws = [[[0.0] * len(row) for row in layer.w] for layer in layers]
    gbs = [[0.0] * len(layer.b) for layer in layers]
    scale = 2.0 / len(X)
    total = 0.0
    for xs, t in zip(X, T):
        acts = [xs]
        for layer in layers:
            xs = layer(xs)
            acts.append(xs)
        y = xs[0]
        total = total + (y - t) * (y - t)
        g = [scale * (y - t)]
        for li in range(len(layers) - 1, -1, -1):
            layer = layers[li]
            if layer.act:
                g = [gi * (1.0 - o * o) for gi, o in zip(g, acts[li + 1])]
            inp = acts[li]
            gw, gb = gws[li], gbs[li]
            need_in = li > 0
            gin = [0.0] * len(inp)
            for r, (row, gr) in enumerate(zip(layer.w, g)):
                gb[r] += gr
                gwr = gw[r]
                for c, xi in enumerate(inp):
                    gwr[c] += gr * xi
                if need_in:
                    for c, wi in enumerate(row):
                        gin[c] += gr * wi
            g = gin
    grad = Sequential(*(Linear(gw, gb, layer.act) for gw, gb, layer in zip(gws, gbs, layers)))
    return total / len(X), grad


def mlp_args(sizes=(8, 16, 1), batch=8, seed=1):
    rng = random.Random(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        w = [[rng.gauss(0.0, 1.0 / math.sqrt(n_in)) for _ in range(n_in)] for _ in range(n_out)]
        b = [rng.gauss(0.0, 0.1) for _ in range(n_out)]
        layers.append(Linear(w, b, i < len(sizes) - 2))
    X = [[rng.uniform(-1.0, 1.0) for _ in range(sizes[0])] for _ in range(batch)]
    T = [rng.uniform(-1.0, 1.0) for _ in range(batch)]
    return Sequential(*layers), X, T


# ---- flattening gradients for comparison ----


def _f(v) -> float:
    if v is None:
        return 0.0
    return v.item() if hasattr(v, "item") else float(v)  # torch tensors: .item(), no warning


def flat_particles(grad) -> list[float]:
    """(particle cotangents, drag cotangent) as a flat list; fields may be None."""
    ps, drag = grad
    out = []
    for p in ps:
        if isinstance(p, (list, tuple)):  # autograd: nested lists
            out.extend(_f(v) for v in p)
        else:
            out.extend(_f(getattr(p, a, None)) for a in ("x", "y", "vx", "vy"))
    out.append(_f(drag))
    return out


def flat_mlp(layers) -> list[float]:
    """[(w, b) per layer] as a flat list."""
    out = []
    for w, b in layers:
        for row in w:
            out.extend(_f(v) for v in row)
        out.extend(_f(v) for v in b)
    return out


def flat_particles_typed(grad) -> list[float]:
    """wengert's gradient: the particle cotangents must be a list of Particle."""
    ps, _ = grad
    if not (isinstance(ps, list) and all(type(p) is Particle for p in ps)):
        raise TypeError(f"particle cotangents are not a list of Particle: {type(ps).__name__}")
    return flat_particles(grad)


def model_layers(g) -> list:
    return [(layer.w, layer.b) for layer in g.layers]


# ---- finite differences for the hand-written gradients ----


def fd_particles(ps, drag, steps, eps=1e-6):
    def loss(ps, drag):
        return particles_loss(ps, drag, steps=steps)

    out = []
    for p in ps:
        for a in ("x", "y", "vx", "vy"):
            old = getattr(p, a)
            setattr(p, a, old + eps)
            up = loss(ps, drag)
            setattr(p, a, old - eps)
            dn = loss(ps, drag)
            setattr(p, a, old)
            out.append((up - dn) / (2 * eps))
    out.append((loss(ps, drag + eps) - loss(ps, drag - eps)) / (2 * eps))
    return out


def fd_mlp(model, X, T, eps=1e-6):
    out = []
    for layer in model.layers:
        for vec in [*layer.w, layer.b]:
            for c in range(len(vec)):
                old = vec[c]
                vec[c] = old + eps
                up = mlp_loss(model, X, T)
                vec[c] = old - eps
                dn = mlp_loss(model, X, T)
                vec[c] = old
                out.append((up - dn) / (2 * eps))
    return out


def max_rel_err(a, b) -> float:
    scale = max(1.0, max(abs(v) for v in b))
    if len(a) != len(b):
        return float("inf")
    return max(abs(x - y) for x, y in zip(a, b)) / scale


# ---- peers ----


def _rebound_classes(math_like) -> types.SimpleNamespace:
    """Linear and Sequential recompiled against ``math_like`` (autograd.numpy, torch)."""
    g = dict(globals())
    g["math"] = math_like

    def copy_class(cls):
        ns = {}
        for name, obj in cls.__dict__.items():
            if isinstance(obj, types.FunctionType):
                obj = types.FunctionType(obj.__code__, g, obj.__name__, obj.__defaults__, obj.__closure__)
            if name not in ("__dict__", "__weakref__"):
                ns[name] = obj
        return type(cls.__name__, cls.__bases__, ns)

    ns = types.SimpleNamespace(Linear=copy_class(Linear), Sequential=copy_class(Sequential))
    g["Linear"], g["Sequential"] = ns.Linear, ns.Sequential
    ns.mlp_loss = types.FunctionType(mlp_loss.__code__, g, "mlp_loss")
    return ns


def _autograd():
    import autograd
    import autograd.numpy as anp

    return autograd, anp


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def peer_particles(method, ps, drag, steps):
    """A thunk returning (value, gradient in flat_particles' form)."""
    state = [[p.x, p.y, p.vx, p.vy] for p in ps]
    if method == "autograd":
        autograd, _ = _autograd()

        def f(params):
            st, d = params
            return particles_loss([Particle(*s) for s in st], d, steps=steps)

        vg = autograd.value_and_grad(f)
        return lambda: vg((state, drag))
    torch = _torch()
    leaves = [[torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in s] for s in state]
    d = torch.tensor(drag, dtype=torch.float64, requires_grad=True)
    flat = [v for s in leaves for v in s] + [d]

    def run():
        y = particles_loss([Particle(*s) for s in leaves], d, steps=steps)
        gs = torch.autograd.grad(y, flat)
        return y, ([gs[i:i + 4] for i in range(0, len(gs) - 1, 4)], gs[-1])

    return run


def peer_mlp(method, model, X, T):
    """A thunk returning (value, [(w, b) per layer] cotangents)."""
    params = [(layer.w, layer.b) for layer in model.layers]
    acts = [layer.act for layer in model.layers]
    if method == "autograd":
        autograd, anp = _autograd()
        ns = _rebound_classes(anp)

        def f(ps):
            return ns.mlp_loss(ns.Sequential(*(ns.Linear(w, b, a) for (w, b), a in zip(ps, acts))), X, T)

        vg = autograd.value_and_grad(f)
        return lambda: vg(params)
    torch = _torch()
    ns = _rebound_classes(torch)

    def t(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    tparams = [([[t(v) for v in row] for row in w], [t(v) for v in b]) for w, b in params]
    flat = [v for w, b in tparams for vec in [*w, b] for v in vec]
    tmodel = ns.Sequential(*(ns.Linear(w, b, a) for (w, b), a in zip(tparams, acts)))

    def run():
        y = ns.mlp_loss(tmodel, X, T)
        gs = iter(torch.autograd.grad(y, flat))
        return y, [([[next(gs) for _ in row] for row in w], [next(gs) for _ in b]) for w, b in params]

    return run


# ---- the benchmark ----


@dataclass
class Workload:
    name: str
    title: str
    primal: Callable
    hand: Callable
    wengert: Callable
    peer: Callable        # method -> thunk
    flat_hand: Callable   # hand's result -> flat list
    flat_wengert: Callable
    flat_peer: Callable
    fd: Callable
    n_params: int


def make_workloads(quick: bool) -> list[Workload]:
    steps = 20 if quick else 100
    ps, drag = particles_args(20)
    vg_p = wengert.value_and_grad(particles_loss, (0, 1))
    model, X, T = mlp_args()
    vg_m = wengert.value_and_grad(mlp_loss)
    return [
        Workload(
            "particles",
            f"20 dataclass particles, {steps} steps; d/d(particle list, drag)",
            primal=lambda: particles_loss(ps, drag, steps=steps),
            hand=lambda: particles_hand(ps, drag, steps=steps),
            wengert=lambda: vg_p(ps, drag, 4.0, 0.01, steps),
            peer=lambda m: peer_particles(m, ps, drag, steps),
            flat_hand=lambda r: flat_particles(r[1]),
            flat_wengert=lambda r: flat_particles_typed(r[1]),
            flat_peer=lambda r: flat_particles(r[1]),
            fd=lambda: fd_particles(ps, drag, steps),
            n_params=4 * len(ps) + 1,
        ),
        Workload(
            "mlp",
            "class-based MLP 8-16(tanh)-1 on floats, batch 8; d/d(model)",
            primal=lambda: mlp_loss(model, X, T),
            hand=lambda: mlp_hand(model, X, T),
            wengert=lambda: vg_m(model, X, T),
            peer=lambda m: peer_mlp(m, model, X, T),
            flat_hand=lambda r: flat_mlp(model_layers(r[1])),
            flat_wengert=lambda r: flat_mlp(model_layers(r[1])),
            flat_peer=lambda r: flat_mlp(r[1]),
            fd=lambda: fd_mlp(model, X, T),
            n_params=sum(len(layer.b) * (len(layer.w[0]) + 1) for layer in model.layers),
        ),
    ]


def peak_bytes(fn: Callable) -> int:
    """tracemalloc's peak during one call of ``fn``, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def available(method: str) -> str | None:
    """None if the peer imports, else the reason it does not."""
    try:
        if method == "autograd":
            _autograd()
        elif method == "torch":
            _torch()
    except ImportError as e:
        return f"not installed ({e.name})"
    return None


def fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_b(b: int | None) -> str:
    if b is None:
        return "-"
    if b >= 1 << 20:
        return f"{b / (1 << 20):.2f} MiB"
    if b >= 1 << 10:
        return f"{b / (1 << 10):.1f} KiB"
    return f"{b} B"


def run_workload(wl: Workload, methods: tuple[str, ...], quick: bool) -> dict:
    res: dict = {"title": wl.title, "n_params": wl.n_params, "status": {}, "times": {}, "memory_peak_bytes": {}}
    # 1. the hand-written gradient against central differences: abort on a mismatch
    hand_r = wl.hand()
    hand_g = wl.flat_hand(hand_r)
    fd = wl.fd()
    err = max_rel_err(hand_g, fd)
    res["hand_vs_fd_rel_err"] = err
    if not err <= FD_RTOL or abs(hand_r[0] - wl.primal()) > 1e-12 * max(1.0, abs(hand_r[0])):
        sys.exit(f"{wl.name}: hand-written gradient disagrees with finite differences (rel err {err:.3g}); aborting")
    # 2. every method's gradient against the hand-written one
    thunks: dict[str, Callable] = {"primal": wl.primal, "hand": wl.hand}
    first: dict[str, float] = {}
    for m in methods:
        if m in ("primal", "hand"):
            res["status"][m] = "ok"
            continue
        why = available(m) if m != "wengert" else None
        if why:
            res["status"][m] = f"n/a ({why})"
            continue
        try:
            thunk = wl.wengert if m == "wengert" else wl.peer(m)
            if m == "wengert":
                wengert.clear_cache()
            t0 = time.perf_counter()
            r = thunk()
            first[m] = time.perf_counter() - t0
            g = (wl.flat_wengert if m == "wengert" else wl.flat_peer)(r)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            res["status"][m] = f"n/a ({type(e).__name__}: {str(e).splitlines()[0][:80]})"
            continue
        e = max_rel_err(g, hand_g)
        ok = e <= MATCH_RTOL and abs(_f(r[0]) - hand_r[0]) <= MATCH_RTOL * max(1.0, abs(hand_r[0]))
        res["status"][m] = "ok" if ok else f"WRONG (rel err {e:.3g})"
        thunks[m] = thunk
    if "wengert" in first:
        res["wengert_first_call_s"] = first["wengert"]  # transform + compile + run, cache cleared
    thunks = {m: thunks[m] for m in ("primal", "hand", *[m for m in methods if m in thunks and m not in ("primal", "hand")])}
    timings = _timing.measure(
        thunks,
        target=0.005 if quick else 0.02,
        repeats=3 if quick else 7,
        min_repeats=2 if quick else 3,
        budget=0.3 if quick else 2.0,
        first={k: v for k, v in first.items() if k != "wengert"},
    )
    for m, t in timings.items():
        res["times"][m] = t.as_dict()
    for m in MEMORY:
        if m in thunks:
            res["memory_peak_bytes"][m] = peak_bytes(thunks[m])
    med = {m: t.median for m, t in timings.items()}
    mem = res["memory_peak_bytes"]
    ratios = {}
    for m, t in med.items():
        if m != "primal":
            ratios[f"{m}/primal"] = t / med["primal"]
    if "wengert" in med:
        ratios["wengert/hand"] = med["wengert"] / med["hand"]
        for p in ("autograd", "torch"):
            if p in med:
                ratios[f"{p}/wengert"] = med[p] / med["wengert"]
    for m in ("hand", "wengert", "autograd"):
        if m in mem and mem.get("primal"):
            ratios[f"mem {m}/primal"] = mem[m] / mem["primal"]
    if "wengert" in mem and mem.get("hand"):
        ratios["mem wengert/hand"] = mem["wengert"] / mem["hand"]
    res["ratios"] = ratios
    return res


def print_tables(results: dict, methods: tuple[str, ...]) -> None:
    names = list(results)
    rows = [("method", *names)]
    for m in methods:
        cells = []
        for n in names:
            r = results[n]
            st = r["status"].get(m, "-")
            t = r["times"].get(m)
            cell = fmt_s(t["median_s"]) if t else st
            if t and st != "ok":
                cell += f" {st}"
            if t and m != "primal":
                cell += f" ({t['median_s'] / r['times']['primal']['median_s']:.3g}x primal)"
            cells.append(cell)
        rows.append((m, *cells))
    rows.append(("", *["" for _ in names]))
    for m in MEMORY:
        rows.append((f"peak mem {m}", *[fmt_b(results[n]["memory_peak_bytes"].get(m)) for n in names]))
    for key in ("wengert/hand", "autograd/wengert", "torch/wengert", "mem wengert/hand", "mem wengert/primal",
                "mem hand/primal"):
        rows.append((key, *[f"{results[n]['ratios'][key]:.3g}x" if key in results[n]["ratios"] else "-"
                            for n in names]))
    rows.append(("wengert first call", *[fmt_s(results[n].get("wengert_first_call_s")) for n in names]))
    rows.append(("status", *[", ".join(f"{m} {s}" for m, s in results[n]["status"].items() if s != "ok") or "all ok"
                             for n in names]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    for n in names:
        print(f"{n}: {results[n]['title']}; hand vs finite differences: rel err {results[n]['hand_vs_fd_rel_err']:.2g}")


def meta(quick: bool) -> dict:
    def version(pkg):
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return None

    commit = None
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                text=True, check=False).stdout.strip() or None
    except OSError:
        pass
    return {
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": 1,
        "wengert_commit": commit,
        "versions": {p: version(p) for p in ("autograd", "torch", "numpy")},
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 20 steps, fewer repeats")
    ap.add_argument("--only", default=",".join(METHODS), help="comma-separated methods")
    ap.add_argument("--workloads", default="particles,mlp")
    ap.add_argument("--out", default=os.path.join(HERE, "results_structures.json"))
    a = ap.parse_args(argv)
    methods = tuple(m for m in METHODS if m in a.only.split(",") or m in ("primal", "hand"))
    wanted = a.workloads.split(",")
    t0 = time.perf_counter()
    results = {}
    for wl in make_workloads(a.quick):
        if wl.name in wanted:
            results[wl.name] = run_workload(wl, methods, a.quick)
    print_tables(results, methods)
    print(f"total {time.perf_counter() - t0:.1f} s")
    with open(a.out, "w") as fh:
        json.dump({"meta": meta(a.quick), "workloads": results}, fh, indent=2)
    bad = [f"{n}:{m}" for n, r in results.items() for m, s in r["status"].items() if s.startswith("WRONG")]
    if bad:
        print("WRONG gradients:", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
