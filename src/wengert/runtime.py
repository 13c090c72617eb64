"""What generated code calls at run time: accumulation, zeros, unbroadcast.

Cotangents follow one convention everywhere: ``None`` is "no gradient" (a
symbolic zero); a float's cotangent is a float, an array's an array of the
same shape, a tuple's a tuple, a list's a list, a dict's a dict.
"""

from __future__ import annotations

from numbers import Number

_SCALARS = (float, int, complex)


def accum(a, b):
    """``a + b`` for cotangents, where ``None`` is zero and structures add elementwise."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise ValueError(f"cannot add cotangents of lengths {len(a)} and {len(b)}")
        out = tuple(accum(x, y) for x, y in zip(a, b))
        return type(a)(*out) if hasattr(a, "_fields") else out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise ValueError(f"cannot add cotangents of lengths {len(a)} and {len(b)}")
        return [accum(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = accum(out.get(k), v)
        return out
    return a + b


def shape_of(x):
    """The array shape of ``x``, or ``()`` for Python scalars and other objects."""
    if isinstance(x, _SCALARS):
        return ()
    return getattr(x, "shape", ())


def unbroadcast(g, x):
    """Reduce cotangent ``g`` to the shape of the input ``x`` it belongs to.

    Broadcasting in the forward pass copies ``x`` along new leading axes and
    along its size-1 axes; the adjoint sums over exactly those axes.
    """
    if g is None:
        return None
    gshape = getattr(g, "shape", None)
    if gshape is None:
        return g
    xshape = shape_of(x)
    if tuple(gshape) == tuple(xshape):
        return g
    if isinstance(x, Number) and not hasattr(x, "shape"):
        total = g.sum()
        return total.item() if isinstance(x, float) and hasattr(total, "item") else total
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = _sum(g, axes)
    return g.reshape(tuple(xshape)) if tuple(g.shape) != tuple(xshape) else g


def _sum(g, axes):
    try:
        import array_api_compat

        xp = array_api_compat.array_namespace(g)
        return xp.sum(g, axis=axes, keepdims=True)
    except (ImportError, TypeError):
        return g.sum(axis=axes, keepdims=True)


def getitem_grad(g, x, index):
    """Cotangent of ``x`` for ``y = x[index]`` given ``y``'s cotangent ``g``.

    Tuples and lists get a structure of ``None`` with ``g`` in the read slots,
    dicts a dict holding only the read key, arrays a zero array with ``g``
    scattered (and accumulated, for repeated advanced indices) into place.
    """
    if g is None:
        return None
    if isinstance(x, (tuple, list)):
        out = [None] * len(x)
        if isinstance(index, slice):
            for i, gi in zip(range(*index.indices(len(x))), g):
                out[i] = accum(out[i], gi)
        else:
            out[index] = g
        if isinstance(x, list):
            return out
        return type(x)(*out) if hasattr(x, "_fields") else tuple(out)
    if isinstance(x, dict):
        return {index: g}
    return _array_getitem_grad(g, x, index)


def _array_getitem_grad(g, x, index):
    import numpy as np

    if isinstance(x, np.ndarray) or np.isscalar(x):
        out = np.zeros(np.shape(x), dtype=np.result_type(x, g))
        np.add.at(out, index, g)
        return out
    import array_api_compat

    xp = array_api_compat.array_namespace(x)
    out = xp.zeros(x.shape, dtype=x.dtype, device=array_api_compat.device(x))
    if hasattr(out, "index_put_"):  # torch: accumulate repeated indices
        return out.index_put((index,) if not isinstance(index, tuple) else index, g, accumulate=True) \
            if not isinstance(index, (int, slice)) else _set(out, index, g)
    if hasattr(out, "at"):  # jax
        return out.at[index].add(g)
    out[index] = g
    return out


def _set(out, index, g):
    out[index] = g
    return out
