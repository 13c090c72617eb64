"""Random programs against an oracle that shares nothing with wengert's analysis.

Each program is small, ordinary Python (scalars, lists, dicts, objects and dataclasses
updated in place, aliases, mutating callees, closures, recursion, NumPy with ``out=``).
It is differentiated with respect to a random non-empty subset of its arguments, and
every float leaf of those arguments (a float, a list or dict item, an object field, an
array element) is checked against float64 central differences, each confirmed by a
second step size; a program whose two estimates disagree (a non-smooth point) is
skipped. The gradient must have the argument's shape: list → list, dict → dict,
dataclass → the same dataclass, other object → `wengert.Tangent`; ``None`` means zero.
An object reachable by several paths (``[o, o]``) has one set of fields: the gradient
entries at all its paths must add up to the derivative for that field.

Three implementations are checked on each program: ``value_and_grad`` (source),
``value_and_grad(mode="tape")`` (the run-time tape) and ``gradient`` (all arguments,
through ``pullback``). Each must also return the primal value, and leave the arguments
as one plain call leaves them (the tape excepted: it runs on copies of containers).

    python -m wengert.fuzz --n 10000 --seed 1            # soak; exit status 1 on a wrong answer or a crash
    python -m wengert.fuzz --n 1 --seed 1 --start 417    # program 417 of that run alone
    python -m wengert.fuzz --gen aliases --mode source --shrink
"""

from __future__ import annotations

import argparse
import dataclasses
import linecache
import math
import random
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import wengert

PRELUDE = '''\
import math
from dataclasses import dataclass

import numpy as np


@dataclass
class P:
    x: float
    v: float


class Q:
    def __init__(self, x, v):
        self.x = x
        self.v = v


class H:
    def __init__(self, xs, d):
        self.xs = xs
        self.d = d
'''

H_SMALL, H_LARGE = 1e-5, 1e-4  # central-difference steps (relative to max(1, |leaf|))
FD_TOL = 1e-6  # the two estimates must agree this closely (relative, and absolute)
GRAD_TOL = 1e-5  # the gradient must agree with the estimate this closely


# ---- programs ----

@dataclass
class Program:
    """``def f(params): chunks; return ret`` after PRELUDE and ``helpers``; called with ``args``."""

    gen: str
    params: list[str]
    args: str  # an expression giving the tuple of arguments; evaluated afresh for every call
    chunks: list[list[str]]  # statements of f's body; the shrinker drops whole chunks
    ret: str
    argnums: tuple[int, ...] = ()
    single: bool = False  # argnums passed as an int
    helpers: dict[str, str] = field(default_factory=dict)  # module-level functions, by name

    def source(self) -> str:
        body = [line for chunk in self.chunks for line in chunk] + [f"return {self.ret}"]
        text = "".join(f"    {line}\n" for line in body)
        used = [src.strip() + "\n\n\n" for name, src in self.helpers.items() if re.search(rf"\b{name}\(", text)]
        return "".join(used) + f"def f({', '.join(self.params)}):\n" + text


class _Gen:
    """A generator's random source and fresh names."""

    def __init__(self, r: random.Random):
        self.r = r
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}{self.n}"

    def num(self, lo=-1.2, hi=1.2) -> str:
        return repr(round(self.r.uniform(lo, hi), 3))

    def floats(self, k: int) -> str:
        return "[" + ", ".join(self.num() for _ in range(k)) + "]"

    def obj(self) -> str:
        return f"{self.r.choice('PQ')}({self.num()}, {self.num()})"

    def some(self, pool, lo=1, hi=4) -> list[list[str]]:
        """Between lo and hi chunks, each drawn from ``pool`` (functions of self giving lines)."""
        return [self.r.choice(pool)(self) for _ in range(self.r.randint(lo, hi))]


def _indent(lines, k=1):
    return ["    " * k + s for line in lines for s in line.split("\n")]


# (a) scalar arithmetic with branches and loops (tests/test_random_programs.py, on random.Random)

VARS = ["a", "b", "c"]
ATOMS = VARS + ["x", "y", "0.5", "1.5"]


def _expr(g: _Gen) -> str:
    r = g.r
    u, v = r.choice(ATOMS), r.choice(ATOMS)
    return r.choice([f"{u} {r.choice('+-*')} {v}", f"math.tanh({u} * {v} + 0.25)",
                     f"math.sin({u}) * {v}", f"({u} if {v} > 0.3 else -{u})"])


def _scalar_stmt(g: _Gen, depth=0, in_loop=False) -> list[str]:
    r = g.r
    choice = r.randint(0, 6 if depth < 2 else 1)
    t = r.choice(VARS)
    if choice == 0:
        return [f"{t} = {_expr(g)}"]
    if choice == 1:
        return [f"{t} {r.choice(['+=', '-=', '*='])} math.tanh({r.choice(ATOMS)})"]
    if choice == 2:
        cond = f"{r.choice(ATOMS)} > {r.choice(['0.0', '0.4', '1.0'])}"
        return ([f"if {cond}:"] + _indent(_scalar_block(g, depth + 1, in_loop))
                + ["else:"] + _indent(_scalar_block(g, depth + 1, in_loop)))
    if choice == 3:
        return [f"for {g.name('i')} in range({r.randint(0, 3)}):"] + _indent(_scalar_block(g, depth + 1, True))
    if choice == 4:
        n = g.name("n")
        return ([f"{n} = {r.randint(0, 3)}", f"while {n} > 0:", f"    {n} -= 1"]
                + _indent(_scalar_block(g, depth + 1, True)))
    if choice == 5 and in_loop:
        return [f"if {r.choice(VARS)} > 0.8:", f"    {r.choice(['break', 'continue'])}"]
    return [f"{t} = math.tanh({t}) * {r.choice(ATOMS)}"]


def _scalar_block(g, depth, in_loop):
    return [s for _ in range(g.r.randint(1, 3)) for s in _scalar_stmt(g, depth, in_loop)]


def gen_scalar(g: _Gen) -> Program:
    chunks = [["a = x", "b = y", "c = 0.5"]] + [_scalar_stmt(g) for _ in range(g.r.randint(1, 4))]
    return Program("scalar", ["x", "y"], f"({g.num(-1.5, 1.5)}, {g.num(-1.5, 1.5)})", chunks, "a * b + c")


# (b) containers of objects updated in loops

def gen_objects(g: _Gen) -> Program:
    cls = g.r.choice("PQ")
    pool = [
        lambda g: ["for p in ps:"] + _indent(g.r.sample([
            "p.v = p.v - d * p.x", "p.x = p.x + p.v * 0.5", "p.x = math.tanh(p.x * d)",
            "acc = acc + p.x * p.v", "if p.x > 0.2:\n    p.v = p.v * d"], g.r.randint(1, 3))),
        lambda g: ["for i in range(len(ps)):", "    ps[i].x = ps[i].x * d + ps[i].v"],
        lambda g: [f"ps = [{cls}(p.x, p.v) for p in ps]"],
        lambda g: [f"q = ps[{g.r.randint(-2, 1)}]", f"q.v = q.v + math.sin(d) * {g.r.choice(['w', 'q.x'])}"],
        lambda g: [f"ps.append({cls}(d, ps[0].x * w))"],
        lambda g: ["ps[0], ps[-1] = ps[-1], ps[0]"],
        lambda g: [f"acc = acc + ps[{g.r.randint(-2, 1)}].x * w"],
        lambda g: [f"setattr(ps[{g.r.randint(0, 1)}], 'x', getattr(ps[{g.r.randint(0, 1)}], 'v') * d)"],
    ]
    args = f"([{', '.join(f'{cls}({g.num()}, {g.num()})' for _ in range(g.r.randint(2, 3)))}], {g.num()}, {g.num()})"
    chunks = [["acc = 0.0"]] + g.some(pool, 1, 4) + [["total = acc", "for p in ps:", "    total = total + p.x * p.v"]]
    return Program("objects", ["ps", "d", "w"], args, chunks, "total + ps[0].v * w")


# (c) objects holding containers

def gen_holders(g: _Gen) -> Program:
    pool = [
        lambda g: [f"h.xs[{g.r.randint(-2, 1)}] = h.xs[{g.r.randint(-2, 1)}] * s"],
        lambda g: ["for i in range(len(h.xs)):", "    h.xs[i] = math.tanh(h.xs[i] + s)"],
        lambda g: ["h.xs.append(h.xs[0] * s)"],
        lambda g: [f"h.d['a'] = h.d['a'] + s * h.xs[{g.r.randint(0, 1)}]"],
        lambda g: ["t = h.xs", "t[0] = t[0] * s + t[-1]"],
        lambda g: ["for k in h.d:", "    h.d[k] = h.d[k] * s"],
        lambda g: ["h.xs = [v * s for v in h.xs]"],
        lambda g: ["h.d['b'] = h.d['b'] * o.x", "o.v = o.v + h.xs[1] * s"],
        lambda g: ["o.x = o.x * s", "h.xs[0] = h.xs[0] + o.x"],
    ]
    args = f"(H({g.floats(g.r.randint(2, 3))}, {{'a': {g.num()}, 'b': {g.num()}}}), {g.num()}, {g.obj()})"
    return Program("holders", ["h", "s", "o"], args, g.some(pool, 1, 4),
                   "sum(h.xs) * h.d['a'] + h.d['b'] + o.x * o.v")


# (d) aliases: one object (or list) at several places

def gen_aliases(g: _Gen) -> Program:
    r = g.r
    if r.random() < 0.7:
        ij = lambda: r.randint(0, 2)  # noqa: E731
        pool = [
            lambda g: [f"o = objs[{ij()}]", f"o.x = o.x * d"],
            lambda g: [f"objs[{ij()}].v = objs[{ij()}].v + d * objs[{ij()}].x"],
            lambda g: ["for o in objs:", "    o.x = o.x + d * o.v"],
            lambda g: [f"b = objs[{ij()}]", "b.v = math.sin(b.v) * d"],
            lambda g: [f"ys = [objs[{ij()}], objs[{ij()}]]", "ys[0].x = ys[1].x * d"],
            lambda g: [f"acc = acc + objs[{ij()}].x * objs[{ij()}].v"],
            lambda g: [f"e.x = e.x * d + objs[{ij()}].v"],
        ]
        order = r.choice(["[o, o, k]", "[o, k, o]", "[k, o, o]"])
        args = f"(lambda o, k: ({order}, {g.num()}, o))({g.obj()}, {g.obj()})"
        if r.random() < 0.5:  # the alias is not passed twice
            args = f"(lambda o, k: ({order}, {g.num()}, {g.obj()}))({g.obj()}, {g.obj()})"
        return Program("aliases", ["objs", "d", "e"], args, [["acc = 0.0"]] + g.some(pool, 1, 4),
                       f"acc + objs[{ij()}].x * objs[{ij()}].v + objs[{ij()}].x + e.v")
    pool = [
        lambda g: [f"rows[{r.randint(0, 1)}][{r.randint(0, 1)}] = rows[0][{r.randint(0, 1)}] * d"],
        lambda g: [f"row = rows[{r.randint(0, 1)}]", f"row[{r.randint(0, 1)}] = row[{r.randint(0, 1)}] + d"],
        lambda g: [f"acc = acc + rows[1][{r.randint(0, 1)}] * d"],
        lambda g: ["for row in rows:", "    row[0] = row[0] * d"],
    ]
    args = f"(lambda row: ([row, row], {g.num()}))({g.floats(2)})"
    return Program("aliases", ["rows", "d"], args, [["acc = 0.0"]] + g.some(pool, 1, 4),
                   "acc + rows[0][0] * rows[1][1]")


# (e) callees that mutate their arguments: positional, *args, **kwargs

CALLEES = {
    "bump": "def bump(o, s):\n    o.x = o.x * s + o.v",
    "bump_all": "def bump_all(s, *objs):\n    for o in objs:\n        o.v = o.v + o.x * s",
    "bump_kw": "def bump_kw(s, **kw):\n    for k in kw:\n        kw[k].x = kw[k].x * s",
    "push": "def push(xs, s):\n    xs.append(xs[-1] * s)\n    xs[0] = xs[0] + s",
    "first": "def first(u, v):\n    return u * math.cos(v)",
    "scale": "def scale(xs, s=1.0):\n    for i in range(len(xs)):\n        xs[i] = xs[i] * s\n    return xs[0]",
}


def gen_callees(g: _Gen) -> Program:
    pool = [
        lambda g: [f"bump({g.r.choice('ab')}, d)"],
        lambda g: [f"bump(o={g.r.choice('ab')}, s=d)"],
        lambda g: ["bump_all(d, a, b)"],
        lambda g: [f"bump_all(d, *[{g.r.choice('ab')}])"],
        lambda g: ["bump_kw(d, p=a, q=b)"],
        lambda g: [f"bump_kw(d, **{{'p': {g.r.choice('ab')}}})"],
        lambda g: ["push(xs, d)"],
        lambda g: ["acc = acc + scale(xs, s=d)"],
        lambda g: [f"bump(*({g.r.choice('ab')}, d))"],
        lambda g: ["u, v = pair", f"acc = acc + {g.r.choice(['first(u, v)', 'scale([u, v], d)'])}"],
        lambda g: [f"acc = acc + first(*pair) * {g.r.choice(['d', 'pair[1]'])}"],
    ]
    args = f"({g.obj()}, {g.obj()}, {g.floats(2)}, {g.num()}, ({g.num()}, {g.num()}))"
    return Program("callees", ["a", "b", "xs", "d", "pair"], args, [["acc = 0.0"]] + g.some(pool, 1, 4),
                   "acc + a.x * a.v + b.x * b.v + sum(xs)", helpers=CALLEES)


# (f) closures that read and mutate captured lists, dicts and objects

def gen_closures(g: _Gen) -> Program:
    defs = {
        "add": ["def add(v):", "    s[0] = s[0] + v"],
        "rd": ["def rd():", "    return s[0] * dd['a']"],
        "upd": ["def upd(k, v):", "    dd[k] = dd[k] * v"],
        "setw": ["def setw():", "    o.v = o.x * x"],
        "sc": ["sc = lambda t: t * s[1]"],
    }
    pool = [
        lambda g: ["add(x * y)"], lambda g: ["add(math.sin(y))"], lambda g: ["acc = acc + rd()"],
        lambda g: [f"upd('{g.r.choice('ab')}', {g.r.choice('xy')})"], lambda g: ["s[1] *= 0.5"],
        lambda g: [f"acc = acc + sc({g.r.choice('xy')})"], lambda g: ["setw()"],
        lambda g: ["dd['a'] = dd['a'] + x"], lambda g: ["for i in range(2):", "    add(s[1] * x)"],
    ]
    body = g.some(pool, 1, 5)
    used = [k for k in defs if any(k + "(" in line for chunk in body for line in chunk)] + ["rd"]
    chunks = [defs[k] for k in dict.fromkeys(used)] + [["acc = 0.0"]] + body
    args = f"({g.num()}, {g.num()}, {g.floats(2)}, {{'a': {g.num()}, 'b': {g.num()}}}, {g.obj()})"
    return Program("closures", ["x", "y", "s", "dd", "o"], args, chunks, "acc + rd() + s[1] + dd['b'] + o.v")


# (g) recursion through inner functions that capture a differentiated variable

def gen_recursion(g: _Gen) -> Program:
    r = g.r
    forms = [
        (["def r1(k):", "    if k == 0:", "        return y", "    return x * r1(k - 1) + math.sin(y) * 0.5"],
         "r1({n})"),
        (["def r2(k, acc):", "    return acc if k == 0 else r2(k - 1, acc * x + y)"], "r2({n}, y)"),
        (["def r3(k):", "    if k <= 0:", "        return s[0]", "    s[0] = s[0] * x", "    return r3(k - 1) + y"],
         "r3({n})"),
        (["def ev(k):", "    return x if k == 0 else od(k - 1) * y",
          "def od(k):", "    return y if k == 0 else ev(k - 1) + x"], "ev({n})"),
        (["def r4(k):", "    if k == 0:", "        return o.x", "    o.x = o.x * x", "    return r4(k - 1) + o.v * y"],
         "r4({n})"),
    ]
    picked = r.sample(forms, r.randint(1, 2))
    chunks = [f[0] for f in picked]
    uses = " + ".join(f[1].format(n="n" if r.random() < 0.5 else r.randint(0, 3)) for f in picked)
    args = f"({g.num()}, {g.num()}, {g.floats(2)}, {g.obj()}, {r.randint(0, 3)})"
    return Program("recursion", ["x", "y", "s", "o", "n"], args, chunks + [[f"t = {uses}"]], "t + s[0] * o.v")


# (h) NumPy with out= and in-place updates

def gen_numpy(g: _Gen) -> Program:
    i = lambda: g.r.randint(0, 2)  # noqa: E731
    pool = [
        lambda g: ["np.multiply(a, b, out=c)"], lambda g: ["np.add(c, a, out=c)"],
        lambda g: ["np.multiply(a, s, out=a)"], lambda g: ["a *= s"], lambda g: ["b += a * 0.5"],
        lambda g: [f"a[{i()}] = a[{i()}] * b[{i()}]"], lambda g: ["np.sin(b, out=b)"],
        lambda g: ["np.matmul(m, b, out=c)"], lambda g: ["c[1:] += a[:-1] * s"],
        lambda g: ["acc = acc + np.sum(c * b)"], lambda g: ["np.tanh(c, out=c)"],
        lambda g: ["np.multiply(a, a, out=c)"], lambda g: ["np.exp(a * 0.1, out=c)"],
        lambda g: ["acc = acc + np.sum(np.exp(s * 0.5 + np.arange(3)))"],  # a scalar meets an int array
    ]
    arr = lambda: f"np.array({g.floats(3)})"  # noqa: E731
    s = f"np.float64({g.num()})" if g.r.random() < 0.5 else g.num()  # as scipy's solvers pass it
    args = f"({arr()}, {arr()}, {s}, np.array([{', '.join(g.floats(3) for _ in range(3))}]))"
    return Program("numpy", ["a", "b", "s", "m"], args, [["acc = 0.0", "c = np.zeros(3)"]] + g.some(pool, 1, 5),
                   "acc + np.sum(c * c) + np.sum(a * b)")


# (i) nested lists updated in place, dicts of objects, swaps, setattr / getattr

def gen_nested(g: _Gen) -> Program:
    r = g.r
    ij = lambda: r.randint(0, 1)  # noqa: E731
    pool = [
        lambda g: ["for row in rows:", "    for j in range(len(row)):", "        row[j] = row[j] * s"],
        lambda g: [f"row = rows[{ij()}]", f"row[{ij()}] = row[{ij()}] + s * row[0]"],
        lambda g: ["rows[0], rows[1] = rows[1], rows[0]"],
        lambda g: ["for k in dobj:", "    dobj[k].x = dobj[k].x * s"],
        lambda g: [f"q = dobj['{r.choice('ab')}']", "q.v = q.v + s"],
        lambda g: ["objs[0], objs[1] = objs[1], objs[0]"],
        lambda g: [f"setattr(objs[{ij()}], 'x', getattr(objs[{ij()}], 'v') * s)"],
        lambda g: [f"rows[{ij()}][{ij()}] = rows[{ij()}][{ij()}] * objs[{ij()}].x"],
        lambda g: [f"dobj['b'] = objs[{ij()}]"],
        lambda g: [f"o = objs[{ij()}]", "for name in ('x', 'v'):", "    setattr(o, name, getattr(o, name) * s)"],
    ]
    args = (f"([{g.floats(2)}, {g.floats(2)}], {{'a': {g.obj()}, 'b': {g.obj()}}}, [{g.obj()}, {g.obj()}], "
            f"{g.num()})")
    return Program("nested", ["rows", "dobj", "objs", "s"], args, g.some(pool, 1, 4),
                   "rows[0][0] * rows[1][1] + dobj['a'].x * dobj['b'].v + objs[0].x + sum(rows[1])")


GENERATORS: dict[str, Callable[[_Gen], Program]] = {
    "scalar": gen_scalar, "objects": gen_objects, "holders": gen_holders, "aliases": gen_aliases,
    "callees": gen_callees, "closures": gen_closures, "recursion": gen_recursion, "numpy": gen_numpy,
    "nested": gen_nested,
}


def generate(gen: str, seed: int, i: int) -> Program:
    """Program ``i`` of generator ``gen`` for ``seed``, with its random argnums; the same every time."""
    r = random.Random(f"{gen}:{seed}:{i}")
    prog = GENERATORS[gen](_Gen(r))
    ns = build(prog)
    positions = sorted({path[0][1] for path, _, _ in _leaves(_args(prog, ns))})
    prog.argnums = tuple(sorted(r.sample(positions, r.randint(1, len(positions)))))
    prog.single = len(prog.argnums) == 1 and r.random() < 0.5
    return prog


_builds = iter(range(1 << 62))
_MODULE = sys.modules.setdefault("wengert_fuzz_programs", types.ModuleType("wengert_fuzz_programs"))


def build(prog: Program) -> dict:
    """Execute the program's module (its source registered in linecache, as wengert reads source)."""
    src = PRELUDE + "\n\n" + prog.source()
    name = f"<wengert-fuzz-{prog.gen}-{next(_builds)}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    ns: dict = {"__name__": _MODULE.__name__}  # dataclass() looks its module up in sys.modules
    exec(compile(src, name, "exec"), ns)
    return ns


def _args(prog: Program, ns: dict) -> list:
    return list(eval(prog.args, ns))  # a fresh copy every time: programs mutate their arguments


# ---- the oracle: paths to float leaves, central differences ----
# A path is a tuple of steps: ("i", index) into a list, ("k", key) into a dict,
# ("a", name) into an object, ("e", index) into an array.

def _children(x):
    if isinstance(x, (list, tuple)):
        return [(("i", i), v) for i, v in enumerate(x)]
    if isinstance(x, dict):
        return [(("k", k), v) for k, v in x.items()]
    if isinstance(x, np.ndarray):
        return [(("e", idx), x[idx]) for idx in np.ndindex(x.shape)] if x.dtype.kind == "f" else []
    if hasattr(x, "__dict__") and not callable(x):
        return [(("a", k), v) for k, v in vars(x).items()]
    return []


def _leaves(x, path=()):
    """(path, container, step) for every float leaf of ``x``."""
    for step, v in _children(x):
        if isinstance(v, (float, np.floating)):
            yield path + (step,), x, step
        else:
            yield from _leaves(v, path + (step,))


def _get(x, step):
    kind, key = step
    return getattr(x, key) if kind == "a" else x[key]


def _set(x, step, value):
    kind, key = step
    if kind == "a":
        setattr(x, key, value)
    else:
        x[key] = value


def _replace(x, path, value):
    """``x`` with the leaf at ``path`` set to ``value``: tuples are rebuilt, the rest changed in place."""
    if not path:
        return value
    new = _replace(_get(x, path[0]), path[1:], value)
    if isinstance(x, tuple):
        return tuple(new if i == path[0][1] else v for i, v in enumerate(x))
    _set(x, path[0], new)
    return x


def _at(args, path):
    x = args
    for step in path:
        x = _get(x, step)
    return x


def _groups(args: tuple) -> list[list[tuple]]:
    """Float leaves of the arguments, as lists of paths that reach the same storage (aliases)."""
    groups: dict = {}
    for path, container, step in _leaves(args):
        key = (id(container), step[1]) if container is not args else ("arg", step[1])
        groups.setdefault(key, []).append(path)
    return list(groups.values())


def _call(f, args):
    y = f(*args)
    return float(y)


def central_difference(f, fresh: Callable[[], tuple], path: tuple) -> tuple[float, float] | None:
    """Two central-difference estimates of df/d(leaf at path), steps H_SMALL and H_LARGE,
    each on fresh arguments; None where either evaluation fails or is not finite."""
    out = []
    for h in (H_SMALL, H_LARGE):
        vals = []
        for sign in (1, -1):
            args = fresh()
            v = float(_at(args, path))
            step = h * max(1.0, abs(v))
            _replace(args, path, v + sign * step)
            try:
                vals.append(_call(f, args))
            except Exception:  # noqa: BLE001 - a domain error at the perturbed point: no estimate
                return None
        out.append((vals[0] - vals[1]) / (2 * step))
    return (out[0], out[1]) if all(math.isfinite(e) for e in out) else None


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1.0 + abs(b))


# ---- comparing a gradient with the estimates ----

class StructureError(Exception):
    """The gradient does not have the shape of the argument."""


def _grad_at(g, x, path) -> float:
    """The gradient's entry at ``path``, walking the gradient ``g`` alongside the primal ``x``."""
    where = ""
    for kind, key in path:
        if g is None:
            return 0.0
        child = _get(x, (kind, key))
        where += f".{key}" if kind == "a" else f"[{key!r}]"
        if kind == "i":
            if not isinstance(g, (list, tuple)) or len(g) <= key:
                raise StructureError(f"{where}: expected a list of length >= {key + 1}, got {g!r}")
            g = g[key]
        elif kind == "k":
            if not isinstance(g, dict):
                raise StructureError(f"{where}: expected a dict, got {g!r}")
            g = g.get(key)
        elif kind == "e":
            if getattr(g, "shape", None) != x.shape:
                raise StructureError(f"{where}: expected an array of shape {x.shape}, got {g!r}")
            g = g[key]
        else:
            want = type(x) if dataclasses.is_dataclass(x) else wengert.Tangent
            if type(g) is not want:
                raise StructureError(f"{where}: expected {want.__name__}, got {g!r}")
            g = g.__dict__.get(key)
        x = child
    if g is None:
        return 0.0
    if not isinstance(g, (int, float, np.floating)) and getattr(g, "shape", None) != ():
        raise StructureError(f"{where or 'the argument'}: expected a number, got {g!r}")
    return float(g)


def _path_text(path):
    pos, rest = path[0][1], path[1:]
    return f"arg {pos}" + "".join(f".{k}" if kind == "a" else f"[{k!r}]" for kind, k in rest)


def _state(x, path=(), out=None) -> dict:
    """Everything a call may change in its arguments, by path, for comparing two runs."""
    out = {} if out is None else out
    kids = _children(x)
    if kids or isinstance(x, (list, tuple, dict, np.ndarray)) or hasattr(x, "__dict__"):
        out[path] = (type(x).__name__, len(kids))
        for step, v in kids:
            _state(v, path + (step,), out)
    else:
        out[path] = float(x) if isinstance(x, (float, np.floating)) else x
    return out


def _state_diff(got: dict, want: dict) -> list[str]:
    def same(a, b):
        if isinstance(a, float) and isinstance(b, float):
            return _close(a, b, 1e-9) or (math.isnan(a) and math.isnan(b))
        return a == b

    return [f"  {_path_text(p) if p else 'arguments'}: {got.get(p, 'missing')!r}, "
            f"a plain call leaves {want.get(p, 'nothing')!r}"
            for p in dict.fromkeys([*want, *got]) if not same(got.get(p), want.get(p))]


# ---- implementations under test ----

def _source(f, prog, args):
    return wengert.value_and_grad(f, prog.argnums[0] if prog.single else prog.argnums)(*args)


def _tape(f, prog, args):
    return wengert.value_and_grad(f, prog.argnums[0] if prog.single else prog.argnums, mode="tape")(*args)


def _gradient(f, prog, args):
    """Zygote's ``gradient``: every argument; the value comes from a plain call on a copy."""
    return None, wengert.gradient(f, *args)


MODES: dict[str, Callable] = {"source": _source, "tape": _tape, "gradient": _gradient}
# The tape runs f on tracked copies of lists, dicts and tuples (tape.trace), so by design their
# mutations do not reach the caller: its arguments' state is not compared.
STATE_UNCHECKED = {"tape"}


@dataclass
class Failure:
    prog: Program
    mode: str
    kind: str  # "wrong value", "wrong structure", "wrong primal", "wrong state", "crash: <Type>"
    detail: str

    @property
    def crashed(self) -> bool:
        return self.kind.startswith("crash")

    @property
    def refused(self) -> bool:
        """A clear refusal (`UnsupportedError` naming the construct): not a wrong answer."""
        return self.kind.startswith("crash: UnsupportedError")

    def report(self) -> str:
        p = self.prog
        nums = "all (wengert.gradient)" if self.mode == "gradient" else p.argnums[0] if p.single else p.argnums
        return (f"---- {p.gen} / {self.mode}: {self.kind}\n{p.source()}"
                f"args = {p.args}\nargnums = {nums}\n{self.detail}\n")


@dataclass
class Outcome:
    checks: int = 0
    skipped: str | None = None  # why the program was not checked
    failures: list[Failure] = field(default_factory=list)


def check(prog: Program, modes: dict[str, Callable] = MODES) -> Outcome:
    """Run every implementation in ``modes`` on ``prog`` and compare with the oracle."""
    out = Outcome()
    ns = build(prog)
    f = ns["f"]
    fresh = lambda: _args(prog, ns)  # noqa: E731
    try:
        args = fresh()
        y = _call(f, args)
    except Exception as e:  # noqa: BLE001 - a program the generator got wrong: not wengert's fault
        out.skipped = f"primal raised {type(e).__name__}: {e}"
        return out
    if not math.isfinite(y):
        out.skipped = "primal value not finite"
        return out
    after = _state(args)
    expected = []  # (paths, estimate)
    for paths in _groups(fresh()):
        est = central_difference(f, fresh, paths[0])
        if est is None or not _close(est[0], est[1], FD_TOL):
            out.skipped = f"finite differences disagree at {_path_text(paths[0])}: {est}"
            return out
        expected.append((paths, est[0]))
    for mode, impl in modes.items():
        out.checks += 1
        nums = tuple(range(len(args))) if mode == "gradient" else prog.argnums
        out.failures += _check_one(prog, f, fresh, impl, mode, nums, y, after, expected)
    return out


def _crash_kind(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = re.sub(r"<wengert[^>]*>|\S*/\S+\.py|\b\d+\b", "N", msg)  # one class for every program
    return f"crash: {type(e).__name__}: {msg[:90]}"


def _check_one(prog, f, fresh, impl, mode, nums, y, after, expected) -> list[Failure]:
    args = fresh()
    try:
        value, grads = impl(f, prog, args)
    except Exception as e:  # noqa: BLE001 - a crash is a finding
        tb = traceback.format_exception(e)
        return [Failure(prog, mode, _crash_kind(e), "".join(tb[-3:]).rstrip())]
    fails = []
    if value is not None and not (isinstance(value, (int, float, np.floating)) and _close(float(value), y, 1e-9)):
        fails.append(Failure(prog, mode, "wrong primal", f"value {value!r}, a plain call gives {y!r}"))
    diff = _state_diff(_state(args), after) if mode not in STATE_UNCHECKED else []
    if diff:
        fails.append(Failure(prog, mode, "wrong state", "arguments left changed otherwise:\n" + "\n".join(diff)))
    if mode != "gradient" and prog.single:
        grads = (grads,)
    if not isinstance(grads, tuple) or len(grads) != len(nums):
        return fails + [Failure(prog, mode, "wrong structure", f"expected {len(nums)} gradients, got {grads!r}")]
    by_pos = dict(zip(nums, grads))
    ref = fresh()
    lines = []
    for paths, est in expected:
        if any(p[0][1] not in by_pos for p in paths):
            continue  # not asked for (or aliased with an argument that was not)
        try:
            got = sum(_grad_at(by_pos[p[0][1]], ref[p[0][1]], p[1:]) for p in paths)
        except StructureError as e:
            return fails + [Failure(prog, mode, "wrong structure",
                                    f"gradient {grads!r}\n  {_path_text(paths[0])}: {e}")]
        if not _close(got, est, GRAD_TOL):
            where = " + ".join(_path_text(p) for p in paths)
            lines.append(f"  {where}: expected {est:.10g}, got {got:.10g}")
    if lines:
        fails.append(Failure(prog, mode, "wrong value", f"gradient {grads!r}\n" + "\n".join(lines)))
    return fails


# ---- shrinking: drop chunks and argnums while the same failure remains ----

def shrink(fail: Failure, modes: dict[str, Callable] = MODES) -> Failure:
    """A smaller program (fewer statements, fewer argnums) that fails the same way."""
    mode = {fail.mode: modes[fail.mode]}

    def same(prog):
        try:
            out = check(prog, mode)
        except Exception:  # noqa: BLE001
            return None
        return next((x for x in out.failures if x.kind == fail.kind), None)

    best = fail
    changed = True
    while changed:
        changed = False
        prog = best.prog
        for k in range(len(prog.chunks)):
            cand = dataclasses.replace(prog, chunks=prog.chunks[:k] + prog.chunks[k + 1:])
            hit = same(cand)
            if hit is not None:
                best, changed = hit, True
                break
        if not changed and len(prog.argnums) > 1:
            for n in prog.argnums:
                hit = same(dataclasses.replace(prog, argnums=(n,), single=True))
                if hit is not None:
                    best, changed = hit, True
                    break
    return best


# ---- the soak command ----

def run(n: int, seed: int, start: int = 0, gens=None, modes=None, out=sys.stdout, do_shrink=False,
        max_print: int = 50) -> tuple[int, int, list[Failure], int]:
    """Programs start .. start + n - 1, the generators taken in turn; prints each failure.
    Returns (checks, skipped, failures, programs)."""
    gens = list(gens or GENERATORS)
    impls = {m: MODES[m] for m in (modes or MODES)}
    checks = skipped = 0
    failures: list[Failure] = []
    for i in range(start, start + n):
        gen = gens[i % len(gens)]
        prog = generate(gen, seed, i)
        result = check(prog, impls)
        checks += result.checks
        skipped += result.skipped is not None
        for fail in result.failures:
            failures.append(fail)
            if len(failures) <= max_print:
                shown = shrink(fail, impls) if do_shrink else fail
                print(f"[program {i}, --seed {seed} --start {i} --n 1]", shown.report(), file=out, flush=True)
        if i % 200 == 199:
            wengert.clear_cache()  # bounds memory over long runs (and exercises the cache)
    return checks, skipped, failures, n


def summary(n, checks, failures, skipped) -> str:
    wrong = sum(not x.crashed for x in failures)
    refused = sum(x.refused for x in failures)
    return (f"{n} programs, {checks} checks, {wrong} wrong, {len(failures) - wrong - refused} crashed, "
            f"{refused} refused (UnsupportedError), {skipped} skipped")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m wengert.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of programs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="index of the first program (to rerun one)")
    ap.add_argument("--gen", action="append", choices=list(GENERATORS), help="generator(s) to use; default all")
    ap.add_argument("--mode", action="append", choices=list(MODES), help="implementation(s) to check; default all")
    ap.add_argument("--shrink", action="store_true", help="print each failure shrunk to fewer statements")
    ap.add_argument("--max-print", type=int, default=50, help="print at most this many failures")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on refusals (UnsupportedError) too, not only on wrong answers and crashes")
    a = ap.parse_args(argv)
    checks, skipped, failures, n = run(a.n, a.seed, a.start, a.gen, a.mode, do_shrink=a.shrink,
                                       max_print=a.max_print)
    if failures:
        counts: dict = {}
        for x in failures:
            counts[(x.prog.gen, x.mode, x.kind)] = counts.get((x.prog.gen, x.mode, x.kind), 0) + 1
        print("failures by generator, mode and kind:")
        for key, c in sorted(counts.items()):
            print(f"  {c:6d}  {' / '.join(key)}")
        print("(programs are shown without their prelude, wengert.fuzz.PRELUDE)")
    print(summary(n, checks, failures, skipped))
    return 1 if any(a.strict or not x.refused for x in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
