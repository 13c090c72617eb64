"""Second derivatives by composing transforms: forward(reverse(f)).

`wengert.hessian`, `hvp`, ``jacobian(grad(f))`` and ``grad(grad(f))`` run the forward
transform's tangent code of the reverse transform's compiled gradient (typed generated
code, no `Dual` numbers) where it applies, and Dual numbers where it does not. Every
answer here is checked against an independent oracle: central differences of the
gradient in float64, and ``jax.hessian`` (64-bit) where JAX is installed. Which path ran
is checked too (`hessian_path`, and the compiled tangent code of the gradient counted as it
runs), so that a silent fallback to Dual numbers shows.
"""

import math
import os
import sys
import types

import numpy as np
import pytest

import wengert
from wengert import grad, hessian, jacobian
from wengert.api_higher import hvp
from wengert.dispatch.compose import forward_over_reverse, hessian_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from modes import hess10  # noqa: E402  (the benchmark's 10-parameter function)

COMPOSED = "forward over reverse"


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol)


# ---- functions ----

DRAG, GRAVITY, DT = 0.02, 9.81, 0.01


def rk4_projectile(angle, speed, steps):
    """Projectile with quadratic drag, RK4 in time (the scalar benchmark's, fewer steps)."""
    x = 0.0
    y = 2.0
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    for _ in range(steps):
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
    return x * y


def control(x):
    """if, while, break, a loop-carried index."""
    s = 0.0
    n = len(x)
    i = 0
    while i < n:
        v = x[i]
        if v > 0.0:
            s = s + v * v * x[(i + 1) % n]
        else:
            s = s - math.sin(v) * x[0]
        if s > 50.0:
            break
        i += 1
    k = 0
    while s > 1.0 and k < 3:
        s = math.sqrt(s) + x[0] * x[1]
        k += 1
    return s * s


def params(p):
    """A dict of float parameters."""
    return p["a"] * p["a"] * p["b"] + math.exp(p["b"]) * p["c"] - p["c"] ** 3 + math.sin(p["a"] * p["c"])


def mixed(xs, a):
    """A list and a scalar."""
    s = 0.0
    for v in xs:
        s = s + math.tanh(a * v) * v
    return s * a + xs[0] * xs[-1] * a * a


def three(x, y, z):
    return x * x * y + math.sin(x * z) * y * y + math.exp(0.1 * z * y)


def arrays(x):
    return np.sum(np.sin(x) * x) + np.dot(x, x) ** 2 + np.sum(np.exp(x[:2])) * x[2]


def enumerating(x):
    """enumerate's reverse rule keeps a pullback for later: the Dual path answers."""
    s = 0.0
    for i, v in enumerate(x):
        if v > 0:
            s += math.exp(0.3 * v) * x[i - 1]
        else:
            s -= math.sin(v) * v * (i + 1)
    return s * s


# ---- oracles ----

def fd_hessian(f, args, argnum, h=1e-5):
    """Central differences of wengert's gradient, in float64, column by column."""
    g = grad(f, argnum)
    x = args[argnum]
    if isinstance(x, dict):
        keys = list(x)
        cols = []
        for k in keys:
            up = dict(x, **{k: x[k] + h})
            dn = dict(x, **{k: x[k] - h})
            gu = g(*args[:argnum], up, *args[argnum + 1:])
            gd = g(*args[:argnum], dn, *args[argnum + 1:])
            cols.append([(gu[j] - gd[j]) / (2 * h) for j in keys])
        return np.array(cols).T
    flat = np.atleast_1d(np.asarray(x, dtype=float))
    cols = []
    for k in range(flat.size):
        e = np.zeros_like(flat)
        e[k] = h

        def at(v):
            v = v.reshape(np.shape(x))
            v = v if isinstance(x, np.ndarray) else (float(v) if np.ndim(x) == 0 else list(v))
            return np.atleast_1d(np.asarray(g(*args[:argnum], v, *args[argnum + 1:]), dtype=float))

        cols.append((at(flat + e) - at(flat - e)) / (2 * h))
    return np.array(cols).T


def jax_version(f):
    """``f`` with ``math`` and ``np`` rebound to ``jax.numpy`` (the same code object)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    g = dict(f.__globals__)
    g["math"] = jnp
    g["np"] = jnp
    return jax, jnp, types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)


# ---- the composed path is the one taken ----

X10 = [0.3 * k - 1.1 for k in range(10)]


def test_hess10_takes_the_composed_path(monkeypatch):
    assert hessian_path(hess10, X10) == COMPOSED
    plan = forward_over_reverse(hess10, X10)
    assert plan is not None
    calls = []
    code = plan.cj.fn

    def counted(*a):
        calls.append(1)
        return code(*a)

    monkeypatch.setattr(plan.cj, "fn", counted)
    H = hessian(hess10)(X10)
    assert len(calls) == 10, "hessian did not run the tangent code of hess10's gradient (a Dual fallback?)"
    close(H, fd_hessian(hess10, (X10,), 0), 1e-6)


def test_tangent_code_of_the_gradient_is_typed_float_code():
    src = forward_over_reverse(hess10, X10).cj.source
    for general in ("accum(", "bcast(", "_pad_tangent", "jvp_call(", "method_jvp(", "mutate_jvp(",
                    "unpack_tangent(", "item_tangent(", "iter_tangent(", "reversed_frule"):
        assert general not in src, f"{general} in the tangent code:\n{src}"
    assert "_pass_dot.add_item(x, x_bar_dot" in src
    assert "saved_pop_dot()" in src


def test_hess10_against_jax():
    H = hessian(hess10)(X10)
    jax, jnp, fj = jax_version(hess10)
    close(H, np.asarray(jax.hessian(fj)(jnp.array(X10))), 1e-10)


# ---- Hessians against the oracles ----

def test_rk4_projectile_all_and_subsets_of_arguments():
    args = (0.7, 30.0, 40)
    assert hessian_path(rk4_projectile, *args, argnums=(0, 1)) == COMPOSED
    H = np.array(hessian(rk4_projectile, argnums=(0, 1))(*args))
    h00 = hessian(rk4_projectile, argnums=0)(*args)
    h11 = hessian(rk4_projectile, argnums=1)(*args)
    assert isinstance(h00, float) and isinstance(h11, float)
    close([h00, h11], [H[0, 0], H[1, 1]], 1e-9)
    close(H, H.T, 1e-9)
    fd0 = fd_hessian(lambda a, s: rk4_projectile(a, s, 40), args[:2], 0)
    fd1 = fd_hessian(lambda a, s: rk4_projectile(a, s, 40), args[:2], 1)
    close(H[:, 0], [fd0[0, 0], (grad(rk4_projectile, 1)(0.7 + 1e-5, 30.0, 40)
                               - grad(rk4_projectile, 1)(0.7 - 1e-5, 30.0, 40)) / 2e-5], 1e-4)
    close(h00, fd0[0, 0], 1e-5)
    close(h11, fd1[0, 0], 1e-5)
    jax, jnp, fj = jax_version(rk4_projectile)
    hj = jax.hessian(fj, argnums=(0, 1))(0.7, 30.0, 40)
    close(H, [[float(hj[i][j]) for j in range(2)] for i in range(2)], 1e-9)


@pytest.mark.parametrize("x", [[0.5, -1.2, 0.8, 1.5], [1.0, 2.0, 3.0, -0.5], [-0.3, -0.2, -0.1, 0.4]])
def test_control_flow(x):
    assert hessian_path(control, x) == COMPOSED
    H = hessian(control)(x)
    assert H.shape == (4, 4)
    close(H, H.T, 1e-9)
    close(H, fd_hessian(control, (x,), 0), 1e-5)


def test_dict_argument():
    p = {"a": 0.5, "b": 1.2, "c": -0.3}
    assert hessian_path(params, p) == COMPOSED
    H = hessian(params)(p)
    assert list(H) == ["a", "b", "c"] and all(list(row) == ["a", "b", "c"] for row in H.values())
    M = np.array([[H[a][b] for b in p] for a in p])
    close(M, fd_hessian(params, (p,), 0), 1e-6)
    jax, jnp, fj = jax_version(params)
    hj = jax.hessian(fj)({k: jnp.float64(v) for k, v in p.items()})
    close(M, [[float(hj[a][b]) for b in p] for a in p], 1e-10)


def test_list_and_scalar_arguments_one_at_a_time():
    xs, a = [0.3, -0.7, 1.1], 0.8
    assert hessian_path(mixed, xs, a, argnums=0) == COMPOSED
    assert hessian_path(mixed, xs, a, argnums=1) == COMPOSED
    Hx = hessian(mixed, 0)(xs, a)
    Ha = hessian(mixed, 1)(xs, a)
    close(Hx, fd_hessian(mixed, (xs, a), 0), 1e-6)
    close(Ha, fd_hessian(mixed, (xs, a), 1)[0, 0], 1e-6)
    jax, jnp, fj = jax_version(mixed)
    close(Hx, np.asarray(jax.hessian(fj, 0)(jnp.array(xs), a)), 1e-10)
    close(Ha, float(jax.hessian(fj, 1)(jnp.array(xs), a)), 1e-10)


@pytest.mark.parametrize("nums", [(0, 1, 2), (0, 2), (2, 1), (1,)])
def test_argnums_subsets(nums):
    args = (0.4, -1.3, 0.9)
    assert hessian_path(three, *args, argnums=nums) == COMPOSED
    H = np.array(hessian(three, argnums=nums)(*args))
    jax, jnp, fj = jax_version(three)
    hj = jax.hessian(fj, argnums=nums)(*args)
    close(H, [[float(hj[i][j]) for j in range(len(nums))] for i in range(len(nums))], 1e-10)


def test_numpy_arrays():
    x = np.array([0.5, -1.2, 0.8, 1.5])
    assert hessian_path(arrays, x) == COMPOSED
    H = hessian(arrays)(x)
    assert H.shape == (4, 4)
    close(H, fd_hessian(arrays, (x,), 0), 1e-5)
    jax, jnp, fj = jax_version(arrays)
    close(H, np.asarray(jax.hessian(fj)(jnp.array(x))), 1e-10)


def test_fallback_to_duals_is_reported_and_right():
    x = [0.5, -1.2, 0.8, 1.5]
    why = hessian_path(enumerating, x)
    assert why.startswith("dual: "), why
    close(hessian(enumerating)(x), fd_hessian(enumerating, (x,), 0), 1e-5)
    assert hessian_path(lambda t: t * t, 3.0) == COMPOSED
    k = 2.0
    assert hessian_path(lambda t: k * t ** 3, 3.0).startswith("dual: a closure")


# ---- hvp, jacobian(grad(f)), grad(grad(f)) ----

def test_hvp_is_the_hessian_times_v():
    v = [0.1 * k - 0.4 for k in range(10)]
    H = hessian(hess10)(X10)
    close(hvp(hess10, (X10,), v), H @ np.array(v), 1e-10)
    x = np.array([0.5, -1.2, 0.8, 1.5])
    w = np.array([1.0, -2.0, 0.5, 0.25])
    close(hvp(arrays, (x,), w), hessian(arrays)(x) @ w, 1e-10)


def test_jacobian_of_grad_and_grad_of_grad():
    H = hessian(hess10)(X10)
    close(jacobian(grad(hess10))(X10), H, 1e-10)
    close(jacobian(grad(hess10), mode="fwd")(X10), H, 1e-10)
    args = (0.7, 30.0, 40)
    Hp = np.array(hessian(rk4_projectile, argnums=(0, 1))(*args))
    close(grad(grad(rk4_projectile, 0), 0)(*args), Hp[0, 0], 1e-9)
    close(grad(grad(rk4_projectile, 0), 1)(*args), Hp[0, 1], 1e-9)
    close(grad(grad(rk4_projectile, 1), 0)(*args), Hp[1, 0], 1e-9)
    f = lambda t: t ** 4 * math.sin(t)  # noqa: E731
    t = 0.7
    close(grad(grad(f))(t), 12 * t ** 2 * math.sin(t) + 8 * t ** 3 * math.cos(t) - t ** 4 * math.sin(t))


def test_repeated_calls_and_new_points_reuse_the_code():
    h = hessian(hess10)
    first = h(X10)
    plan = forward_over_reverse(hess10, X10)
    y = [v * 0.5 for v in X10]
    close(h(y), fd_hessian(hess10, (y,), 0), 1e-6)
    close(h(X10), first, 0)
    again = forward_over_reverse(hess10, y)
    assert again is plan and again.cj is plan.cj


def test_wengert_hessian_export_unchanged():
    assert wengert.hessian is hessian


# ---- iterators in forward mode (the stacks' ``reversed(saved).__next__``) ----

def _next_pairs(x):
    it = iter([x, 2.0 * x, x * x])
    nx = it.__next__
    a = nx()
    b = next(it)
    return a * b + nx()


def _reversed_next(x):
    it = reversed([x, 2.0 * x, x * x])
    nx = it.__next__
    a = nx()
    b = nx()
    return a * b


def test_iterator_next_carries_its_tangent():
    # d/dx (2x^2 + x^2) = 6x ; d/dx (x^2 * 2x) = 6x^2
    y, t = wengert.jvp(_next_pairs, (3.0,), (1.0,))
    assert (y, t) == (27.0, 18.0)
    y, t = wengert.jvp(_reversed_next, (3.0,), (1.0,))
    assert (y, t) == (54.0, 54.0)


def _quartic_sin(t):
    return t ** 4 * math.sin(t)


def test_grad_of_grad_and_jacobian_of_grad_run_the_composed_code(monkeypatch):
    plan = forward_over_reverse(_quartic_sin, 0.7)
    assert plan is not None
    calls = []
    code = plan.cj.fn

    def counted(*a):
        calls.append(1)
        return code(*a)

    monkeypatch.setattr(plan.cj, "fn", counted)
    t = 0.7
    d2 = 12 * t ** 2 * math.sin(t) + 8 * t ** 3 * math.cos(t) - t ** 4 * math.sin(t)
    close(grad(grad(_quartic_sin))(t), d2)
    assert len(calls) == 1
    close(jacobian(grad(_quartic_sin))(t), d2)
    assert len(calls) == 2


# ---- root causes the fuzzer found (python -m wengert.testing.fuzz --mode hessian) ----

def fd_hessian_multi(f, args, nums, h=1e-5):
    """Central differences of ``grad(f, nums)`` along each argument in ``nums``: ``E[i][j]``
    = d(gradient j)/d(argument i)."""
    g = grad(f, nums)
    rows = []
    for i in nums:
        up = list(args)
        dn = list(args)
        up[i] += h
        dn[i] -= h
        rows.append((np.array(g(*up), dtype=float) - np.array(g(*dn), dtype=float)) / (2 * h))
    return np.array(rows)


_cube = lambda t: t ** 3 * math.exp(0.1 * t)  # noqa: E731
_sine = lambda t: math.sin(t) * t  # noqa: E731 - its gradient has _cube's name: <lambda>'s


def _reads_a_later_cell(x, y, n):
    s = x
    get = lambda: s * y  # noqa: E731
    s = s * x
    return get() + y * n


def test_gradient_source_is_read_back_by_its_own_name():
    # Generated code was compiled under a file name made of its function's name and the
    # user's file (<wengert f_grad from FILE>), so the gradients of two lambdas in one file,
    # or of one function for two signatures, shared it, and the last compile's source won:
    # forward over reverse read another function's gradient back as this one's (the Hessian
    # of _cube came out as _sine's, or a KeyError in the forward transform)
    t = 0.5
    grad(_cube)(t)
    grad(_sine)(t)
    assert hessian_path(_cube, t) == COMPOSED
    want = (6 * t + 0.6 * t * t + 0.01 * t ** 3) * math.exp(0.1 * t)
    close(hessian(_cube)(t), want, 1e-12)
    close(want, fd_hessian(_cube, (t,), 0)[0, 0], 1e-7)
    close(hessian(_sine)(t), 2 * math.cos(t) - t * math.sin(t), 1e-12)
    args = (-0.371, -0.732, 2)
    jax, jnp, fj = jax_version(_reads_a_later_cell)
    for nums in [(0,), (0, 1)]:
        grad(_reads_a_later_cell, nums)(*args)  # compiles the lambda's gradient after f's
        H = np.array(hessian(_reads_a_later_cell, nums)(*args))
        close(H, fd_hessian_multi(_reads_a_later_cell, args, nums), 1e-6)
        hj = jax.hessian(fj, argnums=nums)(*args)
        close(H, [[float(hj[i][j]) for j in range(len(nums))] for i in range(len(nums))], 1e-10)


class _Body:
    def __init__(self, x, v):
        self.x = x
        self.v = v


def _scales_in_place(ps, d, w):
    for p in ps:
        if p.x > 0.2:
            p.v = p.v * d
        p.x = p.x + p.v * 0.5
    total = 0.0
    for p in ps:
        total = total + p.x * p.v
    return total + ps[0].v * w * d


def _appends(xs, log):
    log.append(xs[0] * xs[1])
    return sum(v * v for v in log) + xs[0] ** 3 * xs[1]


def test_a_function_that_changes_its_arguments_is_differentiated_where_it_was_called():
    # hessian runs f once per direction: the second run saw what the first left (the
    # fields scaled twice, a list appended to twice), so every row after the first was the
    # Hessian at another point. Each run now starts from the arguments as given.
    fresh = lambda: ([_Body(0.617, 0.122), _Body(1.001, -0.696)], 0.369, -0.869)  # noqa: E731
    g = grad(_scales_in_place, (1, 2))
    want = []
    for i in (1, 2):
        up, dn = list(fresh()), list(fresh())
        up[i] += 1e-5
        dn[i] -= 1e-5
        want.append((np.array(g(*up)) - np.array(g(*dn))) / 2e-5)
    for hess in (hessian, wengert.api_higher.dual_hessian):
        args = fresh()
        H = np.array(hess(_scales_in_place, (1, 2))(*args))
        close(H, want, 1e-6)
        plain = fresh()
        _scales_in_place(*plain)
        assert [(p.x, p.v) for p in args[0]] == [(p.x, p.v) for p in plain[0]]  # as one plain call leaves them
    jax, jnp, fj = jax_version(_scales_in_place)
    hj = jax.hessian(lambda d, w: fj(fresh()[0], d, w), argnums=(0, 1))(0.369, -0.869)
    close(H, [[float(hj[i][j]) for j in range(2)] for i in range(2)], 1e-10)

    xs = [0.4, -0.9]
    gx = grad(_appends)
    at = lambda e, s: np.array(gx([xs[0] + s * e[0], xs[1] + s * e[1]], [0.5]))  # noqa: E731
    fd = np.array([(at(e, 1) - at(e, -1)) / 2e-5 for e in ((1e-5, 0.0), (0.0, 1e-5))])
    for hess in (hessian, wengert.api_higher.dual_hessian):
        log = [0.5]
        close(hess(_appends)(xs, log), fd, 1e-6)
        assert len(log) == 2
    hj = jax.hessian(_appends_jax)(jnp.array(xs))
    close(hessian(_appends)(xs, [0.5]), np.asarray(hj), 1e-10)


def _appends_jax(v):
    """_appends(v, [0.5]) for jax (one run, on a fresh list)."""
    log = [0.5]
    log.append(v[0] * v[1])
    return sum(t * t for t in log) + v[0] ** 3 * v[1]


def _reads_through_a_closure(x, s):
    def rd():
        return s[0]
    s[0] = s[0] * x
    return rd() * x + s[1] * x


def test_a_closure_reading_a_list_the_function_writes_into():
    # The Dual path (and first-order reverse mode for a list of unknown kind) sent the
    # cotangent of a captured list read inside a closure to the cell, which the enclosing
    # function reaches only after undoing its own write s[0] = ...: that write's adjoint
    # never saw it (gradient s0 x for 2 s0 x, Hessian s0 for 2 s0). It now goes to the
    # list's buffer in the Pass at the read (reverse/plans.FreeVar, kind any).
    x, s0 = 0.7, 1.5
    for s in ([s0, 2.0], [s0, 2]):  # list[float]; a list of mixed kinds (any)
        close(grad(_reads_through_a_closure)(x, list(s)), 2 * s0 * x + s[1], 1e-12)
        assert hessian_path(_reads_through_a_closure, x, list(s)).startswith("dual: ")
        H = hessian(_reads_through_a_closure)(x, list(s))
        close(H, 2 * s0, 1e-12)
        g = grad(_reads_through_a_closure)
        close(H, (g(x + 1e-5, list(s)) - g(x - 1e-5, list(s))) / 2e-5, 1e-6)  # a fresh list each call
    jax, jnp, fj = jax_version(_reads_through_a_closure)
    close(H, float(jax.hessian(lambda t: fj(t, [s0, 2.0]))(x)), 1e-10)


def _ignores_its_list(xs, d):
    k = 2.0
    return d["a"] * d["a"] * k  # the closure-free body; xs unused


def _ignores_its_list_via_closure(xs, d):
    sq = lambda: d["a"] * d["a"]  # noqa: E731 - the Dual path
    return sq() + 0.0 * len(xs)


def test_hessian_of_an_argument_f_does_not_depend_on_is_zero():
    # The Dual path built its zero column with zero_like(list): TypeError "no derivative of a list"
    xs, d = [0.5, 1.0], {"a": 2.0, "b": 1}
    for f in (_ignores_its_list, _ignores_its_list_via_closure):
        close(hessian(f)(xs, d), np.zeros((2, 2)), 0)
        for t in (xs, [0.7, -1.0]):  # the gradient is None (zero) everywhere: so is its derivative
            assert grad(f)(t, d) in (None, [0.0, 0.0])
    assert hessian_path(_ignores_its_list_via_closure, xs, d).startswith("dual: ")
    close(hvp(_ignores_its_list_via_closure, (xs, d), [1.0, -1.0]), [0.0, 0.0], 0)
    jax, jnp, fj = jax_version(_ignores_its_list)
    close(np.asarray(jax.hessian(fj)(jnp.array(xs), {"a": 2.0, "b": 1})), np.zeros((2, 2)), 0)


class _Acc:
    def __init__(self):
        self.v = 1.0


def _mutates(x, p):
    p.v = p.v * x[0] + x[1]
    return p.v * p.v * x[0]


def test_jacobian_of_grad_of_a_function_that_changes_its_argument():
    # every column / row of jacobian(grad(f)) starts from the arguments as given: f sets
    # p.v, and a run from where the previous one left p computed another point's row
    x = [1.3, 0.4]
    g = grad(_mutates)
    h = 1e-6
    fd = np.array([(np.array(g([x[0] + h * (j == 0), x[1] + h * (j == 1)], _Acc()))
                    - np.array(g([x[0] - h * (j == 0), x[1] - h * (j == 1)], _Acc()))) / (2 * h)
                   for j in range(2)]).T
    # closed form: v = x0 + x1, f = v^2 x0
    v = x[0] + x[1]
    exact = np.array([[2 * x[0] + 4 * v, 2 * x[0] + 2 * v], [2 * x[0] + 2 * v, 2 * x[0]]])
    assert np.allclose(fd, exact, rtol=1e-6)
    for mode in (None, "fwd", "rev"):
        p = _Acc()
        J = np.array(wengert.jacobian(g, mode=mode)(x, p))
        assert np.allclose(J, exact, rtol=1e-9), (mode, J)
        assert p.v == v  # the caller's object is left as one plain call leaves it
    assert np.allclose(np.array(hessian(_mutates)(x, _Acc())), exact, rtol=1e-9)
