"""Data structures, objects and mutation (the data-structure issue): every case against
central finite differences, and gradients shaped like what they differentiate."""

import dataclasses
import math
from collections import namedtuple
from typing import NamedTuple

import numpy as np
import pytest

import corpus_mutation as M
import wengert
from wengert.testing import check_grads


def check(f, *args):
    check_grads(f, *args, modes=("source",))


# ---- reading structures ----

Point = namedtuple("Point", "x y")


class PointNT(NamedTuple):
    x: float
    y: float


@dataclasses.dataclass
class Params:
    w: float
    b: float
    tag: str = "p"


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


def test_tuple_list_dict_arguments():
    def f(t, xs, d):
        return t[0] * xs[1] + d["a"] * len(xs) + sum(xs[1:]) + d.get("b", 0.0)
    check(f, (1.5, 2.0), [0.5, 1.5, 2.5], {"a": 3.0, "b": 0.25})
    gt, gxs, gd = wengert.gradient(f, (1.5, 2.0), [0.5, 1.5, 2.5], {"a": 3.0, "b": 0.25})
    assert isinstance(gt, tuple) and gt[1] is None
    assert isinstance(gxs, list) and len(gxs) == 3
    assert isinstance(gd, dict) and set(gd) == {"a", "b"}


def test_dict_iteration_items_keys_values_in():
    def f(d):
        s = 0.0
        for k, v in d.items():
            if k in ("a", "c"):
                s += v * v
        for k in d.keys():
            s += d[k]
        return s + sum(d.values())
    check(f, {"a": 1.5, "b": 2.0, "c": 0.5})


def test_namedtuple_and_dataclass_gradients_have_their_type():
    def f(p, q, r):
        return p.x * p.y + q.x * 2 + r.w * r.b
    gp, gq, gr = wengert.gradient(f, Point(1.5, 2.0), PointNT(3.0, 4.0), Params(0.5, 2.0))
    assert type(gp) is Point and gp == Point(2.0, 1.5)
    assert type(gq) is PointNT and gq.x == 2.0 and gq.y is None
    assert type(gr) is Params and gr.w == 2.0 and gr.b == 0.5 and gr.tag is None


def test_plain_and_slotted_objects_get_tangents():
    class Obj:
        def __init__(self):
            self.u = 1.5
            self.v = 2.0
    def f(o, s):
        return o.u * o.v + s.a * s.b
    go, gs = wengert.gradient(f, Obj(), Slotted(3.0, 4.0))
    assert isinstance(go, wengert.Tangent) and go.u == 2.0 and go.v == 1.5
    assert gs.a == 4.0 and gs.b == 3.0


def test_unpacking_star_and_comprehensions():
    check(M.m_star, 1.3)

    def f(xs):
        d = {i: x * x for i, x in enumerate(xs)}
        ys = [d[i] + xs[i] for i in range(len(xs))]
        head, *tail = ys
        return head * sum(tail)
    check(f, [1.5, 0.5, 2.0])


# ---- methods and classes ----

def test_methods_property_static_classmethod_inheritance_super():
    check(M.m_classes, 1.3, 0.7)


def test_operator_overloading_classes():
    check(M.m_vec, 1.3, 0.7)


class Linear:
    def __init__(self, w, b):
        self.w = w          # list of rows (lists of floats)
        self.b = b

    def __call__(self, xs):
        out = []
        for row, bias in zip(self.w, self.b):
            s = bias
            for wi, xi in zip(row, xs):
                s += wi * xi
            out.append(math.tanh(s))
        return out


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, xs):
        for layer in self.layers:
            xs = layer(xs)
        return xs


def mlp_loss(model, xs, target):
    ys = model(xs)
    return sum((y - t) ** 2 for y, t in zip(ys, target))


def make_model():
    return Sequential(Linear([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], [0.01, -0.02]),
                      Linear([[0.7, -0.8]], [0.03]))


def test_class_based_mlp_gradient_wrt_the_model():
    model = make_model()
    xs, target = [0.5, -1.0, 2.0], [0.25]
    g = wengert.grad(mlp_loss)(model, xs, target)
    assert isinstance(g, wengert.Tangent)
    gl = g.layers
    assert isinstance(gl, list) and len(gl) == 2
    eps = 1e-6
    for li, layer in enumerate(model.layers):
        for r, row in enumerate(layer.w):
            for c in range(len(row)):
                old = row[c]
                row[c] = old + eps
                up = mlp_loss(model, xs, target)
                row[c] = old - eps
                dn = mlp_loss(model, xs, target)
                row[c] = old
                assert gl[li].w[r][c] == pytest.approx((up - dn) / (2 * eps), rel=1e-5, abs=1e-8)
    # differentiating did not change the model
    assert model.layers[0].w == make_model().layers[0].w


# ---- mutation ----

@pytest.mark.parametrize("name,args", [
    ("m_append", (1.3,)), ("m_setitem", (1.3, 0.7)), ("m_alias", (1.3,)), ("m_dict", (1.3, 0.7)),
    ("m_obj", (1.3, 0.7)), ("m_nested", (1.3,)), ("m_pop", (1.3, 0.7)), ("m_array", (1.3,)),
    ("m_inplace", (1.3,)), ("m_callee_mutates", (1.3,)), ("m_list_param", ([1.5, 2.5],)),
    ("m_sort", (1.3, 0.7)), ("m_sort", (0.2, 0.7)),
])
def test_mutation(name, args):
    check(getattr(M, name), *args)


def test_values_read_before_an_overwrite_get_their_own_gradient():
    def f(x, y):
        L = [x]
        a = L[0]          # reads x
        L[0] = y          # overwrites it
        return a * 3 + L[0] * 5
    assert wengert.gradient(f, 1.0, 2.0) == (3.0, 5.0)


def test_aliases_of_one_list_and_containers_of_containers():
    def f(x):
        inner = [x, 1.0]
        outer = {"k": inner, "also": [inner]}
        outer["also"][0][1] = x * x      # writes through two levels of aliasing
        return inner[0] + inner[1] + outer["k"][1]
    check(f, 1.7)
    assert wengert.grad(f)(1.5) == pytest.approx(1 + 4 * 1.5)


def test_mutation_of_an_argument_is_visible_and_redone():
    def f(xs, x):
        xs.append(x * 2)
        xs[0] = xs[0] * x
        return sum(xs)
    xs = [1.0, 2.0]
    y, back = wengert.pullback(f, xs, 3.0)
    assert xs == [3.0, 2.0, 6.0]          # the caller sees the mutation, as in Python
    _, gxs, gx = back(1.0)
    assert xs == [3.0, 2.0, 6.0]          # and still after the backward pass
    assert gxs == [3.0, 1.0] and gx == pytest.approx(2.0 + 1.0)
    assert back(1.0)[2] == gx             # the pullback can run twice


def test_array_item_updates_in_a_loop():
    def heat(u0, k):
        u = u0.copy()
        for _ in range(4):
            u[1:-1] = u[1:-1] + k * (u[2:] - 2 * u[1:-1] + u[:-2])
            u[0] = u[1]
        return np.sum(u ** 2)
    check(heat, np.linspace(0, 1, 6) ** 2, 0.1)


def test_writing_into_a_view_is_refused():
    def f(x):
        a = np.zeros((2, 2))
        row = a[0]
        row[1] = x
        return np.sum(a)
    with pytest.raises(wengert.UnsupportedError, match="view"):
        wengert.grad(f)(1.0)


# ---- realistic programs ----

def test_particle_system_of_dataclasses():
    check(M.m_particles, 1.3)


def dict_loss(params, xs, ys):
    total = 0.0
    for x, y in zip(xs, ys):
        pred = params["w"] * x + params["b"]
        total += (pred - y) ** 2
    return total / len(xs)


def test_dict_of_parameters_trained_by_gradient_descent():
    xs = [0.0, 1.0, 2.0, 3.0]
    ys = [1.0, 3.0, 5.0, 7.0]
    params = {"w": 0.0, "b": 0.0}
    check(dict_loss, params, xs, ys)
    first = dict_loss(params, xs, ys)
    for _ in range(50):
        g = wengert.grad(dict_loss)(params, xs, ys)
        assert set(g) == {"w", "b"}
        params = {k: params[k] - 0.05 * g[k] for k in params}
    assert dict_loss(params, xs, ys) < 0.05 * first


def test_memoised_recursion_with_a_dict():
    check(M.m_memo, 1.1)


def test_priority_list_with_append_and_sort_by_key():
    def f(x, y, z):
        items = []
        for prio, v in ((3, x), (1, y * y), (2, z)):
            items.append((prio, v))
        items.sort(key=lambda t: t[0])
        return sum(v * (i + 1) for i, (p, v) in enumerate(items))
    check(f, 1.3, 0.7, 2.1)
    assert wengert.gradient(f, 1.0, 2.0, 3.0) == (3.0, 2 * 2.0, 2.0)
