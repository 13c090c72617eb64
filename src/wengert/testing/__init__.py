"""Checking gradients against float64 central finite differences.

>>> import math
>>> check_grads(lambda x, y: x * math.sin(y), 1.5, 0.3)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["check_grads", "numerical_grad"]


def _leaves(x, path=()):
    """(path, value) for every float / float array inside nested lists, tuples, dicts."""
    if isinstance(x, bool) or isinstance(x, int):
        return
    if isinstance(x, float) or isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        yield path, x
    elif isinstance(x, (list, tuple)):
        for i, e in enumerate(x):
            yield from _leaves(e, path + (i,))
    elif isinstance(x, dict):
        for k, e in x.items():
            yield from _leaves(e, path + (k,))


def _replace(x, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(x, list):
        out = list(x)
        out[head] = _replace(x[head], rest, value)
        return out
    if isinstance(x, tuple):
        out = list(x)
        out[head] = _replace(x[head], rest, value)
        return type(x)(*out) if hasattr(x, "_fields") else tuple(out)
    if isinstance(x, dict):
        out = dict(x)
        out[head] = _replace(x[head], rest, value)
        return out
    raise TypeError(type(x))


def _get(x, path):
    for p in path:
        if x is None:
            return None
        if isinstance(x, dict):
            x = x.get(p)
        elif hasattr(x, "_fields") and not isinstance(p, int):
            x = getattr(x, p)
        else:
            x = x[p]
    return x


def _scalar(y) -> float:
    y = np.asarray(y, dtype=float)
    if y.shape != ():
        raise TypeError("check_grads needs a scalar-valued function")
    return float(y)


def numerical_grad(f: Callable, args: tuple, i: int, eps: float = 1e-6):
    """Central-difference gradient of scalar ``f`` w.r.t. argument ``i``, shaped like it."""
    arg = args[i]
    grads = {}
    for path, leaf in _leaves(arg):
        if isinstance(leaf, float):
            h = eps * max(1.0, abs(leaf))
            up = _scalar(f(*args[:i], _replace(arg, path, leaf + h), *args[i + 1:]))
            dn = _scalar(f(*args[:i], _replace(arg, path, leaf - h), *args[i + 1:]))
            grads[path] = (up - dn) / (2 * h)
        else:
            g = np.zeros_like(leaf, dtype=float)
            for idx in np.ndindex(leaf.shape):
                h = eps * max(1.0, abs(leaf[idx]))
                p = leaf.copy()
                p[idx] += h
                up = _scalar(f(*args[:i], _replace(arg, path, p), *args[i + 1:]))
                p[idx] -= 2 * h
                dn = _scalar(f(*args[:i], _replace(arg, path, p), *args[i + 1:]))
                g[idx] = (up - dn) / (2 * h)
            grads[path] = g
    return grads


def check_grads(f: Callable, *args, modes=("source", "tape"), rtol: float = 1e-5, atol: float = 1e-6,
                eps: float = 1e-6) -> None:
    """Assert that ``f``'s gradients in every mode match central finite differences.

    Checks every float (and float array) inside every argument, including
    floats inside lists, tuples and dicts. Raises AssertionError naming the
    mode, argument and position on a mismatch.
    """
    from wengert.api import gradient

    results = {}
    for mode in modes:
        if mode == "source":
            results[mode] = gradient(f, *args)
        elif mode == "tape":
            from wengert.overload.tape import tape_pullback

            y, back = tape_pullback(f, *args)
            results[mode] = back(1.0)[1:]
        else:
            raise ValueError(mode)
    name = getattr(f, "__name__", repr(f))
    for i in range(len(args)):
        num = numerical_grad(f, args, i, eps)
        for mode, grads in results.items():
            gi = grads[i]
            for path, expected in num.items():
                got = _get(gi, path)
                if got is None:
                    got = np.zeros_like(expected) if isinstance(expected, np.ndarray) else 0.0
                got = np.asarray(got, dtype=float)
                if got.shape != np.shape(expected):
                    raise AssertionError(f"{name}: {mode} gradient of argument {i} at {path} has shape "
                                         f"{got.shape}, expected {np.shape(expected)}")
                if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
                    raise AssertionError(f"{name}: {mode} gradient of argument {i} at {path} is {got}, "
                                         f"finite differences give {expected}")


_ = math
