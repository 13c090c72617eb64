"""Random programs (hypothesis) through reverse mode, checked against forward mode
and the tape on the same program: three implementations that must agree exactly.

Programs mix assignments, augmented assignments, math functions, if/else, for and
while loops, break and continue, over a few float variables; tanh keeps values
bounded so that loops do not overflow.
"""

import itertools
import linecache
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wengert

VARS = ["a", "b", "c"]
ATOMS = VARS + ["x", "y", "0.5", "1.5"]
_counter = itertools.count()


@st.composite
def exprs(draw):
    kind = draw(st.integers(0, 3))
    u, v = draw(st.sampled_from(ATOMS)), draw(st.sampled_from(ATOMS))
    if kind == 0:
        return f"{u} {draw(st.sampled_from(['+', '-', '*']))} {v}"
    if kind == 1:
        return f"math.tanh({u} * {v} + 0.25)"
    if kind == 2:
        return f"math.sin({u}) * {v}"
    return f"({u} if {v} > 0.3 else -{u})"


@st.composite
def blocks(draw, depth=0, in_loop=False):
    n = draw(st.integers(1, 3))
    lines = []
    for _ in range(n):
        choice = draw(st.integers(0, 6 if depth < 2 else 1))
        target = draw(st.sampled_from(VARS))
        if choice == 0:
            lines.append(f"{target} = {draw(exprs())}")
        elif choice == 1:
            op = draw(st.sampled_from(["+=", "-=", "*="]))
            lines.append(f"{target} {op} math.tanh({draw(st.sampled_from(ATOMS))})")
        elif choice == 2:
            cond = f"{draw(st.sampled_from(ATOMS))} > {draw(st.sampled_from(['0.0', '0.4', '1.0']))}"
            lines.append(f"if {cond}:")
            lines += ["    " + s for s in draw(blocks(depth + 1, in_loop))]
            lines.append("else:")
            lines += ["    " + s for s in draw(blocks(depth + 1, in_loop))]
        elif choice == 3:
            k = draw(st.integers(0, 3))
            i = f"i{next(_counter)}"
            lines.append(f"for {i} in range({k}):")
            lines += ["    " + s for s in draw(blocks(depth + 1, True))]
        elif choice == 4:
            k = draw(st.integers(0, 3))
            n_ = f"n{next(_counter)}"
            lines.append(f"{n_} = {k}")
            lines.append(f"while {n_} > 0:")
            lines.append(f"    {n_} -= 1")
            lines += ["    " + s for s in draw(blocks(depth + 1, True))]
        elif choice == 5 and in_loop:
            lines.append(f"if {draw(st.sampled_from(VARS))} > 0.8:")
            lines.append(f"    {draw(st.sampled_from(['break', 'continue']))}")
        else:
            lines.append(f"{target} = math.tanh({target}) * {draw(st.sampled_from(ATOMS))}")
    return lines


@st.composite
def programs(draw):
    body = ["a = x", "b = y", "c = 0.5"] + draw(blocks()) + ["return a * b + c"]
    return "def f(x, y):\n" + "".join(f"    {line}\n" for line in body)


def build(src: str):
    """Compile a generated program (its source registered, as wengert reads source)."""
    name = f"<random-program-{next(_counter)}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    ns = {"math": math}
    exec(compile(src, name, "exec"), ns)
    return ns["f"]


def _agrees_with_forward_mode(src, x, y):
    """Build the program; check its value, and its reverse-mode gradient against forward mode
    (one unit tangent per argument). Returns the program and that gradient."""
    f = build(src)
    value, (gx, gy) = _run(src, wengert.value_and_grad(f, argnums=(0, 1)), x, y)
    assert value == pytest.approx(f(x, y), rel=1e-12, abs=1e-12), src
    _, tx = wengert.jvp(f, (x, y), (1.0, 0.0))
    _, ty = wengert.jvp(f, (x, y), (0.0, 1.0))
    assert gx == pytest.approx(tx, rel=1e-9, abs=1e-12), src
    assert gy == pytest.approx(ty, rel=1e-9, abs=1e-12), src
    return f, (gx, gy)


def _run(src, fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # the program is the useful part of the report
        raise AssertionError(f"{type(e).__name__}: {e}\n{src}") from e


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_reverse_agrees_with_forward_and_tape(src, x, y):
    f, (gx, gy) = _agrees_with_forward_mode(src, x, y)
    tgx, tgy = wengert.grad(f, argnums=(0, 1), mode="tape")(x, y)
    assert gx == pytest.approx(tgx, rel=1e-9, abs=1e-12), src
    assert gy == pytest.approx(tgy, rel=1e-9, abs=1e-12), src


# ---- programs with lists, objects and calls ----

HELPERS = '''
class Box:
    def __init__(self, v):
        self.v = v

def scale(xs, s):
    for i in range(len(xs)):
        xs[i] = xs[i] * s
    return xs[0]

def poly(u, w):
    return u * u * w + math.sin(w)
'''


@st.composite
def stateful_blocks(draw, depth=0):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 7 if depth < 1 else 5))
        atom = draw(st.sampled_from(ATOMS))
        var = draw(st.sampled_from(VARS))
        if choice == 0:
            lines.append(f"L.append({draw(exprs())})")
        elif choice == 1:
            lines.append(f"L[{draw(st.integers(0, 1))}] = {draw(exprs())}")
        elif choice == 2:
            lines.append(f"{var} = L[{draw(st.integers(-2, 1))}] * {atom}")
        elif choice == 3:
            lines.append(f"box.v = box.v * {atom} + {var}")
        elif choice == 4:
            lines.append(f"{var} = poly({atom}, box.v)")
        elif choice == 5:
            lines.append(f"{var} = scale(L, {draw(st.sampled_from(['0.5', 'x', 'b']))})")
        elif choice == 6:
            lines.append(f"for j{next(_counter)} in range({draw(st.integers(0, 2))}):")
            lines += ["    " + s for s in draw(stateful_blocks(depth + 1))]
        else:
            lines.append(f"if {atom} > 0.2:")
            lines += ["    " + s for s in draw(stateful_blocks(depth + 1))]
            lines.append("else:")
            lines += ["    " + s for s in draw(stateful_blocks(depth + 1))]
    return lines


@st.composite
def stateful_programs(draw):
    body = (["a = x", "b = y", "c = 0.5", "L = [x, y * y]", "box = Box(x + y)"] + draw(stateful_blocks())
            + ["return a * b + c + sum(L) + box.v * L[-1]"])
    return HELPERS + "\ndef f(x, y):\n" + "".join(f"    {line}\n" for line in body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stateful_programs(), st.floats(-1.2, 1.2), st.floats(-1.2, 1.2))
def test_lists_objects_and_calls_agree_with_forward_mode(src, x, y):
    _agrees_with_forward_mode(src, x, y)


# ---- NumPy programs: elementwise, reductions, indexing, in-place updates ----

ARRAY_ATOMS = ["u", "v", "u[::-1]", "np.tanh(v)", "u * v", "v[0] * u", "(u + s)"]


@st.composite
def array_blocks(draw, depth=0):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 6 if depth < 1 else 5))
        a, b = draw(st.sampled_from(ARRAY_ATOMS)), draw(st.sampled_from(ARRAY_ATOMS))
        target = draw(st.sampled_from(["u", "v"]))
        if choice == 0:
            lines.append(f"{target} = np.tanh({a} * 0.7 + {b} * 0.3)")
        elif choice == 1:
            lines.append(f"{target}[{draw(st.integers(0, 2))}] = np.sum({a}) * 0.1")
        elif choice == 2:
            lines.append(f"{target}[1:] += ({a})[:-1] * 0.5")
        elif choice == 3:
            lines.append(f"s = s + np.mean({a} * {b})")
        elif choice == 4:
            lines.append(f"{target} = np.where({a} > 0, {a}, 0.1 * {b})")
        elif choice == 5:
            lines.append(f"{target} *= 0.9")
        else:
            lines.append(f"for k{next(_counter)} in range({draw(st.integers(0, 2))}):")
            lines += ["    " + x for x in draw(array_blocks(depth + 1))]
    return lines


@st.composite
def array_programs(draw):
    # `held` keeps the first u: in-place updates of u reach it, rebinding u does not
    body = ["u = x.copy()", "held = [u]", "v = np.sin(x) * w", "s = 0.0"] + draw(array_blocks()) + [
        "return np.sum(u * v) + s + np.max(u) + np.sum(held[0] * held[0])"]
    return "def f(x, w):\n" + "".join(f"    {line}\n" for line in body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array_programs(), st.integers(0, 2 ** 16))
def test_array_programs_agree_with_forward_mode(src, seed):
    import numpy as np

    f = build(src)
    f.__globals__["np"] = np
    r = np.random.default_rng(seed)
    x, w = r.standard_normal(3), float(r.uniform(0.5, 1.5))
    value, (gx, gw) = _run(src, wengert.value_and_grad(f, argnums=(0, 1)), x.copy(), w)
    assert value == pytest.approx(f(x.copy(), w), rel=1e-12, abs=1e-12), src
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1.0
        _, t = wengert.jvp(f, (x.copy(), w), (e, 0.0))
        assert gx[i] == pytest.approx(float(t), rel=1e-8, abs=1e-10), src
    _, tw = wengert.jvp(f, (x.copy(), w), (np.zeros(3), 1.0))
    assert gw == pytest.approx(float(tw), rel=1e-8, abs=1e-10), src


# ---- dicts, closures, comprehensions, tuples, early exits ----

MIXED_HELPERS = '''
def apply(h, z, k=1.0):
    return h(z) * k

def pairsum(ps):
    total = 0.0
    for p, q in ps:
        total = total + p * q
    return total
'''


@st.composite
def mixed_blocks(draw, depth=0):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 8 if depth < 1 else 6))
        u, v = draw(st.sampled_from(ATOMS)), draw(st.sampled_from(ATOMS))
        var = draw(st.sampled_from(VARS))
        if choice == 0:
            lines.append(f"d[{draw(st.sampled_from(['0', '1', '2']))!r}] = {u} * {v}")
        elif choice == 1:
            lines.append(f"{var} = d.get({draw(st.sampled_from(['0', '1', '2']))!r}, {u}) + {v}")
        elif choice == 2:
            cap = draw(st.sampled_from(["x", "y", "0.5"]))  # captured variables are never rebound
            lines.append(f"{var} = apply(lambda t: t * {cap} + math.sin(t), {v}, k={u})")
        elif choice == 3:
            lines.append(f"{var} = sum([t * {u} for t in (a, b, c) if t > -0.5])")
        elif choice == 4:
            lines.append(f"{var}, {draw(st.sampled_from(VARS))} = {u} * 0.5, {v} + 0.25")
        elif choice == 5:
            lines.append(f"{var} = pairsum([(k1, k2) for k1, k2 in zip((a, b), ({u}, {v}))])")
        elif choice == 6:
            lines.append(f"{var} = sum(val * val for key, val in d.items())")
        elif choice == 7:
            n_ = f"n{next(_counter)}"
            lines += [f"{n_} = 3", f"while {n_} > 0:", f"    {n_} -= 1"]
            lines += ["    " + s for s in draw(mixed_blocks(depth + 1))]
            lines += [f"    if {draw(st.sampled_from(VARS))} > 1.0:", "        break"]
        else:
            lines += [f"for i{next(_counter)} in range(3):"]
            lines += ["    " + s for s in draw(mixed_blocks(depth + 1))]
            lines += [f"    if {draw(st.sampled_from(VARS))} > 1.2:", f"        return a * b + {u}"]
    return lines


@st.composite
def mixed_programs(draw):
    body = ["a = x", "b = y", "c = 0.5", "d = {'0': x}"] + draw(mixed_blocks()) + [
        "return a * b + c + sum(d.values())"]
    return MIXED_HELPERS + "\ndef f(x, y):\n" + "".join(f"    {line}\n" for line in body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_programs(), st.floats(-1.2, 1.2), st.floats(-1.2, 1.2))
def test_dicts_closures_comprehensions_and_exits_agree(src, x, y):
    _agrees_with_forward_mode(src, x, y)
