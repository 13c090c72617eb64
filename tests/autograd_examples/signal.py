"""A plain NumPy stand-in for the one call convnet.py makes to autograd.scipy.signal.convolve.

scipy.signal.convolve has no `axes` / `dot_axes`; this computes autograd's
convolve(A, B, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid") for A [data, c_in, y, x]
and B [c_in, c_out, ky, kx]: a true (flipped-kernel) convolution summed over c_in, giving
[data, c_out, y', x']. The autograd run of convnet.py uses autograd's own convolve instead.
"""

import numpy as np


def convolve(A, B, axes=None, dot_axes=None, mode="full"):
    assert axes == ([2, 3], [2, 3]) and dot_axes == ([1], [0]) and mode == "valid"
    kh, kw = B.shape[2], B.shape[3]
    oh, ow = A.shape[2] - kh + 1, A.shape[3] - kw + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            out = out + np.einsum("ncyx,co->noyx", A[:, :, i : i + oh, j : j + ow], B[:, :, kh - 1 - i, kw - 1 - j])
    return out
