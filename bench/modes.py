"""Forward mode, the tape and higher order: timings on the scalar workloads.

For each workload of bench/workloads.py (the same float Python the scalar
benchmark uses) this measures, as medians of interleaved repeats on one thread:

- the primal;
- ``wengert.jvp`` end to end (dispatch, cache lookup, the generated tangent code)
  and the generated tangent code alone, each as a ratio to the primal;
- the gradient by source transformation (``grad``) and by the run-time tape
  (``grad(..., mode="tape")``), and their ratio.

Then the Hessian of a 10-parameter scalar function (a loop over pairs, with
``math`` calls) by forward over reverse (``wengert.hessian``: the forward
transform's tangent code of the compiled gradient, one sweep per input direction;
the row checks that this path, not the Dual-number fallback, is the one taken)
against ``jax.hessian`` (eager and jitted; skipped when JAX is not installed). Every
answer is checked first: jvp against the source gradient, tape against source,
the Hessians against each other or against central differences of the gradient.

    python bench/modes.py [--quick] [--hessian-only] [--out bench/results_modes.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(_var, "1" if _var != "XLA_FLAGS" else
                          "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads as W
from _timing import measure

import wengert
from wengert.ir.activity import kind_of
from wengert.transforms.forward import compiled_jvp

SCALAR = [
    ("sin_log", W.sin_log, (2.0,), (0,)),
    ("pow", W.pow, (1.0003, 1000), (0,)),
    ("projectile", W.projectile, (0.7, 30.0), (0, 1)),
    ("contfrac", W.contfrac, (0.7, 200), (0,)),
    ("landing", W.projectile_landing, (0.7, 30.0), (0, 1)),
]


def hess10(x):
    """A 10-parameter scalar function: pairwise couplings in a loop, with math calls."""
    s = 0.0
    n = len(x)
    for i in range(n):
        s = s + math.sin(x[i]) * x[(i + 1) % n] + 0.5 * x[i] * x[i]
        for j in range(i + 1, n):
            s = s + math.exp(-0.1 * (x[i] - x[j]) ** 2) * 0.05
    return s


def hess10_jax(jnp):
    def f(x):
        s = 0.0
        n = x.shape[0]
        for i in range(n):
            s = s + jnp.sin(x[i]) * x[(i + 1) % n] + 0.5 * x[i] * x[i]
            for j in range(i + 1, n):
                s = s + jnp.exp(-0.1 * (x[i] - x[j]) ** 2) * 0.05
        return s
    return f


def _close(a, b, rtol=1e-9):
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=rtol)


def scalar_rows(settings) -> list[dict]:
    rows = []
    for name, f, args, nums in SCALAR:
        i = nums[0]
        tangents = tuple(1.0 if k == i else None for k in range(len(args)))
        code = compiled_jvp(f, tuple(kind_of(a) for a in args))
        plain_tangents = tuple(0.0 if t is None and isinstance(a, float) else t
                               for a, t in zip(args, tangents))
        g_source = wengert.grad(f, nums)
        g_tape = wengert.grad(f, nums, mode="tape")
        # answers first
        y, dy = wengert.jvp(f, args, tangents)
        src = g_source(*args)
        assert _close(dy, src[0]), f"{name}: jvp {dy} vs source gradient {src[0]}"
        assert _close(code.fn(*args, *plain_tangents), (y, dy)), name
        assert _close(g_tape(*args), src), f"{name}: tape {g_tape(*args)} vs source {src}"
        thunks = {
            "primal": lambda f=f, a=args: f(*a),
            "jvp": lambda f=f, a=args, t=tangents: wengert.jvp(f, a, t),
            "jvp_code": lambda c=code.fn, a=args, t=plain_tangents: c(*a, *t),
            "grad_source": lambda g=g_source, a=args: g(*a),
            "grad_tape": lambda g=g_tape, a=args: g(*a),
        }
        t = measure(thunks, **settings)
        med = {k: v.median for k, v in t.items()}
        rows.append({
            "workload": name,
            "seconds": {k: v.as_dict() for k, v in t.items()},
            "jvp_over_primal": med["jvp"] / med["primal"],
            "jvp_code_over_primal": med["jvp_code"] / med["primal"],
            "grad_source_over_primal": med["grad_source"] / med["primal"],
            "tape_over_source": med["grad_tape"] / med["grad_source"],
        })
    return rows


def hessian_row(settings) -> dict:
    from wengert.dispatch.compose import hessian_path

    x = [0.3 * k - 1.1 for k in range(10)]
    path = hessian_path(hess10, x)
    assert path == "forward over reverse", f"hessian of hess10 took the fallback: {path}"
    H = wengert.hessian(hess10)(x)
    g = wengert.grad(hess10)
    h = 1e-6
    fd = np.array([(np.array(g([v + h * (k == j) for k, v in enumerate(x)]))
                    - np.array(g([v - h * (k == j) for k, v in enumerate(x)]))) / (2 * h)
                   for j in range(10)]).T
    assert _close(H, fd, 1e-5), "hessian vs differences of the gradient"
    thunks = {"wengert_hessian": lambda: wengert.hessian(hess10)(x)}
    row: dict = {"function": "hess10 (10 parameters, loops, sin/exp)", "path": path, "jax": None}
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        fj = hess10_jax(jnp)
        hj = jax.hessian(fj)
        hj_jit = jax.jit(hj)
        xj = jnp.array(x)
        assert _close(H, np.asarray(hj(xj)), 1e-10), "hessian vs jax.hessian"
        np.asarray(hj_jit(xj))
        thunks["jax_hessian"] = lambda: np.asarray(hj(xj))
        thunks["jax_hessian_jit"] = lambda: np.asarray(hj_jit(xj))
        row["jax"] = jax.__version__
    except ImportError:
        pass
    t = measure(thunks, **settings)
    row["seconds"] = {k: v.as_dict() for k, v in t.items()}
    if "jax_hessian" in t:
        row["wengert_over_jax"] = t["wengert_hessian"].median / t["jax_hessian"].median
        row["wengert_over_jax_jit"] = t["wengert_hessian"].median / t["jax_hessian_jit"].median
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few, short repeats (a smoke test)")
    p.add_argument("--hessian-only", action="store_true", help="only the Hessian row")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results_modes.json"))
    a = p.parse_args(argv)
    settings = {"target": 0.002, "repeats": 3, "min_repeats": 1, "budget": 0.05} if a.quick else \
        {"target": 0.02, "repeats": 7, "min_repeats": 3, "budget": 2.0}
    rows = [] if a.hessian_only else scalar_rows(settings)
    hrow = hessian_row(settings)
    result = {
        "python": sys.version.split()[0], "machine": platform.machine(), "numpy": np.__version__,
        "threads": 1, "quick": a.quick, "scalar": rows, "hessian": hrow,
    }
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'workload':<12}{'primal':>11}{'jvp/primal':>12}{'code/primal':>13}"
          f"{'grad/primal':>13}{'tape/source':>13}")
    for r in rows:
        print(f"{r['workload']:<12}{r['seconds']['primal']['median_s'] * 1e6:>9.2f}us"
              f"{r['jvp_over_primal']:>12.2f}{r['jvp_code_over_primal']:>13.2f}"
              f"{r['grad_source_over_primal']:>13.2f}{r['tape_over_source']:>13.2f}")
    print()
    for k, v in hrow["seconds"].items():
        print(f"{k:<18}{v['median_s'] * 1e3:>10.3f} ms")
    if "wengert_over_jax" in hrow:
        print(f"wengert / jax.hessian: {hrow['wengert_over_jax']:.2f}   "
              f"wengert / jit(jax.hessian): {hrow['wengert_over_jax_jit']:.2f}")
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
