"""A plain NumPy stand-in for autograd.misc.flatten: nested lists, tuples and dicts of arrays to one vector.

Differentiated by wengert where the examples call it inside their objectives (l2 norms, priors).
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import numpy as np


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _leaves(value[key])]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def flatten(value):
    """(vector, unflatten): every array in `value` raveled and concatenated, and the inverse."""
    leaves = _leaves(value)
    vector = np.concatenate([np.ravel(leaf) for leaf in leaves])

    def unflatten(v):
        return _rebuild(value, v, 0)[0]

    return vector, unflatten


def _rebuild(value, v, start):
    """(the part of `value` rebuilt from v[start:], where the next part starts)"""
    if isinstance(value, dict):
        out = {}
        for key in sorted(value):
            out[key], start = _rebuild(value[key], v, start)
        return {key: out[key] for key in value}, start
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            part, start = _rebuild(item, v, start)
            items.append(part)
        return type(value)(items), start
    size = np.size(value)
    return np.reshape(v[start : start + size], np.shape(value)), start + size

def flatten_func(func, example):
    """autograd.misc.flatten.flatten_func: `func` of a nested structure as a function of one vector."""
    _ex, unflatten = flatten(example)
    _func = lambda _x, *args: func(unflatten(_x), *args)
    return _func, unflatten, _ex
