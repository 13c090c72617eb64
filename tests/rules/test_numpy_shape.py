"""NumPy shape, joining, indexing, sorting and conversion rules against float64 finite differences."""

import operator

import numpy as np
import pytest
from _array_fd import SETTINGS, arrays, check_array_rule, jax_check, separated, values
from _fd import assert_nondiff, jvp, vjp
from hypothesis import given
from hypothesis import strategies as st

from wengert.rules import get_rule
from wengert.runtime.cotangents import getitem_grad

# ---- reshaping ----


@SETTINGS
@given(x=arrays(min_dims=1, max_dims=3, min_side=1))
def test_reshape_family(x):
    check_array_rule(np.reshape, x, (-1,))
    check_array_rule(np.reshape, x, (x.size, 1), kwargs={"order": "F"})
    check_array_rule(np.ndarray.reshape, x, x.size)
    check_array_rule(np.ndarray.reshape, x, (1, x.size))
    check_array_rule(np.ravel, x)
    check_array_rule(np.ndarray.flatten, x, "F")
    check_array_rule(np.expand_dims, x, 0)
    check_array_rule(np.squeeze, x[None])
    check_array_rule(np.ndarray.squeeze, x[None], 0)
    check_array_rule(np.atleast_2d, x)
    check_array_rule(np.atleast_3d, x)


@pytest.mark.parametrize("make", [
    lambda a: a.transpose(2, 0, 1),  # neither C- nor F-contiguous
    lambda a: a[::-1, :, ::2],  # negative strides
    lambda a: np.asfortranarray(a),
])
@pytest.mark.parametrize("order", ["K", "A", "F", "C"])
def test_ravel_memory_orders(make, order):
    x = make(values((2, 3, 4), 1))
    g = values(x.size, 2)
    ct = vjp(np.ravel, 0, g, x, order)
    # the cotangent puts g[i] where ravel read element i: <ct, x> == <g, ravel(x)>
    np.testing.assert_allclose(np.sum(ct * x), np.sum(g * np.ravel(x, order)))
    np.testing.assert_array_equal(jvp(np.ravel, 0, x, x, order), np.ravel(x, order))
    shape, reshape_order = (x.size // 2, 2), "C" if order == "K" else order  # reshape has no "K"
    g2 = g.reshape(shape)
    ct = vjp(np.reshape, 0, g2, x, shape, order=reshape_order)
    np.testing.assert_allclose(np.sum(ct * x), np.sum(g2 * np.reshape(x, shape, order=reshape_order)))


@pytest.mark.parametrize("axes", [None, (1, 2, 0), (-1, 0, 1), (0, 2, 1)])
def test_transpose(axes):
    x = values((2, 3, 4), 1)
    check_array_rule(np.transpose, x, axes)
    check_array_rule(np.ndarray.transpose, x, *(axes or ()))
    check_array_rule(np.ndarray.transpose, x, axes)
    check_array_rule(np.permute_dims, x, axes)


def test_axis_moves_and_broadcasts():
    x = values((2, 3, 4), 1)
    check_array_rule(np.swapaxes, x, 0, -1)
    check_array_rule(np.ndarray.swapaxes, x, 1, 2)
    check_array_rule(np.moveaxis, x, 0, -1)
    check_array_rule(np.moveaxis, x, (0, 1), (2, 0))
    check_array_rule(np.matrix_transpose, x)
    check_array_rule(np.broadcast_to, values((3, 1), 2), (2, 3, 4))
    check_array_rule(np.broadcast_to, values((), 2), (2, 3))
    a, b = values((3, 1), 1), values((4,), 2)
    _, back = get_rule(np.broadcast_arrays).rrule(a, b)
    ga, gb = back([np.ones((3, 4)), None])
    np.testing.assert_array_equal(ga, np.full((3, 1), 4.0))
    assert gb is None
    _, (ta, tb) = get_rule(np.broadcast_arrays).frule((np.ones((3, 1)), None), a, b)
    assert ta.shape == (3, 4) and tb is None


# ---- joining and splitting ----


def test_join():
    a, b, c = values((2, 3), 1), values((1, 3), 2), values((4, 3), 3)
    check_array_rule(np.concatenate, [a, b, c])
    check_array_rule(np.concatenate, (a.T, c.T), -1)
    check_array_rule(np.concatenate, [a, values((5,), 4)], None)
    check_array_rule(np.concat, [a, b])
    check_array_rule(np.stack, [a, a * 2], -1)
    check_array_rule(np.stack, [1.5, 2.5, 3.5])
    check_array_rule(np.vstack, [values((3,), 1), a])
    check_array_rule(np.hstack, [values((3,), 1), values((2,), 2), 4.5])
    check_array_rule(np.hstack, [a, values((2, 1), 2)])
    check_array_rule(np.dstack, [a, a])
    check_array_rule(np.column_stack, [values((2,), 1), a])
    # the cotangent of a sequence has its structure: a list for a list, a float for a float
    ct = vjp(np.hstack, 0, np.arange(6.0), [values((3,), 1), values((2,), 2), 4.5])
    assert isinstance(ct, list) and isinstance(ct[2], float) and ct[2] == 5.0
    assert isinstance(vjp(np.stack, 0, np.ones((2, 3)), (a[0], a[1])), tuple)


@pytest.mark.parametrize(("fn", "shape", "ios", "axis"), [
    (np.split, (6, 2), 3, 0), (np.split, (2, 6), [1, 4], 1), (np.array_split, (5,), 3, 0),
    (np.array_split, (2, 7), [2, 2, 5], -1),
])
def test_split(fn, shape, ios, axis):
    x = values(shape, 1)
    check_array_rule(fn, x, ios, axis)
    pieces = fn(x, ios, axis)
    g = [None] * len(pieces)
    g[1] = np.ones_like(pieces[1])
    ct = vjp(fn, 0, g, x, ios, axis)  # pieces with no cotangent count as zeros
    assert ct.shape == x.shape and np.sum(ct) == pieces[1].size


def test_split_helpers():
    check_array_rule(np.hsplit, values((2, 4), 1), 2)
    check_array_rule(np.hsplit, values((4,), 1), 2)
    check_array_rule(np.vsplit, values((4, 2), 1), [1])
    check_array_rule(np.dsplit, values((1, 2, 4), 1), 2)


# ---- tiling, flipping, padding ----


@pytest.mark.parametrize(("shape", "reps"), [((3,), 2), ((2, 3), (2, 1)), ((3,), (2, 2)), ((2, 1, 2), (2,)), ((), 3)])
def test_tile(shape, reps):
    check_array_rule(np.tile, values(shape, 1), reps)


@pytest.mark.parametrize(("shape", "repeats", "axis"), [
    ((3,), 2, None), ((2, 3), 2, None), ((2, 3), [1, 0, 3], 1), ((2, 3), 3, 0), ((2, 2), [2, 1, 0, 1], None),
])
def test_repeat(shape, repeats, axis):
    x = values(shape, 1)
    check_array_rule(np.repeat, x, repeats, axis)
    check_array_rule(np.ndarray.repeat, x, repeats, axis)


def test_flips_and_rolls():
    x = values((2, 3, 4), 1)
    check_array_rule(np.flip, x)
    check_array_rule(np.flip, x, (0, 2))
    check_array_rule(np.fliplr, x)
    check_array_rule(np.flipud, x)
    check_array_rule(np.rot90, x, 1, (1, 2))
    check_array_rule(np.rot90, x, 3)
    check_array_rule(np.roll, x, 2)
    check_array_rule(np.roll, x, (1, -2), (0, 2))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("pad_width", [1, ((1, 2), (0, 3)), ((2, 0), (3, 1))])
def test_pad(mode, pad_width):
    check_array_rule(np.pad, values((3, 4), 1), pad_width, mode)
    check_array_rule(np.pad, values((3, 4), 1), pad_width, kwargs={"mode": mode})


def test_pad_constant_values_and_unsupported():
    check_array_rule(np.pad, values((3,), 1), 2, kwargs={"constant_values": 7.0})
    with pytest.raises(NotImplementedError):
        vjp(np.pad, 0, np.ones(5), values((3,), 1), 1, "mean")


# ---- gathering and sorting ----


@pytest.mark.parametrize(("indices", "axis", "mode"), [
    ([0, 0, 2], None, "raise"), ([[1, 1], [0, 3]], 1, "raise"), ([5, -1, 0], 0, "wrap"), ([5, -1], 1, "clip"),
    (2, 1, "raise"),
])
def test_take(indices, axis, mode):
    x = values((3, 4), 1)
    check_array_rule(np.take, x, indices, axis, kwargs={"mode": mode})
    check_array_rule(np.ndarray.take, x, indices, axis, kwargs={"mode": mode})


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_take_along_axis(axis):
    x = values((3, 4), 1)
    idx = np.random.default_rng(0).integers(0, 3, (3, 4) if axis is not None else (7,))
    check_array_rule(np.take_along_axis, x, idx, axis)
    check_array_rule(np.take_along_axis, x, np.argsort(x, axis=axis), axis)


@SETTINGS
@given(x=arrays(min_dims=1, max_dims=3), data=st.data())
def test_sort(x, data):
    separated(x)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    check_array_rule(np.sort, x, axis)
    check_array_rule(np.sort, x, kwargs={"axis": axis})


def test_sort_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.sort, jnp.sort, values((3, 4), 1), kwargs={"axis": 0})


def test_index_functions_are_nondiff():
    assert_nondiff(np.argmax, np.argmin, np.argsort, np.nonzero, np.argwhere, np.flatnonzero,
                   np.searchsorted, np.ndarray.argmax, np.ndarray.argmin, np.ndarray.nonzero, np.shape)


# ---- indexing through operator.getitem ----

INDICES = [
    1, -1, slice(1, None), slice(None, None, -2), Ellipsis, (Ellipsis, 1), (None, 0), (0, None, slice(1, 3)),
    np.array([0, 0, 2]), [2, 0, 2], (slice(None), np.array([1, 1, 3])), (np.array([0, 0]), np.array([1, 1])),
    (np.array([[0], [2]]), np.array([1, 3, 3])), (), (0, 1), (1, Ellipsis, None),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_arrays(index):
    x = values((3, 4), 1)
    check_array_rule(operator.getitem, x, index, wrt=[0])
    ct = vjp(operator.getitem, 0, np.ones(np.shape(x[index])), x, index)
    counts = np.zeros(x.shape)
    np.add.at(counts, index, 1.0)  # repeated indices accumulate
    np.testing.assert_array_equal(ct, counts)


def test_getitem_boolean_masks():
    x = values((3, 4), 1)
    for index in [x > 0, np.array([True, False, True]), (slice(None), (x > 0)[0]), (x[:, 0] > 0, 1)]:
        check_array_rule(operator.getitem, x, index, wrt=[0])
        np.testing.assert_array_equal(vjp(operator.getitem, 0, np.ones(np.shape(x[index])), x, index),
                                      np.where(np.isin(np.arange(12).reshape(3, 4), np.arange(12).reshape(3, 4)[index]), 1.0, 0.0))
    check_array_rule(operator.getitem, values((2, 0), 1), slice(None), wrt=[0])


def test_getitem_grad_jax():
    jnp = pytest.importorskip("jax.numpy")
    x = values((3, 4), 1)
    for index in [np.asarray(i) if isinstance(i, list) else i for i in INDICES] + [x > 0]:
        ref = getitem_grad(np.ones(np.shape(x[index])), x, index)
        xj = jnp.asarray(x)
        got = getitem_grad(jnp.ones_like(xj[index]), xj, index)
        np.testing.assert_array_equal(np.asarray(got), ref)


# ---- construction and conversion ----


def test_array_from_nested_lists():
    check_array_rule(np.array, [[1.5, 2.5], [3.5, 4.5]])
    check_array_rule(np.asarray, [1.5, (2.5, 3.5)[0], 4.0])
    check_array_rule(np.array, [values((2,), 1), values((2,), 2)])
    check_array_rule(np.array, values((2, 3), 1))
    check_array_rule(np.array, [[1.5, 2.5]], kwargs={"ndmin": 3})
    ct = vjp(np.array, 0, np.array([[1.0, 2.0], [3.0, 4.0]]), [[1.5, 2], (3.5, 4.5)])
    assert ct == [[1.0, None], (3.0, 4.0)]
    assert isinstance(ct[0][0], float)
    assert vjp(np.array, 0, np.ones(2), [1.5, 2.5], dtype=int) is None
    t = jvp(np.array, 0, [None, 2.0], [1.5, 2.5])
    np.testing.assert_array_equal(t, [0.0, 2.0])


def test_copy_astype_item():
    x = values((2, 3), 1)
    for fn in (np.copy, np.ndarray.copy, np.ascontiguousarray, np.asfortranarray):
        check_array_rule(fn, x)
    check_array_rule(np.ndarray.astype, x, np.float64)
    ct = vjp(np.ndarray.astype, 0, np.ones((2, 3)), x.astype(np.float32), np.float64)
    assert ct.dtype == np.float32
    assert vjp(np.ndarray.astype, 0, np.ones((2, 3)), x, int) is None
    assert jvp(np.ndarray.astype, 0, np.ones((2, 3)), x, int) is None
    check_array_rule(np.astype, x, np.float64)
    check_array_rule(np.ndarray.item, values((1, 1), 1))
    check_array_rule(np.ndarray.item, x, 4)
    check_array_rule(np.ndarray.item, x, (1, 2))
    check_array_rule(np.ndarray.item, x, 1, 0)
