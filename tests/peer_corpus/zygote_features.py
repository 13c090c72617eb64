"""Programs translated from FluxML/Zygote.jl's test/features.jl, test/lib/*.jl and
test/structures.jl: closures, recursion, keyword arguments, varargs, structs (as classes,
dataclasses and namedtuples), mutation, dicts, iterators, try/catch, checkpointing."""

import collections
import dataclasses
import functools
import itertools
import math

import numpy as np

import wengert
from tests.peer_corpus.harness import registry

CASES, case = registry("zygote_features")


# ---- features.jl: misc ----

def mul(a, b):
    return a * b


@case(2.0, 3.0)
def mul_(a, b):
    return mul(a, b)


BOOL = True


@case(3.0)
def global_flag(x):
    return 2 * x if BOOL else x


def fglobal(x):
    return 5 * x


@case(2.0)
def gglobal(x):
    return fglobal(x)


@case(2.0, 3)
def pow_(x, n):
    r = 1
    for _ in range(n):
        r *= x
    return r


@case(2.0, 3)
def pow_mut(x, n):
    r = [1.0]
    while n > 0:
        n -= 1
        r[0] = r[0] * x
    return r[0]


@case(2.0)
def constant(x):
    return 1.0


@case((2.0, 3.0))
def tuple_product(t):
    return t[0] * t[1]


class Bar:
    def __init__(self, a, b):
        self.a = a
        self.b = b


@case(2.0, 3.0)
def mul_struct(a, b):
    x = Bar(a, b)
    return x.a * x.b


@case(2.0, 3.0)
def mul_tuple(a, b):
    x = (a, b)
    return x[0] * x[1]


@case(2.0, 3.0)
def mul_lambda(x, y):
    g = lambda z: x * z  # noqa: E731
    return g(y)


@case(2.0, 3.0)
def varargs_mul(a, *b):
    return functools.reduce(lambda u, v: u * v, b, a)


@case(2.0, 3.0)
def varargs_first(x, *a):
    return x


def kwmul(*, a=1.0, b):
    return a * b


@case(2.0, 3.0)
def mul_kw(a, b):
    return kwmul(a=a, b=b)


@case(np.array([1.0, 2.0, 3.0]))
def myprod(xs):
    s = 1.0
    for x in xs:
        s *= x
    return s


@case(2.0, 3.0)
def mul_vec(a, b):
    xs = [a, b]
    return xs[0] * xs[1]


def _kw_g(*args, x=1.0, idx=slice(None), **kwargs):
    return x[idx]


def _kw_f(*args, a=None, **kwargs):
    return _kw_g(a, *args, **kwargs)


@case(np.ones(2))
def kwargs_forwarding(x):
    return np.sum(_kw_f(x=x, idx=slice(0, 1)))


def pow_rec(x, n):
    return 1.0 if n == 0 else x * pow_rec(x, n - 1)


@case(2.0, 3)
def pow_rec_(x, n):
    return pow_rec(x, n)


def grad_closure(x):
    return 2 * x


@case(5.0)
def higher_order_call(x):
    f = grad_closure
    return f(x)


@case(1.0)
def if_true_elseif(x):
    if True:
        pass
    elif True:
        pass
    return x + x


@case(1.0)
def pow_try(x):
    try:
        return x ** 2
    except ZeroDivisionError:
        return 0.0


@case(2.0)
def pow_try_finally(x):
    y = 0.0
    try:
        y = x ** 3
    finally:
        y = y + 1.0
    return y


@case(np.ones((2, 2, 2)))
def size_index(x):
    return float(x.shape[1]) + np.sum(x) * 0.0


@case(7.0, 8.8, 9.9)
def tuple_slice(x, y, z):
    return sum((x, y, z)[0:2])


@case(1.0, 2.0, 3.0)
def tuple_fancy_index(x, y, z):
    t = (x, y, z)
    return sum(t[i] for i in [0, 1, 0])


@case([(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)])
def sum_of_tuple_elements(xs):
    return sum(x[1] for x in xs)


@case([(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)])
def sum_prod_tuple_slices(xs):
    return sum(math.prod(x[1:3]) for x in xs)


# ---- mutable structs, Ref, NamedTuples ----

class MyMutable:
    def __init__(self, value):
        self.value = value


def _foo_set(m, x):
    m.value = x


@case((1.0,))
def mutable_struct_set(args):
    m = MyMutable(0.0)
    _foo_set(m, *args)
    return m.value


@case(MyMutable(3.0))
def mutable_struct_read(x):
    return x.value ** 2 + x.value


@dataclasses.dataclass
class Imm:
    x: object


@case((MyMutable(3.0),))
@case((Imm(3.0),))
def tuple_of_struct(x):
    return x[0].value ** 2 if isinstance(x[0], MyMutable) else x[0].x ** 2


@case(Imm(MyMutable(4.0)))
def nested_struct(x):
    return x.x.value ** 3


@case([Imm(MyMutable(4.0)), Imm(MyMutable(5.0))])
def list_of_nested_structs(x):
    return x[1].x.value ** 3


@case((Imm(np.array([3.0])),))
def struct_array_field(x):
    return np.sum(x[0].x + x[0].x) ** 3


NT = collections.namedtuple("NT", "a b")


@case(NT(1.0, 2.0))
def namedtuple_field(x):
    return x.a


@case([NT(1.0, 2.0), NT(3.0, 4.0)])
def list_of_namedtuples(x):
    return x[0].a


def _kwsplat(**kwargs):
    return kwargs["x"] * kwargs["z"]


@case({"x": 3.0, "y": 4.0, "z": 2.3})
def kwarg_splatting(somedata):
    return _kwsplat(**somedata)


@case(17.0)
def pair_second(x):
    return ("x", x)[1]


@case({"x": 1.0, "y": 3.0})
def dict_rebuild(d):
    return {"x": d["x"]}["x"]


# ---- Iterators ----

@case(np.arange(1.0, 6.0))
def iterate_enumerate(xs):
    return sum(x ** i for i, x in enumerate(xs, 1))


@case(np.array([10.0, 11.0, 12.0]), np.arange(1.0, 6.0))
def iterate_zip(xs, ys):
    return sum(x / y for x, y in zip(xs, ys))


@case(np.arange(2.0, 10.0))
def iterate_step(xs):
    return sum(x ** 2 for x in xs[::2])


@case(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]))
def iterate_product(xs, ys):
    return sum(x * y for x, y in itertools.product(xs, ys))


@case(np.array([1.0, 2.0, 3.0]))
def iterate_accumulate(xs):
    return sum(itertools.accumulate(xs))


@case(np.arange(1.0, 5.0))
def iterate_takewhile(xs):
    return sum(x * x for x in itertools.islice(xs, 2))


@case([1.0, 2.0, 3.0])
def iterate_chain(xs):
    return sum(v * v for v in itertools.chain(xs, [4.0]))


# ---- checkpointing ----

@case(0.7)
def checkpointed(x):
    return wengert.checkpoint(lambda y: math.sin(y) * y)(x)


# ---- lib/base.jl: Dict get, iteration ----

@case({"a": 2.0, "b": 3.0})
def dict_get_present(d):
    return d.get("a", 0.0)


@case({"a": 2.0, "b": 3.0}, 10.0)
def dict_get_default(d, default):
    return d.get("missing", default)


@case({"x": np.ones(3)})
def dict_get_array(d):
    return np.sum(d.get("x", np.zeros(3)))


@case({"a": 3.0, "b": 4.0, "c": 5.0})
def dict_iterate_items(d):
    s = 0.0
    for k, v in d.items():
        s += v
        if k == "b":
            s += v
    return s


@case({"a": 3.0, "b": 4.0, "c": 5.0})
def dict_iterate_values(d):
    s = 0.0
    for v in d.values():
        s += v
    return s


@case(np.array([1.0, 2.0, 3.0]))
def broadcast_closure(a):
    return np.sum(np.vectorize(lambda x: x + 3)(a))


# ---- lib/number.jl ----

@case(1.3)
def floor_ceil_round(x):
    return math.floor(x) + math.ceil(x) + round(x) + x * 0.0


@case(7.0, 2.0)
def integer_division(x, y):
    return (x // y) + x * 0.0


@case(2.0, 3.0, 4.0, 5.0)
def plus_many(a, b, c, d):
    return a + b + c + d


@case(3.0, 2.0)
def rational_div(a, b):
    return a / b


@case(2.0)
@case(-2.0)
def sqrt_of_square(x):  # at 0.0 see test_peer_corpus.test_sqrt_of_square_at_its_kink
    return math.sqrt(x ** 2)


@case(np.array([0.5, 1.0, -2.0]))
def sqrt_square_broadcast(x):
    return np.sum(np.sqrt(x ** 2))


@case(2.0, -3.0)
def copysign(x, y):
    return math.copysign(x, y)


@case(2.0)
def flipsign(x):
    return x * np.sign(-3.0)


@case(2.5)
def float_of_int(x):
    return float(int(x)) + x


# ---- structures.jl ----

@case(5.0)
def tasks_queue(x):
    q = collections.deque()
    q.append(x ** 2)
    return q.popleft() + x


@dataclasses.dataclass
class A594:
    x: float


@case([A594(0.3), A594(-0.8)], np.array([[1.0, 2.0], [3.0, 4.0]]))
def struct_broadcast(xs, ys):
    return sum(a.x + v for a, row in zip(xs, ys) for v in row)


class FewerArgs:
    def __init__(self, x):
        self.x = x


@case(2.0)
def fewer_args_constructor(x):
    return FewerArgs(x).x * 2


@case(5.0)
def threads_like(x):
    results = [None]

    def work():
        results[0] = x ** 2
    work()
    return results[0]
