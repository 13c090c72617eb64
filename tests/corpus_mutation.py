import math
import numpy as np
from dataclasses import dataclass

def m_append(x):
    L = []
    for i in range(4):
        L.append(x * i)
    return sum(L)

def m_setitem(x, y):
    L = [0.0, 0.0, 0.0]
    L[0] = x
    a = L[0] * y
    L[0] = y * y
    L[1] += x
    return a + L[0] + L[1]

def m_alias(x):
    L = [1.0, 2.0]
    M = L
    M[0] = x * 3
    return L[0] * L[1]

def m_dict(x, y):
    d = {"a": x}
    d["b"] = y * 2
    d["a"] = d["a"] * d["b"]
    d.update({"c": x})
    return d["a"] + d["c"] + d.get("b")

class P:
    def __init__(self, x, v):
        self.x = x
        self.v = v

def m_obj(x, v):
    p = P(x, v)
    for i in range(3):
        p.x = p.x + p.v * 0.1
        p.v = p.v - p.x * 0.1
    return p.x * p.v

def m_nested(x):
    d = {"xs": [x, 2.0]}
    d["xs"][0] = x * x
    inner = d["xs"]
    inner.append(x)
    return sum(d["xs"])

def m_pop(x, y):
    L = [x, y, x * y]
    z = L.pop()
    w = L.pop(0)
    return z * w + L[0]

def m_array(x):
    a = np.zeros(4)
    for i in range(4):
        a[i] = x * i
    a[1:3] += x
    return np.sum(a * a)

def heat(u0, k):
    u = u0.copy()
    for step in range(5):
        u[1:-1] = u[1:-1] + k * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u ** 2)

def m_inplace(x):
    a = np.ones(3) * x
    b = a
    a *= 2.0
    return np.sum(b * x)

def scale(L, s):
    for i in range(len(L)):
        L[i] = L[i] * s

def m_callee_mutates(x):
    L = [x, 1.0]
    scale(L, x)
    return L[0] + L[1]

def m_list_param(xs):
    xs = list(xs)
    xs[0] = xs[0] * 2
    return xs[0] + xs[1]

def m_sort(x, y):
    L = [y, x * 2, 1.0]
    L.sort()
    return L[0] * 1 + L[1] * 10 + L[2] * 100

def memo_fib(x, n, memo):
    if n in memo:
        return memo[n]
    if n < 2:
        r = x
    else:
        r = memo_fib(x, n - 1, memo) + memo_fib(x, n - 2, memo) * 0.5
    memo[n] = r
    return r

def m_memo(x):
    return memo_fib(x, 8, {})

@dataclass
class Particle:
    x: float
    v: float

def m_particles(x):
    ps = [Particle(x, 1.0), Particle(2.0, x)]
    for step in range(3):
        for p in ps:
            p.v = p.v - 0.1 * p.x
            p.x = p.x + 0.1 * p.v
    return sum(p.x * p.v for p in ps)

class Base:
    def __init__(self, w):
        self.w = w
    def f(self, x):
        return self.w * x
    @property
    def w2(self):
        return self.w * self.w
    @staticmethod
    def sq(x):
        return x * x
    @classmethod
    def make(cls, w):
        return cls(w)

class Child(Base):
    def __init__(self, w, b):
        super().__init__(w)
        self.b = b
    def f(self, x):
        return super().f(x) + self.b

def m_classes(w, x):
    c = Child.make(w) if False else Child(w, 0.5)
    return c.f(x) + c.w2 + c.sq(x) + Base.sq(w)

class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y
    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)
    def __mul__(self, s):
        return Vec(self.x * s, self.y * s)
    def __rmul__(self, s):
        return Vec(self.x * s, self.y)
    def __matmul__(self, o):
        return self.x * o.x + self.y * o.y
    def __getitem__(self, i):
        return self.x if i == 0 else self.y
    def __call__(self, t):
        return self.x * t + self.y

def m_vec(a, b):
    u = Vec(a, b)
    v = u * 2.0 + Vec(b, a)
    w = 3.0 * v
    return (w @ u) + w[1] + u(a)

def m_star(x):
    a, *rest, z = [x, 2.0, x * x, 3.0]
    d = {k: v * x for k, v in zip("ab", rest)}
    return a * z + sum(rest) + d["a"] * d["b"]
