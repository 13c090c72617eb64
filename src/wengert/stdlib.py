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
takes the first items of an infinite iterator as Python's does.
"""

from __future__ import annotations

import functools
import itertools


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
}


def python_version(fn):
    """The plain-Python stand-in of ``fn`` (above), or None."""
    try:
        return PYTHON_VERSIONS.get(fn)
    except TypeError:  # unhashable callables
        return None

