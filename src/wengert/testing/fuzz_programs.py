"""The random programs of wengert.testing.fuzz: each generator writes one small ordinary Python function.

A generator takes a `_Gen` (its random source and fresh names) and returns a `Program`:
``def f(params): chunks; return ret`` after PRELUDE and the module-level ``helpers`` the
body calls, with an expression giving fresh arguments. The shrinker drops whole chunks,
so a chunk must stand on its own (it may only read names that PRELUDE, the parameters or
the first chunk define). Programs must be smooth at almost every point of the arguments
they draw: wengert.testing.fuzz skips one whose two central differences disagree.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

PRELUDE = '''\
import functools
import io
import itertools
import math
import operator
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


SINK = io.StringIO()  # where programs print
'''


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
        used, seen = [], text
        while True:  # the helpers the body names, and those they name
            more = [name for name, src in self.helpers.items()
                    if name not in used and re.search(rf"\b{name}\b", seen)]
            if not more:
                break
            used += more
            seen += "".join(self.helpers[name] for name in more)
        return "".join(self.helpers[name].strip() + "\n\n\n" for name in self.helpers if name in used) + \
            f"def f({', '.join(self.params)}):\n" + text


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
            lambda g: [f"o = objs[{ij()}]", "o.x = o.x * d"],
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



# ---- issue 10's constructs ----
# Each generator below mixes a few of them into scalar code on x, y (and a list xs where
# it helps); `a` accumulates, so a chunk that is dropped by the shrinker leaves a program.

# (j) try / except / else / finally around a callee that may raise

TRY_HELPERS = {
    "risky": "def risky(v, t):\n    if v > t:\n        raise ValueError('too big')\n    return v * v + t",
    "checked": ("def checked(v):\n    if v < 0:\n        raise ArithmeticError('negative')\n"
                "    return math.sqrt(v + 0.1)"),
}


def gen_try(g: _Gen) -> Program:
    r = g.r
    t = lambda: g.num(-0.5, 0.8)  # noqa: E731
    pool = [
        lambda g: ["try:", f"    a = risky(x * y, {t()}) + a", "except ValueError:", "    a = math.sin(x) * a"],
        lambda g: ["try:", f"    b = checked({r.choice(['x', 'y', 'x * y', 'a'])})", "except ArithmeticError:",
                   "    b = y * 0.5", "else:", "    b = b * x", "finally:", "    a = a + b"],
        lambda g: ["for i in range(3):", "    try:", f"        a = a + risky(a * {g.num(0.2, 0.9)}, {t()})",
                   "    except ValueError:", f"        a = a * {r.choice(['x', 'y', '0.5'])}"],
        lambda g: ["try:", "    a = a * y", f"    a = a + risky(x, {t()})", "except ValueError as e:",
                   "    a = a + len(str(e)) * x"],
        lambda g: ["try:", f"    a = risky(a, {t()})", "except ValueError:", "    a = a * b", "finally:",
                   "    b = b + x"],
        lambda g: ["try:", f"    a = a / ({r.choice(['x', 'y'])} - {r.choice(['x', 'y'])})",
                   "except ZeroDivisionError:", "    a = a + x * y"],
        lambda g: ["try:", f"    a = a + xs[{r.randint(0, 3)}] * y", "except IndexError:", "    a = a - x"],
    ]
    chunks = [["a = x + 0.5", "b = y"]] + g.some(pool, 1, 4)
    return Program("try", ["x", "y", "xs"], f"({g.num()}, {g.num()}, {g.floats(2)})", chunks, "a * b + a",
                   helpers=TRY_HELPERS)


# (k) with: user context managers (their own values are not differentiated), one that swallows

WITH_HELPERS = {
    "Ctx": ("class Ctx:\n    def __init__(self, k):\n        self.k = k\n        self.depth = 0\n"
            "    def __enter__(self):\n        self.depth += 1\n        return self.k\n"
            "    def __exit__(self, *exc):\n        self.depth -= 1\n        return False"),
    "Quiet": ("class Quiet:\n    def __enter__(self):\n        return self\n"
              "    def __exit__(self, kind, value, tb):\n        return kind is ValueError"),
    "risky": TRY_HELPERS["risky"],
}


def gen_with(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: [f"with Ctx({g.num(0.5, 2.0)}) as k:", f"    a = a * k + {r.choice(['x', 'y'])}"],
        lambda g: ["with Ctx(2) as k:", "    for i in range(k):", f"        a = math.tanh(a * {r.choice(['x', 'y'])})"],
        lambda g: ["with Quiet():", f"    a = risky(a * x, {g.num(-0.3, 0.6)}) + y"],
        lambda g: ["with np.errstate(divide='ignore'):", "    a = a + float(np.log(abs(x) + 0.5))"],
        lambda g: ["with Ctx(0.5) as k, Ctx(1.5) as m:", "    a = a * k + m * y"],
        lambda g: ["c = Ctx(y)", "with c:", "    a = a + c.k * x"],  # read through the object, not the as-value
        lambda g: ["with Ctx(1.0):", "    with Quiet():", "        a = a * y"],
    ]
    return Program("with", ["x", "y"], f"({g.num()}, {g.num()})", [["a = x"]] + g.some(pool, 1, 4), "a * y + a",
                   helpers=WITH_HELPERS)


# (l) match on tuples, lists, dicts, classes, with guards

def gen_match(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["match (n, x):", "    case (0, v):", "        a = a + v * y", "    case (1, v) if v > 0.2:",
                   "        a = a * v", "    case (_, v):", "        a = a - v"],
        lambda g: ["match xs:", "    case [u]:", "        a = a + u", "    case [u, *rest]:",
                   "        a = a + u * sum(rest)", "    case []:", "        a = a * 2.0"],
        lambda g: ["match p:", "    case P(x=px, v=pv) if px > 0:", "        a = a + px * pv",
                   "    case P(x=px):", "        a = a * px"],
        lambda g: ["match {'k': x, 'n': n}:", "    case {'n': 2, 'k': kv}:", "        a = a + kv * kv",
                   "    case {'k': kv}:", "        a = a + kv * y"],
        lambda g: ["match n:", "    case 0 | 1:", f"        a = a * {r.choice(['x', 'y'])}",
                   "    case 2:", "        a = a + y", "    case _:", "        pass"],
        lambda g: ["match a:", "    case float(v) if v > 0.5:", "        a = v * x", "    case _:",
                   "        a = a + x"],
    ]
    args = f"({g.num()}, {g.num()}, {g.floats(r.randint(0, 3))}, {g.obj().replace('Q(', 'P(')}, {r.randint(0, 3)})"
    return Program("match", ["x", "y", "xs", "p", "n"], args, [["a = x * y"]] + g.some(pool, 1, 4), "a + y",
                   helpers={})


# (m) cells: nonlocal, captured variables rebound after the closure is made, mutual recursion

def gen_cells(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["def add(v):", "    nonlocal total", "    total = total + v",
                   f"add({r.choice(['x * y', 'math.sin(x)', 'y'])})"],
        lambda g: ["s = x", "get = lambda: s * y", f"s = s * {r.choice(['y', '2.0', 'x'])}", "total = total + get()"],
        lambda g: ["def bump():", "    nonlocal s2", "    s2 = s2 * x", "for i in range(n):", "    bump()",
                   "total = total + s2"],
        lambda g: ["def ev(k):", "    return x if k == 0 else od(k - 1) * y",
                   "def od(k):", "    return y if k == 0 else ev(k - 1) + x", "total = total + ev(n) + od(n)"],
        lambda g: ["def counter():", "    c = 0.0", "    def step(v):", "        nonlocal c", "        c = c + v",
                   "        return c", "    return step", "st = counter()", "st(x)",
                   "total = total + st(y) * x"],
        lambda g: ["k = y", "def scaled(v):", "    return v * k", "k = x", "total = total + scaled(y)"],
        # a lambda made in a comprehension binds its variable as a default (without, wengert refuses it)
        lambda g: ["fs = [lambda j=j: j * x for j in range(3)]", f"total = total + fs[{r.randint(0, 2)}]() * y"],
    ]
    chunks = [["total = 0.0", "s2 = y"]] + g.some(pool, 1, 3)
    return Program("cells", ["x", "y", "n"],
                   f"({g.num()}, {g.num()}, {r.randint(0, 3)})", chunks, "total + s2")


# (n) f-strings, % formatting, str(), print inside loops: values that carry no derivative

def gen_format(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["for i in range(3):", "    a = a * x + y", "    print(f'{i}: {a:.3f}', file=SINK)"],
        lambda g: ["label = '%s=%.2f' % ('a', a)", "a = a + len(label) * x"],
        lambda g: ["names = []", "for i in range(2):", "    names.append(f'x{i}')", "    a = a + y",
                   "a = a * len(names)"],
        lambda g: ["if f'{x:.1f}'.startswith('-'):", "    a = a * y", "else:", "    a = a + y"],
        lambda g: ["d = {}", "for i, v in enumerate(xs):", "    d[f'k{i}'] = v * x", "a = a + sum(d.values())"],
        lambda g: ["print('step', a, str(x), repr(y), sep=' ', file=SINK)", "a = a * 0.5"],
        lambda g: ["msg = f'{len(xs)} items, first {xs[0]:.1f}'", "a = a + len(msg) * 0.01 * x"],
    ]
    return Program("format", ["x", "y", "xs"], f"({g.num()}, {g.num()}, {g.floats(r.randint(1, 3))})",
                   [["a = x"]] + g.some(pool, 1, 4), "a * y")


# (o) generator functions consumed by sum, for, list, max, zip

GEN_HELPERS = {
    "scaled": "def scaled(xs, s):\n    for v in xs:\n        yield v * s",
    "pairs": "def pairs(xs):\n    for i in range(len(xs) - 1):\n        yield xs[i], xs[i + 1]",
    "chained": ("def chained(xs, s):\n    yield from scaled(xs, s)\n    yield s\n    if s > 0:\n        return\n"
                "    yield -s"),
    "stops": "def stops(xs):\n    for v in xs:\n        if v > 0.9:\n            break\n        yield v",
}


def gen_generators(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: [f"a = a + sum(scaled(xs, {r.choice(['y', 'a', '0.5'])}))"],
        lambda g: ["for v in scaled(xs, y):", "    a = a + math.sin(v) * a"],
        lambda g: [f"a = a + list(chained(xs, y))[{r.randint(-1, 1)}]"],
        lambda g: ["for u, w in pairs(xs):", "    a = a + u * w"],
        lambda g: ["a = a * max(stops(xs), default=1.0)"],
        lambda g: ["def local_gen(k):", "    for j in range(k):", "        yield a * j + y",
                   "a = a + sum(local_gen(3))"],
        lambda g: ["a = a + sum(u * v for u, v in zip(scaled(xs, y), xs))"],
    ]
    args = f"({g.floats(r.randint(2, 3))}, {g.num()})"
    return Program("generators", ["xs", "y"], args, [["a = y"]] + g.some(pool, 1, 4), "a + xs[0]",
                   helpers=GEN_HELPERS)


# (p) map, filter, functools.reduce / partial, itertools, operator

FUNC_HELPERS = {
    "mulk": "def mulk(u, v, k=1.0):\n    return u * v * k",
    "shift": "def shift(v, by):\n    return v + by",
}


def gen_functional(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["ys = list(map(lambda v: v * s, xs))"],
        lambda g: ["ys = list(map(math.sin, ys))"],
        lambda g: ["ys = list(map(operator.mul, ys, xs))"],
        lambda g: ["ys = [v for v in filter(lambda v: v > 0.1, ys)] + [s]"],
        lambda g: ["a = a + functools.reduce(lambda u, v: u * 0.5 + v, ys, 1.0)"],
        lambda g: ["a = a + functools.reduce(functools.partial(mulk, k=s), xs)"],
        lambda g: ["f2 = functools.partial(shift, by=s)", "ys = [f2(v) for v in ys]"],
        lambda g: ["a = a + sum(u * v for u, v in itertools.product(xs, ys[:2]))"],
        lambda g: ["a = a + list(itertools.accumulate(ys))[-1] * s"],
        lambda g: ["a = a + sum(itertools.islice(itertools.chain(xs, ys), 1, None))"],
        lambda g: ["ys = sorted(ys, key=abs)"],
    ]
    args = f"({g.floats(r.randint(2, 3))}, {g.num()})"
    return Program("functional", ["xs", "s"], args, [["a = 0.0", "ys = list(xs)"]] + g.some(pool, 1, 5),
                   "a + sum(ys) * s", helpers=FUNC_HELPERS)


# (q) starred displays, calls and targets; ** in dict displays

STAR_HELPERS = {
    "poly": "def poly(c0, c1=0.0, c2=0.0, *more):\n    return c0 + c1 * c2 + sum(more)",
}


def gen_starred(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["ys = [*xs, s]"],
        lambda g: ["ys = [*ys, *xs[:1], s * s]"],
        lambda g: ["t = (*ys, 1.0)", "a = a + t[0] * t[-2]"],
        lambda g: ["a = a + poly(*ys)"],
        lambda g: ["a = a + poly(*xs, *[s, s])"],
        lambda g: ["head, *rest = ys", "a = a + head * sum(rest)"],
        lambda g: ["*init, last = ys", "a = a + last * len(init)"],
        lambda g: ["d = {**dd, 'c': s}", "a = a + d['a'] * d['c']"],
        lambda g: ["d = {'a': s, **dd}", "a = a + d['a'] * d['b']"],
        lambda g: ["a = a + max(*ys, 0.0)"],
    ]
    args = f"({g.floats(r.randint(1, 3))}, {g.num()}, {{'a': {g.num()}, 'b': {g.num()}}})"
    return Program("starred", ["xs", "s", "dd"], args, [["a = 0.0", "ys = list(xs)"]] + g.some(pool, 1, 4),
                   "a + sum(ys) * s", helpers=STAR_HELPERS)


# (r) dict(zip(...)), dict(k=...), **kwargs forwarding, the decorator shape, getattr with a default

KW_HELPERS = {
    "combine": "def combine(u, v, scale=1.0, shift=0.0):\n    return u * v * scale + shift",
    "forward": "def forward(*args, **kw):\n    return combine(*args, **kw)",
    "wrap": "def wrap(fn):\n    def inner(*a, **kw):\n        return fn(*a, **kw)\n    return inner",
    "collect": "def collect(**kw):\n    return sum(kw[k] * (i + 1) for i, k in enumerate(sorted(kw)))",
}


def gen_kwargs(g: _Gen) -> Program:
    r = g.r
    pool = [
        lambda g: ["kw = dict(zip(['scale', 'shift'], ys))", "a = a + forward(x, y, **kw)"],
        lambda g: ["kw = dict(scale=x)", f"a = a + combine({r.choice(['y', 'a'])}, y, **kw)"],
        lambda g: ["a = a + wrap(combine)(x, a, scale=y)"],
        lambda g: ["a = a + wrap(forward)(*ys, shift=x)"],
        lambda g: ["d = dict(zip('pq', ys))", r.choice(["d.update(r=x)", "d.update({'r': x})"]),
                   "a = a + collect(**d)"],
        lambda g: ["a = a + collect(p=x, q=a)"],
        lambda g: ["d = dict(ys=ys, x=x)", "a = a + d['ys'][0] * d['x']"],
        lambda g: [f"a = a + getattr(o, '{r.choice(['x', 'v', 'w'])}', y) * x"],
        lambda g: ["kw = {k: v * x for k, v in zip(['u', 'v'], ys)}", "a = a + combine(**kw)"],
    ]
    args = f"({g.num()}, {g.num()}, {g.floats(2)}, {g.obj()})"
    return Program("kwargs", ["x", "y", "ys", "o"], args,
                   [["a = 0.0"]] + g.some(pool, 1, 4), "a * y + a", helpers=KW_HELPERS)


GENERATORS: dict[str, Callable[[_Gen], Program]] = {
    "scalar": gen_scalar, "objects": gen_objects, "holders": gen_holders, "aliases": gen_aliases,
    "callees": gen_callees, "closures": gen_closures, "recursion": gen_recursion, "numpy": gen_numpy,
    "nested": gen_nested,
    # issue 10's constructs
    "try": gen_try, "with": gen_with, "match": gen_match, "cells": gen_cells, "format": gen_format,
    "generators": gen_generators, "functional": gen_functional, "starred": gen_starred, "kwargs": gen_kwargs,
}

