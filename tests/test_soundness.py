"""The soundness issue's patterns: each once silently wrong, each differentiated with
respect to a subset of its arguments and checked against float64 central differences.

The arguments are built afresh for every evaluation (`make`): these functions mutate
what they are handed, so a finite difference must start from the same state as the
gradient did.
"""

import dataclasses
import numpy as np
import pytest

import wengert


def fd(f, make, argnum, h=1e-6):
    """d f(*make()) / d args[argnum] for a float argument, central differences."""
    def at(dx):
        args = list(make())
        args[argnum] = args[argnum] + dx
        return f(*args)
    return (at(h) - at(-h)) / (2 * h)


def fd_leaf(f, make, get, set_, h=1e-6):
    """Derivative with respect to one float inside a structured argument: ``get(args)``
    reads it, ``set_(args, v)`` writes it."""
    def at(dx):
        args = make()
        set_(args, get(args) + dx)
        return f(*args)
    return (at(h) - at(-h)) / (2 * h)


def grad_wrt(f, make, argnums):
    return wengert.grad(f, argnums=argnums)(*make())


class O:
    def __init__(self, w):
        self.w = w


@dataclasses.dataclass
class P:
    x: float
    v: float


# ---- objects and aliases ----

def alias_through_list(objs, d):
    o = objs[0]
    o.w = o.w * d
    return objs[0].w


def test_alias_through_list_wrt_scalar():
    make = lambda: ([O(2.0), O(1.0)], 0.3)  # noqa: E731
    assert grad_wrt(alias_through_list, make, 1) == pytest.approx(fd(alias_through_list, make, 1))
    # forward mode must agree with finite differences too (it once agreed with the wrong 0.0)
    y, t = wengert.jvp(lambda d: alias_through_list([O(2.0), O(1.0)], d), (0.3,), (1.0,))
    assert t == pytest.approx(2.0)


def test_alias_through_list_wrt_objects():
    make = lambda: ([O(2.0), O(1.0)], 0.3)  # noqa: E731
    g = grad_wrt(alias_through_list, make, 0)
    want = fd_leaf(alias_through_list, make, lambda a: a[0][0].w, lambda a, v: setattr(a[0][0], "w", v))
    assert g[0].w == pytest.approx(want)
    assert g[1] is None or getattr(g[1], "w", None) in (None, 0.0)


def dataclass_particles(ps, d):
    for p in ps:
        p.v = p.v - d * p.x
        p.x = p.x + p.v
    return sum(p.x for p in ps)


def dataclass_particles_copied(ps, d):
    ps = [P(p.x, p.v) for p in ps]
    for p in ps:
        p.v = p.v - d * p.x
        p.x = p.x + p.v
    return sum(p.x for p in ps)


@pytest.mark.parametrize("f", [dataclass_particles, dataclass_particles_copied])
def test_list_of_dataclasses_updated_in_loop_wrt_scalar(f):
    make = lambda: ([P(1.0, 0.5), P(2.0, -0.3)], 0.3)  # noqa: E731
    assert grad_wrt(f, make, 1) == pytest.approx(fd(f, make, 1))


def test_list_of_dataclasses_updated_in_loop_wrt_particles():
    make = lambda: ([P(1.0, 0.5), P(2.0, -0.3)], 0.3)  # noqa: E731
    g = grad_wrt(dataclass_particles, make, 0)
    for i in range(2):
        for name in ("x", "v"):
            want = fd_leaf(dataclass_particles, make, lambda a: getattr(a[0][i], name),
                           lambda a, v: setattr(a[0][i], name, v))
            assert getattr(g[i], name) == pytest.approx(want, abs=1e-7)


def objects_in_dict(d, s):
    d["a"].w = d["a"].w * s
    return d["a"].w + d["b"].w


def test_objects_held_in_dict_wrt_scalar():
    make = lambda: ({"a": O(2.0), "b": O(1.0)}, 1.5)  # noqa: E731
    assert grad_wrt(objects_in_dict, make, 1) == pytest.approx(fd(objects_in_dict, make, 1))


def nested_lists(rows, s):
    for row in rows:
        for j in range(len(row)):
            row[j] = row[j] * s
    return rows[0][0] + rows[1][1] * rows[0][1]


def test_nested_lists_updated_in_place_wrt_scalar():
    make = lambda: ([[1.0, 2.0], [3.0, 4.0]], 1.5)  # noqa: E731
    assert grad_wrt(nested_lists, make, 1) == pytest.approx(fd(nested_lists, make, 1))


def test_nested_lists_updated_in_place_wrt_rows():
    make = lambda: ([[1.0, 2.0], [3.0, 4.0]], 1.5)  # noqa: E731
    g = grad_wrt(nested_lists, make, 0)
    for i in range(2):
        for j in range(2):
            want = fd_leaf(nested_lists, make, lambda a: a[0][i][j], lambda a, v: a[0][i].__setitem__(j, v))
            assert (g[i][j] or 0.0) == pytest.approx(want, abs=1e-7)


def swap_objects(objs, s):
    objs[0].w = objs[0].w * s
    objs[0], objs[1] = objs[1], objs[0]
    return objs[1].w * objs[0].w


def test_swapping_objects_inside_list_wrt_scalar():
    make = lambda: ([O(2.0), O(3.0)], 1.5)  # noqa: E731
    assert grad_wrt(swap_objects, make, 1) == pytest.approx(fd(swap_objects, make, 1))


def with_setattr_getattr(o, s):
    setattr(o, "w", getattr(o, "w") * s)
    return o.w * getattr(o, "w")


def test_setattr_getattr_wrt_scalar():
    make = lambda: (O(2.0), 1.5)  # noqa: E731
    assert grad_wrt(with_setattr_getattr, make, 1) == pytest.approx(fd(with_setattr_getattr, make, 1))


# ---- closures and recursion ----

def recursive_inner(x, n):
    def g(n):
        return x if n == 0 else x * g(n - 1)
    return g(n)


def test_recursive_inner_function_capturing_differentiated_variable():
    make = lambda: (1.5, 3)  # noqa: E731
    assert grad_wrt(recursive_inner, make, 0) == pytest.approx(4 * 1.5 ** 3)
    assert grad_wrt(recursive_inner, make, 0) == pytest.approx(fd(recursive_inner, make, 0))


def closure_updates_captured_list(v, w):
    s = [0.0]

    def add(u):
        s[0] = s[0] + u
    add(v * v)
    add(w * v)
    return s[0]


def test_closure_updates_captured_list():
    make = lambda: (2.0, 3.0)  # noqa: E731
    for argnums in (0, 1):
        assert grad_wrt(closure_updates_captured_list, make, argnums) == pytest.approx(
            fd(closure_updates_captured_list, make, argnums))


def closure_reads_after_change(b, a):
    def cl():
        return b[0]
    b[0] *= a
    return cl()


def test_closure_reads_captured_list_after_in_place_change():
    make = lambda: ([2.0], 0.5)  # noqa: E731
    assert grad_wrt(closure_reads_after_change, make, 1) == pytest.approx(2.0)


def nested_writes_captured(a, b):
    def g():
        b.w = a.w
    g()
    return b.w * 2.0


def test_nested_function_writes_captured_object():
    make = lambda: (O(2.0), O(1.0))  # noqa: E731
    g = grad_wrt(nested_writes_captured, make, 0)
    assert g.w == pytest.approx(2.0)


def side_effect_closure(x, o):
    def side():
        o.w = o.w + 1.0
        return x * 2.0
    return side()


def test_closure_side_effect_on_undifferentiated_argument_runs_once():
    o = O(0.0)
    y, g = wengert.value_and_grad(side_effect_closure)(1.0, o)
    assert (y, g) == (2.0, 2.0)
    assert o.w == 1.0


# ---- callees that mutate what they are handed ----

def scale_first_star(*objs):
    objs[0].w = objs[0].w * objs[1]


def mutates_through_star_args(o, s):
    scale_first_star(o, s)
    return o.w


def scale_kw(o, s=1.0):
    o.w = o.w * s


def mutates_through_kwarg(o, s):
    scale_kw(o, s=s)
    return o.w * s


@pytest.mark.parametrize("f", [mutates_through_star_args, mutates_through_kwarg])
def test_callee_mutates_argument_through_star_args_or_keyword(f):
    make = lambda: (O(2.0), 1.5)  # noqa: E731
    assert grad_wrt(f, make, 1) == pytest.approx(fd(f, make, 1))


# ---- NumPy ----

def matmul_out(a):
    b = np.zeros((2, 2))
    np.matmul(a, a, out=b)
    return np.sum(b * b)


def multiply_out(a, s):
    c = np.empty_like(a)
    np.multiply(a, s, out=c)
    return np.sum(c * a)


def test_numpy_out_matmul():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = wengert.grad(matmul_out)(a)
    want = np.zeros_like(a)
    for i in range(2):
        for j in range(2):
            e = np.zeros_like(a)
            e[i, j] = 1e-6
            want[i, j] = (matmul_out(a + e) - matmul_out(a - e)) / 2e-6
    np.testing.assert_allclose(g, want, rtol=1e-6)


def test_numpy_out_multiply_wrt_scalar():
    make = lambda: (np.array([1.0, -2.0, 0.5]), 1.5)  # noqa: E731
    assert grad_wrt(multiply_out, make, 1) == pytest.approx(fd(multiply_out, make, 1))


def exp_shift(r, xs):
    return np.sum(np.exp(r + xs))


def test_numpy_float64_with_int_array():
    xs = np.array([1, 2, 3])
    g = wengert.grad(exp_shift)(np.float64(0.5), xs)
    assert np.shape(g) == ()
    assert float(g) == pytest.approx(float(np.sum(np.exp(0.5 + xs))))


def unpack_then_call(pair):
    a, b = pair
    return twice(a) * b


def twice(a):
    return a * 2.0


def test_unpacking_tuple_argument_then_calling():
    assert wengert.grad(unpack_then_call)((1.0, 3.0)) == pytest.approx((6.0, 2.0))


def test_functions_without_writes_keep_the_fast_path():
    # the analysis sees into a pure callee: no heap write, no widened kinds
    from wengert.ir import activity
    from wengert.dispatch import cache

    def outer(ps, d):
        return sum(sq(p.x) * d for p in ps)

    info = activity.analyse(cache.get_ir(outer), (activity.kind_of([P(1.0, 2.0)]), "float"), {})
    assert not info.effects and not info.kinds_unsure


def sq(v):
    return v * v


def test_unknown_call_widens_kinds():
    from wengert.ir import activity
    from wengert.dispatch import cache

    def outer(ps, d):
        opaque(ps, d)
        return ps[0].x

    info = activity.analyse(cache.get_ir(outer), (activity.kind_of([P(1.0, 2.0)]), "float"), {})
    assert info.effects and info.kinds_unsure
    make = lambda: ([P(1.0, 2.0)], 0.5)  # noqa: E731
    assert grad_wrt(outer, make, 1) == pytest.approx(fd(outer, make, 1))


def opaque(ps, d):
    ps[0].x = np.asarray(ps[0].x) * d  # the field is a 0-d array now: float code would be wrong


# ---- being careful is not refusing ----

def noisy(x, rs):
    return np.sum(x * rs.randn(3))


def noisy_closure(x):
    r = np.random.RandomState(1)

    def inner(y):
        return np.sum(y * r.randn(3))
    return inner(x)


def test_random_state_argument_or_captured_needs_no_rule():
    x = np.array([1.0, 2.0, 3.0])
    g = wengert.grad(noisy)(x, np.random.RandomState(0))
    np.testing.assert_allclose(g, np.random.RandomState(0).randn(3))
    g = wengert.grad(noisy_closure)(x)
    np.testing.assert_allclose(g, np.random.RandomState(1).randn(3))


# ---- what the arguments hold afterwards ----

def push_back(xs, s):
    xs.append(xs[-1] * s)
    xs[0] = xs[0] + s


def scale_all(xs, s=1.0):
    for i in range(len(xs)):
        xs[i] = xs[i] * s
    return xs[0]


def logged_then_plain(a, xs, d):
    acc = scale_all(xs, s=d)    # its writes are logged (its result is differentiated)
    push_back(xs, d)            # these run plainly: nothing of theirs is differentiated
    push_back(xs, d)
    return acc + a.x * a.v + sum(xs)


def test_arguments_left_as_a_plain_call_leaves_them():
    # the backward pass undoes the logged writes; the end must put back what the
    # forward pass left, not replay the log over the later plain writes
    def make():
        return P(-1.161, 0.722), [-0.617, 0.136], -0.254

    for argnums in (0, (0, 1, 2)):
        args, plain = make(), make()
        y, _ = wengert.value_and_grad(logged_then_plain, argnums=argnums)(*args)
        assert y == pytest.approx(logged_then_plain(*plain))
        assert args[1] == plain[1]


def first_square(xs):
    for x in xs:
        return x * x
    return 0.0


def squares_until(xs, t):
    s = 0.0
    for x in xs:
        if x > t:
            break
        s = s + x * x
    return s


def test_leaving_a_loop_over_a_list_early():
    assert wengert.grad(first_square)([3.0, 1.0]) == [6.0, None]
    g = wengert.grad(squares_until)([1.0, 2.0, 5.0, 1.0], 3.0)
    assert [v or 0.0 for v in g] == [2.0, 4.0, 0.0, 0.0]
    g = wengert.grad(squares_until)((1.0, 2.0, 5.0, 1.0), 3.0)
    assert [v or 0.0 for v in g] == [2.0, 4.0, 0.0, 0.0]
    g = wengert.grad(squares_until)(np.array([1.0, 2.0, 5.0, 1.0]), 3.0)
    np.testing.assert_allclose(g, [2.0, 4.0, 0.0, 0.0])


class Acc:
    def __init__(self):
        self.total = 0.0

    def add(self, v):     # named like set.add: still this class's own method
        self.total = self.total + v

    def update(self, v, w):
        self.total = self.total * v + w
        return self


def accumulate(x, w):
    a = Acc()
    a.add(x)
    a.add(x * w)
    a.update(x, w).add(w)
    return a.total


def test_user_methods_named_like_container_mutators():
    make = lambda: (3.0, 0.5)  # noqa: E731
    for argnums in (0, 1):
        assert grad_wrt(accumulate, make, argnums) == pytest.approx(fd(accumulate, make, argnums))


def product_of_fields(a, b):
    return a.x * b.v


def test_same_object_as_two_arguments_one_differentiated():
    # the object's whole cotangent goes to the argument asked for, in every mode
    for mode in ("source", "tape"):
        o = O(2.0)
        o.x, o.v = 2.0, 3.0
        (g,) = wengert.grad(product_of_fields, argnums=(1,), mode=mode)(o, o)
        assert (g.x, g.v) == (3.0, 2.0)


def _prim(fn, x):
    return fn(x)


def _wrap_star(fn, *args):
    return _prim(fn, *args)


def star_forwarding(a, b):
    return _wrap_star(lambda x: x * a * b, a)


def test_forward_mode_through_star_call_with_a_closure():
    # (fn,) + args: tuple tangents concatenate; their contributions must add elementwise
    make = lambda: (3.0, 2.0)  # noqa: E731
    for argnum, tangent in ((0, (1.0, 0.0)), (1, (0.0, 1.0))):
        _, t = wengert.jvp(star_forwarding, make(), tangent)
        assert t == pytest.approx(fd(star_forwarding, make, argnum))
        assert grad_wrt(star_forwarding, make, argnum) == pytest.approx(fd(star_forwarding, make, argnum))


# ---- found by the autograd examples ----

def params_in_a_tuple_of_lists(combined):
    gen_params, rec_params = combined
    W, b = rec_params[0]
    out = np.dot(np.ones((3, 6)), W) + b
    mean, log_std = out[:, :2], out[:, 2:]
    return np.sum(np.random.RandomState(0).randn(3, 2) * np.exp(log_std) + mean)


def test_parameters_in_a_list_inside_a_tuple():
    # the list's buffered cotangent was never collected through the tuple: None
    rs = np.random.RandomState(1)
    rec = [(rs.randn(6, 4) * .1, rs.randn(4) * .1)]
    gen = [(rs.randn(2, 6) * .1, rs.randn(6) * .1)]
    g = wengert.grad(params_in_a_tuple_of_lists)((gen, rec))
    for i, j in ((0, 3), (5, 1)):
        want = fd_leaf(params_in_a_tuple_of_lists, lambda: [(gen, [(rec[0][0].copy(), rec[0][1].copy())])],
                       lambda a: a[0][1][0][0][i, j], lambda a, v: a[0][1][0][0].__setitem__((i, j), v))
        assert g[1][0][0][i, j] == pytest.approx(want, rel=1e-6)


U_GLOBAL = np.array([1.0, 0.0])


def times_one_minus_global(p):
    return np.sum(p * (1 - U_GLOBAL))


def test_arithmetic_on_a_global_array():
    np.testing.assert_allclose(wengert.grad(times_one_minus_global)(np.array([0.3, 0.6])), [0.0, 1.0])


def clip_below_by_keyword(x, lo):
    return np.sum(np.clip(x, a_min=lo, a_max=None))


def clip_below_positionally(x, lo):
    return np.sum(np.clip(x, lo, None))


def test_keyword_argument_carrying_a_derivative_into_a_rule_is_refused():
    # rules give cotangents to positional arguments only: d/dlo was silently 0.0
    x = np.array([0.1, 0.9])
    with pytest.raises(wengert.UnsupportedError, match="a_min= carries a derivative"):
        wengert.grad(clip_below_by_keyword, argnums=1)(x, 0.5)
    assert wengert.grad(clip_below_positionally, argnums=1)(x, 0.5) == pytest.approx(1.0)
    # not differentiated: a keyword is fine
    np.testing.assert_allclose(wengert.grad(clip_below_by_keyword)(x, 0.5), [0.0, 1.0])


# ---- found by the peer corpus ----

def closure_fills_a_list_of_none(x):
    res = [None]

    def work():
        res[0] = x ** 2
    work()
    return res[0]


def test_closure_fills_a_list_of_none():
    # a list of Nones may hold floats once an opaque call wrote to it: was 0.0
    assert wengert.grad(closure_fills_a_list_of_none)(5.0) == pytest.approx(10.0)


def concat_by_index(x, y):
    return np.sum(np.r_[x, 2.0 * y, 1.0] ** 2) + np.sum(np.c_[x, y] * 3.0)


def test_np_r_and_np_c_index_tricks():
    # the derivative flows through the index of an object with its own __getitem__: was None
    make = lambda: (np.array([0.5, -1.0]), np.array([2.0, 0.25]))  # noqa: E731
    for argnum in (0, 1):
        g = wengert.grad(concat_by_index, argnums=argnum)(*make())
        for i in range(2):
            want = fd_leaf(concat_by_index, lambda: list(make()), lambda a: a[argnum][i],
                           lambda a, v: a[argnum].__setitem__(i, v))
            assert g[i] == pytest.approx(want, rel=1e-6)
    _, t = wengert.jvp(concat_by_index, make(), (np.ones(2), np.zeros(2)))
    assert t == pytest.approx(sum(fd_leaf(concat_by_index, lambda: list(make()), lambda a: a[0][i],
                                          lambda a, v: a[0].__setitem__(i, v)) for i in range(2)), rel=1e-6)


# ---- found by the fuzzer's new generators ----

class Updatable:
    def __init__(self):
        self.t = 0.0

    def update(self, **kw):
        for k in kw:
            self.t = self.t + kw[k]


def update_by_keyword(x, y):
    u = Updatable()
    u.update(a=x, b=2.0 * y)
    d = {}
    d.update({"p": x}, q=x * y)
    return u.t + d["p"] * y + d["q"]


def test_update_with_keyword_values():
    # d.update(r=x): the value written by keyword lost its cotangent (0.0)
    make = lambda: (3.0, 0.5)  # noqa: E731
    for argnum in (0, 1):
        assert grad_wrt(update_by_keyword, make, argnum) == pytest.approx(fd(update_by_keyword, make, argnum))


def lambdas_over_a_comprehension_variable(x):
    fs = [lambda: j * x for j in range(3)]
    return fs[0]()


def test_function_capturing_a_comprehension_variable_is_refused():
    with pytest.raises(wengert.UnsupportedError, match="captures its variable 'j'"):
        wengert.grad(lambdas_over_a_comprehension_variable)(2.0)


def einsum_broadcasting_a_size_one_axis(w, x):
    # "mnd,mdo->mno" with x's m of size 1 against w's m of size 2 (the autograd Bayesian MLP)
    return np.sum(np.tanh(np.einsum("mnd,mdo->mno", x[None], w)) ** 2)


def test_einsum_that_broadcasts_a_size_one_axis():
    make = lambda: (np.random.RandomState(0).randn(2, 1, 3), np.linspace(-1.0, 1.0, 4).reshape(4, 1))  # noqa: E731
    for argnum in (0, 1):
        g = wengert.grad(einsum_broadcasting_a_size_one_axis, argnums=argnum)(*make())
        idx = (1, 0, 2) if argnum == 0 else (2, 0)
        want = fd_leaf(einsum_broadcasting_a_size_one_axis, lambda: list(make()), lambda a: a[argnum][idx],
                       lambda a, v: a[argnum].__setitem__(idx, v))
        assert g[idx] == pytest.approx(want, rel=1e-6)
