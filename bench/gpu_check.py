"""GPU check: wengert's gradients of array-API programs on CuPy and PyTorch CUDA arrays.

    python bench/gpu_check.py              # on a machine with an NVIDIA GPU; prints JSON
    python bench/gpu_check.py --quick      # fewer timing calls
    python bench/gpu_check.py --torch-cpu  # smoke-test the torch path on CPU tensors (no GPU needed)

The programs (a 2-layer tanh MLP, batch 64 / in 128 / hidden 256 / out 10 and
batch 512 / hidden 1024, and vectorised Rosenbrock at n = 10^4 and 10^6) are
written once against ``xp = array_api_compat.array_namespace(x)``. For each
back end found (CuPy if importable, PyTorch if ``torch.cuda.is_available()``),
the gradient through ``wengert.value_and_grad`` is computed on the device,
copied back and compared with the CPU NumPy gradient (float64, relative 1e-9),
and timed (median of synchronised calls) beside the primal and, for PyTorch,
``torch.autograd.grad`` on the same device. Without a GPU it prints a JSON
object with ``"gpu": false`` and a message, and exits with status 0. A gradient
that disagrees with NumPy makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from functools import partial

import array_api_compat
import numpy as np

import wengert

RTOL = 1e-9


def mlp(W1, b1, W2, b2, X, Y):
    xp = array_api_compat.array_namespace(X)
    h = xp.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return xp.mean((out - Y) ** 2)


def rosenbrock(x):
    xp = array_api_compat.array_namespace(x)
    a = x[:-1]
    return xp.sum(100.0 * (x[1:] - a * a) ** 2 + (1.0 - a) ** 2)


def _mlp_args(batch, d_in, hidden, d_out):
    r = np.random.default_rng(0)
    return (r.standard_normal((d_in, hidden)) / np.sqrt(d_in), 0.1 * r.standard_normal(hidden),
            r.standard_normal((hidden, d_out)) / np.sqrt(hidden), 0.1 * r.standard_normal(d_out),
            r.standard_normal((batch, d_in)), r.standard_normal((batch, d_out)))


WORKLOADS = {  # name -> (program, NumPy arguments, argnums)
    "mlp": (mlp, lambda: _mlp_args(64, 128, 256, 10), (0, 1, 2, 3)),
    "mlp_big": (mlp, lambda: _mlp_args(512, 128, 1024, 10), (0, 1, 2, 3)),
    "rosen_1e4": (rosenbrock, lambda: (1.0 + 0.3 * np.random.default_rng(0).standard_normal(10 ** 4),), (0,)),
    "rosen_1e6": (rosenbrock, lambda: (1.0 + 0.3 * np.random.default_rng(0).standard_normal(10 ** 6),), (0,)),
}


def median_time(fn, sync, calls: int) -> float:
    """Median seconds of ``calls`` synchronised calls, after two warm-up calls."""
    fn()
    fn()
    sync()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def max_rel_err(got, want) -> float:
    scale = max(1.0, float(np.abs(want).max())) if np.size(want) else 1.0
    return float(np.abs(np.asarray(got) - want).max()) / scale if np.size(want) else 0.0


def check(name, grads, want, to_numpy) -> dict:
    errs = [max_rel_err(to_numpy(g), w) for g, w in zip(grads, want)]
    shapes_ok = all(tuple(g.shape) == w.shape for g, w in zip(grads, want))
    ok = shapes_ok and len(grads) == len(want) and max(errs) <= RTOL
    return {"ok": ok, "max_rel_err": max(errs), "shapes_ok": shapes_ok}


def run_cupy(calls: int) -> dict:
    try:
        import cupy as cp
    except ImportError as e:
        return {"status": f"skipped (cupy not importable: {e})"}
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            return {"status": "skipped (cupy sees no device)"}
    except Exception as e:  # noqa: BLE001 - no driver, no device
        return {"status": f"skipped (cupy: {type(e).__name__}: {e})"}
    sync = cp.cuda.Device().synchronize
    out = {"status": "ok", "device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
           "cupy": cp.__version__, "workloads": {}}
    for name, (fn, make, argnums) in WORKLOADS.items():
        args = make()
        _, want = wengert.value_and_grad(fn, argnums=argnums)(*args)
        dargs = tuple(cp.asarray(a) for a in args)
        vg = wengert.value_and_grad(fn, argnums=argnums)
        try:
            _, grads = vg(*dargs)
            res = check(name, grads, want, cp.asnumpy)
            res["types_ok"] = all(isinstance(g, cp.ndarray) for g in grads)
            res["ok"] = res["ok"] and res["types_ok"]
            res["primal_s"] = median_time(partial(fn, *dargs), sync, calls)
            res["wengert_s"] = median_time(partial(vg, *dargs), sync, calls)
            res["wengert/primal"] = res["wengert_s"] / res["primal_s"]
        except Exception as e:  # noqa: BLE001 - reported, and makes the exit status 1
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
        out["workloads"][name] = res
    return out


def run_torch(calls: int, device: str) -> dict:
    try:
        import torch
    except ImportError as e:
        return {"status": f"skipped (torch not importable: {e})"}
    if device == "cuda" and not torch.cuda.is_available():
        return {"status": "skipped (torch.cuda.is_available() is False)"}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    out = {"status": "ok", "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
           "torch": torch.__version__, "workloads": {}}
    for name, (fn, make, argnums) in WORKLOADS.items():
        args = make()
        _, want = wengert.value_and_grad(fn, argnums=argnums)(*args)
        dargs = tuple(torch.tensor(a, dtype=torch.float64, device=device) for a in args)
        vg = wengert.value_and_grad(fn, argnums=argnums)
        targs = tuple(a.clone().requires_grad_(i in argnums) for i, a in enumerate(dargs))
        inputs = [targs[i] for i in argnums]

        def autograd(fn=fn, targs=targs, inputs=inputs):
            y = fn(*targs)
            return y, torch.autograd.grad(y, inputs)

        try:
            _, grads = vg(*dargs)
            res = check(name, grads, want, lambda g: g.detach().cpu().numpy())
            res["types_ok"] = all(isinstance(g, torch.Tensor) and g.device.type == device for g in grads)
            res["ok"] = res["ok"] and res["types_ok"]
            _, tgrads = autograd()
            res["torch_autograd_max_rel_err"] = max(
                max_rel_err(g.cpu().numpy(), w) for g, w in zip(tgrads, want))
            with torch.no_grad():
                res["primal_s"] = median_time(partial(fn, *dargs), sync, calls)
            res["wengert_s"] = median_time(partial(vg, *dargs), sync, calls)
            res["torch_autograd_s"] = median_time(autograd, sync, calls)
            res["wengert/primal"] = res["wengert_s"] / res["primal_s"]
            res["torch_autograd/wengert"] = res["torch_autograd_s"] / res["wengert_s"]
        except Exception as e:  # noqa: BLE001 - reported, and makes the exit status 1
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
        out["workloads"][name] = res
    return out


def gpu_present() -> tuple[bool, str]:
    try:
        import torch

        if torch.cuda.is_available():
            return True, torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import cupy as cp

        if cp.cuda.runtime.getDeviceCount() > 0:
            return True, cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:  # noqa: BLE001, S110 - no cupy, no driver or no device: no GPU
        pass
    return False, ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer timing calls")
    p.add_argument("--torch-cpu", action="store_true", help="run the torch path on CPU tensors (smoke test)")
    a = p.parse_args(argv)
    calls = 5 if a.quick else 30
    meta = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "dtype": "float64", "calls": calls}
    if a.torch_cpu:
        result = {"gpu": False, "meta": meta, "torch": run_torch(calls, "cpu")}
    else:
        present, name = gpu_present()
        if not present:
            print(json.dumps({"gpu": False, "message": "no NVIDIA GPU found (neither torch.cuda nor cupy "
                                                        "sees a device); nothing to check", "meta": meta}))
            return 0
        result = {"gpu": True, "device": name, "meta": meta, "cupy": run_cupy(calls),
                  "torch": run_torch(calls, "cuda")}
    print(json.dumps(result, indent=1))
    bad = [(lib, w) for lib in ("cupy", "torch") for w, r in result.get(lib, {}).get("workloads", {}).items()
           if not r.get("ok")]
    if bad:
        print(f"gradient mismatches or errors: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
