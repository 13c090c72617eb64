"""Array API code that imports its namespace at module level (issue 10).

``import array_api_strict as xp`` at the top of a file, then ``xp.sum(xp.exp(x))``
in the differentiated function: the namespace's functions are primitives with
the rules of their NumPy counterparts (`wengert.interop.array_api.namespace_provider`),
with no `register_namespace` call. Gradients are checked against float64
central differences, with respect to subsets of the arguments.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import array_api_strict as xp
import numpy as np
import pytest

import wengert
from wengert.interop.array_api import namespace_provider
from wengert.rules.table import get_rule


def to_numpy(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    if isinstance(a, np.ndarray):
        return a
    return np.asarray(np.from_dlpack(a)) if not hasattr(a, "__array__") else np.asarray(a)


def central(f, args, i, convert, eps=1e-6):
    """d f / d args[i] by float64 central differences (args are NumPy arrays, converted for f)."""
    base = [np.array(a, dtype=np.float64) for a in args]
    out = np.zeros_like(base[i])
    for idx in np.ndindex(base[i].shape):
        hi = [a.copy() for a in base]
        lo = [a.copy() for a in base]
        hi[i][idx] += eps
        lo[i][idx] -= eps
        out[idx] = (float(f(*map(convert, hi))) - float(f(*map(convert, lo)))) / (2 * eps)
    return out


def check(f, args, argnums, convert):
    got = wengert.grad(f, argnums=argnums)(*map(convert, args))
    if isinstance(argnums, int):
        got, argnums = (got,), (argnums,)
    for g, i in zip(got, argnums):
        np.testing.assert_allclose(to_numpy(g), central(f, args, i, convert), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{f.__name__}: argument {i}")


def strict(a):
    return xp.asarray(a, dtype=xp.float64)


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- functions of the module-level namespace `xp` (array_api_strict) ----


def loss(x, w):
    return xp.sum(xp.exp(x) * w) + xp.sum(xp.tanh(x * w) ** 2)


def mlp(W, b, X):
    h = xp.tanh(X @ W + b)
    return xp.mean(h * h) + xp.max(h)


def logsumexp(x, y):
    m = xp.max(x)
    return m + xp.log(xp.sum(xp.exp(x - m))) + xp.sum(xp.pow(xp.abs(y), 1.5) + xp.acos(y * 0.5))


def linalg(L, b):
    S = L @ xp.matrix_transpose(L) + xp.eye(L.shape[0], dtype=L.dtype)
    s = xp.linalg.solve(S, b)
    _sign, logdet = xp.linalg.slogdet(S)
    return xp.sum(s * s) + logdet


def shapes(x, y):
    c = xp.concat([x, 2.0 * y], axis=0)
    return xp.sum(xp.reshape(c, (-1,)) ** 3) + xp.sum(xp.permute_dims(x, (1, 0)) @ y)


@pytest.mark.parametrize("f, shapes_, argnums", [
    (loss, [(5,), (5,)], (0, 1)),
    (loss, [(5,), (5,)], 1),
    (mlp, [(3, 4), (4,), (6, 3)], (0,)),
    (mlp, [(3, 4), (4,), (6, 3)], (1, 2)),
    (logsumexp, [(6,), (6,)], (0, 1)),
    (linalg, [(3, 3), (3,)], (0, 1)),
    (linalg, [(3, 3), (3,)], 1),
    (shapes, [(2, 3), (2, 3)], (0, 1)),
])
def test_module_level_array_api_strict(f, shapes_, argnums):
    r = rng(len(shapes_))
    args = [r.uniform(-0.9, 0.9, s) for s in shapes_]
    check(f, args, argnums, strict)
    got = wengert.grad(f, argnums=argnums)(*map(strict, args))
    for g in (got if isinstance(got, tuple) else (got,)):
        assert isinstance(g, type(xp.asarray(0.0)))  # gradients stay array_api_strict arrays


def test_provider_copies_the_numpy_rule():
    for fn, np_fn in ((xp.exp, np.exp), (xp.acos, np.arccos), (xp.linalg.solve, np.linalg.solve),
                      (xp.concat, np.concatenate)):
        rule, want = namespace_provider(fn), get_rule(np_fn)
        assert rule is not None and rule.fn is fn
        assert (rule.vjps, rule.rrule, rule.broadcast) == (want.vjps, want.rrule, want.broadcast)
    assert namespace_provider(np.exp) is None and namespace_provider(len) is None


def test_function_without_numpy_rule_is_refused_by_name():
    def f(x):
        return xp.sum(xp.unique_values(x))

    with pytest.raises(wengert.UnsupportedError, match="array_api_strict.unique_values"):
        wengert.grad(f)(strict([1.0, 2.0, 2.0]))
    # a value that carries no derivative goes through
    assert float(xp.sum(xp.unique_values(strict([1.0, 2.0, 2.0])))) == 3.0

    def g(x):
        n = xp.unique_values(xp.round(x)).shape[0]
        return xp.sum(x * x) * n

    np.testing.assert_allclose(to_numpy(wengert.grad(g)(strict([1.0, 2.0, 2.0]))), [4.0, 8.0, 8.0])


def test_namespace_imported_after_wengert():
    """The issue's case, in a fresh interpreter: wengert first, then the namespace, no register call."""
    code = textwrap.dedent("""
        import wengert
        import array_api_strict as xp
        import numpy as np

        def f(x, w):
            return xp.sum(xp.exp(x) * w) + xp.sum(xp.linalg.matmul(xp.reshape(x, (1, 3)), xp.reshape(w, (3, 1))))

        x = xp.asarray([0.1, 0.2, 0.3], dtype=xp.float64)
        w = xp.asarray([1.0, -2.0, 0.5], dtype=xp.float64)
        gx, gw = wengert.grad(f, argnums=(0, 1))(x, w)
        np.testing.assert_allclose(np.asarray(gx), np.exp(np.asarray(x)) * np.asarray(w) + np.asarray(w))
        np.testing.assert_allclose(np.asarray(gw), np.exp(np.asarray(x)) + np.asarray(x))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


# ---- other namespaces imported at module level ----


def test_array_api_compat_numpy():
    import array_api_compat.numpy as cnp

    def f(x, y):
        return cnp.sum(cnp.pow(cnp.exp(x), 2.0) * y) + cnp.sum(cnp.concat([x, y]) ** 2)

    args = [rng(1).uniform(-1, 1, 4), rng(2).uniform(-1, 1, 4)]
    check(f, args, (0, 1), np.asarray)
    check(f, args, 1, np.asarray)


def test_array_api_compat_torch():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as ct

    def f(x, y):
        return ct.sum(ct.tanh(x) * y) + ct.sum(ct.pow(x, 2.0)) + ct.sum(ct.concat([x, y]) ** 3)

    args = [rng(3).uniform(-1, 1, 4), rng(4).uniform(-1, 1, 4)]
    check(f, args, (0, 1), lambda a: torch.tensor(a, dtype=torch.float64))
    check(f, args, 0, lambda a: torch.tensor(a, dtype=torch.float64))


def test_jax_numpy():
    pytest.importorskip("jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(x, y):
        return jnp.sum(jnp.sin(x) * y) + jnp.sum(jnp.exp(x * y))

    args = [rng(5).uniform(-1, 1, 3), rng(6).uniform(-1, 1, 3)]
    check(f, args, (0, 1), jnp.asarray)
    check(f, args, 1, jnp.asarray)
