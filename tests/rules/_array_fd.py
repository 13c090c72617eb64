"""Finite-difference checks and Hypothesis strategies for the array rules.

`check_array_rule(fn, *args)` runs `_fd.check_rule` (float64 Richardson
central differences against every registered vjp / rrule / jvp / frule, along
random directions) and adds what array rules owe on top: a cotangent of an
array is an array of exactly its shape (a 0-d array's may be a NumPy scalar; after `unbroadcast`, for broadcasting
rules, as the caller does), a float's is a float, and a non-broadcasting jvp
returns a tangent of exactly the output's structure and shape.

`jax_check(np_fn, jax_fn, *args)` compares the rule's cotangents with
``jax.vjp`` (float64) and is skipped when JAX is not installed.
"""

from __future__ import annotations

import copy

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from _fd import _randn_like, check_rule, is_differentiable, jvp, vjp
from hypothesis import assume, settings
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.runtime.cotangents import unbroadcast

SETTINGS = settings(max_examples=20, deadline=None)


def _check_form(ct, x, what):
    if ct is None:
        return
    if isinstance(x, np.ndarray):
        # NumPy itself turns 0-d results into scalars, so a 0-d array's cotangent may be one
        assert isinstance(ct, np.ndarray) or (x.ndim == 0 and isinstance(ct, (float, np.generic))), \
            f"{what}: cotangent of an array is a {type(ct).__name__}"
        assert np.shape(ct) == x.shape, f"{what}: cotangent shape {ct.shape} for an input of shape {x.shape}"
    elif isinstance(x, np.generic):
        assert np.shape(ct) == (), f"{what}: cotangent of a NumPy scalar has shape {np.shape(ct)}"
    elif isinstance(x, float):
        assert isinstance(ct, float), f"{what}: cotangent of a float is a {type(ct).__name__}"
    elif isinstance(x, (list, tuple)):
        assert type(ct) is type(x) and len(ct) == len(x), f"{what}: cotangent {ct!r} for {x!r}"
        for c, v in zip(ct, x):
            _check_form(c, v, what)
    elif isinstance(x, (bool, int)):
        pytest.fail(f"{what}: an int got cotangent {ct!r}")


def _check_tangent_form(t, y, what):
    if t is None:
        return
    if isinstance(y, (list, tuple)):
        assert isinstance(t, (list, tuple)) and len(t) == len(y), f"{what}: tangent {t!r} for {y!r}"
        for a, b in zip(t, y):
            _check_tangent_form(a, b, what)
    else:
        assert np.shape(t) == np.shape(y), f"{what}: tangent shape {np.shape(t)} for output shape {np.shape(y)}"


def check_array_rule(fn, *args, kwargs=None, wrt=None, seed=0, rtol=1e-6, atol=1e-9, h=None):
    """`check_rule` plus exact cotangent and tangent shapes; returns the output."""
    kwargs = kwargs or {}
    check_rule(fn, *args, kwargs=kwargs, wrt=wrt, seed=seed, rtol=rtol, atol=atol, h=h)
    rule = get_rule(fn)
    y = fn(*copy.deepcopy(args), **kwargs)
    rng = np.random.default_rng(seed + 1)
    g = _randn_like(y, rng)
    for i in wrt if wrt is not None else [i for i, a in enumerate(args) if is_differentiable(a)]:
        ct = vjp(fn, i, g, *copy.deepcopy(args), **kwargs)
        if rule.broadcast:
            ct = unbroadcast(ct, args[i])
        _check_form(ct, args[i], f"{fn!r} arg {i}")
        t = jvp(fn, i, _randn_like(args[i], rng), *copy.deepcopy(args), **kwargs)
        if not rule.broadcast:
            _check_tangent_form(t, y, f"{fn!r} jvp arg {i}")
    return y


# ---- strategies ----


def values(shape, seed, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


@st.composite
def arrays(draw, lo=-2.0, hi=2.0, min_dims=0, max_dims=3, min_side=0, max_side=4, shape=None):
    """A float64 array of a drawn shape (sides <= 4) with values uniform in [lo, hi)."""
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))
    return values(shape, draw(st.integers(0, 2**32 - 1)), lo, hi)


@st.composite
def broadcast_pair(draw, lo=-2.0, hi=2.0, floats=True):
    """Two arrays of mutually broadcastable shapes (0-d, size-1 axes, empty); sometimes Python floats."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4))
    out = []
    for shape in shapes.input_shapes:
        x = values(shape, draw(st.integers(0, 2**32 - 1)), lo, hi)
        out.append(float(x) if floats and shape == () and draw(st.booleans()) else x)
    return tuple(out)


def separated(*xs, gap=1e-2):
    """Assume no two values (within and across ``xs``) are within ``gap``: finite differences
    of a kink (max, abs, clip, sort) need a step smaller than the distance to the kink."""
    flat = np.sort(np.concatenate([np.ravel(x) for x in xs]))
    assume(flat.size < 2 or np.min(np.diff(flat)) > gap)


# ---- JAX as an oracle ----


def jax_check(np_fn, jax_fn, *args, kwargs=None, wrt=None, seed=0):
    """Rule cotangents of ``np_fn`` equal ``jax.vjp(jax_fn)``'s, at float64."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    kwargs = kwargs or {}
    rule = get_rule(np_fn)
    y = np_fn(*args, **kwargs)
    g = _randn_like(y, np.random.default_rng(seed))
    wrt = wrt if wrt is not None else [i for i, a in enumerate(args) if is_differentiable(a)]

    def partial(*diff):
        full = list(args)
        for i, d in zip(wrt, diff):
            full[i] = d
        return jax_fn(*full, **kwargs)

    y_jax, back = jax.vjp(partial, *[args[i] for i in wrt])
    np.testing.assert_allclose(np.asarray(jax.tree_util.tree_leaves(y_jax)[0]),
                               np.asarray(jax.tree_util.tree_leaves(y)[0]), rtol=1e-10, atol=1e-12)
    g_jax = jax.tree_util.tree_map(np.asarray, type(y_jax)(*g) if isinstance(y, tuple) else g)
    expected = back(g_jax)
    for i, e in zip(wrt, expected):
        ct = vjp(np_fn, i, g, *args, **kwargs)
        if rule.broadcast:
            ct = unbroadcast(ct, args[i])
        np.testing.assert_allclose(np.asarray(ct), np.asarray(e), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{np_fn!r} arg {i} against JAX")
