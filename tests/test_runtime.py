"""`runtime.Tangent`: the gradient of a plain object answers only its fields (issue 8)."""

import copy
import dataclasses
import pickle

import pytest

import wengert
from wengert import Tangent


class Layer:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def scale(self, s):
        self.gain = s


@dataclasses.dataclass
class Point:
    x: float
    y: float


def loss(layer, s):
    return (layer.w * s + layer.b) ** 2


def uses_w(layer, s):
    return layer.w * s


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_tangent_answers_only_its_fields():
    t = wengert.grad(loss)(Layer(0.5, 0.25), 2.0)
    assert not hasattr(t, "detach") and not hasattr(t, "keys") and not hasattr(t, "shape")
    with pytest.raises(AttributeError, match="no field 'detach'"):
        t.detach()
    r = 0.5 * 2.0 + 0.25
    assert t.w == pytest.approx(2 * r * 2.0) and t.b == pytest.approx(2 * r)


def test_tangent_field_of_the_primal_type_without_gradient_reads_none():
    t = Tangent(Layer, w=1.0)
    assert t.w == 1.0
    assert t.b is None and t.gain is None  # assigned by __init__, and by a method
    assert not hasattr(t, "bias")
    assert (t + Tangent(Layer, b=2.0)).b == 2.0
    assert (t + Tangent(b=2.0)).gain is None  # the sum keeps the primal's type
    assert Tangent(Point, x=1.0).y is None
    with pytest.raises(AttributeError):
        Tangent(w=1.0).b  # primal type unknown: only the fields it holds


def test_tangent_of_object_wrt_one_argument_against_finite_differences():
    layer = Layer(0.5, 0.25)
    g = wengert.grad(loss, argnums=1)(layer, 2.0)
    assert g == pytest.approx(_fd(lambda s: loss(layer, s), 2.0), rel=1e-7)
    t = wengert.grad(uses_w, argnums=0)(layer, 2.0)
    assert t.w == pytest.approx(_fd(lambda w: uses_w(Layer(w, 0.25), 2.0), 0.5), rel=1e-7)
    assert not hasattr(t, "b") or t.b is None  # no gradient for b
    assert not hasattr(t, "detach")


def test_forward_mode_tangent_of_an_object_knows_its_type():
    def make(x):
        return Layer(x * 2.0, 1.0)

    y, t = wengert.jvp(make, (3.0,), (1.0,))
    assert isinstance(t, Tangent) and t.w == 2.0
    assert t.b is None or t.b == 0.0
    assert not hasattr(t, "detach")
    assert wengert.jvp(lambda p: p.w * p.b, (Layer(3.0, 4.0),), (Tangent(Layer, w=1.0),)) == (12.0, 4.0)


def test_tangent_copies_and_pickles():
    t = Tangent(Point, x=1.0)
    for u in (copy.copy(t), copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert u == t and u.y is None and not hasattr(u, "detach")
    bare = object.__new__(Tangent)
    assert not hasattr(bare, "x") and repr(bare) == "Tangent()"


def test_duck_typed_tree_utility_walks_a_gradient():
    """A user's tree map that tries mappings, then sequences, then objects' fields."""

    def leaves(g):
        if hasattr(g, "items"):
            return [v for _, v in sorted(g.items()) for v in leaves(v)]
        if isinstance(g, (list, tuple)):
            return [v for x in g for v in leaves(x)]
        if hasattr(g, "__dict__"):
            return [v for _, v in sorted(vars(g).items()) for v in leaves(v)]
        return [g]

    t = wengert.grad(loss)(Layer(0.5, 0.25), 2.0)
    assert leaves(t) == [pytest.approx(2 * 1.25), pytest.approx(2 * 1.25 * 2.0)]
