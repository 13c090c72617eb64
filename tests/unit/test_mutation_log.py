"""Unit tests of the mutation log (`wengert.runtime.mutation.Pass`), without generated code.

The oracle is Python itself: the state a container had after each forward write is
recorded by the test (plain copies), and the log's undo must walk those states backwards;
cotangent buffers must hold the sums the test computes from the reads it makes.
"""

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wengert.runtime.mutation import Pass


class Obj:
    def __init__(self, w):
        self.w = w


# ---- the log: undone in reverse order, `finish` puts back the forward pass's result ----


def test_setitem_writes_are_undone_last_first_and_finish_restores():
    xs = [1.0, 2.0, 3.0]
    p = Pass()
    states = [list(xs)]
    for key, v in ((0, 10.0), (0, 20.0), (1, 30.0)):
        p.setitem(xs, key, v)
        states.append(list(xs))
    assert xs == [20.0, 30.0, 3.0]
    p.start_backward()
    for key, v, before in ((1, 30.0, states[2]), (0, 20.0, states[1]), (0, 10.0, states[0])):
        p.back_setitem(xs, key, v)
        assert xs == before
    assert xs == [1.0, 2.0, 3.0]
    p.finish()
    assert xs == [20.0, 30.0, 3.0]


def test_undo_out_of_log_order_is_an_internal_error():
    a, b = [1.0], [2.0]
    p = Pass()
    p.setitem(a, 0, 5.0)
    p.setitem(b, 0, 6.0)
    p.start_backward()
    with pytest.raises(RuntimeError, match="out of order"):
        p.back_setitem(a, 0, 5.0)  # the last entry is b's


def test_new_dict_key_and_new_attribute_are_removed_by_undo_and_put_back_by_finish():
    d = {"a": 1.0}
    o = Obj(1.0)
    p = Pass()
    p.setitem(d, "b", 2.0)
    p.setattr(o, "z", 3.0)
    p.setattr(o, "w", 4.0)
    p.start_backward()
    p.back_setattr(o, "w", 4.0)
    assert o.w == 1.0 and o.z == 3.0
    p.back_setattr(o, "z", 3.0)
    assert not hasattr(o, "z")
    p.back_setitem(d, "b", 2.0)
    assert d == {"a": 1.0}
    p.finish()
    assert d == {"a": 1.0, "b": 2.0}
    assert (o.w, o.z) == (4.0, 3.0)


def test_finish_restores_final_values_without_replaying_the_log():
    # a write the log never saw (a plain call) came after the logged one: finish must give
    # back what the forward pass left, not the result of replaying logged writes
    xs = [1.0]
    p = Pass()
    p.setitem(xs, 0, 2.0)
    xs.append(9.0)  # unlogged
    p.start_backward()
    p.back_setitem(xs, 0, 2.0)
    assert xs == [1.0, 9.0]
    p.finish()
    assert xs == [2.0, 9.0]
    assert p.cursor == len(p.log)


def test_mutating_methods_are_undone_and_redone():
    xs = [3.0, 1.0, 2.0]
    d = {"a": 1.0}
    p = Pass()
    p.method(xs, "append", (4.0,), None)
    p.method(xs, "sort", (), None)
    popped = p.method(xs, "pop", (0,), None)
    p.method(d, "update", ({"b": 2.0},), None)
    assert popped == 1.0 and xs == [2.0, 3.0, 4.0] and d == {"a": 1.0, "b": 2.0}
    p.start_backward()
    p.back_method(d, "update", ({"b": 2.0},), None, None)
    assert d == {"a": 1.0}
    p.back_method(xs, "pop", (0,), None, None)
    assert xs == [1.0, 2.0, 3.0, 4.0]
    p.back_method(xs, "sort", (), None, None)
    assert xs == [3.0, 1.0, 2.0, 4.0]
    p.back_method(xs, "append", (4.0,), None, None)
    assert xs == [3.0, 1.0, 2.0]
    p.finish()
    assert xs == [2.0, 3.0, 4.0] and d == {"a": 1.0, "b": 2.0}


def test_inplace_array_update_is_logged_and_its_adjoint_undoes_it():
    a = np.array([1.0, 2.0])
    b = np.array([3.0, 5.0])
    p = Pass()
    y = p.inplace(operator.imul, a, b)
    assert y is a and np.array_equal(a, [3.0, 10.0])
    p.start_backward()
    ga, gb = p.back_op(operator.imul, a, b, y, np.array([1.0, 1.0]))
    assert np.array_equal(a, [1.0, 2.0])  # undone: the rule saw a as it was before
    np.testing.assert_allclose(ga, b)     # d(a*b)/da = b
    np.testing.assert_allclose(gb, [1.0, 2.0])  # d(a*b)/db = a before the update
    p.finish()
    assert np.array_equal(a, [3.0, 10.0])


def test_inplace_on_an_immutable_value_is_not_logged():
    p = Pass()
    assert p.inplace(operator.iadd, 2.0, 3.0) == 5.0
    assert p.inplace(operator.iadd, (1,), (2,)) == (1, 2)
    assert p.log == []


writes = st.lists(st.tuples(st.integers(0, 3), st.floats(-10, 10, allow_nan=False)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(writes, writes)
def test_any_sequence_of_writes_walks_back_through_every_state(list_writes, dict_writes):
    xs = [0.0, 1.0, 2.0, 3.0]
    d = {}
    p = Pass()
    ops = [(xs, k, v) for k, v in list_writes] + [(d, f"k{k}", v) for k, v in dict_writes]
    ops = [ops[i] for i in sorted(range(len(ops)), key=lambda i: (i * 7919) % len(ops))]  # interleave
    states = [(list(xs), dict(d))]
    for obj, k, v in ops:
        p.setitem(obj, k, v)
        states.append((list(xs), dict(d)))
    final = states[-1]
    p.start_backward()
    for (obj, k, v), before in zip(reversed(ops), reversed(states[:-1])):
        p.back_setitem(obj, k, v)
        assert (xs, d) == before
    p.finish()
    assert (xs, d) == final


# ---- cotangent buffers: keyed by identity ----


def test_aliases_share_one_buffer_and_equal_copies_do_not():
    a = [1.0, 2.0]
    alias = a
    copy = [1.0, 2.0]  # equal, not the same object
    p = Pass()
    p.add_item(a, None, 0, 1.0)
    p.add_item(alias, None, 0, 2.0)
    p.add_item(copy, None, 1, 5.0)
    assert len(p.bufs) == 2
    assert p.take(alias, None) == [3.0, None]
    assert p.take(a, None) is None  # emptied by the first take
    assert p.take(copy, None) == [None, 5.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-1e3, 1e3, allow_nan=False)), max_size=20))
def test_reads_of_list_items_accumulate_per_slot(reads):
    xs = [0.5] * 5
    p = Pass()
    want = [None] * 5
    for i, g in reads:
        p.add_item(xs, None, i, g)
        want[i] = g if want[i] is None else want[i] + g
    got = p.take(xs, None)
    # sums in the order of the reads, as the test made them: equal to the last bit
    assert got == (want if reads else None)


def test_dict_reads_accumulate_per_key():
    d = {"a": 1.0, "b": 2.0, "c": 3.0}
    p = Pass()
    p.add_item(d, None, "a", 1.0)
    p.add_item(d, None, "a", 0.25)
    p.add_item(d, None, "c", -2.0)
    assert p.take(d, None) == {"a": 1.25, "c": -2.0}
    assert p.take(d, None) == {}  # emptied in place (a handle may hold it): nothing twice


def test_slice_read_spreads_over_the_slots():
    xs = [1.0, 2.0, 3.0, 4.0]
    p = Pass()
    p.add_item(xs, None, slice(1, 3), [10.0, 20.0])
    p.add_item(xs, None, 2, 1.0)
    assert p.take(xs, None) == [None, 10.0, 21.0, None]


def test_array_reads_without_writes_scatter_into_the_ssa_cotangent():
    a = np.array([1.0, 2.0, 3.0])
    p = Pass()
    bar = p.add_item(a, None, 1, 2.0)
    bar = p.add_item(a, bar, 1, 0.5)
    bar = p.add_item(a, bar, slice(0, 2), np.array([1.0, 1.0]))
    np.testing.assert_allclose(bar, [1.0, 3.5, 0.0])
    assert p.bufs == {}  # an array nobody wrote in place needs no buffer


def test_array_written_in_place_gets_an_identity_buffer():
    a = np.array([1.0, 2.0, 3.0])
    p = Pass()
    p.setitem(a, 0, 7.0)
    p.start_backward()
    assert p.add_item(a, None, 2, 4.0) is None  # kept in the buffer, not in the SSA cotangent
    p.add_item(a, None, 0, 1.5)
    # the write a[0] = 7.0: its value takes slot 0's cotangent, which is cleared
    assert p.back_setitem(a, 0, 7.0) == pytest.approx(1.5)
    np.testing.assert_allclose(p.take(a, None), [0.0, 0.0, 4.0])


def test_write_hands_the_slot_cotangent_to_the_written_value_and_clears_it():
    xs = [1.0, 2.0]
    p = Pass()
    p.add_item(xs, None, 0, 100.0)  # a read before the write: not the written value's
    p.setitem(xs, 0, 5.0)
    p.start_backward()  # the backward pass starts with empty buffers
    p.add_item(xs, None, 0, 3.0)  # a read after the write
    assert p.back_setitem(xs, 0, 5.0) == 3.0
    p.add_item(xs, None, 0, 1.0)  # the read before the write, met later going backwards
    assert p.take(xs, None) == [1.0, None]


def test_append_hands_the_last_slot_to_its_argument():
    xs = [1.0]
    p = Pass()
    p.method(xs, "append", (2.0,), None)
    p.start_backward()
    p.add_item(xs, None, 1, 7.0)
    p.add_item(xs, None, 0, 1.0)
    assert p.back_method(xs, "append", (2.0,), None, None) == (7.0,)
    assert p.take(xs, None) == [1.0]


def test_field_of_an_object_inside_a_list_comes_back_in_place():
    objs = [Obj(1.0), Obj(2.0)]
    p = Pass()
    p.add_attr(objs[1], None, "w", 2.0)
    p.add_attr(objs[1], None, "w", 0.5)
    p.add_item(objs, None, 0, None)
    g = p.take(objs, None)
    assert g[0] is None
    assert g[1].w == 2.5


def test_object_stored_in_a_dict_and_read_through_it_has_one_cotangent():
    o = Obj(1.0)
    d = {"o": o}
    p = Pass()
    p.add_attr(o, None, "w", 1.0)  # o.w read directly
    p.add(d, None, {"o": {"w": 2.0}})  # and through the dict
    g = p.take(d, None)
    assert g["o"].w == 3.0


def test_add_of_a_list_cotangent_is_itemwise():
    xs = [1.0, 2.0, 3.0]
    p = Pass()
    assert p.add(xs, None, [1.0, None, 2.0]) is None  # buffered: nothing kept in the SSA cotangent
    p.add(xs, None, (0.5, 0.5, 0.5))
    assert p.take(xs, None) == [1.5, 0.5, 2.5]


def test_floats_are_never_buffered():
    p = Pass()
    assert p.add(2.0, 1.0, 3.0) == 4.0
    assert p.take(2.0, 5.0) == 5.0
    assert p.bufs == {}
