"""More elementwise NumPy rules (sinc, complex parts, float decompositions) and the nondiff lists."""

import numpy as np
import pytest
from _array_fd import SETTINGS, arrays, broadcast_pair, check_array_rule, jax_check, values
from _fd import assert_nondiff, jvp, vjp
from hypothesis import given


@SETTINGS
@given(x=arrays(-3, 3))
def test_sinc(x):
    check_array_rule(np.sinc, x)


def test_sinc_at_zero():
    assert vjp(np.sinc, 0, 1.0, 0.0) == 0.0
    check_array_rule(np.sinc, np.array([0.0, 0.5, -1.5]), rtol=1e-5)


def test_i0():
    check_array_rule(np.i0, values((5,), 1, -4, 4))
    check_array_rule(np.i0, values((2, 2), 2, 10, 30), rtol=1e-7)


@SETTINGS
@given(pair=broadcast_pair())
def test_copysign(pair):
    a, b = pair
    check_array_rule(np.copysign, a, b, wrt=[0])


def test_ldexp_frexp_modf_divmod():
    x = values((2, 3), 1, -5, 5)
    check_array_rule(np.ldexp, x, np.array([1, -2, 3]))
    check_array_rule(np.frexp, x * 1.1)
    check_array_rule(np.modf, x + 0.01)
    check_array_rule(np.divmod, values((4,), 2, 0.1, 3), values((4,), 3, 0.7, 1.3))


def test_nan_to_num_unwrap():
    x = np.array([1.0, np.nan, -2.0, np.inf])
    np.testing.assert_array_equal(vjp(np.nan_to_num, 0, np.ones(4), x), [1, 0, 1, 0])
    check_array_rule(np.nan_to_num, values((3,), 1))
    check_array_rule(np.unwrap, np.array([0.1, 3.0, 6.0, 0.2, -3.0]))


def test_real_imag_angle_of_reals():
    x = values((2, 3), 1)
    check_array_rule(np.real, x)
    check_array_rule(np.real_if_close, x)
    np.testing.assert_array_equal(vjp(np.imag, 0, np.ones((2, 3)), x), np.zeros((2, 3)))
    np.testing.assert_array_equal(vjp(np.angle, 0, np.ones((2, 3)), x), np.zeros((2, 3)))


def _complex_vjp_against_jax(np_fn, jax_fn, z, g):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    _, back = jax.vjp(jax_fn, z)
    np.testing.assert_allclose(vjp(np_fn, 0, g, z), np.asarray(back(g)[0]), rtol=1e-10)
    _, t_jax = jax.jvp(jax_fn, (z,), (g.astype(complex) if np.iscomplexobj(z) else g,))
    np.testing.assert_allclose(jvp(np_fn, 0, g.astype(complex), z), np.asarray(t_jax), rtol=1e-10)


def test_complex_parts_follow_jax():
    jnp = pytest.importorskip("jax.numpy")
    z = values((3,), 1) + 1j * values((3,), 2)
    g = values((3,), 3)
    for np_fn, jax_fn in ((np.real, jnp.real), (np.imag, jnp.imag), (np.angle, jnp.angle)):
        _complex_vjp_against_jax(np_fn, jax_fn, z, g)


def test_sort_complex():
    x = np.array([3.0, -1.0, 2.0])
    np.testing.assert_array_equal(vjp(np.sort_complex, 0, np.array([1.0, 2.0, 3.0]), x), [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(jvp(np.sort_complex, 0, np.array([1.0, 2.0, 3.0]), x), [2.0, 3.0, 1.0])


def test_against_jax():
    jnp = pytest.importorskip("jax.numpy")
    jax_check(np.sinc, jnp.sinc, values((4,), 1))
    jax_check(np.copysign, jnp.copysign, values((4,), 1), values((4,), 2), wrt=[0])
    jax_check(np.i0, jnp.i0, values((4,), 1, -3, 3))


def test_nondiff():
    assert_nondiff(np.nextafter, np.spacing, np.gcd, np.bitwise_and, np.left_shift, np.isposinf, np.isin,
                   np.array2string, np.result_type, np.save, np.nanargmax, np.hamming)


def test_copying_conversions():
    for fn in (np.asarray_chkfinite, np.require):
        check_array_rule(fn, values((2, 3), 1))
