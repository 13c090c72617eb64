"""wengert against ``jax.jit(jax.value_and_grad(f), static_argnums=...)``, per call, in one process.

    .venv/bin/python bench/jit_check.py

One thread (set before JAX is imported). Each sample runs enough calls in a row to
last at least 50 ms, the two methods are sampled alternately, and the median of 7
samples is reported, with JAX's first call (trace + compile + run). The workloads are
`workloads.py`'s sin_log, pow (n = 1000) and contfrac (depth 200); the landing
projectile is not included because ``jax.jit`` cannot reverse-differentiate its
``while y > 0`` loop.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import wengert  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as W  # noqa: E402

jax.config.update("jax_enable_x64", True)
JW = W.rebind(jnp, vars(W))
CASES = (("sin_log", (2.0,), ()), ("pow", (1.001, 1000), (1,)), ("contfrac", (0.7, 200), (1,)))


def per_call(fn, target=0.05):
    n = 1
    while True:
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target:
            return dt / n
        n *= 2


def main():
    print("| workload | wengert | jax.jit | jax.jit / wengert | jax.jit first call |")
    print("|---|---|---|---|---|")
    for name, args, static in CASES:
        wvg = wengert.value_and_grad(getattr(W, name))
        t0 = time.perf_counter()
        jvg = jax.jit(jax.value_and_grad(getattr(JW, name)), static_argnums=static)
        jv, jg = jax.block_until_ready(jvg(*args))
        first = time.perf_counter() - t0
        wv, wg = wvg(*args)
        assert abs(float(jv) - wv) <= 1e-9 * abs(wv) and abs(float(jg) - wg) <= 1e-9 * abs(wg), name
        w, j = [], []
        for _ in range(7):
            w.append(per_call(lambda: wvg(*args)))
            j.append(per_call(lambda: jax.block_until_ready(jvg(*args))))
        wm, jm = statistics.median(w), statistics.median(j)
        print(f"| {name} | {wm * 1e6:.1f} µs | {jm * 1e6:.1f} µs | {jm / wm:.2f}x | {first:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
