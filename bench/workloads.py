"""The scalar benchmark's workloads: primal functions and hand-written gradients.

Each primal is ordinary float Python, the input wengert reads. Its hand-written
gradient is reverse mode of the *same algorithm*, written by hand the way the
talk's ``grad_pow`` is: a forward pass that saves what the adjoint needs on a
stack, then a reverse pass that pops it. No closed forms. Each returns
``(value, gradient)`` with one gradient per differentiated argument, as a tuple
when there are several.

Peers (autograd, PyTorch, JAX) run these same functions with ``math`` rebound
to their own module (see `rebind`), so every tool differentiates one program.
That is why updates are written ``x = x + ...`` and not ``x += ...``: on a
PyTorch tensor ``+=`` is in place and would change what the program means.
"""

import math
import types

# Projectile with quadratic drag: dv/dt = -DRAG |v| v - (0, GRAVITY).
DRAG = 0.02  # 1/m
GRAVITY = 9.81  # m/s^2
DT = 0.005  # s
STEPS = 1000
LAUNCH_HEIGHT = 2.0  # m


# ---- 5 sin(log x) ----


def sin_log(x):
    return 5 * math.sin(math.log(x))


def sin_log_hand(x):
    a = math.log(x)
    b = math.sin(a)
    y = 5 * b
    b_bar = 5.0
    a_bar = b_bar * math.cos(a)
    x_bar = a_bar / x
    return y, x_bar


# ---- pow loop ----


def pow(x, n):
    r = 1
    while n > 0:
        n = n - 1
        r = r * x
    return r


def pow_hand(x, n):
    r = 1
    r_stack = []
    while n > 0:
        n = n - 1
        r_stack.append(r)
        r = r * x
    r_bar = 1.0
    x_bar = 0.0
    for r_prev in reversed(r_stack):
        x_bar += r_bar * r_prev
        r_bar *= x
    return r, x_bar


# ---- projectile, RK4, fixed number of steps ----


def projectile(angle, speed):
    x = 0.0
    y = LAUNCH_HEIGHT
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    for _ in range(STEPS):
        s1 = math.sqrt(vx * vx + vy * vy)
        ax1 = -DRAG * s1 * vx
        ay1 = -GRAVITY - DRAG * s1 * vy
        vx2 = vx + 0.5 * DT * ax1
        vy2 = vy + 0.5 * DT * ay1
        s2 = math.sqrt(vx2 * vx2 + vy2 * vy2)
        ax2 = -DRAG * s2 * vx2
        ay2 = -GRAVITY - DRAG * s2 * vy2
        vx3 = vx + 0.5 * DT * ax2
        vy3 = vy + 0.5 * DT * ay2
        s3 = math.sqrt(vx3 * vx3 + vy3 * vy3)
        ax3 = -DRAG * s3 * vx3
        ay3 = -GRAVITY - DRAG * s3 * vy3
        vx4 = vx + DT * ax3
        vy4 = vy + DT * ay3
        s4 = math.sqrt(vx4 * vx4 + vy4 * vy4)
        ax4 = -DRAG * s4 * vx4
        ay4 = -GRAVITY - DRAG * s4 * vy4
        x = x + DT / 6 * (vx + 2 * vx2 + 2 * vx3 + vx4)
        y = y + DT / 6 * (vy + 2 * vy2 + 2 * vy3 + vy4)
        vx = vx + DT / 6 * (ax1 + 2 * ax2 + 2 * ax3 + ax4)
        vy = vy + DT / 6 * (ay1 + 2 * ay2 + 2 * ay3 + ay4)
    return x


def _rk4_step_saving(vx, vy, tape):
    """One RK4 step of the velocity; pushes the stage values the adjoint needs."""
    s1 = math.sqrt(vx * vx + vy * vy)
    ax1 = -DRAG * s1 * vx
    ay1 = -GRAVITY - DRAG * s1 * vy
    vx2 = vx + 0.5 * DT * ax1
    vy2 = vy + 0.5 * DT * ay1
    s2 = math.sqrt(vx2 * vx2 + vy2 * vy2)
    ax2 = -DRAG * s2 * vx2
    ay2 = -GRAVITY - DRAG * s2 * vy2
    vx3 = vx + 0.5 * DT * ax2
    vy3 = vy + 0.5 * DT * ay2
    s3 = math.sqrt(vx3 * vx3 + vy3 * vy3)
    ax3 = -DRAG * s3 * vx3
    ay3 = -GRAVITY - DRAG * s3 * vy3
    vx4 = vx + DT * ax3
    vy4 = vy + DT * ay3
    s4 = math.sqrt(vx4 * vx4 + vy4 * vy4)
    ax4 = -DRAG * s4 * vx4
    ay4 = -GRAVITY - DRAG * s4 * vy4
    tape.append((vx, vy, s1, vx2, vy2, s2, vx3, vy3, s3, vx4, vy4, s4))
    dx = DT / 6 * (vx + 2 * vx2 + 2 * vx3 + vx4)
    dy = DT / 6 * (vy + 2 * vy2 + 2 * vy3 + vy4)
    vx = vx + DT / 6 * (ax1 + 2 * ax2 + 2 * ax3 + ax4)
    vy = vy + DT / 6 * (ay1 + 2 * ay2 + 2 * ay3 + ay4)
    return dx, dy, vx, vy


def _rk4_reverse(tape, x_bar):
    """Adjoint of the RK4 steps on ``tape`` for the cotangent ``x_bar`` of the final x.

    Returns the cotangents of the initial (vx, vy). The final y and v get no
    cotangent, and x's cotangent passes through every step unchanged.
    """
    h = DT / 6
    vx_bar = vy_bar = 0.0
    for vx, vy, s1, vx2, vy2, s2, vx3, vy3, s3, vx4, vy4, s4 in reversed(tape):
        # x' = x + h (vx + 2 vx2 + 2 vx3 + vx4);  v' = v + h (a1 + 2 a2 + 2 a3 + a4)
        c = h * x_bar
        ax4_bar, ay4_bar = h * vx_bar, h * vy_bar
        ax3_bar, ay3_bar = 2 * ax4_bar, 2 * ay4_bar
        ax2_bar, ay2_bar = 2 * ax4_bar, 2 * ay4_bar
        ax1_bar, ay1_bar = ax4_bar, ay4_bar
        v0x_bar, v0y_bar = vx_bar + c, vy_bar
        # a4 = -DRAG s4 v4 - (0, GRAVITY), s4 = |v4|
        s_bar = -DRAG * (ax4_bar * vx4 + ay4_bar * vy4)
        vx4_bar = c - DRAG * s4 * ax4_bar + s_bar * vx4 / s4
        vy4_bar = -DRAG * s4 * ay4_bar + s_bar * vy4 / s4
        # v4 = v + DT a3
        v0x_bar += vx4_bar
        v0y_bar += vy4_bar
        ax3_bar += DT * vx4_bar
        ay3_bar += DT * vy4_bar
        s_bar = -DRAG * (ax3_bar * vx3 + ay3_bar * vy3)
        vx3_bar = 2 * c - DRAG * s3 * ax3_bar + s_bar * vx3 / s3
        vy3_bar = -DRAG * s3 * ay3_bar + s_bar * vy3 / s3
        # v3 = v + DT/2 a2
        v0x_bar += vx3_bar
        v0y_bar += vy3_bar
        ax2_bar += 0.5 * DT * vx3_bar
        ay2_bar += 0.5 * DT * vy3_bar
        s_bar = -DRAG * (ax2_bar * vx2 + ay2_bar * vy2)
        vx2_bar = 2 * c - DRAG * s2 * ax2_bar + s_bar * vx2 / s2
        vy2_bar = -DRAG * s2 * ay2_bar + s_bar * vy2 / s2
        # v2 = v + DT/2 a1
        v0x_bar += vx2_bar
        v0y_bar += vy2_bar
        ax1_bar += 0.5 * DT * vx2_bar
        ay1_bar += 0.5 * DT * vy2_bar
        # a1 = -DRAG s1 v - (0, GRAVITY)
        s_bar = -DRAG * (ax1_bar * vx + ay1_bar * vy)
        vx_bar = v0x_bar - DRAG * s1 * ax1_bar + s_bar * vx / s1
        vy_bar = v0y_bar - DRAG * s1 * ay1_bar + s_bar * vy / s1
    return vx_bar, vy_bar


def _launch_reverse(angle, speed, vx_bar, vy_bar):
    # vx = speed cos(angle), vy = speed sin(angle)
    ca, sa = math.cos(angle), math.sin(angle)
    return speed * (vy_bar * ca - vx_bar * sa), vx_bar * ca + vy_bar * sa


def projectile_hand(angle, speed):
    x = 0.0
    y = LAUNCH_HEIGHT
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    tape = []
    for _ in range(STEPS):
        dx, dy, vx, vy = _rk4_step_saving(vx, vy, tape)
        x = x + dx
        y = y + dy
    vx_bar, vy_bar = _rk4_reverse(tape, 1.0)
    return x, _launch_reverse(angle, speed, vx_bar, vy_bar)


# ---- projectile until it lands: data-dependent trip count ----


def projectile_landing(angle, speed):
    x = 0.0
    y = LAUNCH_HEIGHT
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    while y > 0.0:
        s1 = math.sqrt(vx * vx + vy * vy)
        ax1 = -DRAG * s1 * vx
        ay1 = -GRAVITY - DRAG * s1 * vy
        vx2 = vx + 0.5 * DT * ax1
        vy2 = vy + 0.5 * DT * ay1
        s2 = math.sqrt(vx2 * vx2 + vy2 * vy2)
        ax2 = -DRAG * s2 * vx2
        ay2 = -GRAVITY - DRAG * s2 * vy2
        vx3 = vx + 0.5 * DT * ax2
        vy3 = vy + 0.5 * DT * ay2
        s3 = math.sqrt(vx3 * vx3 + vy3 * vy3)
        ax3 = -DRAG * s3 * vx3
        ay3 = -GRAVITY - DRAG * s3 * vy3
        vx4 = vx + DT * ax3
        vy4 = vy + DT * ay3
        s4 = math.sqrt(vx4 * vx4 + vy4 * vy4)
        ax4 = -DRAG * s4 * vx4
        ay4 = -GRAVITY - DRAG * s4 * vy4
        x = x + DT / 6 * (vx + 2 * vx2 + 2 * vx3 + vx4)
        y = y + DT / 6 * (vy + 2 * vy2 + 2 * vy3 + vy4)
        vx = vx + DT / 6 * (ax1 + 2 * ax2 + 2 * ax3 + ax4)
        vy = vy + DT / 6 * (ay1 + 2 * ay2 + 2 * ay3 + ay4)
    return x


def projectile_landing_hand(angle, speed):
    # The trip count is piecewise constant in the inputs: it has no derivative,
    # so the adjoint is that of the steps actually taken.
    x = 0.0
    y = LAUNCH_HEIGHT
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    tape = []
    while y > 0.0:
        dx, dy, vx, vy = _rk4_step_saving(vx, vy, tape)
        x = x + dx
        y = y + dy
    vx_bar, vy_bar = _rk4_reverse(tape, 1.0)
    return x, _launch_reverse(angle, speed, vx_bar, vy_bar)


# ---- recursion: continued fraction 1 + x / (1 + x / (1 + ...)), n levels ----


def contfrac(x, n):
    if n == 0:
        return 1.0
    return 1.0 + x / contfrac(x, n - 1)


def _contfrac_saving(x, n, t_stack):
    if n == 0:
        return 1.0
    t = _contfrac_saving(x, n - 1, t_stack)
    t_stack.append(t)
    return 1.0 + x / t


def contfrac_hand(x, n):
    t_stack = []
    y = _contfrac_saving(x, n, t_stack)
    # Outermost call first: y = 1 + x / t, where t is the next call's result.
    y_bar = 1.0
    x_bar = 0.0
    for t in reversed(t_stack):
        x_bar += y_bar / t
        y_bar = -y_bar * x / (t * t)
    return y, x_bar


# ---- 50 lines of straight-line code and branches (first-call cost) ----


def branchy(x, y):
    a = x * y + 1.0
    b = math.sin(a) + math.cos(x)
    c = a * b - y
    if c > 0.0:
        d = math.exp(-c) + x
    else:
        d = math.exp(c) - y
    e = d * d + a
    f = math.sqrt(e * e + 1.0)
    g = f / (1.0 + b * b)
    if g > 1.0:
        h = math.log(g) + a
        k = h * x
    else:
        h = g - 1.0
        k = h * y + b
    m = k * math.cos(h) - math.sin(k)
    p = m * m + e
    q = math.tanh(p) * a - d
    r = q / (1.0 + f)
    if r > 0.5:
        s = r * x - y
    elif r > -0.5:
        s = r * r + b
    else:
        s = -r * y
    t = s + math.sin(s * a)
    u = t * t + q * r
    v = math.sqrt(u * u + 1.0) - k
    w = v * math.exp(-0.1 * v * v)
    if w > 0.0:
        z1 = w * a + s
        z2 = z1 * b - t
    else:
        z1 = w - a
        z2 = z1 * z1 + t
    z3 = z2 / (1.0 + z1 * z1)
    z4 = math.cos(z3) * d + math.sin(z2) * e
    z5 = z4 * z4 + z3
    z6 = math.log(1.0 + z5 * z5)
    z7 = z6 * x + z5 * y
    if z7 > 1.0:
        z8 = z7 - math.sqrt(z7)
    else:
        z8 = z7 * z7
    z9 = z8 + a * b * c
    out = z9 * math.tanh(z8) + w * v
    return out


# ---- peers run the same code with `math` rebound ----


def rebind(math_like, module=None) -> types.SimpleNamespace:
    """These workloads, recompiled against ``math_like`` (e.g. ``jax.numpy``) instead of `math`.

    The functions share their code objects with the originals, so peers run the
    very same program; calls between them (recursion) stay within the copy.
    """
    module = module if module is not None else globals()
    g = dict(module)
    g["math"] = math_like
    for name, obj in list(g.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == g["__name__"]:
            g[name] = types.FunctionType(
                obj.__code__, g, obj.__name__, obj.__defaults__, obj.__closure__
            )
    return types.SimpleNamespace(**{k: v for k, v in g.items() if not k.startswith("__")})
