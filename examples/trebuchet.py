"""Differentiable programming: a neural network learns to aim a trebuchet.

The talk's "Differentiable Programming!!" slide, after the trebuchet of Flux's model
zoo, with wengert and nothing else differentiating the physics. The simulator is
plain Python, written the way a physicist would: floats and `math`, a `while` loop
that swings the arm and the sling until the ball is released, then another that
flies the ball, with air drag and wind, until it lands. Both loops run as many
steps as the physics takes, so their trip counts depend on the inputs.

1. Aim once: gradient descent through the simulator finds a release angle and a
   counterweight mass that hit one target in one wind.
2. Learn to aim: a small NumPy network maps (wind, target) to (angle, weight) and
   is trained through the simulator (Levenberg-Marquardt on the misses, with one
   gradient from wengert per training pair); its mean miss on held-out pairs is
   printed, and so is the time of a training step against finite differences (and
   PyTorch, if it is installed).
3. Plots (if matplotlib is installed, the `examples` extra): trajectories before and
   after training and the loss curve, as PNG files beside this script.

    python examples/trebuchet.py            # the full run, under 2 minutes on 2 cores
    python examples/trebuchet.py --quick    # a shortened run (the smoke test's)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import types

import numpy as np

import wengert

# ---- the physics ----

G = 9.81  # m/s^2
ARM_LONG = 5.0  # m, from the pivot to the sling's hook
ARM_SHORT = 1.2  # m, from the pivot to the counterweight
ARM_MASS = 50.0  # kg, a uniform beam
SLING = 4.0  # m
PIVOT_HEIGHT = 7.5  # m
BALL_MASS = 4.0  # kg
BALL_RADIUS = 0.08  # m
DRAG = 0.5 * 1.2 * 0.47 * math.pi * BALL_RADIUS**2 / BALL_MASS  # 1/m: air 1.2 kg/m^3, drag coefficient 0.47
ARM_START = math.pi + 0.75  # rad: the long arm points back and down
SLING_START = -0.5 * math.pi  # rad: the sling hangs straight down
DT_SWING = 0.002  # s
DT_FLIGHT = 0.01  # s
SWING_TIME_MAX = 3.0  # s: a counterweight too light to swing the arm never releases

ARM_INERTIA = ARM_MASS * (ARM_LONG**3 + ARM_SHORT**3) / (3 * (ARM_LONG + ARM_SHORT))
ARM_UNBALANCE = ARM_MASS * (ARM_LONG - ARM_SHORT) / 2 + BALL_MASS * ARM_LONG  # kg m, against the counterweight
LINK = BALL_MASS * ARM_LONG * SLING  # kg m^2, couples the arm and the sling
SLING_INERTIA = BALL_MASS * SLING**2


def swing(angle, weight, path=None):
    """Swing the arm and the sling from rest until the ball flies ``angle`` above the horizon.

    The arm (angle ``theta`` from the horizontal, angular velocity ``omega``) turns
    about the pivot, the counterweight ``weight`` (kg) on its short end; the sling
    (angle ``phi``, angular velocity ``nu``) hangs from its long end with the ball.
    Lagrange's equations for (theta, phi) are a 2x2 linear system, solved by
    Cramer's rule and stepped with semi-implicit Euler. Returns the ball's
    position and velocity at release.
    """
    theta = ARM_START
    phi = SLING_START
    omega = 0.0
    nu = 0.0
    inertia = ARM_INERTIA + weight * ARM_SHORT**2 + BALL_MASS * ARM_LONG**2
    torque = weight * ARM_SHORT - ARM_UNBALANCE
    x = ARM_LONG * math.cos(theta) + SLING * math.cos(phi)
    y = PIVOT_HEIGHT + ARM_LONG * math.sin(theta) + SLING * math.sin(phi)
    vx = 0.0
    vy = 0.0
    heading = 0.5 * math.pi  # the direction of the ball's velocity
    t = 0.0
    while heading > angle and t < SWING_TIME_MAX:
        if path is not None:
            path.append((x, y))
        x0 = x
        y0 = y
        vx0 = vx
        vy0 = vy
        heading0 = heading
        c = math.cos(theta - phi)
        s = math.sin(theta - phi)
        f1 = G * torque * math.cos(theta) - LINK * s * nu * nu
        f2 = LINK * s * omega * omega - G * BALL_MASS * SLING * math.cos(phi)
        det = inertia * SLING_INERTIA - LINK * LINK * c * c
        omega = omega + DT_SWING * (f1 * SLING_INERTIA - LINK * c * f2) / det
        nu = nu + DT_SWING * (inertia * f2 - LINK * c * f1) / det
        theta = theta + DT_SWING * omega
        phi = phi + DT_SWING * nu
        t = t + DT_SWING
        x = ARM_LONG * math.cos(theta) + SLING * math.cos(phi)
        y = PIVOT_HEIGHT + ARM_LONG * math.sin(theta) + SLING * math.sin(phi)
        vx = -ARM_LONG * omega * math.sin(theta) - SLING * nu * math.sin(phi)
        vy = ARM_LONG * omega * math.cos(theta) + SLING * nu * math.cos(phi)
        heading = math.atan2(vy, vx)
    # The last step overshot the release angle: go back to where the heading was exactly
    # `angle`, so the release moves smoothly with angle and weight (a whole step does not).
    w = (heading0 - angle) / (heading0 - heading)
    return x0 + w * (x - x0), y0 + w * (y - y0), vx0 + w * (vx - vx0), vy0 + w * (vy - vy0)


def flight(x, y, vx, vy, wind, path=None):
    """Fly the ball through air moving at ``wind`` (m/s, + is a tailwind) until it lands; where it lands."""
    while y > 0:
        if path is not None:
            path.append((x, y))
        x0 = x
        y0 = y
        ux = vx - wind  # velocity relative to the air
        speed = math.sqrt(ux * ux + vy * vy)
        vx = vx - DT_FLIGHT * DRAG * speed * ux
        vy = vy - DT_FLIGHT * (G + DRAG * speed * vy)
        x = x + DT_FLIGHT * vx
        y = y + DT_FLIGHT * vy
    if path is not None:
        path.append((x0 + y0 / (y0 - y) * (x - x0), 0.0))
    return x0 + y0 / (y0 - y) * (x - x0)  # where the last step crossed y = 0


def shoot(angle, weight, wind, path=None):
    """The distance (m) from the pivot to where the ball lands."""
    x, y, vx, vy = swing(angle, weight, path)
    return flight(x, y, vx, vy, wind, path)


# ---- 1. aim once ----


def controls(u, v):
    """Unconstrained (u, v) to a release angle in 15-75 degrees and a counterweight in 200-1000 kg."""
    angle = math.radians(15.0 + 60.0 / (1.0 + math.exp(-u)))
    weight = 200.0 + 800.0 / (1.0 + math.exp(-v))
    return angle, weight


def aim_loss(u, v, wind, target):
    angle, weight = controls(u, v)
    miss = shoot(angle, weight, wind) - target
    return miss * miss


def aim_once(wind, target, steps, out):
    """Gradient descent on (u, v); the first gradient is checked against central differences."""
    dloss = wengert.value_and_grad(aim_loss, argnums=(0, 1))
    u, v = 0.0, 0.0
    loss, (du, dv) = dloss(u, v, wind, target)
    h = 1e-6
    fd_u = (aim_loss(u + h, v, wind, target) - aim_loss(u - h, v, wind, target)) / (2 * h)
    fd_v = (aim_loss(u, v + h, wind, target) - aim_loss(u, v - h, wind, target)) / (2 * h)
    err = max(abs(du - fd_u) / abs(fd_u), abs(dv - fd_v) / abs(fd_v))
    good = err < 1e-5
    print(f"aim once: wind {wind:+.1f} m/s, target {target:.1f} m", file=out)
    print(f"  first gradient  wengert ({du:.6g}, {dv:.6g})", file=out)
    print(f"  central differences     ({fd_u:.6g}, {fd_v:.6g})  relative error {err:.1e}: "
          f"{'ok' if good else 'MISMATCH'}", file=out)
    rate = 1e-4  # (m^2 per unit of u and v)^-1
    for step in range(steps + 1):
        angle, weight = controls(u, v)
        miss = math.sqrt(loss)
        if step % max(1, steps // 6) == 0 or step == steps or miss < 0.01:
            print(f"  step {step:3d}: angle {math.degrees(angle):5.1f} deg, weight {weight:6.1f} kg, "
                  f"lands {shoot(angle, weight, wind):7.2f} m, miss {miss:6.3f} m", file=out)
        if step == steps or miss < 0.01:
            break
        u, v = u - rate * du, v - rate * dv
        loss, (du, dv) = dloss(u, v, wind, target)
    return good, (u, v)


# ---- 2. learn to aim ----

HIDDEN = 16


def init_params(rng):
    return [
        rng.normal(0.0, 1.0, (2, HIDDEN)),
        np.zeros(HIDDEN),
        rng.normal(0.0, 0.1, (HIDDEN, 2)),
        np.zeros(2),
    ]


def policy(params, wind, target):
    """The aiming network, one hidden layer in NumPy: (wind, target) to (angle, weight)."""
    w1, b1, w2, b2 = params
    hidden = np.tanh(np.array([wind / 5.0, (target - 100.0) / 50.0]) @ w1 + b1)
    out = hidden @ w2 + b2
    return controls(float(out[0]), float(out[1]))  # float(): the simulator runs on Python floats


def miss(params, wind, target):
    """How far past the target (m) the network's shot lands: NumPy, then the simulator's loops."""
    angle, weight = policy(params, wind, target)
    return shoot(angle, weight, wind) - target


def sample(rng, n):
    """``n`` random pairs: winds in [-5, 5] m/s, targets in [50, 150] m."""
    return [(float(w), float(t)) for w, t in zip(rng.uniform(-5.0, 5.0, n), rng.uniform(50.0, 150.0, n))]


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def unflat(vector, like):
    out, k = [], 0
    for a in like:
        out.append(vector[k:k + a.size].reshape(a.shape))
        k += a.size
    return out


def jacobian_rows(params, pairs):
    """Each pair's miss and its gradient with respect to every weight of the network, by wengert."""
    dmiss = wengert.value_and_grad(miss)
    misses, rows = [], []
    for wind, target in pairs:
        m, grads = dmiss(params, wind, target)
        misses.append(m)
        rows.append(flat(grads))
    return np.array(misses), np.array(rows)


def jacobian_fd(params, pairs, h=1e-6):
    """The same Jacobian by central differences: every weight nudged both ways, every pair shot again."""
    columns = []
    for p in params:
        for idx in np.ndindex(p.shape):
            keep = p[idx]
            p[idx] = keep + h
            up = np.array([miss(params, w, t) for w, t in pairs])
            p[idx] = keep - h
            down = np.array([miss(params, w, t) for w, t in pairs])
            p[idx] = keep
            columns.append((up - down) / (2 * h))
    return np.array(columns).T


def train(params, pairs, steps, out):
    """Fit the network to the pairs by least squares (Levenberg-Marquardt).

    Each step takes one gradient of the miss per pair from wengert (a row of the
    Jacobian J), then the damped Gauss-Newton step (J'J + lam diag(J'J)) d = -J' miss;
    lam shrinks after a step that lowers the squared miss and grows after one that
    does not. For a fit of 82 weights to ~100 smooth residuals this converges in a few
    dozen gradients per pair, where stochastic gradient descent needs thousands.
    """
    lam = 1.0
    history, step_times = [], []
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        misses, jac = jacobian_rows(params, pairs)
        step_times.append(time.perf_counter() - t0)
        cost = misses @ misses
        history.append(math.sqrt(cost / len(pairs)))
        a, b = jac.T @ jac, jac.T @ misses
        while lam < 1e10:
            delta = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-9), -b)
            trial = [p + d for p, d in zip(params, unflat(delta, params))]
            trial_misses = np.array([miss(trial, w, t) for w, t in pairs])
            if trial_misses @ trial_misses < cost:
                params = trial
                lam = max(lam / 3, 1e-9)
                break
            lam *= 4
        print(f"  step {step:3d}: rms miss on the training pairs {history[-1]:8.3f} m", file=out)
    misses = np.array([miss(params, w, t) for w, t in pairs])
    history.append(math.sqrt(misses @ misses / len(pairs)))
    print(f"  after step {steps}: rms miss on the training pairs {history[-1]:8.3f} m", file=out)
    return params, history, step_times


# ---- timings ----


def torch_gradient_time(params, pairs):
    """Seconds per pair of one Jacobian row in PyTorch (eager, float64, one thread), or None if not installed.

    The simulator's functions are recompiled with `math` bound to torch, so PyTorch runs
    the same program on 0-d tensors; the network is the same, written in torch.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def lift(fn):
        return lambda *xs: fn(*(torch.as_tensor(x, dtype=torch.float64) for x in xs))

    tmath = types.SimpleNamespace(
        cos=lift(torch.cos), sin=lift(torch.sin), atan2=lift(torch.atan2), sqrt=lift(torch.sqrt),
        exp=lift(torch.exp), radians=lambda d: d * (math.pi / 180), pi=math.pi,
    )
    g = dict(globals(), math=tmath)
    for name in ("swing", "flight", "shoot", "controls"):
        f = globals()[name]
        g[name] = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__)
    weights = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    t0 = time.perf_counter()
    for wind, target in pairs:
        w1, b1, w2, b2 = weights
        out = torch.tanh(torch.tensor([wind / 5.0, (target - 100.0) / 50.0], dtype=torch.float64) @ w1 + b1) @ w2 + b2
        angle, weight = g["controls"](out[0], out[1])
        torch.autograd.grad(g["shoot"](angle, weight, wind) - target, weights)
    return (time.perf_counter() - t0) / len(pairs)


# ---- 3. plots ----


def plot(before, after, pairs, history, folder, out):
    """Trajectories before and after training and the loss curve, as PNG files in ``folder``."""
    try:
        import matplotlib
    except ImportError:
        print("plots: skipped, matplotlib is not installed (pip install 'wengert[examples]')", file=out)
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, params, title in ((axes[0], before, "before training"), (axes[1], after, "after training")):
        for k, (wind, target) in enumerate(pairs):
            path = []
            angle, weight = policy(params, wind, target)
            landed = shoot(angle, weight, wind, path)
            xs, ys = zip(*path)
            c = colors[k % len(colors)]
            ax.plot(xs, ys, color=c, lw=1.5,
                    label=f"wind {wind:+.0f} m/s, target {target:.0f} m: lands at {landed:.1f} m")
            ax.plot([target], [0], marker="v", color=c, ms=10, ls="none", clip_on=False)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(f"{title} (triangles: targets)")
        ax.set_xlabel("distance (m)")
        ax.set_xlim(-10, 170)
        ax.set_ylim(0, 70)
        ax.legend(fontsize=7.5, loc="upper right")
    axes[0].set_ylabel("height (m)")
    fig.suptitle("A network learns to aim a trebuchet: gradients by wengert through the simulator")
    fig.tight_layout()
    paths = [os.path.join(folder, "trebuchet_trajectories.png")]
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(range(len(history)), history, marker="o", lw=1)
    ax.set_xlabel("training step (Levenberg-Marquardt)")
    ax.set_ylabel("rms miss on the training pairs (m)")
    ax.set_title("Training the aiming network through the simulator")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    paths.append(os.path.join(folder, "trebuchet_loss.png"))
    fig.savefig(paths[1], dpi=100)
    plt.close(fig)
    for p in paths:
        print(f"plot: {p}", file=out)
    return paths


# ---- main ----


def main(argv=None, out=sys.stdout) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", default=bool(os.environ.get("TREBUCHET_QUICK")),
                   help="a shortened run (also TREBUCHET_QUICK=1)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="folder for the PNG files")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    started = time.perf_counter()
    n_train, steps, n_test = (12, 3, 20) if args.quick else (96, 15, 100)

    good, _ = aim_once(wind=-3.0, target=75.0, steps=12 if args.quick else 30, out=out)

    rng = np.random.default_rng(args.seed)
    before = init_params(rng)
    pairs = sample(rng, n_train)
    n_weights = sum(a.size for a in before)
    print(f"\nlearn to aim: a 2-{HIDDEN}-2 network ({n_weights} weights) fitted to {n_train} random "
          f"(wind, target) pairs", file=out)
    after, history, step_times = train([a.copy() for a in before], pairs, steps, out)
    test = sample(np.random.default_rng(args.seed + 1000), n_test)
    misses = np.abs([miss(after, w, t) for w, t in test])
    print(f"held-out pairs: {n_test}, largest miss {misses.max():.3f} m", file=out)
    print(f"mean miss: {misses.mean():.3f} m", file=out)

    # The first step's time includes the transform and compile of `miss` (once per process).
    step_s = statistics.median(step_times[1:] if len(step_times) > 1 else step_times)
    print(f"\ntime per training step ({n_train} gradients, one per pair), in this process:", file=out)
    print(f"  wengert                     {step_s:8.3f} s", file=out)
    if not args.quick:
        t0 = time.perf_counter()
        jac = jacobian_fd(after, pairs)
        fd_s = time.perf_counter() - t0
        _, rows = jacobian_rows(after, pairs)
        err = np.abs(jac - rows).max() / np.abs(rows).max()
        print(f"  central differences         {fd_s:8.3f} s  ({2 * n_weights} shots per pair; "
              f"{fd_s / step_s:.0f}x wengert; largest difference {err:.0e} of the largest entry)", file=out)
        torch_row = torch_gradient_time(after, pairs[:3])
        if torch_row is None:
            print("  PyTorch                     not installed", file=out)
        else:
            print(f"  PyTorch (eager)             {torch_row * n_train:8.3f} s  ({torch_row / step_s * n_train:.0f}x "
                  f"wengert; timed on 3 of the {n_train} pairs, times {n_train})", file=out)

    show = [(-4.0, 60.0), (0.0, 90.0), (3.0, 120.0), (4.5, 145.0)]
    plot(before, after, show, history, args.out, out)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=out)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
