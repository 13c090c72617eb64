"""The JAX bridge (interop/jax.py): to_jax against jax.grad of the same code, finite differences, and under
jit, vmap and jacobian. Skipped without jax."""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

import wengert  # noqa: E402
from wengert.testing import numerical_grad  # noqa: E402


def simulate(p, x0):
    x = x0
    for _ in range(10):
        x = x + 0.1 * np.sin(p * x)
    return np.sum(x ** 2)


def jax_simulate(p, x0):
    x = x0
    for _ in range(10):
        x = x + 0.1 * jnp.sin(p * x)
    return jnp.sum(x ** 2)


P = jnp.array([0.5, 1.0, 1.5])
X0 = jnp.array([0.1, 0.2, 0.3])


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def test_importing_wengert_does_not_import_jax():
    code = "import sys, wengert; wengert.grad(lambda x: x * x)(1.0); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_value_and_grad_match_jax():
    g = wengert.to_jax(simulate)
    close(g(P, X0), jax_simulate(P, X0))
    for a, b in zip(jax.grad(g, argnums=(0, 1))(P, X0), jax.grad(jax_simulate, argnums=(0, 1))(P, X0)):
        close(a, b)


def test_grad_matches_finite_differences():
    g = jax.grad(wengert.to_jax(simulate))
    p = np.asarray(P)
    close(g(P, X0), numerical_grad(simulate, (p, np.asarray(X0)), 0)[()], tol=1e-6)
    from jax.test_util import check_grads

    check_grads(wengert.to_jax(simulate), (P, X0), order=1, modes=["rev"])


def test_under_jit():
    g = wengert.to_jax(simulate)
    close(jax.jit(g)(P, X0), jax_simulate(P, X0))
    close(jax.jit(jax.grad(g))(P, X0), jax.grad(jax_simulate)(P, X0))


def test_under_vmap():
    g = wengert.to_jax(simulate)
    ps = jnp.stack([P, 2 * P, -P])
    close(jax.vmap(g, in_axes=(0, None))(ps, X0), jax.vmap(jax_simulate, in_axes=(0, None))(ps, X0))
    close(jax.vmap(jax.grad(g), in_axes=(0, None))(ps, X0),
          jax.vmap(jax.grad(jax_simulate), in_axes=(0, None))(ps, X0))
    close(jax.jit(jax.vmap(jax.grad(g), in_axes=(0, None)))(ps, X0),
          jax.vmap(jax.grad(jax_simulate), in_axes=(0, None))(ps, X0))


def test_vector_output_jacobian_and_tuple_outputs():
    h = wengert.to_jax(lambda x: (np.sin(x) * x, np.sum(x)))
    close(jax.jacobian(lambda x: h(x)[0])(P), jax.jacobian(lambda x: jnp.sin(x) * x)(P))
    close(jax.grad(lambda x: h(x)[1])(P), jnp.ones(3))


def test_declared_out_shape():
    g = wengert.to_jax(simulate, out_shape=jax.ShapeDtypeStruct((), jnp.float64))
    close(jax.grad(g)(P, X0), jax.grad(jax_simulate)(P, X0))


def test_float32():
    g = wengert.to_jax(lambda x: np.sum(np.exp(x)))
    x = jnp.array([0.1, 0.2], dtype=jnp.float32)
    d = jax.grad(g)(x)
    assert d.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(d), np.exp([0.1, 0.2]), rtol=1e-6)


def test_jax_body():
    g = wengert.to_jax(jax_simulate, numpy=False)
    close(jax.grad(g)(P, X0), jax.grad(jax_simulate)(P, X0))
