"""Rules for NumPy functions that only move, copy, drop or zero-fill elements.

``np.append``, ``np.insert``, ``np.delete``, ``np.tril``, ``np.choose``,
``np.block``, ``np.meshgrid``, ... are linear, and each output element is either
a copy of one input element or a constant. Rather than one hand-written
transpose per function, `gather` registers a rule that runs the function once
more on *labels*: each differentiable input element gets its own positive
integer, constants get 0, and the function moves the labels exactly as it moved
the values. The cotangent of input element ``k`` is then the sum of the output
cotangents at the places labelled ``k`` (``np.bincount``), which also handles
broadcasting and repeated copies; the tangent is the function applied to the
input tangents (zeros for inputs without one).

The labelled call needs the function to accept integer arrays wherever it
accepts values, and never to compute with them (no arithmetic, no sorting by
value): functions that do (``trim_zeros`` reads its values to decide what to
cut) get their own rules.
"""

from __future__ import annotations

import math

import numpy as np

from wengert.rules.numpy_shape import is_float, match, reshape_back
from wengert.rules.table import frule, nondiff, rrule

# ---- labels ----


def _label(x, start):
    """``(labels, next_start)``: ``x`` with each float element replaced by its own int from ``start``."""
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            lab, start = _label(v, start)
            out.append(lab)
        return (out if isinstance(x, list) else tuple(out)), start
    shape = np.shape(x)
    if not is_float(x):  # ints and int arrays carry no gradient: label them "constant"
        return np.zeros(shape, dtype=np.int64), start
    size = math.prod(shape)
    return np.arange(start, start + size, dtype=np.int64).reshape(shape), start + size


def _unlabel(total, x, start):
    """``(cotangent of x, next_start)``, read from the per-label sums ``total``."""
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            ct, start = _unlabel(total, v, start)
            out.append(ct)
        return (out if isinstance(x, list) else tuple(out)), start
    if not is_float(x):
        return None, start
    shape = np.shape(x)
    size = math.prod(shape)
    return match(total[start:start + size].reshape(shape), x), start + size


def _pairs(labels, g):
    """``(labels, cotangent)`` pairs of matching output leaves, skipping ``None`` cotangents."""
    if g is None:
        return []
    if isinstance(labels, (list, tuple)):
        return [p for lab, gi in zip(labels, g) for p in _pairs(lab, gi)]
    return [(np.asarray(labels), g)]


def _sum_by_label(pairs, n):
    total = np.zeros(n)
    for lab, g in pairs:
        g = np.broadcast_to(g, lab.shape)
        if np.iscomplexobj(g):
            total = total + np.bincount(lab.ravel(), weights=np.real(g).ravel(), minlength=n) \
                + 1j * np.bincount(lab.ravel(), weights=np.imag(g).ravel(), minlength=n)
        else:
            total = total + np.bincount(lab.ravel(), weights=np.ravel(g), minlength=n)
    return total


def _zeros_for(t, x):
    """Tangent structure of ``x`` with zeros where ``t`` is ``None`` (or ``x`` is an int)."""
    if isinstance(x, (list, tuple)):
        ts = t if t is not None else [None] * len(x)
        out = [_zeros_for(ti, xi) for ti, xi in zip(ts, x)]
        return out if isinstance(x, list) else tuple(out)
    if t is None or not is_float(x):
        return np.zeros(np.shape(x))
    return t


def _any_float(x):
    if isinstance(x, (list, tuple)):
        return any(_any_float(v) for v in x)
    return is_float(x)


def gather(fn, *data):
    """Register reverse and forward rules for ``fn``, which only moves the elements of its
    positional arguments ``data`` (all positional arguments when none are named).

    >>> import numpy as np
    >>> gather(np.tril, 0) is np.tril
    True
    """

    def positions(args):
        return [i for i in (data or range(len(args))) if i < len(args)]

    def gather_rrule(*args, **kw):
        y = fn(*args, **kw)

        def gather_pullback(g):
            labelled, start = list(args), 1  # label 0: a constant
            for i in positions(args):
                labelled[i], start = _label(args[i], start)
            total = _sum_by_label(_pairs(fn(*labelled, **kw), g), start)
            cts, start = [None] * len(args), 1
            for i in positions(args):
                cts[i], start = _unlabel(total, args[i], start)
            return tuple(cts)

        return y, gather_pullback

    def gather_frule(tangents, *args, **kw):
        y = fn(*args, **kw)
        live = positions(args)
        if all(tangents[i] is None for i in live) or not any(_any_float(args[i]) for i in live):
            return y, None
        moved = list(args)
        for i in live:
            moved[i] = _zeros_for(tangents[i], args[i])
        return y, fn(*moved, **kw)

    gather_rrule.__name__ = gather_rrule.__qualname__ = f"{getattr(fn, '__name__', 'gather')}_rrule"
    rrule(fn)(gather_rrule)
    frule(fn)(gather_frule)
    return fn


# ---- joining, inserting, deleting ----

gather(np.append, 0, 1)
gather(np.insert, 0, 2)
gather(np.delete, 0)
gather(np.block, 0)
gather(np.unstack, 0)
gather(np.resize, 0)
gather(np.rollaxis, 0)
gather(np.linalg.matrix_transpose, 0)
gather(np.meshgrid)

# ---- selecting ----

gather(np.compress, 1)
gather(np.extract, 1)
gather(np.choose, 1)
gather(np.select, 1, 2)

# ---- triangles and diagonals ----

gather(np.tril, 0)
gather(np.triu, 0)
gather(np.diagflat, 0)

# ---- fft shifts ----

gather(np.fft.fftshift, 0)
gather(np.fft.ifftshift, 0)


# ---- functions that read their values to decide where elements go ----


def _partition_perm(a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        a, axis = np.ravel(a), -1
    return a, axis, np.argpartition(a, kth, axis=axis, kind=kind)


@rrule(np.partition)
def partition_rrule(a, *args, **kw):
    flat, ax, perm = _partition_perm(a, *args, **kw)
    y = np.take_along_axis(flat, perm, ax)  # the same partition np.partition returns

    def partition_pullback(g):
        return (reshape_back(np.take_along_axis(g, np.argsort(perm, axis=ax), ax), a),) + (None,) * len(args)

    return y, partition_pullback


@frule(np.partition)
def partition_frule(tangents, a, *args, **kw):
    flat, ax, perm = _partition_perm(a, *args, **kw)
    t = tangents[0]
    if t is not None:
        t = np.take_along_axis(np.reshape(t, flat.shape), perm, ax)
    return np.take_along_axis(flat, perm, ax), t


def _trim_index(filt, trim="fb", axis=None):
    """The slices ``np.trim_zeros(filt, trim, axis)`` keeps."""
    filt = np.asarray(filt)
    axes = range(filt.ndim) if axis is None else [a % filt.ndim for a in np.atleast_1d(axis)]
    index = [slice(None)] * filt.ndim
    nz = np.nonzero(filt)
    for ax in axes:
        if not nz[ax].size:
            index[ax] = slice(0, 0)
            continue
        first = int(nz[ax].min()) if "f" in trim.lower() else 0
        last = int(nz[ax].max()) + 1 if "b" in trim.lower() else filt.shape[ax]
        index[ax] = slice(first, last)
    return tuple(index)


@rrule(np.trim_zeros)
def trim_zeros_rrule(filt, *args, **kw):
    y = np.trim_zeros(filt, *args, **kw)
    index = _trim_index(filt, *args, **kw)

    def trim_zeros_pullback(g):
        out = np.zeros(np.shape(filt), dtype=np.result_type(g, float))
        out[index] = g
        return (match(out, filt),) + (None,) * len(args)

    return y, trim_zeros_pullback


@frule(np.trim_zeros)
def trim_zeros_frule(tangents, filt, *args, **kw):
    t = tangents[0]
    return np.trim_zeros(filt, *args, **kw), None if t is None else np.asarray(t)[_trim_index(filt, *args, **kw)]


nondiff(np.argpartition, np.ix_, np.diag_indices, np.diag_indices_from, np.tril_indices, np.tril_indices_from)
nondiff(np.triu_indices, np.triu_indices_from, np.mask_indices, np.fft.fftfreq, np.fft.rfftfreq)
