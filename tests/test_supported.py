"""docs/guide/10-supported.md, row by row: every construct in the table, run.

A supported row (or one supported with a stated limit) is checked against float64
central differences, with respect to a subset of the arguments where there are several;
a refused row raises `wengert.UnsupportedError` naming the construct, this file and the
line. Section comments follow the table's sections; each test's name is its row.
"""

import bisect
import collections
import functools
import inspect
import itertools
import math
import os
from dataclasses import dataclass

import array_api_strict as xp
import numpy as np
import pytest
import scipy.special
import scipy.stats

import wengert
from wengert.testing import numerical_grad

HERE = os.path.basename(__file__)


def agrees(f, *args, argnums=(0,)):
    """wengert.grad(f, argnums) against central differences of every float leaf of those arguments."""
    got = wengert.grad(f, argnums=argnums)(*args)
    assert isinstance(got, tuple) and len(got) == len(argnums)
    for i, g in zip(argnums, got):
        for path, want in numerical_grad(f, args, i).items():
            have = g
            for p in path:
                have = None if have is None else have.get(p) if isinstance(have, dict) else have[p]
            have = np.zeros_like(want) if have is None else np.asarray(have, dtype=float)
            assert np.allclose(have, want, rtol=1e-5, atol=1e-6), (f.__name__, i, path, have, want)


def message(e: BaseException) -> str:
    """The error's text with its notes (wengert adds "raised while differentiating file:line")."""
    return "\n".join([str(e), *getattr(e, "__notes__", [])])


def line_of(f, text: str) -> int:
    """The line of this file, inside ``f``, that contains ``text``."""
    lines, start = inspect.getsourcelines(f)
    return start + next(k for k, line in enumerate(lines) if text in line)


def refused(f, *args, match: str, at: str, inside=None, located=True) -> str:
    """``f`` is refused with UnsupportedError matching ``match``, naming this file and the line with
    ``at`` (a line of ``inside``, default ``f``); ``located=False`` for a message that names no line."""
    with pytest.raises(wengert.UnsupportedError, match=match) as e:
        wengert.grad(f)(*args)
    msg = message(e.value)
    assert (f"{HERE}:{line_of(inside or f, at)}" in msg) == located, msg
    return msg


# ---- statements ----

def test_if_elif_else():
    def f(x, y):
        if x > 1.0:
            return x * y
        elif x > 0.0:
            return math.sin(x) * y
        else:
            return y

    agrees(f, 0.5, 2.0, argnums=(0, 1))
    agrees(f, 1.5, 2.0, argnums=(0,))


def test_while_with_data_dependent_trip_count():
    def f(x):
        r = x
        while r < 10.0:
            r = r * 1.7 + x
        return r

    agrees(f, 0.9)


def test_for_break_continue():
    def f(xs, s):
        total = 0.0
        for i, v in enumerate(xs):
            if v < 0:
                continue
            if i == 3:
                break
            total += v * s
        return total

    agrees(f, [1.0, -2.0, 3.0, 4.0, 5.0], 0.7, argnums=(0, 1))


def test_early_return():
    def f(xs):
        for v in xs:
            if v * v > 2.0:
                return v * v
        return 0.0

    agrees(f, [1.0, 1.5, 3.0])


def test_recursion():
    def contfrac(x, depth):
        return 1.0 if depth == 0 else 1.0 + x / contfrac(x, depth - 1)

    agrees(contfrac, 1.3, 8)


def test_closures_and_lambdas():
    def f(k, a):
        g = lambda t: math.exp(k * t)  # noqa: E731

        def h(t):
            return g(t) * a

        return sum(h(0.1 * i) for i in range(5))

    agrees(f, 0.7, 1.2, argnums=(0, 1))


def test_nonlocal_and_rebound_captured_variables():
    def f(x):
        total = 0.0

        def add(v):
            nonlocal total
            total = total + v * x

        for i in range(3):
            add(x + i)
        scale = 1.0
        get = lambda: scale * x  # noqa: E731
        scale = 2.0  # rebound after the closure was made: the closure sees 2.0
        return total + get()

    agrees(f, 0.8)


def test_a_lambda_made_in_a_comprehension_capturing_its_variable_is_refused():
    def f(x):
        fs = [lambda: j * x for j in range(3)]  # in Python every fs[k]() sees j == 2
        return fs[0]()

    def bound(x):
        fs = [lambda j=j: j * x for j in range(3)]
        return fs[1]() + fs[2]()

    refused(f, 1.0, match="a function made inside a comprehension captures its variable 'j'",
            at="fs = [lambda: j * x")
    agrees(bound, 0.7)


def test_mutual_recursion_of_nested_functions():
    def f(x, n):
        def ev(k):
            return x if k == 0 else od(k - 1) * x

        def od(k):
            return 1.0 if k == 0 else ev(k - 1) + x

        return ev(n) + od(n)

    agrees(f, 1.5, 3)


def test_try_except_else_finally():
    def f(x, d):
        try:
            r = x / d
        except ZeroDivisionError:
            r = x * x
        else:
            r = r + 1.0
        finally:
            r = r * x
        return r

    agrees(f, 2.0, 0.0, argnums=(0,))
    agrees(f, 2.0, 4.0, argnums=(0, 1))


def test_try_with_a_callee_that_raises():
    def risky(x):
        if x > 1.0:
            raise ValueError("too big")
        return x * x

    def f(x, y):
        try:
            r = risky(x) * y
        except ValueError:
            r = math.sin(x) * y
        return r

    agrees(f, 0.5, 1.5, argnums=(0, 1))
    agrees(f, 1.5, 1.5, argnums=(0, 1))


def test_try_refuses_an_exception_that_would_lose_a_loop_s_work():
    def f(x):
        s = x
        try:
            for i in range(3):
                s = s * x / (i - 1)
        except ZeroDivisionError:
            pass
        return s

    refused(f, 1.0, match="raised inside a compound statement", at="for i in range(3):")


def test_with_a_user_context_manager_and_errstate():
    class Scale:
        def __init__(self):
            self.entered = 0

        def __enter__(self):
            self.entered += 1
            return 2.0

        def __exit__(self, *exc):
            return False

    def f(x):
        with np.errstate(divide="ignore"):
            s = np.log(x)
        with Scale() as k:
            s = s * k + x
        return s

    agrees(f, 1.7)


def test_match():
    def f(x, shape):
        match shape:
            case ("sq", w):
                return x * w * w
            case {"r": r}:
                return math.pi * r * r * x
            case [a, *rest]:
                return x * a + sum(rest)
            case _:
                return x

    agrees(f, 1.3, ("sq", 2.0), argnums=(0, 1))
    agrees(f, 1.3, {"r": 0.5}, argnums=(0, 1))
    agrees(f, 1.3, [0.5, 1.0, 2.0], argnums=(0, 1))


def test_match_refuses_an_or_pattern_that_binds():
    def f(x, p):
        match p:
            case (a, 1) | (1, a):
                return x * a
        return x

    refused(f, 1.0, (2.0, 1), match="or-pattern that binds names", at="case (a, 1) | (1, a)")


G = 0.0


def test_global_write_is_refused():
    def f(x):
        global G
        G = x
        return x * 2.0

    refused(f, 1.0, match="Global statement.*return the value instead", at="global G")


def test_class_defined_inside_the_function():
    def f(x, y):
        @dataclass
        class Pt:
            a: float
            b: float

            def norm2(self):
                return self.a * self.a + self.b * self.b

        return Pt(x, y * x).norm2()

    agrees(f, 0.6, 1.1, argnums=(0, 1))


def test_local_class_reading_enclosing_variables_is_refused():
    def f(x):
        class C:
            def g(self):
                return x * 2.0

        return C().g()

    refused(f, 1.0, match=r"class C defined in a differentiated function reads its variables \(x\)",
            at="class C:")


def test_function_local_import():
    def f(x):
        import cmath
        from math import tanh

        return tanh(x) + cmath.exp(x).real

    agrees(f, 0.4)


# ---- expressions ----

def test_f_strings_percent_formatting_and_print_in_a_loop(capsys):
    def f(x):
        s = x
        for i in range(2):
            s = s * x
            print(f"step {i}: {s:.3f}", "%d %.2f" % (i, s))
        return s

    agrees(f, 1.1)
    assert "step 1" in capsys.readouterr().out


def test_set_displays_of_non_differentiated_values():
    def f(x, n):
        seen = {n, 2, 3}
        return x * len(seen) + (x if 2 in seen else 0.0)

    agrees(f, 1.5, 1)


def test_a_set_of_differentiated_values_is_refused():
    def f(x, y):
        return sum({x, y})

    refused(f, 1.0, 2.0, match="a set of values that carry a derivative", at="return sum({x, y})",
            located=False)  # a run-time message without the file and line (the table says so)


def test_starred_expressions_in_displays_and_calls():
    def h(a, b, c, d):
        return a * b + c * d

    def f(xs, y):
        ys = [*xs, y]
        t = (*ys, 1.0)
        return h(*xs, *[y, t[0]]) + sum(t)

    agrees(f, [0.5, 1.5], 2.0, argnums=(0, 1))


def test_double_star_in_dict_displays():
    def f(x, d):
        e = {**d, "b": x}
        return e["a"] * e["b"]

    agrees(f, 0.8, {"a": 1.5}, argnums=(0, 1))


def test_generator_functions_consumed_by_sum_for_list():
    def squares(xs):
        for v in xs:
            yield v * v

    def f(xs):
        total = sum(squares(xs))
        for s in squares(xs):
            total = total + math.sin(s)
        return total + list(squares(xs))[0]

    agrees(f, [0.5, 1.5])


def test_a_send_driven_generator_is_refused():
    def avg():
        total = 0.0
        v = yield 0.0
        while True:
            total += v
            v = yield total

    def f(x):
        gen = avg()
        next(gen)
        return gen.send(x)

    refused(f, 1.0, match=r"a yield used as a value \(generator.send\)", at="v = yield total", inside=avg)


def test_comprehensions_and_generator_expressions():
    def f(xs, s):
        ys = [v * s for v in xs if v > 0]
        d = {i: v for i, v in enumerate(ys)}
        return sum(d[k] * d[k] for k in d) + max(v for v in xs)

    agrees(f, [0.5, -1.0, 2.0], 1.3, argnums=(0, 1))


def test_walrus():
    def f(x):
        if (y := x * x) > 1.0:
            return y * x
        return y

    agrees(f, 1.2)


def test_walrus_inside_a_comprehension_is_refused():
    def f(xs):
        return sum([(y := v * v) + y for v in xs])

    refused(f, [0.5, 1.5], match="assignment expression inside a comprehension", at="(y := v * v)")


# ---- builtins and the standard library ----

def test_map_and_filter():
    def f(xs, s):
        ys = list(map(lambda v: v * s, xs))
        zs = filter(lambda v: v > 0, ys)
        return sum(zs) + sum(map(math.sin, xs))

    agrees(f, [0.5, -1.0, 2.0], 1.3, argnums=(0, 1))


def test_functools_reduce_and_partial():
    def mul(a, b, k=1.0):
        return a * b * k

    def f(xs, k):
        scaled = functools.partial(mul, k=k)
        return functools.reduce(scaled, xs) + functools.reduce(lambda a, b: a + b, xs, 0.0)

    agrees(f, [0.5, 1.5, 2.0], 0.9, argnums=(0, 1))


def test_itertools():
    def f(xs, ys):
        t = sum(a * b for a, b in itertools.product(xs, ys))
        t = t + sum(itertools.islice(xs, 1, None))
        t = t + sum(itertools.chain(xs, ys))
        return t + list(itertools.accumulate(ys))[-1] * xs[0]

    agrees(f, [0.5, 1.5], [2.0, -0.3], argnums=(0, 1))


def test_collections_deque():
    def build(xs):
        return collections.deque(xs, maxlen=2)[0]

    def push(xs):
        q = collections.deque()
        q.append(xs[0])
        q.appendleft(xs[1] * xs[0])
        return q[0] + q.popleft() * q.pop()

    agrees(build, [0.5, 1.5, -2.0], argnums=(0,))
    agrees(push, [0.5, 1.5], argnums=(0,))


class _Bag:
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        for v in self.items:
            yield v


def test_user_object_iteration():
    def f(xs):
        s = 0.0
        for v in _Bag(xs):
            s = s + v * v
        a, b = _Bag(xs)
        return s + sum(_Bag(xs)) * a * b

    agrees(f, [0.5, 1.5], argnums=(0,))


def test_dict_keyword_constructor_and_dict_zip():
    def f(x, ys):
        d = dict(a=x, b=2.0 * x)
        e = dict(zip(["p", "q"], ys))
        e.update(r=x * x)
        return d["a"] * e["q"] + d["b"] * e["p"] + e["r"]

    agrees(f, 0.7, [1.5, -2.0], argnums=(0, 1))


def _loss(a, b, scale=1.0):
    return (a - b) ** 2 * scale


def test_kwargs_forwarding_and_the_decorator_shape():
    def logged(fn):
        def wrapper(*a, **kw):
            return fn(*a, **kw)

        return wrapper

    def f(x, s):
        opts = {"scale": s}
        return logged(_loss)(x, 1.0, **opts) + logged(_loss)(a=x, b=s)

    agrees(f, 0.3, 1.7, argnums=(0, 1))


def test_getattr_with_a_default():
    class Obj:
        def __init__(self, w):
            self.w = w

    def f(x):
        o = Obj(x)
        return getattr(o, "w", 1.0) * getattr(o, "missing", 2.0) * x

    agrees(f, 0.9)


def test_complex_numbers_in_jax_convention():
    def f(x, y):
        z = complex(x, y)
        w = z * z + 1j * z
        return abs(w) + w.real * (z.conjugate()).imag

    agrees(f, 0.7, -0.4, argnums=(0, 1))


def test_numpy_scalar_constructors():
    def f(x):
        return np.float64(x) * np.float32(2.0) + float(np.float64(x * x))

    agrees(f, 0.6)


def test_int_and_astype_int_have_zero_gradient():
    def f(x, a):
        return x * int(x * 3.0) + float(np.sum(a.astype(int) * a))

    agrees(f, 1.4, np.array([1.5, 2.5]), argnums=(0, 1))


def test_outputs_of_size_1():
    def f(a):
        return np.sum(a * a, keepdims=True)  # shape (1,)

    a = np.array([0.5, 1.5])
    want = numerical_grad(lambda t: f(t)[0], (a,), 0)[()]
    assert np.allclose(wengert.grad(f)(a), want, rtol=1e-5)


def test_a_non_scalar_output_is_refused_with_a_type_error():
    def f(a):
        return np.sum(a * a, axis=-1)

    # a TypeError (as for a string output), not UnsupportedError, and it names no file or line
    with pytest.raises(TypeError, match=r"grad needs a scalar output \(or one of size 1\), got shape \(2,\)") as e:
        wengert.grad(f)(np.ones((2, 3)))
    assert HERE not in message(e.value)


def test_builder_methods_returning_self():
    class Acc:
        def __init__(self):
            self.total = 0.0

        def add(self, v):
            self.total = self.total + v
            return self

    def f(x, y):
        return Acc().add(x * y).add(math.sin(x)).total

    agrees(f, 0.7, 1.3, argnums=(0, 1))


D = {}


def test_module_level_dict_writes():
    def f(x):
        D["x"] = x * x
        return D["x"] * x

    agrees(f, 0.8)


def test_a_c_callable_without_a_rule_is_refused():
    def f(x):
        import bisect

        return x * bisect.bisect_left([0.0, 1.0, 2.0], x)

    with pytest.raises(wengert.UnsupportedError, match="no rule for _bisect.bisect_left") as e:
        wengert.grad(f)(1.5)
    assert "declare it with wengert.nondiff(_bisect.bisect_left)" in str(e.value)
    assert f"{HERE}:" in message(e.value)


@pytest.mark.xfail(strict=True, reason="the note names the statement before a call nested in an expression")
def test_a_c_callable_without_a_rule_is_refused_at_its_line():
    def f(x):
        y = x * 2.0
        return x * bisect.bisect_left([0.0, 1.0, 2.0], y)

    refused(f, 0.7, match="no rule for _bisect.bisect_left", at="bisect.bisect_left([")


# ---- containers, objects and mutation ----

@dataclass
class Particle:
    x: float
    v: float


class Body:
    def __init__(self, x, v):
        self.x = x
        self.v = v


def test_lists_dicts_tuples():
    def f(xs, d):
        pair = (xs[0], d["a"])
        ys = xs + [pair[1]]
        return sum(ys) * pair[0] + len(d)

    agrees(f, [0.5, 1.5], {"a": 2.0, "b": 1.0}, argnums=(0, 1))


def test_dataclasses_and_objects():
    def f(x, v):
        p = Particle(x, v)
        b = Body(v, x)
        return p.x * b.x + p.v * math.sin(b.v)

    agrees(f, 0.5, 1.5, argnums=(0, 1))


def test_mutation_of_lists_dicts_and_objects():
    def f(xs, s):
        xs = list(xs)
        xs.append(xs[0] * s)
        xs[1] *= s
        d = {"k": s}
        d["k"] = d["k"] * xs[2]
        p = Particle(s, 1.0)
        p.v = p.x * xs[1]
        for i in range(len(xs)):
            xs[i] = xs[i] * p.v
        return sum(xs) + d["k"]

    agrees(f, [0.5, 1.5], 0.8, argnums=(0, 1))


def test_mutating_the_arguments():
    def f(xs, b):
        xs[0] = xs[0] * b.v
        b.x = b.x + xs[1]
        return xs[0] * b.x

    # central differences call f on copies (lists) but the same Body; rebuild it per call
    def g(xs, x, v):
        return f(list(xs), Body(x, v))

    agrees(g, [0.5, 1.5], 0.3, 0.9, argnums=(0, 1, 2))


# ---- NumPy ----

def test_numpy_in_place_updates():
    def f(a, s):
        b = a.copy()
        b[0] = b[1] * s
        b *= s
        b[1:] += a[:-1]
        return np.sum(b * b)

    agrees(f, np.array([0.5, 1.5, -1.0]), 0.7, argnums=(0, 1))


def test_numpy_out():
    def f(a, b):
        c = np.zeros(3)
        np.multiply(a, b, out=c)
        np.sin(c, out=c)
        np.add(c, a, out=c)
        return np.sum(c * b)

    agrees(f, np.array([0.5, 1.5, -1.0]), np.array([0.2, 0.3, 0.4]), argnums=(0, 1))


def test_numpy_functions_of_the_sweep():
    def f(a, b):
        c = np.append(a, b)
        return np.sum(np.sinc(c) + np.copysign(c, b[0]) + np.real(c) * c[0])

    agrees(f, np.array([0.5, 1.5]), np.array([-0.3, 0.8]), argnums=(0, 1))


def test_complex_arrays_give_the_real_part_right():
    def f(a):
        return np.sum(np.real(a * (1.0 + 2.0j)) + np.imag(a * 1j) * a)

    a = np.array([0.5, 1.5])
    g = wengert.grad(f)(a)
    assert np.allclose(np.real(g), numerical_grad(f, (a,), 0)[()], rtol=1e-5)


def test_complex_arrays_give_a_real_gradient_to_a_real_array():
    def f(a):
        return np.sum(np.real(a * (1.0 + 2.0j)))

    g = wengert.grad(f)(np.array([0.5, 1.5]))
    assert g.dtype == np.float64 and np.allclose(g, 1.0), g


def test_array_api_namespace_imported_at_module_level():
    def f(a):
        return xp.sum(xp.exp(a) * a)

    a = np.array([0.5, -0.2, 1.0])
    g = wengert.grad(f)(xp.asarray(a))
    want = numerical_grad(lambda t: float(f(xp.asarray(t))), (a,), 0)[()]
    assert np.allclose(np.asarray(g), want, rtol=1e-5)


def test_torch_functions_and_tensor_methods():
    torch = pytest.importorskip("torch")

    def f(x):
        return torch.sin(x).sum() * x.exp()[1] + (x[1:] ** 2).sum()

    a = np.array([0.5, -0.2, 1.0])
    g = wengert.grad(f)(torch.tensor(a))
    want = numerical_grad(lambda t: float(f(torch.tensor(t))), (a,), 0)[()]
    assert np.allclose(g.numpy(), want, rtol=1e-5)


def test_scipy_special():
    def f(x, a):
        sp = scipy.special
        return (sp.erf(x) + sp.gammaln(x + 2.0) + sp.digamma(x + 2.0) + sp.expit(x)
                + sp.logsumexp(a * x))

    agrees(f, 0.6, np.array([0.5, 1.5, -1.0]), argnums=(0, 1))


def test_scipy_stats_densities():
    def f(mu, sigma, xs):
        return np.sum(scipy.stats.norm.logpdf(xs, mu, sigma)) + scipy.stats.norm.pdf(mu)

    agrees(f, 0.3, 1.2, np.array([0.5, -0.1, 2.0]), argnums=(0, 1))
