"""Shared corpus: small functions covering every construct wengert differentiates
(run through every mode by tests/test_modes.py)."""
# ruff: noqa: FURB163, PLW0120
import math

import numpy as np


# the core corpus (tests/corpus_core.py), and more below
from corpus_core import (  # noqa: F401
    f_arith,
    f_if,
    f_while,
    f_for_range,
    f_break,
    f_continue,
    f_early_return,
    f_nested,
    f_while_else,
    f_and_or,
    f_ifexp,
    f_chain,
    helper,
    f_call,
    fact,
    is_even,
    is_odd,
    f_mutual,
    f_defaults,
    f_kwcall,
    f_star,
    f_kwargs,
    f_closure,
    f_nested_def,
    mymap,
    fold,
    f_hof,
    f_genexp,
    f_listcomp,
    f_tuples,
    pair,
    f_multi_return,
    f_enumerate,
    f_reversed,
    f_math,
    f_builtins,
    f_swap,
    projectile,
)


def f_for_else(x):
    for i in range(4):
        x = x * 1.2
        if x > 100.0:
            break
    else:
        x = x - 1.0
    return x

def f_zip(xs, ys):
    s = 0.0
    for a, b in zip(xs, ys):
        s = s + a * b
    return s

def f_power_tower(x):
    return x ** 3 + 2.0 ** x + x ** x

def f_inplace(x):
    y = x
    y += 1.0
    y *= x
    y -= 0.5
    y /= 2.0
    return y


def f_setitem(x, y):
    xs = [0.0, x, 1.0]
    xs[0] = x * y
    xs[2] += y
    return xs[0] * xs[1] + xs[2]

def f_append_loop(x):
    acc = []
    for i in range(4):
        acc.append(x * i)
    acc.extend([x, 2.0])
    last = acc.pop()
    return sum(acc) * last

def f_dict(x, y):
    d = {"a": x}
    d["b"] = x * y
    d.update({"c": y})
    return d["a"] * d["b"] + d.get("c", 0.0)

class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm2(self):
        return self.x * self.x + self.y * self.y

def f_object(x, y):
    p = Point(x, 1.0)
    p.y = y * x
    return p.norm2() + p.x

def f_array_setitem(x):
    a = np.zeros(3)
    a[0] = x
    a[1] = x * x
    a[2] = math.sin(x)
    return float(np.sum(a * a))


def f_kwargs_call(x):
    return f_kwargs(x, a=x * 2.0)

def f_nested_comp(x):
    return sum(x * i * j for i in range(3) for j in range(i))

def f_while_break_else(x):
    k = 0
    while k < 5:
        x = x * 1.3
        if x > 3.0:
            break
        k += 1
    else:
        x = -x
    return x

def f_abs_min_max(xs):
    return max(abs(v) for v in xs) + min(xs) * 2.0

def f_nonlocal_free(x):
    scale = x * 2.0

    def inner(y):
        return scale * y + x

    total = 0.0
    for v in [1.0, 2.0]:
        total = total + inner(v)
    return total


# (function, arguments) pairs, each smooth at its arguments (away from branch switches)
CASES = [
    (f_arith, (1.3, 0.7)),
    (f_if, (1.7,)), (f_if, (0.4,)), (f_if, (-0.8,)),
    (f_while, (1.3, 4)),
    (f_for_range, (1.1,)),
    (f_break, (1.5,)),
    (f_continue, (0.9,)),
    (f_early_return, (1.2,)), (f_early_return, (0.0001,)),
    (f_nested, (0.3,)),
    (f_while_else, (0.6,)),
    (f_and_or, (0.8,)),
    (f_ifexp, (1.4,)), (f_ifexp, (-1.4,)),
    (f_chain, (2.0,)), (f_chain, (7.0,)),
    (f_call, (0.5,)),
    (fact, (1.3, 5)),
    (f_mutual, (0.9,)),
    (f_defaults, (1.5,)),
    (f_kwcall, (1.5,)),
    (f_star, (1.0, 2.0, 3.0)),
    (f_closure, (1.2,)),
    (f_nested_def, (1.2,)),
    (f_hof, (0.7,)),
    (f_genexp, ([1.0, 2.0, 3.0], [0.5, -1.0, 2.0])),
    (f_listcomp, (1.1,)),
    (f_tuples, (1.3, 0.4)),
    (f_multi_return, (0.8,)),
    (f_enumerate, ([1.0, 2.0, 3.0],)),
    (f_reversed, ([1.0, 2.0, 3.0],)),
    (f_math, (0.7,)),
    (f_builtins, (1.3, 0.4)),
    (f_swap, (1.1, 0.9)),
    (projectile, (0.6, 10.0)),
    (f_for_else, (1.1,)), (f_for_else, (80.0,)),
    (f_zip, ([1.0, 2.0], [3.0, -1.0])),
    (f_power_tower, (1.3,)),
    (f_inplace, (0.9,)),
    (f_setitem, (1.2, 0.7)),
    (f_append_loop, (0.8,)),
    (f_dict, (1.1, -0.6)),
    (f_object, (0.9, 1.3)),
    (f_array_setitem, (0.6,)),
    (f_kwargs_call, (1.3,)),
    (f_nested_comp, (0.7,)),
    (f_while_break_else, (0.5,)), (f_while_break_else, (2.0,)),
    (f_abs_min_max, ([0.5, -1.5, 1.0],)),
    (f_nonlocal_free, (0.9,)),
]

# modes a function cannot run in, and why
TAPE_SKIP = {
    f_array_setitem: "writes a tracked value into a plain NumPy array (operator overloading cannot)",
}
