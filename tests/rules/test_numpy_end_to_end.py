"""The rules of the NumPy sweep through generated code (inlined lambdas, rrules), not only called directly."""

import numpy as np
import pytest

import wengert
from wengert.testing import check_grads

X = np.random.default_rng(0).uniform(0.1, 1, (3, 3))


def decompositions(x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    q, r = np.linalg.qr(x)
    return np.sum(s ** 2) + np.sum(np.abs(np.diag(r))) + np.linalg.cond(x) + np.sum(np.linalg.pinv(x))


def sequences(x):
    y = np.append(x, np.sinc(x)) ** 2
    return np.sum(y) + np.median(x) + np.sum(np.diff(x, axis=0)) + np.nanmean(x) + np.ptp(x)


def grids(v):
    a, b = np.meshgrid(v, v)
    return np.sum(np.tril(a * b)) + np.interp(0.3, np.array([0.0, 0.5, 1.0]), v) + np.sum(np.abs(np.fft.rfft(v)) ** 2)


def products(v):
    return np.trapezoid(np.kron(v, v)) + np.sum(np.cross(v, v[::-1])) + np.polyval(v, 0.7) + np.sum(np.convolve(v, v))


def elementwise(v):
    return np.sum(np.copysign(v, -1.0) + np.minimum(v, 0.5) + np.fmin(v, 0.4) + np.logaddexp(v, 0.2) * np.hypot(v, 1.0))


@pytest.mark.parametrize(("f", "x"), [(decompositions, X), (sequences, X), (grids, X[0]), (products, X[0]),
                                      (elementwise, X[0])], ids=lambda p: getattr(p, "__name__", ""))
def test_through_generated_code(f, x):
    check_grads(f, x, modes=("source",))
    direction = np.ones_like(x)
    _, t = wengert.jvp(f, (x,), (direction,))
    np.testing.assert_allclose(t, np.sum(wengert.grad(f)(x) * direction), rtol=1e-8)
