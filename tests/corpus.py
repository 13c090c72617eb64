"""Shared corpus: small functions covering every construct wengert differentiates
(run through every mode by tests/test_modes.py)."""
# ruff: noqa: FURB163, PLW0120
import math

import numpy as np


def f_arith(x, y):
    a = x * y + x / y - y ** 2
    b = -a + (+x) % 3.0
    return a * b - x // 1.0

def f_if(x):
    if x > 1:
        y = x * x
    elif x > 0:
        y = math.sin(x)
    else:
        y = -x
    return y * 2

def f_while(x, n):
    r = 1.0
    while n > 0:
        n -= 1
        r *= x
    return r

def f_for_range(x):
    s = 0.0
    for i in range(5):
        s = s + x * i
        s = s * 0.9
    return s

def f_break(x):
    s = x
    for i in range(10):
        s = s * 1.1 + x
        if s > 20:
            break
    return s

def f_continue(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s += x * i
    return s

def f_early_return(x):
    for i in range(10):
        x = x * 1.5
        if x > 10:
            return x * 2
    return -x

def f_nested(x):
    s = 0.0
    for i in range(3):
        for j in range(4):
            s = s + x * (i + j) * s * 0.01 + x
    return s

def f_while_else(x):
    i = 0
    while i < 3:  # (the while/else construct is what is tested)
        x = x * 2
        i += 1
    else:
        x = x + 1
    return x

def f_and_or(x):
    a = x > 0 and x * 2
    b = x < 0 or x * 3
    return a + b

def f_ifexp(x):
    return x * x if x > 0 else -x

def f_chain(x):
    return x * 2 if 0 < x < 5 else x

def helper(a, b):
    return a * b + math.exp(a)

def f_call(x):
    return helper(x, 2.0) + helper(3.0, x)

def fact(x, n):
    if n == 0:
        return 1.0
    return x * fact(x, n - 1)

def is_even(x, n):
    if n == 0:
        return x
    return is_odd(x * 1.1, n - 1)

def is_odd(x, n):
    if n == 0:
        return -x
    return is_even(x * x, n - 1)

def f_mutual(x):
    return is_even(x, 5)

def f_defaults(x, y=2.0, *, z=3.0):
    return x * y * z

def f_kwcall(x):
    return f_defaults(x, z=x)

def f_star(*xs):
    s = 0.0
    for v in xs:
        s = s + v * v
    return s

def f_kwargs(x, **kw):
    return x * kw["a"]

def f_closure(x):
    g = lambda y: x * y
    return g(3.0)

def f_nested_def(x):
    def inner(y):
        return x * y + y
    return inner(x) + inner(2.0)

def mymap(f, xs):
    return [f(v) for v in xs]

def fold(f, xs, init):
    acc = init
    for v in xs:
        acc = f(acc, v)
    return acc

def f_hof(x):
    ys = mymap(lambda v: v * x, [1.0, 2.0, 3.0])
    return fold(lambda a, b: a + b * b, ys, 0.0)

def f_genexp(ws, vs):
    return sum(w * v for w, v in zip(ws, vs))

def f_listcomp(x):
    ys = [x * i for i in range(4) if i != 2]
    return sum(ys)

def f_tuples(x, y):
    a, b = y, x
    t = (a * b, a + b)
    p, q = t
    return p * q

def pair(x):
    return x * 2, x * 3

def f_multi_return(x):
    a, b = pair(x)
    return a * b

def f_enumerate(xs):
    s = 0.0
    for i, v in enumerate(xs):
        s += v * i
    return s

def f_reversed(xs):
    s = 0.0
    for v in reversed(xs):
        s = s * 0.5 + v
    return s

def f_math(x):
    return (math.sin(x) + math.cos(x) * math.tan(x) + math.exp(x) + math.log(x) + math.sqrt(x)
            + math.atan2(x, 2.0) + math.hypot(x, 3.0) + math.log(x, 2) + math.pow(x, 1.5) + math.erf(x)
            + math.lgamma(x) + math.tanh(x) + math.floor(x))

def f_builtins(x, y):
    return abs(x - y) + min(x, y) + max(x, y, 0.5) + float(x) + pow(x, 2) + round(y) + sum([x, y])

def f_swap(x, y):
    for i in range(3):
        x, y = y, x * y
    return x + y

def projectile(angle, speed):
    x, y = 0.0, 0.0
    vx, vy = speed * math.cos(angle), speed * math.sin(angle)
    dt = 0.01
    while y >= 0.0:
        v = math.sqrt(vx * vx + vy * vy)
        vx = vx - 0.1 * v * vx * dt
        vy = vy - (9.81 + 0.1 * v * vy) * dt
        x = x + vx * dt
        y = y + vy * dt
    return x

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
