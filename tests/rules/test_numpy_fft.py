"""np.fft rules: each transform is linear, so its rules are checked exactly against the transform itself
(<g, fft(v)> == <vjp(g), v> == <g, jvp(v)>, paired as Re(sum(g * t))) and against JAX."""

import numpy as np
import pytest
from _array_fd import values
from _fd import jvp, vjp

FFT = np.fft
rng = np.random.default_rng(0)


def _like(x, complex_):
    r = rng.standard_normal(np.shape(x))
    return r + 1j * rng.standard_normal(np.shape(x)) if complex_ else r


def pair(a, b):
    return float(np.real(np.sum(np.asarray(a) * np.asarray(b))))


def check_linear(fn, a, **kw):
    y = fn(a, **kw)
    g = _like(y, np.iscomplexobj(y))
    v = _like(a, np.iscomplexobj(a))
    ct = vjp(fn, 0, g, a, **kw)
    assert np.shape(ct) == np.shape(a) and np.iscomplexobj(ct) == np.iscomplexobj(a)
    exact = pair(g, fn(v, **kw))
    np.testing.assert_allclose(pair(ct, v), exact, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pair(g, jvp(fn, 0, v, a, **kw)), exact, rtol=1e-10, atol=1e-10)


REAL, CPLX = values((4, 6), 1), values((4, 6), 1) + 1j * values((4, 6), 2)
CASES = [
    (FFT.fft, {}), (FFT.fft, {"n": 4}), (FFT.fft, {"n": 9, "axis": 0, "norm": "ortho"}), (FFT.ifft, {}),
    (FFT.ifft, {"n": 8, "norm": "forward"}), (FFT.fft2, {}), (FFT.fft2, {"s": (3, 8)}), (FFT.ifft2, {"axes": (0, 1)}),
    (FFT.fftn, {}), (FFT.fftn, {"s": (5,), "axes": (0,)}), (FFT.ifftn, {"norm": "ortho"}),
    (FFT.rfft, {}), (FFT.rfft, {"n": 5}), (FFT.rfft, {"n": 8, "axis": 0, "norm": "ortho"}), (FFT.rfft2, {}),
    (FFT.rfftn, {"s": (3, 7), "axes": (0, 1)}), (FFT.irfft, {}), (FFT.irfft, {"n": 7}), (FFT.irfft, {"n": 12, "norm": "forward"}),
    (FFT.irfft2, {}), (FFT.irfftn, {"s": (5, 6), "axes": (0, 1)}), (FFT.irfftn, {"axes": (0,)}),
]


@pytest.mark.parametrize(("fn", "kw"), CASES, ids=lambda p: getattr(p, "__name__", ""))
def test_transforms(fn, kw):
    if fn not in (FFT.rfft, FFT.rfft2, FFT.rfftn):
        check_linear(fn, CPLX, **kw)
    check_linear(fn, REAL, **kw)  # a real input's cotangent is the real part


@pytest.mark.parametrize(("fn", "kw"), [(FFT.fft, {}), (FFT.rfft, {"n": 5}), (FFT.irfft, {}), (FFT.fft2, {}),
                                        (FFT.irfftn, {"s": (5, 6), "axes": (0, 1)}), (FFT.rfftn, {})])
def test_against_jax(fn, kw):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    a = CPLX if fn in (FFT.irfft, FFT.irfftn) else REAL
    jfn = getattr(jax.numpy.fft, fn.__name__)
    y, back = jax.vjp(lambda x: jfn(x, **kw), a)
    g = _like(y, np.iscomplexobj(y))
    np.testing.assert_allclose(vjp(fn, 0, g, a, **kw), np.asarray(back(g.astype(y.dtype))[0]), rtol=1e-9,
                               atol=1e-10)
