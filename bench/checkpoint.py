"""Peak memory of a long loop's gradient, plain and with `wengert.checkpoint`.

A 2,000-step loop calls a 20-operation step function on a state array. The
plain gradient keeps, for every step, what the step's adjoint needs (about
twenty arrays); the checkpointed one keeps the step's inputs and runs the step
again during the reverse pass. Peak memory is `tracemalloc`'s (NumPy reports
its buffers to it), measured around one gradient call after a warm-up call.

    .venv/bin/python bench/checkpoint.py            # 2,000 steps, state of 256 floats
    .venv/bin/python bench/checkpoint.py --steps 200 --size 64   # quick
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import wengert


def step(s, p):
    """20 NumPy operations; contracting, so the state stays bounded over long loops."""
    a = s * p
    b = np.sin(a)
    c = b + s
    d = c * 0.5
    e = np.tanh(d)
    f = e * e
    g = f + 1.0
    h = np.log(g)
    i = h - 0.25 * s
    j = np.cos(i)
    k = j * p
    m = k + e
    n = np.exp(-m * m)
    o = n * 0.3
    q = o + 0.5 * np.sin(s)
    r = q / g
    t = r + 0.1 * c
    u = np.tanh(t)
    return u * 0.9


checkpointed_step = wengert.checkpoint(step)


def loss_plain(p, s0, steps):
    s = s0
    for _ in range(steps):
        s = step(s, p)
    return np.sum(s * s)


def loss_checkpointed(p, s0, steps):
    s = s0
    for _ in range(steps):
        s = checkpointed_step(s, p)
    return np.sum(s * s)


def measure(loss, p, s0, steps):
    grad = wengert.grad(loss)
    g = grad(p, s0, steps)  # warm-up: transform and compile outside the measurement
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    g = grad(p, s0, steps)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return g, peak, seconds


def run(steps: int = 2000, size: int = 256) -> dict:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.5, size)
    s0 = rng.uniform(-1.0, 1.0, size)
    g_plain, peak_plain, t_plain = measure(loss_plain, p, s0, steps)
    g_ck, peak_ck, t_ck = measure(loss_checkpointed, p, s0, steps)
    err = float(np.max(np.abs(g_plain - g_ck)) / max(1e-300, float(np.max(np.abs(g_plain)))))
    return {"steps": steps, "size": size, "peak_plain": peak_plain, "peak_checkpoint": peak_ck,
            "ratio": peak_ck / peak_plain, "seconds_plain": t_plain, "seconds_checkpoint": t_ck,
            "max_rel_diff": err}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args(argv)
    r = run(a.steps, a.size)
    mib = 1 << 20
    print(f"{r['steps']} steps of a 20-operation step, state of {r['size']} float64")
    print(f"plain gradient:        peak {r['peak_plain'] / mib:8.2f} MiB  {r['seconds_plain']:.3f} s")
    print(f"checkpointed gradient: peak {r['peak_checkpoint'] / mib:8.2f} MiB  {r['seconds_checkpoint']:.3f} s")
    print(f"memory ratio {r['ratio']:.3f}, time ratio {r['seconds_checkpoint'] / r['seconds_plain']:.2f}, "
          f"gradients differ by {r['max_rel_diff']:.1e} (relative)")


if __name__ == "__main__":
    main()
