"""bench/scalar.py runs end to end (quick mode) and writes the results it promises."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def test_bench_rejects_unknown_method(tmp_path):
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "scalar.py"), "--only", "wengert,nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 2 and "unknown method or workload: nope" in p.stderr
