"""examples/trebuchet.py: its gradients are right, and its shortened run (--quick) works end to end."""

import importlib.util
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import wengert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "trebuchet.py")


@pytest.fixture(scope="module")
def trebuchet():
    spec = importlib.util.spec_from_file_location("trebuchet_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_shot_gradient_matches_central_differences(trebuchet):
    angle, weight, wind = math.radians(40.0), 550.0, -2.0
    d_angle, d_weight, d_wind = wengert.grad(trebuchet.shoot, argnums=(0, 1, 2))(angle, weight, wind)
    assert d_angle == pytest.approx(central(lambda a: trebuchet.shoot(a, weight, wind), angle, 1e-6), rel=1e-5)
    assert d_weight == pytest.approx(central(lambda w: trebuchet.shoot(angle, w, wind), weight, 1e-4), rel=1e-5)
    assert d_wind == pytest.approx(central(lambda v: trebuchet.shoot(angle, weight, v), wind, 1e-5), rel=1e-5)
    assert d_weight > 0 and d_wind > 0  # a heavier counterweight and a tailwind throw further


def test_network_gradient_matches_central_differences(trebuchet):
    params = trebuchet.init_params(np.random.default_rng(3))
    misses, rows = trebuchet.jacobian_rows(params, [(1.5, 80.0)])
    fd = trebuchet.jacobian_fd(params, [(1.5, 80.0)])
    assert misses[0] == pytest.approx(trebuchet.miss(params, 1.5, 80.0))
    np.testing.assert_allclose(rows, fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())


def test_quick_run(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.run(
        [sys.executable, SCRIPT, "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout
    assert "relative error" in out and "MISMATCH" not in out and ": ok" in out
    found = re.search(r"^mean miss: ([0-9.]+) m$", out, re.M)
    assert found, out
    assert math.isfinite(float(found.group(1)))
    assert re.search(r"^  wengert +[0-9.]+ s$", out, re.M), out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "plots: skipped" in out
    else:
        for name in ("trebuchet_trajectories.png", "trebuchet_loss.png"):
            with open(tmp_path / name, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
