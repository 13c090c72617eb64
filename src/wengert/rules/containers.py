"""Rules for the builtins that build and reorder sequences: zip, enumerate, reversed, list, tuple, sorted.

These return iterators in Python; their rules return lists (the for loop
over them behaves the same) so that the cotangent of each item can be sent
back to the sequence it came from. Cotangents of sequences follow the
sequence's type: list for list, tuple for tuple, array for array, ``None``
for items that got no gradient.
"""

from __future__ import annotations

from wengert.rules.table import defjvp, defvjp, frule, nondiff, rrule
from wengert.rules.support import iter_grad


def _like(bars: list, ref):
    """``bars`` as the cotangent of sequence ``ref`` (``None`` when all are ``None``)."""
    if isinstance(ref, range) or isinstance(ref, str):
        return None
    try:
        n = len(ref)
    except TypeError:
        n = len(bars)
    bars = list(bars) + [None] * (n - len(bars))
    return iter_grad(ref, bars)


# ---- zip, enumerate, reversed ----

@rrule(zip)
def zip_rrule(*xs, **kw):
    y = list(zip(*xs, **kw))

    def zip_pullback(g):
        if g is None:
            return (None,) * len(xs)
        return tuple(_like([None if t is None else t[k] for t in g], x) for k, x in enumerate(xs))

    return y, zip_pullback


@frule(zip)
def zip_frule(tangents, *xs, **kw):
    y = list(zip(*xs, **kw))
    if all(t is None for t in tangents):
        return y, None
    cols = [t if t is not None else [None] * len(x) for t, x in zip(tangents, xs)]
    return y, [tuple(c[i] for c in cols) for i in range(len(y))]


@rrule(enumerate)
def enumerate_rrule(xs, start=0):
    y = list(enumerate(xs, start))

    def enumerate_pullback(g):
        if g is None:
            return (None, None)
        return (_like([None if t is None else t[1] for t in g], xs), None)

    return y, enumerate_pullback


@frule(enumerate)
def enumerate_frule(tangents, xs, start=0):
    y = list(enumerate(xs, start))
    t = tangents[0]
    return y, None if t is None else [(None, ti) for ti in t]


@rrule(reversed)
def reversed_rrule(xs):
    y = list(reversed(xs))

    def reversed_pullback(g):
        return (None if g is None else _like(list(reversed(list(g))), xs),)

    return y, reversed_pullback


@frule(reversed)
def reversed_frule(tangents, xs):
    t = tangents[0]
    return list(reversed(xs)), None if t is None else list(reversed(list(t)))


@rrule(iter)
def iter_rrule(xs, *sentinel):
    y = iter(xs, *sentinel)

    def iter_pullback(g):
        if g is None:
            return (None,) * (1 + len(sentinel))
        if sentinel:
            from wengert.errors import UnsupportedError

            raise UnsupportedError("iter(callable, sentinel) whose items carry a derivative; loop calling "
                                   "the callable instead (while True: v = f(); if v == sentinel: break)")
        return (_like(list(g), xs),)

    return y, iter_pullback


@frule(iter)
def iter_frule(tangents, xs, *sentinel):
    t = tangents[0]
    return iter(xs, *sentinel), None if t is None else iter(list(t))


# ---- list, tuple, sorted ----

@rrule(list)
def list_rrule(xs=()):
    y = list(xs)

    def list_pullback(g):
        return (None if g is None else _like(list(g), xs),)

    return y, list_pullback


@frule(list)
def list_frule(tangents, xs=()):
    t = tangents[0] if tangents else None
    return list(xs), None if t is None else list(t)


@rrule(tuple)
def tuple_rrule(xs=()):
    y = tuple(xs)

    def tuple_pullback(g):
        return (None if g is None else _like(list(g), xs),)

    return y, tuple_pullback


@frule(tuple)
def tuple_frule(tangents, xs=()):
    t = tangents[0] if tangents else None
    return tuple(xs), None if t is None else tuple(t)


@rrule(sorted)
def sorted_rrule(xs, key=None, reverse=False):
    items = list(xs)
    order = sorted(range(len(items)), key=(lambda i: key(items[i])) if key else (lambda i: items[i]),
                   reverse=reverse)
    y = [items[i] for i in order]

    def sorted_pullback(g):
        if g is None:
            return (None,)
        bars = [None] * len(items)
        for gi, i in zip(g, order):
            bars[i] = gi
        return (_like(bars, xs),)

    return y, sorted_pullback


@frule(sorted)
def sorted_frule(tangents, xs, key=None, reverse=False):
    items = list(xs)
    order = sorted(range(len(items)), key=(lambda i: key(items[i])) if key else (lambda i: items[i]),
                   reverse=reverse)
    t = tangents[0]
    return [items[i] for i in order], None if t is None else [list(t)[i] for i in order]


# ---- dict and list methods that read ----

def _get_d(g, y, d, k, default=None):
    return {k: g} if k in d else None


def _get_default(g, y, d, k, default=None):
    return None if k in d else g


defvjp(dict.get, _get_d, None, _get_default)
defjvp(dict.get, lambda t, y, d, k, default=None: t.get(k) if isinstance(t, dict) else None, None,
       lambda t, y, d, k, default=None: None if k in d else t)
defvjp(dict.__getitem__, lambda g, y, d, k: {k: g}, None)
defjvp(dict.__getitem__, lambda t, y, d, k: t.get(k) if isinstance(t, dict) else None, None)


@rrule(dict.items)
def items_rrule(d):
    keys = list(d)
    y = list(d.items())

    def items_pullback(g):
        if g is None:
            return (None,)
        return ({k: t[1] for k, t in zip(keys, g) if t is not None},)

    return y, items_pullback


@frule(dict.items)
def items_frule(tangents, d):
    t = tangents[0]
    return list(d.items()), None if t is None else [(None, t.get(k)) for k in d]


@rrule(dict.values)
def values_rrule(d):
    keys = list(d)

    def values_pullback(g):
        return (None if g is None else {k: gi for k, gi in zip(keys, g) if gi is not None},)

    return list(d.values()), values_pullback


@frule(dict.values)
def values_frule(tangents, d):
    t = tangents[0]
    return list(d.values()), None if t is None else [t.get(k) for k in d]


for _copy in (dict.copy, list.copy):
    defvjp(_copy, lambda g, y, x: g)
    defjvp(_copy, lambda t, y, x: t)

nondiff(dict.keys, list.index, list.count, dict.__contains__, list.__contains__, list.__len__, dict.__len__)


# ---- super() ----

defvjp(super, None, lambda g, y, cls, obj: g)
defjvp(super, None, lambda t, y, cls, obj: t)


# ---- dict(mapping), and the merging of ** arguments in calls ----

def _dict_part(g, keys):
    """The cotangent of the entries ``keys`` of a dict whose cotangent is ``g``."""
    if g is None:
        return None
    out = {k: g.get(k) for k in keys}
    return out if any(v is not None for v in out.values()) else None


@rrule(dict)
def dict_rrule(mapping=()):
    y = dict(mapping)

    def dict_pullback(g):
        if not hasattr(mapping, "keys"):
            # pairs: each pair's value gets the entry's cotangent
            return (None if g is None else iter_grad(mapping, [
                None if g.get(k) is None else (None, g.get(k)) for k, _ in mapping]),)
        return (_dict_part(g, mapping.keys()),)

    return y, dict_pullback


@frule(dict)
def dict_frule(tangents, mapping=()):
    t = tangents[0] if tangents else None
    if t is None:
        return dict(mapping), None
    if not hasattr(mapping, "keys"):
        return dict(mapping), {k: (tk[1] if tk is not None else None) for (k, _), tk in zip(mapping, t)}
    return dict(mapping), dict(t)


def _merge(a: dict, b: dict) -> dict:
    """``{**a, **b}``: what a call's ``**`` arguments become (the frontend calls this)."""
    out = dict(a)
    out.update(b)
    return out


@rrule(_merge)
def merge_rrule(a, b):
    y = _merge(a, b)

    def merge_pullback(g):
        return _dict_part(g, [k for k in a if k not in b]), _dict_part(g, b.keys())

    return y, merge_pullback


@frule(_merge)
def merge_frule(tangents, a, b):
    ta, tb = tangents
    if ta is None and tb is None:
        return _merge(a, b), None
    out = {k: None for k in _merge(a, b)}
    for src, t in ((a, ta), (b, tb)):
        if t is not None:
            for k in src:
                out[k] = t.get(k)
    return _merge(a, b), out

# ---- copies: the cotangent of a copy is the cotangent of what was copied ----

def _copy_rules():
    import copy

    import numpy as np

    for fn in (copy.copy, copy.deepcopy, np.ndarray.__copy__, np.ndarray.__deepcopy__):
        defvjp(fn, lambda g, y, x, *memo: g)
        defjvp(fn, lambda t, y, x, *memo: t)


_copy_rules()
