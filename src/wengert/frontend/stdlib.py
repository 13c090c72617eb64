"""Python source for the standard library's higher-order callables.

``map``, ``filter``, ``functools.reduce``, ``functools.partial``, ``itertools.product``,
``islice``, ``chain``, ``accumulate``, ``starmap`` and ``collections.deque`` take functions or
iterables and are written in C: no rule can differentiate the function they are handed
(rules never call the compiler). So the frontend calls these plain-Python versions instead
(`PYTHON_VERSIONS`, looked up by the callee it resolved), and `transform.pullback_of` does
the same for a callee known only at run time. wengert differentiates them from their source,
like user code, so a lambda handed to ``map`` is differentiated with whatever it captures.

The stated limit: they are eager. Where Python returns an iterator, these return a list
(iterating it, ``len``, ``sum``, ``list``, indexing all behave the same; ``next()`` on it does
not), and they consume their input when called. ``islice`` stops reading at ``stop``, so it
takes the first items of an infinite iterator as Python's does. ``collections.deque`` becomes
`deque_`, a class over a list (not a ``collections.deque``: ``isinstance`` tells them apart).
`object_items_` is the iteration of a user object by its ``__iter__`` (or ``__getitem__``),
replayed by `wengert.runtime.cotangents.object_items_grad` to send its items' cotangents to its fields.
"""

from __future__ import annotations

import collections
import functools
import itertools


def update_with_keywords_(d, m, kw):
    """``d.update(m, **kw)`` (``m`` None when not given): for a dict, two updates whose values
    get their cotangents like any item's; anything else gets its own ``update``."""
    if type(d) is dict:
        if m is not None:
            d.update(m)
        d.update(kw)
    elif m is None:
        d.update(**kw)
    else:
        d.update(m, **kw)


def map_(function, iterable, *iterables):
    if iterables:
        return [function(*args) for args in zip(iterable, *iterables)]
    return [function(x) for x in iterable]


def filter_(function, iterable):
    if function is None:
        return [x for x in iterable if x]
    return [x for x in iterable if function(x)]


def reduce_(function, iterable, *initial):
    items = list(iterable)
    if initial:
        acc = initial[0]
        rest = items
    else:
        if not items:
            raise TypeError("reduce() of empty iterable with no initial value")
        acc = items[0]
        rest = items[1:]
    for x in rest:
        acc = function(acc, x)
    return acc


def partial_(func, *args, **keywords):
    def partial_call(*more, **kw):
        return func(*args, *more, **keywords, **kw)

    return partial_call


def product_(*iterables, repeat=1):
    base = [tuple(p) for p in iterables]
    result = [()]
    for _ in range(repeat):
        for pool in base:
            result = [r + (v,) for r in result for v in pool]
    return result


def islice_(iterable, *args):
    s = slice(*args)
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    stop = s.stop
    out = []
    if stop is not None and stop <= 0:
        return out
    i = 0
    for x in iterable:
        if i >= start and (i - start) % step == 0:
            out.append(x)
        i = i + 1
        if stop is not None and i >= stop:
            break
    return out


def chain_(*iterables):
    out = []
    for it in iterables:
        for x in it:
            out.append(x)
    return out


def chain_from_iterable_(iterables):
    out = []
    for it in iterables:
        for x in it:
            out.append(x)
    return out


def accumulate_(iterable, func=None, *, initial=None):
    out = []
    total = initial
    started = initial is not None
    if started:
        out.append(total)
    for x in iterable:
        if not started:
            total = x
            started = True
        elif func is None:
            total = total + x
        else:
            total = func(total, x)
        out.append(total)
    return out


def starmap_(function, iterable):
    return [function(*args) for args in iterable]


class deque_:
    """``collections.deque`` over a list, so that the values it holds carry their derivatives:
    its methods are differentiated from this source like a user class's (the list operations
    they use are logged mutations). The stated limit: it is not a ``collections.deque``
    (``isinstance(d, collections.deque)`` is false), and operations run in O(n) at the left end."""

    def __init__(self, iterable=(), maxlen=None):
        if maxlen is not None and maxlen < 0:
            raise ValueError("maxlen must be non-negative")
        self.maxlen = maxlen
        items = list(iterable)
        if maxlen is not None and len(items) > maxlen:
            items = items[len(items) - maxlen:]
        self._items = items

    def append(self, x):
        self._items.append(x)
        if self.maxlen is not None and len(self._items) > self.maxlen:
            self._items.pop(0)

    def appendleft(self, x):
        self._items.insert(0, x)
        if self.maxlen is not None and len(self._items) > self.maxlen:
            self._items.pop()

    def pop(self):
        if not self._items:
            raise IndexError("pop from an empty deque")
        return self._items.pop()

    def popleft(self):
        if not self._items:
            raise IndexError("pop from an empty deque")
        return self._items.pop(0)

    def extend(self, iterable):
        for x in list(iterable):
            self.append(x)

    def extendleft(self, iterable):
        for x in list(iterable):
            self.appendleft(x)

    def insert(self, i, x):
        if self.maxlen is not None and len(self._items) >= self.maxlen:
            raise IndexError("deque already at its maximum size")
        self._items.insert(i, x)

    def remove(self, value):
        self._items.remove(value)

    def clear(self):
        self._items.clear()

    def copy(self):
        return deque_(self._items, self.maxlen)

    def count(self, value):
        return self._items.count(value)

    def index(self, value, *bounds):
        return self._items.index(value, *bounds)

    def reverse(self):
        self._items.reverse()

    def rotate(self, n=1):
        k = len(self._items)
        if k:
            n = n % k
            self._items = self._items[k - n:] + self._items[:k - n]

    def __len__(self):
        return len(self._items)

    def __bool__(self):
        return len(self._items) > 0

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("sequence index must be integer, not 'slice'")
        return self._items[i]

    def __setitem__(self, i, x):
        self._items[i] = x

    def __iter__(self):
        return iter(self._items)

    def __reversed__(self):
        return reversed(self._items)

    def __contains__(self, x):
        return x in self._items

    def __eq__(self, other):
        import collections

        return isinstance(other, (deque_, collections.deque)) and list(self) == list(other)

    def __iadd__(self, other):
        self.extend(other)
        return self

    def __repr__(self):
        if self.maxlen is None:
            return f"deque({self._items!r})"
        return f"deque({self._items!r}, maxlen={self.maxlen})"


def _python_next(it) -> bool:
    """Whether ``it`` is an iterator of a class written in Python (its ``__next__`` has source)."""
    import types

    return isinstance(getattr(type(it), "__next__", None), types.FunctionType)


def object_items_(obj):
    """The items of a user object, by its own ``__iter__`` (or the ``__getitem__`` protocol):
    differentiated to send the cotangents of a plain iteration's items back to the object's
    fields (`wengert.runtime.cotangents.object_items_grad`)."""
    cls = type(obj)
    if hasattr(cls, "__iter__"):
        it = cls.__iter__(obj)
        if not _python_next(it):
            return [v for v in it]  # a list, a generator method's items (see the module docstring), iter(...)
        out = []
        nxt = type(it).__next__
        while True:
            try:
                v = nxt(it)
            except StopIteration:
                break
            out.append(v)
        return out
    out = []
    i = 0
    while True:
        try:
            v = cls.__getitem__(obj, i)
        except IndexError:
            break
        out.append(v)
        i = i + 1
    return out


PYTHON_VERSIONS = {
    map: map_,
    filter: filter_,
    functools.reduce: reduce_,
    functools.partial: partial_,
    itertools.product: product_,
    itertools.islice: islice_,
    itertools.chain: chain_,
    itertools.chain.from_iterable: chain_from_iterable_,
    itertools.accumulate: accumulate_,
    itertools.starmap: starmap_,
    collections.deque: deque_,
}


def python_version(fn):
    """The plain-Python stand-in of ``fn`` (above), or None."""
    try:
        return PYTHON_VERSIONS.get(fn)
    except TypeError:  # unhashable callables
        return None

