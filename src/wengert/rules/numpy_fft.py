"""Rules for ``np.fft``: complex, real and inverse transforms in 1, 2 and n dimensions.

Every transform is linear, so its tangent is the transform of the tangent and
its cotangent the transposed transform. Cotangents follow JAX's convention for
complex numbers (see `wengert.rules.numpy_elementwise`): they pair with tangents
as ``Re(sum(g * t))`` without conjugation, so the transpose of ``fft`` is
``fft`` itself (the DFT matrix is symmetric), a real input's cotangent is the
real part, and the lengths ``n`` / ``s`` (zero padding or cropping) transpose
to cropping or zero padding. ``rfft``'s transpose is the real part of an
``fft`` of the zero-padded cotangent; ``irfft``'s is ``ifft`` of the cotangent,
doubled on the frequencies that stand for a conjugate pair.

``hfft`` / ``ihfft`` (Hermitian-input transforms, rarely used in models) have
no rules.
"""

from __future__ import annotations

import numpy as np

from wengert.rules.numpy_elementwise import real_part
from wengert.rules.table import defjvp, defvjp


def _fix(c, axes, lengths):
    """``c`` cropped or zero-padded along ``axes`` to ``lengths``."""
    for ax, n in zip(axes, lengths):
        have = c.shape[ax]
        if have > n:
            c = np.take(c, np.arange(n), axis=ax)
        elif have < n:
            pad = [(0, 0)] * c.ndim
            pad[ax] = (0, n - have)
            c = np.pad(c, pad)
    return c


def _axes(a, s=None, axes=None):
    nd = np.ndim(a)
    if axes is None:
        axes = range(nd) if s is None else range(nd - len(s), nd)
    return [ax % nd for ax in axes]


def _lengths(a, axes, s):
    return [np.shape(a)[ax] for ax in axes] if s is None else list(s)


# ---- complex to complex ----


def c2c_back(transform, g, a, s=None, axes=None, norm=None):
    """Cotangent of ``a`` for ``y = transform(a, s, axes, norm)`` (``fftn`` or ``ifftn``): the same transform."""
    axs = _axes(a, s, axes)
    c = transform(g, axes=axs, norm=norm)
    return real_part(_fix(c, axs, [np.shape(a)[ax] for ax in axs]), a)


for _f, _t in ((np.fft.fftn, np.fft.fftn), (np.fft.ifftn, np.fft.ifftn), (np.fft.fft2, np.fft.fftn),
               (np.fft.ifft2, np.fft.ifftn)):
    _default = (-2, -1) if _f in (np.fft.fft2, np.fft.ifft2) else None
    defvjp(_f, lambda g, y, a, s=None, axes=_default, norm=None, out=None, _t=_t: c2c_back(_t, g, a, s, axes, norm))
    defjvp(_f, lambda t, y, a, s=None, axes=_default, norm=None, out=None, _f=_f: _f(t, s, axes, norm))
for _f, _t in ((np.fft.fft, np.fft.fftn), (np.fft.ifft, np.fft.ifftn)):
    defvjp(_f, lambda g, y, a, n=None, axis=-1, norm=None, out=None, _t=_t:
           c2c_back(_t, g, a, None if n is None else [n], [axis], norm))
    defjvp(_f, lambda t, y, a, n=None, axis=-1, norm=None, out=None, _f=_f: _f(t, n, axis, norm))

# ---- real to complex and back ----


def rfftn_back(g, a, s=None, axes=None, norm=None):
    """Cotangent of real ``a`` for ``y = rfftn(a, s, axes, norm)``: ``fftn`` over all but the last axis
    transposed, then ``rfft`` over the last (the real part of an ``fft`` of the zero-padded cotangent)."""
    axs = _axes(a, s, axes)
    ns = _lengths(a, axs, s)
    c = g
    if len(axs) > 1:
        c = np.fft.fftn(c, axes=axs[:-1], norm=norm)
    c = np.fft.fft(c, n=ns[-1], axis=axs[-1], norm=norm)
    return real_part(_fix(c, axs, [np.shape(a)[ax] for ax in axs]), a)


def irfftn_back(g, a, s=None, axes=None, norm=None):
    """Cotangent of ``a`` for real ``y = irfftn(a, s, axes, norm)``: ``irfft`` over the last axis transposed
    (``ifft``, doubled where a frequency stands for its conjugate too), then ``ifftn`` over the others."""
    axs = _axes(a, s, axes)
    last = axs[-1]
    n = g.shape[last]
    m = n // 2 + 1
    c = np.take(np.fft.ifft(g, axis=last, norm=norm), np.arange(m), axis=last)
    weight = np.full(m, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    shape = [1] * c.ndim
    shape[last] = m
    c = c * weight.reshape(shape)
    if len(axs) > 1:
        c = np.fft.ifftn(c, axes=axs[:-1], norm=norm)
    return real_part(_fix(c, axs, [np.shape(a)[ax] for ax in axs]), a)


for _f, _back in ((np.fft.rfftn, rfftn_back), (np.fft.irfftn, irfftn_back), (np.fft.rfft2, rfftn_back),
                  (np.fft.irfft2, irfftn_back)):
    _default = (-2, -1) if _f in (np.fft.rfft2, np.fft.irfft2) else None
    defvjp(_f, lambda g, y, a, s=None, axes=_default, norm=None, out=None, _b=_back: _b(g, a, s, axes, norm))
    defjvp(_f, lambda t, y, a, s=None, axes=_default, norm=None, out=None, _f=_f: _f(t, s, axes, norm))
for _f, _back in ((np.fft.rfft, rfftn_back), (np.fft.irfft, irfftn_back)):
    defvjp(_f, lambda g, y, a, n=None, axis=-1, norm=None, out=None, _b=_back:
           _b(g, a, None if n is None else [n], [axis], norm))
    defjvp(_f, lambda t, y, a, n=None, axis=-1, norm=None, out=None, _f=_f: _f(t, n, axis, norm))
