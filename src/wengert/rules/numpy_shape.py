"""Rules for NumPy's shape, joining, indexing and array-construction functions.

Every rule here is linear in the differentiated array (or piecewise constant),
so each vjp moves the cotangent back to where the input's elements went and
each jvp applies the same function to the tangent. Cotangents have exactly the
input's shape; a sequence argument (``np.concatenate([a, b])``,
``np.array([[x, y], [z, 1.0]])``) gets a cotangent of the same structure, with
Python floats for Python floats and ``None`` for ints and integer arrays.

The helpers ``xp_of``, ``axes_of``, ``expand``, ``is_float``, ``match`` and
``unpack_like`` are shared with `wengert.rules.numpy` and
`wengert.rules.numpy_linalg`. Array code goes through
``xp_of(...)``, so helpers written against the array API also serve torch and
JAX arrays.

Returned cotangents may be read-only views of ``g`` (``broadcast_to``,
``reshape``): accumulate out of place, as `wengert.runtime.cotangents.accum` does.
"""

from __future__ import annotations

import numpy as np

from wengert.rules.table import defjvp, defvjp, frule, nondiff, rrule
from wengert.rules.support import shape_of, unbroadcast

# ---- helpers shared by the numpy rule files ----


def xp_of(*xs):
    """The array namespace of the first non-NumPy array among ``xs``, else numpy itself."""
    for x in xs:
        if hasattr(x, "shape") and not isinstance(x, (np.ndarray, np.generic)):
            import array_api_compat

            return array_api_compat.array_namespace(x)
    return np


def _device(x):
    import array_api_compat

    return array_api_compat.device(x)


def axes_of(axis, ndim):
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis)) if ndim else ()
    return (axis % ndim,) if ndim else ()


def expand(g, x, axis=None, keepdims=False):
    """Broadcast the cotangent ``g`` of a reduction over ``axis`` back to ``x``'s shape."""
    shape = tuple(np.shape(x)) if isinstance(x, (list, tuple)) else tuple(shape_of(x))  # np.mean([x, y])
    if not shape:
        return g
    xp = xp_of(g, x)
    if xp is not np and not hasattr(g, "shape"):  # a Python float seed for a 0-d tensor
        g = xp.asarray(g, dtype=x.dtype, device=_device(x))
    if not keepdims:
        reduced = axes_of(axis, len(shape))
        g = xp.reshape(g, tuple(1 if i in reduced else n for i, n in enumerate(shape)))
    return xp.broadcast_to(g, shape)


def is_float(x):
    """Whether ``x`` can carry a gradient: a float or complex scalar or array."""
    if isinstance(x, (bool, int)):
        return False
    if isinstance(x, (float, complex)):
        return True
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if hasattr(dtype, "kind"):  # NumPy and JAX dtypes
        return dtype.kind in "fc"
    if hasattr(dtype, "is_floating_point"):  # torch
        return bool(dtype.is_floating_point or dtype.is_complex)
    try:  # any other array API library (array_api_strict's dtypes have neither attribute)
        import array_api_compat

        return bool(array_api_compat.array_namespace(x).isdtype(dtype, ("real floating", "complex floating")))
    except (ImportError, TypeError):
        return False


def match(c, x):
    """Cotangent ``c`` in the form of input ``x``: float for float, list for list, None for int."""
    if isinstance(x, (list, tuple)):
        return unpack_like(c, x)
    if not is_float(x):
        return None
    if isinstance(x, (float, complex)):  # c may be a size-1 array (np.hstack promotes floats)
        return type(x)(c.reshape(()) if getattr(c, "ndim", 0) else c)
    shape = tuple(shape_of(x))
    return c if tuple(shape_of(c)) == shape else xp_of(c).reshape(c, shape)


def unpack_like(g, obj):
    """The cotangent of ``obj`` given the cotangent ``g`` of ``np.asarray(obj)``."""
    if not isinstance(obj, (list, tuple)):
        return match(g, obj)
    out = [unpack_like(g[i], o) for i, o in enumerate(obj)]
    return out if isinstance(obj, list) else tuple(out)


def _zero_filled(t, obj):
    """A tangent structure for ``obj`` with ``None`` replaced by zeros."""
    if isinstance(obj, (list, tuple)):
        ts = t if t is not None else [None] * len(obj)
        return [_zero_filled(ti, o) for ti, o in zip(ts, obj)]
    return t if t is not None else np.zeros(np.shape(obj))


def _sequence_tangent(t, arrays):
    return [ti if ti is not None else xp_of(x).zeros_like(x) for ti, x in zip(t, arrays)]


# ---- reshaping ----


def _order(x, order):
    if order in (None, "C", "F"):
        return order or "C"
    if order == "A":
        flags = getattr(x, "flags", None)
        return "F" if flags is not None and flags.f_contiguous and not flags.c_contiguous else "C"
    return "K"


def reshape_back(g, x, order="C"):
    """Cotangent of ``x`` for ``y = reshape(x, ..., order)`` (also ravel and flatten)."""
    shape = tuple(shape_of(x))
    order = _order(x, order)
    if order == "C":
        return g if tuple(shape_of(g)) == shape else xp_of(g).reshape(g, shape)
    if order == "F":
        return np.reshape(g, shape, order="F")
    idx = np.empty_like(x, dtype=np.intp)  # keeps x's memory layout, which order="K" reads
    idx[...] = np.arange(idx.size).reshape(shape)
    out = np.zeros(idx.size, dtype=np.result_type(g, x))
    out[np.ravel(idx, order="K")] = np.ravel(g)
    return out.reshape(shape)


def _method_shape(args):
    return args[0] if len(args) == 1 and not isinstance(args[0], int) else args


defvjp(np.reshape, lambda g, y, a, *args, order="C", **kw: reshape_back(g, a, order))
defjvp(np.reshape, lambda t, y, a, *args, order="C", **kw:
                       np.reshape(t, y.shape, order=_order(a, order) if order != "K" else "C"))
defvjp(np.ndarray.reshape, lambda g, y, a, *shape, order="C", **kw: reshape_back(g, a, order))
defjvp(np.ndarray.reshape, lambda t, y, a, *shape, order="C", **kw:
                               np.reshape(t, y.shape, order=_order(a, order)))
def ravel_tangent(t, a, order="C"):
    """Tangent of ``y = ravel(a, order)``: read ``t`` in the order ``a`` was read."""
    order = _order(a, order)
    if order != "K":
        return np.ravel(t, order=order)
    idx = np.empty_like(a, dtype=np.intp)
    idx[...] = np.arange(idx.size).reshape(idx.shape)
    return np.ravel(t)[np.ravel(idx, order="K")]


for _f in (np.ravel, np.ndarray.ravel, np.ndarray.flatten):
    defvjp(_f, lambda g, y, a, order="C": reshape_back(g, a, order))
    defjvp(_f, lambda t, y, a, order="C": ravel_tangent(t, a, order))
for _f in (np.expand_dims, np.squeeze, np.ndarray.squeeze, np.atleast_1d, np.atleast_2d, np.atleast_3d):
    defvjp(_f, lambda g, y, a, *args, **kw: reshape_back(g, a))
    defjvp(_f, lambda t, y, a, *args, **kw: reshape_back(t, y))


def transpose_back(g, x, axes=None):
    """Cotangent of ``x`` for ``y = transpose(x, axes)``."""
    ndim = len(shape_of(x))
    if not ndim:
        return g
    axes = tuple(reversed(range(ndim))) if axes is None or axes == () else tuple(a % ndim for a in axes)
    return xp_of(g).permute_dims(g, tuple(int(i) for i in np.argsort(axes)))


defvjp(np.transpose, lambda g, y, a, axes=None: transpose_back(g, a, axes))
defjvp(np.transpose, lambda t, y, a, axes=None: np.transpose(t, axes))
defvjp(np.ndarray.transpose, lambda g, y, a, *axes: transpose_back(g, a, _method_shape(axes) or None))
defjvp(np.ndarray.transpose, lambda t, y, a, *axes: np.transpose(t, _method_shape(axes) or None))
defvjp(np.matrix_transpose, lambda g, y, a: xp_of(g).matrix_transpose(g))
defjvp(np.matrix_transpose, lambda t, y, a: np.matrix_transpose(t))
for _f in (np.swapaxes, np.ndarray.swapaxes):
    defvjp(_f, lambda g, y, a, axis1, axis2: np.swapaxes(g, axis1, axis2))
    defjvp(_f, lambda t, y, a, axis1, axis2: np.swapaxes(t, axis1, axis2))
defvjp(np.moveaxis, lambda g, y, a, source, destination: xp_of(g).moveaxis(g, destination, source))
defjvp(np.moveaxis, lambda t, y, a, source, destination: np.moveaxis(t, source, destination))
defvjp(np.broadcast_to, lambda g, y, array, shape, subok=False: unbroadcast(g, array))
defjvp(np.broadcast_to, lambda t, y, array, shape, subok=False: np.broadcast_to(t, shape))


@rrule(np.broadcast_arrays)
def broadcast_arrays_rrule(*args, subok=False):
    ys = np.broadcast_arrays(*args, subok=subok)

    def broadcast_arrays_pullback(g):
        return tuple(None if gi is None else unbroadcast(gi, x) for gi, x in zip(g, args))

    return ys, broadcast_arrays_pullback


@frule(np.broadcast_arrays)
def broadcast_arrays_frule(tangents, *args, subok=False):
    ys = np.broadcast_arrays(*args, subok=subok)
    return ys, tuple(None if t is None else np.broadcast_to(t, y.shape) for t, y in zip(tangents, ys))


# ---- joining and splitting ----


def _slices(g, sizes, axis):
    out, start = [], 0
    for n in sizes:
        out.append(g[(slice(None),) * axis + (slice(start, start + n), ...)])
        start += n
    return out


def join_back(g, arrays, axis, promote=np.asarray):
    """Cotangent of the sequence ``arrays`` for ``y = concatenate([promote(a) ...], axis)``."""
    shapes = [np.shape(promote(np.broadcast_to(0.0, np.shape(a)))) for a in arrays]
    if axis is None:
        flat = xp_of(g).reshape(g, (-1,))
        pieces = _slices(flat, [int(np.prod(s)) for s in shapes], 0)
    else:
        pieces = _slices(g, [s[axis] for s in shapes], axis % len(shapes[0]))
    out = [match(p, a) for p, a in zip(pieces, arrays)]
    return out if isinstance(arrays, list) else tuple(out)


def _hstack_axis(arrays):
    return 0 if np.ndim(arrays[0]) <= 1 else 1


def _column(a):
    return a.reshape(-1, 1) if a.ndim < 2 else a


def unstack_back(g, arrays, axis=0):
    """Cotangent of the sequence ``arrays`` for ``y = stack(arrays, axis)``."""
    moved = xp_of(g).moveaxis(g, axis, 0)
    out = [match(moved[i, ...], a) for i, a in enumerate(arrays)]
    return out if isinstance(arrays, list) else tuple(out)


def split_back(g, y, axis=0):
    """Cotangent of ``ary`` for ``y = split(ary, ...)``: ``None`` pieces count as zeros."""
    xp = xp_of(*g, *y)
    pieces = [gi if gi is not None else xp.zeros_like(yi) for gi, yi in zip(g, y)]
    return xp.concat(pieces, axis=axis)


defvjp(np.concatenate, lambda g, y, arrays, axis=0, **kw: join_back(g, arrays, axis))
defjvp(np.concatenate, lambda t, y, arrays, axis=0, **kw: np.concatenate(_sequence_tangent(t, arrays), axis))
defvjp(np.stack, lambda g, y, arrays, axis=0, **kw: unstack_back(g, arrays, axis))
defjvp(np.stack, lambda t, y, arrays, axis=0, **kw: np.stack(_sequence_tangent(t, arrays), axis))
defvjp(np.vstack, lambda g, y, tup, **kw: join_back(g, tup, 0, np.atleast_2d))
defjvp(np.vstack, lambda t, y, tup, **kw: np.vstack(_sequence_tangent(t, tup)))
defvjp(np.hstack, lambda g, y, tup, **kw: join_back(g, tup, _hstack_axis(tup), np.atleast_1d))
defjvp(np.hstack, lambda t, y, tup, **kw: np.hstack(_sequence_tangent(t, tup)))
defvjp(np.dstack, lambda g, y, tup: join_back(g, tup, 2, np.atleast_3d))
defjvp(np.dstack, lambda t, y, tup: np.dstack(_sequence_tangent(t, tup)))
defvjp(np.column_stack, lambda g, y, tup: join_back(g, tup, 1, _column))
defjvp(np.column_stack, lambda t, y, tup: np.column_stack(_sequence_tangent(t, tup)))
def split_like(t, y, axis=0):
    """The tangent ``t`` of ``ary`` cut where ``y = split(ary, ...)`` was cut."""
    return np.split(t, np.cumsum([p.shape[axis] for p in y])[:-1], axis)


def _hsplit_axis(ary):
    return 1 if np.ndim(ary) > 1 else 0


for _f in (np.split, np.array_split):
    defvjp(_f, lambda g, y, ary, indices_or_sections, axis=0: split_back(g, y, axis))
    defjvp(_f, lambda t, y, ary, indices_or_sections, axis=0: split_like(t, y, axis))
defvjp(np.hsplit, lambda g, y, ary, ios: split_back(g, y, _hsplit_axis(ary)))
defjvp(np.hsplit, lambda t, y, ary, ios: split_like(t, y, _hsplit_axis(ary)))
defvjp(np.vsplit, lambda g, y, ary, ios: split_back(g, y, 0))
defjvp(np.vsplit, lambda t, y, ary, ios: split_like(t, y, 0))
defvjp(np.dsplit, lambda g, y, ary, ios: split_back(g, y, 2))
defjvp(np.dsplit, lambda t, y, ary, ios: split_like(t, y, 2))


# ---- tiling, flipping, padding ----


def tile_back(g, a, reps):
    """Cotangent of ``a`` for ``y = tile(a, reps)``: sum over the copies."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    shape = tuple(shape_of(a))
    d = max(len(shape), len(reps))
    shape_d, reps_d = (1,) * (d - len(shape)) + shape, (1,) * (d - len(reps)) + reps
    xp = xp_of(g)
    pairs = tuple(n for r, s in zip(reps_d, shape_d) for n in (r, s))
    summed = xp.sum(xp.reshape(g, pairs), axis=tuple(range(0, 2 * d, 2))) if d else g
    return match(summed, a)


def repeat_back(g, a, repeats, axis=None):
    """Cotangent of ``a`` for ``y = repeat(a, repeats, axis)``: sum over each run of copies."""
    shape = tuple(shape_of(a))
    if axis is None:
        g = np.reshape(g, (-1,))
        axis, n = 0, int(np.prod(shape))
    else:
        axis %= len(shape)
        n = shape[axis]
    g = np.moveaxis(g, axis, 0)
    if np.ndim(repeats) == 0:
        out = g.reshape((n, int(repeats)) + g.shape[1:]).sum(axis=1)
    else:
        ends = np.cumsum(np.broadcast_to(repeats, (n,)))
        csum = np.concatenate([np.zeros((1,) + g.shape[1:], dtype=g.dtype), np.cumsum(g, axis=0)])
        out = csum[ends] - csum[ends - np.broadcast_to(repeats, (n,))]
    out = np.moveaxis(out, 0, axis) if len(shape) else out
    return match(np.reshape(out, shape), a)


def _negate(shift):
    return -shift if np.ndim(shift) == 0 else tuple(-s for s in shift)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad_back(g, a, pad_width, mode="constant"):
    """Cotangent of ``a`` for ``y = pad(a, pad_width, mode)``: each padded element is a copy."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"no gradient for np.pad with mode={mode!r}; supported: {_PAD_MODES}")
    shape = tuple(shape_of(a))
    size = int(np.prod(shape))
    idx = np.arange(size).reshape(shape)
    kw = {"constant_values": size} if mode == "constant" else {}
    where = np.pad(idx, pad_width, mode=mode, **kw).ravel()
    out = np.bincount(where, weights=np.ravel(g), minlength=size + 1)[:size]
    return match(out.reshape(shape), a)


def pad_tangent(t, pad_width, mode="constant"):
    """Tangent of ``y = pad(a, pad_width, mode)``: the constant padding contributes 0."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"no derivative for np.pad with mode={mode!r}; supported: {_PAD_MODES}")
    return np.pad(t, pad_width, mode=mode)


defvjp(np.tile, lambda g, y, A, reps: tile_back(g, A, reps))
defjvp(np.tile, lambda t, y, A, reps: np.tile(t, reps))
for _f in (np.repeat, np.ndarray.repeat):
    defvjp(_f, lambda g, y, a, repeats, axis=None: repeat_back(g, a, repeats, axis))
    defjvp(_f, lambda t, y, a, repeats, axis=None: np.repeat(t, repeats, axis))
defvjp(np.flip, lambda g, y, m, axis=None: xp_of(g).flip(g, axis=axis))
defjvp(np.flip, lambda t, y, m, axis=None: np.flip(t, axis))
defvjp(np.fliplr, lambda g, y, m: np.fliplr(g))
defjvp(np.fliplr, lambda t, y, m: np.fliplr(t))
defvjp(np.flipud, lambda g, y, m: np.flipud(g))
defjvp(np.flipud, lambda t, y, m: np.flipud(t))
defvjp(np.rot90, lambda g, y, m, k=1, axes=(0, 1): np.rot90(g, -k, axes))
defjvp(np.rot90, lambda t, y, m, k=1, axes=(0, 1): np.rot90(t, k, axes))
defvjp(np.roll, lambda g, y, a, shift, axis=None: xp_of(g).roll(g, _negate(shift), axis=axis))
defjvp(np.roll, lambda t, y, a, shift, axis=None: np.roll(t, shift, axis))
defvjp(np.pad, lambda g, y, array, pad_width, mode="constant", **kw: pad_back(g, array, pad_width, mode))
defjvp(np.pad, lambda t, y, array, pad_width, mode="constant", **kw: pad_tangent(t, pad_width, mode))


# ---- gathering and sorting ----


def _scatter_add(g, a, index):
    if not hasattr(a, "shape") or isinstance(a, (np.ndarray, np.generic)):
        out = np.zeros(np.shape(a), dtype=np.result_type(g, a))
        np.add.at(out, index, g)
        return match(out, a)
    import array_api_compat

    from wengert.rules.support import getitem_grad

    xp = xp_of(a)
    if isinstance(index, tuple) and len(index) > 1 and all(isinstance(i, np.ndarray) for i in index):  # unravelled
        flat = xp.reshape(a, (-1,))
        return xp.reshape(_scatter_add(g, flat, (np.ravel_multi_index(index, tuple(a.shape)),)), tuple(a.shape))
    if array_api_compat.is_torch_array(a) or array_api_compat.is_jax_array(a):
        return getitem_grad(g, a, index)  # their own scatter-add
    # elsewhere (array_api_strict, CuPy, ...) setitem may not accumulate repeated indices or
    # take index arrays at all: sum the cotangent through a one-hot matrix instead
    axis = len(index) - 1
    indices = xp.reshape(xp.asarray(index[axis]), (-1,))
    onehot = xp.astype(xp.reshape(indices, (-1, 1)) == xp.arange(a.shape[axis], device=_device(a)), g.dtype)
    moved = xp.reshape(xp.moveaxis(g, tuple(range(axis, axis + index[axis].ndim)), tuple(range(index[axis].ndim))),
                       (indices.shape[0], -1))
    out = xp.reshape(xp.matrix_transpose(onehot) @ moved, (a.shape[axis],) + tuple(a.shape[:axis])
                     + tuple(a.shape[axis + 1:]))
    return xp.moveaxis(out, 0, axis)


def _take_index(a, indices, axis, mode):
    shape = tuple(np.shape(a)) if isinstance(a, (np.ndarray, np.generic)) else tuple(getattr(a, "shape", ()))
    n = int(np.prod(shape)) if axis is None else shape[axis % len(shape)]
    indices = np.asarray(indices) if isinstance(a, np.ndarray) or not hasattr(indices, "shape") else indices
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    if axis is None:
        return np.unravel_index(indices, shape) if shape else ()
    return (slice(None),) * (axis % len(shape)) + (indices,)


def take_back(g, a, indices, axis=None, mode="raise"):
    """Cotangent of ``a`` for ``y = take(a, indices, axis)``: repeated indices accumulate."""
    return _scatter_add(g, a, _take_index(a, indices, axis, mode))


def take_along_back(g, arr, indices, axis=-1):
    """Cotangent of ``arr`` for ``y = take_along_axis(arr, indices, axis)``."""
    if axis is None:
        return take_back(np.ravel(g), arr, np.ravel(indices))
    shape = np.shape(arr)
    axis %= len(shape)
    grids = np.ogrid[tuple(slice(n) for n in np.shape(indices))]
    index = tuple(indices if i == axis else grids[i] for i in range(len(shape)))
    return _scatter_add(g, arr, index)


for _f in (np.take, np.ndarray.take):
    defvjp(_f, lambda g, y, a, indices, axis=None, out=None, mode="raise":
                   take_back(g, a, indices, axis, mode))
    defjvp(_f, lambda t, y, a, indices, axis=None, out=None, mode="raise":
                   np.take(t, indices, axis, mode=mode))
defvjp(np.take_along_axis, lambda g, y, arr, indices, axis=-1: take_along_back(g, arr, indices, axis))
defjvp(np.take_along_axis, lambda t, y, arr, indices, axis=-1: np.take_along_axis(t, indices, axis))


def _sort_perm(a, args, kw):
    """``(a or ravel(a), axis, permutation)`` for ``np.sort(a, *args, **kw)``."""
    axis = args[0] if args else kw.get("axis", -1)
    if axis is None:
        a, axis = np.ravel(a), -1
    return a, axis, np.argsort(a, axis=axis, kind="stable")


@rrule(np.sort)
def sort_rrule(a, *args, **kw):
    a_sorted, axis, perm = _sort_perm(a, args, kw)
    y = np.take_along_axis(a_sorted, perm, axis)

    def sort_pullback(g):
        # the sorted element i came from perm[i]: the inverse permutation sends g back
        inverse = np.argsort(perm, axis=axis)
        return (reshape_back(np.take_along_axis(g, inverse, axis), a),) + (None,) * len(args)

    return y, sort_pullback


@frule(np.sort)
def sort_frule(tangents, a, *args, **kw):
    a_sorted, axis, perm = _sort_perm(a, args, kw)
    t = tangents[0]
    if t is not None:
        t = np.take_along_axis(np.reshape(t, a_sorted.shape), perm, axis)
    return np.take_along_axis(a_sorted, perm, axis), t


nondiff(np.argmax, np.argmin, np.argsort, np.nonzero, np.argwhere, np.flatnonzero, np.searchsorted)
nondiff(np.ndarray.argmax, np.ndarray.argmin, np.ndarray.argsort, np.ndarray.nonzero)
nondiff(np.shape, np.ndim, np.size, np.count_nonzero, np.unravel_index, np.ravel_multi_index)


# ---- construction and conversion ----


def array_back(g, y, obj, *args, **kw):
    """Cotangent of ``obj`` for ``y = np.array(obj)``: the structure of ``obj``."""
    if not is_float(y):
        return None
    if isinstance(obj, (list, tuple)):
        g = np.reshape(g, np.shape(obj)) if np.ndim(g) != np.ndim(obj) else g
        return unpack_like(g, obj)
    return match(g, obj)


def array_tangent(t, y, obj, *args, **kw):
    if not is_float(y):
        return None
    return np.reshape(np.asarray(_zero_filled(t, obj), dtype=y.dtype), y.shape)


for _f in (np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray):
    defvjp(_f, array_back)
    defjvp(_f, array_tangent)
for _f in (np.copy, np.ndarray.copy):
    defvjp(_f, lambda g, y, a, *args, **kw: match(g, a))
    defjvp(_f, lambda t, y, a, *args, **kw: t)


def cast_back(g, y, x):
    """Cotangent of ``x`` for a cast ``y = x.astype(...)``: none through integer casts."""
    if not (is_float(x) and is_float(y)):
        return None
    dtype = getattr(x, "dtype", None)
    return g if dtype is None or g.dtype == dtype else xp_of(g).astype(g, dtype)


def cast_tangent(t, y):
    return xp_of(t).astype(t, y.dtype) if is_float(y) else None


defvjp(np.ndarray.astype, lambda g, y, x, *args, **kw: cast_back(g, y, x))
defjvp(np.ndarray.astype, lambda t, y, x, *args, **kw: cast_tangent(t, y))
defvjp(np.astype, lambda g, y, x, *args, **kw: cast_back(g, y, x))
defjvp(np.astype, lambda t, y, x, *args, **kw: cast_tangent(t, y))


def item_back(g, y, x, *args):
    """Cotangent of ``x`` for ``y = x.item(*args)``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(x, g))
    if not args:
        index = (0,) * out.ndim
    elif len(args) == 1 and np.ndim(args[0]) == 0:
        index = np.unravel_index(args[0], out.shape)
    else:
        index = args[0] if len(args) == 1 else args
    out[index] = g
    return out


defvjp(np.ndarray.item, item_back)
defjvp(np.ndarray.item, lambda t, y, x, *args: np.asarray(t).item(*args))


# ---- np.r_ and np.c_: concatenation written as indexing ----

def _concat_items(key):
    return key if isinstance(key, tuple) else (key,)


def _numeric(v) -> bool:
    return not isinstance(v, (slice, str)) and np.asarray(v).dtype.kind in "fc"


@rrule(type(np.r_).__getitem__)
def axis_concatenator_rrule(self, key):
    """``np.r_[a, b, ...]`` / ``np.c_[...]``: linear in its numeric items. The pullback finds
    where each element of an item lands by concatenating markers (its flat index + 1) in its
    place and zeros in the others', so every layout np.r_ and np.c_ allow is covered."""
    y = self[key]
    items = _concat_items(key)

    def axis_concatenator_pullback(g):
        g = np.asarray(g)
        bars = []
        for i, it in enumerate(items):
            if not _numeric(it):
                bars.append(None)
                continue
            a = np.asarray(it, dtype=float)
            probe = tuple(np.arange(1.0, a.size + 1).reshape(a.shape) if j == i else
                          (np.zeros_like(np.asarray(o, dtype=float)) if _numeric(o) else o)
                          for j, o in enumerate(items))
            where = np.asarray(self[probe if isinstance(key, tuple) else probe[0]])
            flat = np.zeros(a.size)
            hit = where > 0
            np.add.at(flat, where[hit].astype(int) - 1, g[hit])
            bars.append(float(flat[0]) if isinstance(it, float) else flat.reshape(a.shape))
        return None, (tuple(bars) if isinstance(key, tuple) else bars[0])

    return y, axis_concatenator_pullback


@frule(type(np.r_).__getitem__)
def axis_concatenator_frule(tangents, self, key):
    t_key = tangents[1] if len(tangents) > 1 else None
    y = self[key]
    if t_key is None:
        return y, None
    items, ts = _concat_items(key), _concat_items(t_key)
    dot = tuple((np.zeros_like(np.asarray(it, dtype=float)) if t is None else t) if _numeric(it) else it
                for it, t in zip(items, ts))
    return y, np.asarray(self[dot if isinstance(key, tuple) else dot[0]], dtype=float)
