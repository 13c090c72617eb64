"""Iterating over user objects and ``collections.deque`` (issue 10).

A user object that defines ``__iter__`` (a generator method, or one returning an
iterator) or only ``__getitem__`` is iterated as Python does; the cotangents of its
items go back to its fields by replaying the iteration as differentiated code
(`wengert.runtime.cotangents.object_items_grad`). ``collections.deque`` is differentiated
through a Python stand-in (`wengert.frontend.stdlib.deque_`). Every gradient is checked
against float64 central differences with respect to subsets of the arguments.
"""

from __future__ import annotations

import collections
from collections import deque

import pytest

import wengert
from wengert.transforms.forward import jvp


def central(f, args, i, eps=1e-6):
    hi = list(args)
    lo = list(args)
    hi[i] += eps
    lo[i] -= eps
    return (f(*hi) - f(*lo)) / (2 * eps)


def check(f, args, argnums):
    got = wengert.grad(f, argnums=argnums)(*args)
    if isinstance(argnums, int):
        got, argnums = (got,), (argnums,)
    for g, i in zip(got, argnums):
        assert g == pytest.approx(central(f, args, i), rel=1e-6, abs=1e-8), (f.__name__, i)


ARGS = (1.5, -0.7, 0.4)
SUBSETS = [(0, 1, 2), (0,), (1, 2), 2]


# ---- collections.deque ----


def deque_basic(x, y, z):
    d = collections.deque()
    d.append(x)
    d.appendleft(y)
    d.append(x * z)
    s = 0.0
    for v in d:
        s = s + v * v
    return s + d[0] * d[-1] + len(d) * d[1]


def deque_pops(x, y, z):
    d = deque([x, y, z])
    a = d.pop()
    b = d.popleft()
    d.extend([a * b, b])
    d.appendleft(z * z)
    return a * b + d[0] * d[1] + d[-1] * d[2] + d.pop() ** 2


def deque_sliding_window(x, y, z):
    window = deque(maxlen=2)
    total = 0.0
    for v in [x, y, z, x * y]:
        window.append(v)
        total = total + sum(window) * v
    return total + window[0]


def deque_queue(x, y, z):
    q = deque([x])
    out = 0.0
    k = 0
    while q and k < 6:
        v = q.popleft()
        out = out + v * (k + 1)
        if k < 3:
            q.append(v * y)
            q.append(v + z)
        k += 1
    return out


def deque_misc(x, y, z):
    d = deque([x, y])
    d.extendleft([z, x * y])  # [x*y, z, x, y]
    d.rotate(1)               # [y, x*y, z, x]
    d[2] = d[2] * 3.0
    first, *rest = d
    r = list(reversed(d))
    return first * r[0] + sum(rest) + sum(v * v for v in d) + (2.0 if x in d else 0.0)


@pytest.mark.parametrize("f", [deque_basic, deque_pops, deque_sliding_window, deque_queue, deque_misc])
@pytest.mark.parametrize("argnums", SUBSETS)
def test_deque(f, argnums):
    check(f, ARGS, argnums)


def test_deque_behaves_like_a_deque():
    def f(x):
        d = deque([1.0, 2.0, x], maxlen=3)
        d.append(4.0)
        return d

    d = f(0.5)
    assert list(d) == [2.0, 0.5, 4.0] and len(d) == 3 and d.maxlen == 3
    assert repr(d) == "deque([2.0, 0.5, 4.0], maxlen=3)"
    assert d == collections.deque([2.0, 0.5, 4.0])


# ---- user objects that define __iter__ or __getitem__ ----


class Bag:
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)


class Scaled:
    def __init__(self, items, scale):
        self.items = items
        self.scale = scale

    def __iter__(self):
        for v in self.items:
            yield v * self.scale


class Seq:  # the old sequence protocol: __getitem__ until IndexError
    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]


class Walker:  # __iter__ returns a fresh iterator object of another class
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return WalkerIter(self.items)


class WalkerIter:
    def __init__(self, items):
        self.items = items
        self.i = 0

    def __next__(self):
        if self.i >= len(self.items):
            raise StopIteration
        v = self.items[self.i]
        self.i += 1
        return v


def loop_bag(x, y, z):
    s = 0.0
    for v in Bag([x, y, x * z]):
        s = s + v * v
    return s


def builtins_over_bag(x, y, z):
    b = Bag([x, y * z, z])
    p, q, r = b
    return sum(b) * p + sum(list(b)) + max(b) + sum(i * v for i, v in enumerate(b)) + q * r


def generator_iter(x, y, z):
    s = 0.0
    for v in Scaled([x, y], z):
        s = s + v * v * v
    return s + sum(Scaled([x * y], z))


def sequence_protocol(x, y, z):
    s = 0.0
    for v in Seq([x, y, z]):
        s = s + v * x
    return s


def iterator_object(x, y, z):
    s = 0.0
    for v in Walker([x, y, z * z]):
        s = s + v * y
    return s


def mutated_after_iteration(x, y, z):
    b = Bag([x, y])
    s = 0.0
    for v in b:
        s = s + v * v
    b.items[0] = z * 2.0  # the replay must see the items as the first loop did
    b.items = [b.items[0], b.items[1], x]
    for v in b:
        s = s + v * z
    return s


@pytest.mark.parametrize("f", [loop_bag, builtins_over_bag, generator_iter, sequence_protocol,
                               iterator_object, mutated_after_iteration])
@pytest.mark.parametrize("argnums", SUBSETS)
def test_user_object_iteration(f, argnums):
    check(f, ARGS, argnums)


def generator_loop(x, y, z):
    s = 0.0
    for v in Scaled([x, y * x], z):
        s = s + v * v * v
    return s


# forward mode covers for loops over such objects; list(obj), sum(obj), unpacking and the other
# builtins' forward rules do not handle an object's tangent yet (they raise TypeError)
@pytest.mark.parametrize("f", [loop_bag, generator_loop, sequence_protocol])
def test_user_object_for_loop_forward_mode(f):
    for k in range(3):
        t = [0.0, 0.0, 0.0]
        t[k] = 1.0
        y, dy = jvp(f, ARGS, tuple(t))
        assert y == pytest.approx(f(*ARGS))
        assert dy == pytest.approx(central(f, ARGS, k), rel=1e-6, abs=1e-8)


class Countdown:  # an iterator: iterating it changes it, so it cannot be replayed
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return self

    def __next__(self):
        if not self.items:
            raise StopIteration
        return self.items.pop()


def test_iterator_object_is_refused_by_name():
    def f(x, y):
        s = 0.0
        for v in Countdown([x, y]):
            s = s + v * v
        return s

    with pytest.raises(wengert.UnsupportedError, match="Countdown, an iterator"):
        wengert.grad(f, argnums=(0, 1))(1.5, 2.0)
