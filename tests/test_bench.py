"""bench/scalar.py runs end to end (quick mode) and writes the results it promises."""

import json
import math
import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import _timing  # the benchmark's own modules, from bench/
import workloads

WORKLOADS = {"sin_log", "pow", "projectile", "contfrac", "landing"}


def test_quick_bench_writes_results(tmp_path):
    out = tmp_path / "results.json"
    p = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bench", "scalar.py"),
            "--quick",
            "--only",
            "wengert,primal,hand",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    res = json.loads(out.read_text())
    assert {"meta", "workloads", "first_call"} <= res.keys()
    assert res["meta"]["quick"] is True and res["meta"]["threads"] == 1
    assert set(res["workloads"]) == WORKLOADS
    for name, r in res["workloads"].items():
        assert r["status"] == {"primal": "ok", "hand": "ok", "wengert": "ok"}, (name, r["status"])
        for m in ("primal", "hand", "wengert"):
            t = r["times"][m]
            assert t["median_s"] > 0 and t["repeats"] >= 1 and t["inner"] >= 1
        for k in ("wengert/primal", "wengert/hand", "hand/primal"):
            assert r["ratios"][k] > 0
        assert res["first_call"][name]["wengert"] > 0
    assert res["first_call"]["branchy"]["status"] == "ok"
    assert res["first_call"]["branchy"]["wengert"] > 0
    assert "wengert/primal" in p.stdout  # the table was printed


FASTPATH_ROWS = (
    "dict_params", "particles_drag", "particles_ps", "mlp", "sin_log", "contfrac", "pow", "rk4",
)


def test_quick_fastpath_bench_prints_every_row():
    # Only that it runs and checks every gradient; its timings are never asserted.
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "fastpath.py"), "--quick", "--markdown"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    lines = p.stdout.splitlines()
    for name in FASTPATH_ROWS:  # one table line and one status line per row, its gradient checked
        assert any(line.split()[:1] == [name] for line in lines), name
        assert any(line.startswith(f"{name}: ") and line.endswith("; ok") for line in lines), name
    assert "FAILED" not in p.stdout
    md = [line for line in lines if line.startswith("| ")]
    assert md[0] == "| workload | wengert / primal | wengert / hand | target | met? |"
    assert len(md) == 1 + len(FASTPATH_ROWS)  # the header and one line per row


def test_bench_rejects_unknown_method(tmp_path):
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "scalar.py"), "--only", "wengert,nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 2 and "unknown method or workload: nope" in p.stderr


# ---- the harness's own parts, without wengert ----


def _central(f, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


HAND = [
    (workloads.sin_log, workloads.sin_log_hand, (2.0,), (0,)),
    (workloads.pow, workloads.pow_hand, (1.0003, 1000), (0,)),
    (workloads.pow, workloads.pow_hand, (-1.7, 7), (0,)),
    (workloads.contfrac, workloads.contfrac_hand, (0.7, 200), (0,)),
    (workloads.contfrac, workloads.contfrac_hand, (2.5, 5), (0,)),
    (workloads.projectile, workloads.projectile_hand, (0.7, 30.0), (0, 1)),
    (workloads.projectile, workloads.projectile_hand, (1.2, 12.0), (0, 1)),
    (workloads.projectile_landing, workloads.projectile_landing_hand, (0.7, 30.0), (0, 1)),
    (workloads.projectile_landing, workloads.projectile_landing_hand, (0.3, 50.0), (0, 1)),
]


def test_hand_written_gradients_match_finite_differences():
    for f, hand, args, nums in HAND:
        value, grads = hand(*args)
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert value == f(*args)
        for i, g in zip(nums, grads):
            fd = _central(f, args, i)
            assert g == pytest.approx(fd, rel=1e-5, abs=1e-7), (f.__name__, args, i)


def test_rebind_runs_the_same_code_against_another_math():
    calls = []

    def sqrt(v):
        calls.append(v)
        return math.sqrt(v)

    fake = types.SimpleNamespace(sin=math.sin, cos=math.cos, log=math.log, sqrt=sqrt)
    copy = workloads.rebind(fake, vars(workloads))
    assert copy.projectile.__code__ is workloads.projectile.__code__
    assert copy.projectile(0.7, 30.0) == workloads.projectile(0.7, 30.0)
    assert len(calls) == 4 * workloads.STEPS  # four RK4 stages per step
    # recursion stays inside the copy
    assert copy.contfrac.__globals__["contfrac"] is copy.contfrac


def test_measure_meets_target_and_interleaves():
    order = []
    thunks = {"a": lambda: order.append("a"), "b": lambda: sum(range(2000)) and order.append("b")}
    t = _timing.measure(thunks, target=0.002, repeats=4, min_repeats=2, budget=10.0)
    for name in "ab":
        assert len(t[name].samples) == 4 and all(s > 0 for s in t[name].samples)
        assert t[name].inner * t[name].median >= 0.001  # about the target, noise allowed
    # after calibration, rounds alternate: a's calls, then b's, a's, b's ...
    tail = "".join(order[-(3 * (t["a"].inner + t["b"].inner)) :])
    assert tail == ("a" * t["a"].inner + "b" * t["b"].inner) * 3


def test_measure_times_slow_thunks_by_their_warm_up():
    calls = []
    t = _timing.measure({"slow": lambda: calls.append(1)}, first={"slow": 9.0}, slow=5.0)
    assert calls == [] and t["slow"].samples == [9.0] and "warm-up" in t["slow"].note
