"""Rules for NumPy's products and linear algebra: matmul, dot, einsum, solve, eigh, norm, ...

Cotangents have exactly their input's shape: batch dimensions that ``matmul``
or ``solve`` broadcast are summed away here, and 1-d operands of ``matmul`` and
``dot`` get 1-d cotangents. Real arrays only (``vdot`` and ``vecdot`` would
conjugate complex ones).

Functions of symmetric matrices (``cholesky``, ``eigh``, ``eigvalsh``) follow
JAX: their input is taken to be symmetric, tangents are symmetrized and
cotangents are symmetric. ``eigh``'s eigenvector rule divides by eigenvalue
gaps: for repeated eigenvalues the eigenvectors are not unique, and the pair of
terms for a repeated pair is dropped (``F_ij = 0`` when ``w_i == w_j``), which is
right only for losses invariant to rotations inside the eigenspace. The matrix
2-norm and nuclear norm have the same caveat for repeated singular values.
"""

from __future__ import annotations

import operator
import string

import numpy as np

from wengert.rules.numpy_shape import expand, is_float, match, xp_of
from wengert.rules.table import defjvp, defvjp, frule, rrule
from wengert.rules.support import shape_of, unbroadcast

# ---- products ----


def _promote(g, a, b):
    """matmul operands and cotangent as stacks of matrices (1-d operands get a unit axis)."""
    xp = xp_of(g, a, b)
    va, vb = a.ndim == 1, b.ndim == 1
    A = xp.expand_dims(a, axis=0) if va else a
    B = xp.expand_dims(b, axis=-1) if vb else b
    G = xp.asarray(g)
    G = xp.expand_dims(G, axis=-1) if vb else G
    G = xp.expand_dims(G, axis=-2) if va else G
    return xp, G, A, B


def matmul_grad_a(g, a, b):
    """Cotangent of ``a`` for ``y = a @ b``, batch dimensions unbroadcast."""
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the stacking
        return g @ b.T
    xp, G, A, B = _promote(g, a, b)
    return xp.reshape(unbroadcast(G @ xp.matrix_transpose(B), A), a.shape)


def matmul_grad_b(g, a, b):
    """Cotangent of ``b`` for ``y = a @ b``, batch dimensions unbroadcast."""
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    xp, G, A, B = _promote(g, a, b)
    return xp.reshape(unbroadcast(xp.matrix_transpose(A) @ G, B), b.shape)


for _f in (np.matmul, operator.matmul, np.linalg.matmul):
    defvjp(_f, lambda g, y, a, b: matmul_grad_a(g, a, b), lambda g, y, a, b: matmul_grad_b(g, a, b))
    defjvp(_f, lambda t, y, a, b: t @ b, lambda t, y, a, b: a @ t)

_LETTERS = string.ascii_letters


def parse_einsum(subscripts, shapes):
    """``(terms, out)``: one explicit letter string per operand and the output's.

    Ellipses become letters; a size-1 dimension broadcast against a longer one
    gets a letter of its own, so every letter names one size and gradients can
    be written as einsums without broadcasting.
    """
    subscripts = subscripts.replace(" ", "")
    ins, out = subscripts.split("->") if "->" in subscripts else (subscripts, None)
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} terms for {len(shapes)} operands")
    fresh = iter(c for c in _LETTERS if c not in subscripts)
    spans = [len(s) - (len(t) - 3) if "..." in t else 0 for t, s in zip(ins, shapes)]
    ndim = max(spans, default=0)
    sizes = [1] * ndim
    for t, s, k in zip(ins, shapes, spans):
        start = t.index("...") if k else 0
        for j in range(k):
            if s[start + j] != 1:
                sizes[ndim - k + j] = s[start + j]
    ell = [next(fresh) for _ in range(ndim)]
    terms = []
    for t, s, k in zip(ins, shapes, spans):
        if k:
            start = t.index("...")
            dims = "".join(next(fresh) if s[start + j] == 1 and sizes[ndim - k + j] != 1 else ell[ndim - k + j]
                           for j in range(k))
            t = t.replace("...", dims)
        terms.append(t)
    if out is None:
        letters = "".join(t.replace("...", "") for t in ins)
        out = "".join(ell) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", "".join(ell))
    return terms, out


def einsum_grad(g, terms, out, operands, k, optimize=False):
    """Cotangent of ``operands[k]`` for ``y = einsum(terms -> out, *operands)``: itself an einsum."""
    xp = xp_of(g, *operands)
    x = operands[k]
    shape = tuple(shape_of(x))
    used = set("".join(terms) + out)
    fresh = iter(c for c in _LETTERS if c not in used)
    ins, ops, target, seen = [], [], "", set()
    for c, n in zip(terms[k], shape):
        if c in seen:  # a repeated letter reads a diagonal: write the gradient back on it
            d = next(fresh)
            ins.append(c + d)
            ops.append(xp.eye(n, dtype=xp.asarray(g).dtype))
            c = d
        seen.add(c)
        target += c
    ins += [t for i, t in enumerate(terms) if i != k] + [out]
    ops += [o for i, o in enumerate(operands) if i != k] + [g]
    present = set("".join(ins))
    reduced = "".join(c for c in target if c in present)
    grad = np.einsum(",".join(ins) + "->" + reduced, *ops, optimize=optimize) if xp is np else \
        xp.einsum(",".join(ins) + "->" + reduced, *ops)
    if reduced != target:  # letters only x has were summed in the forward pass: broadcast back
        grad = xp.broadcast_to(xp.reshape(grad, tuple(n if c in present else 1 for c, n in zip(target, shape))), shape)
    gshape = tuple(getattr(grad, "shape", ()))
    if len(gshape) == len(shape) and gshape != tuple(shape):
        # a size-1 axis of x that einsum broadcast against the others': its cotangent is summed
        axes = tuple(i for i, (a, b) in enumerate(zip(gshape, shape)) if b == 1 and a != 1)
        grad = xp.sum(grad, axis=axes, keepdims=True)
    return match(grad, x)


@rrule(np.einsum)
def einsum_rrule(subscripts, *operands, **kw):
    if not isinstance(subscripts, str):
        raise NotImplementedError("wengert differentiates np.einsum with a subscripts string only")
    y = np.einsum(subscripts, *operands, **kw)

    def einsum_pullback(g):
        terms, out = parse_einsum(subscripts, [np.shape(o) for o in operands])
        opt = kw.get("optimize", False)
        grads = (einsum_grad(g, terms, out, operands, k, opt) if is_float(o) else None for k, o in enumerate(operands))
        return (None, *grads)

    return y, einsum_pullback


@frule(np.einsum)
def einsum_frule(tangents, subscripts, *operands, **kw):
    y = np.einsum(subscripts, *operands, **kw)
    t = None
    for k, tk in enumerate(tangents[1:]):
        if tk is not None:
            term = np.einsum(subscripts, *operands[:k], tk, *operands[k + 1:], **kw)
            t = term if t is None else t + term
    return y, t


def _axes_list(axes):
    return [axes] if isinstance(axes, int) else list(axes)


def tensordot_terms(na, nb, axes=2):
    """einsum terms ``([ta, tb], out)`` of ``tensordot(a, b, axes)`` for operands of ranks na, nb."""
    if isinstance(axes, int):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = (_axes_list(a) for a in axes)
    ax_a, ax_b = [i % na for i in ax_a], [i % nb for i in ax_b]
    ta = _LETTERS[:na]
    tb = [_LETTERS[na + j] for j in range(nb)]
    for i, j in zip(ax_a, ax_b):
        tb[j] = ta[i]
    out = "".join(c for i, c in enumerate(ta) if i not in ax_a) + "".join(c for j, c in enumerate(tb) if j not in ax_b)
    return [ta, "".join(tb)], out


def tensordot_grad(g, a, b, axes, k):
    """Cotangent of operand ``k`` (0 for a, 1 for b) of ``tensordot(a, b, axes)``."""
    terms, out = tensordot_terms(np.ndim(a), np.ndim(b), axes)
    return einsum_grad(g, terms, out, (a, b), k, True)


def _dot_axes(a, b):
    return ([np.ndim(a) - 1], [max(np.ndim(b) - 2, 0)])


def dot_grad(g, a, b, k):
    """Cotangent of operand ``k`` of ``np.dot(a, b)``."""
    x, other = (a, b) if k == 0 else (b, a)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return match(unbroadcast(g * other, x), x)
    if np.ndim(b) <= 2:
        return matmul_grad_a(g, a, b) if k == 0 else matmul_grad_b(g, a, b)
    return tensordot_grad(g, a, b, _dot_axes(a, b), k)


def inner_grad(g, a, b, k):
    """Cotangent of operand ``k`` of ``np.inner(a, b)``: a contraction of the last axes."""
    x, other = (a, b) if k == 0 else (b, a)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return match(unbroadcast(g * other, x), x)
    return tensordot_grad(g, a, b, ([-1], [-1]), k)


for _f in (np.dot, np.ndarray.dot):
    defvjp(_f, lambda g, y, a, b: dot_grad(g, a, b, 0), lambda g, y, a, b: dot_grad(g, a, b, 1))
    defjvp(_f, lambda t, y, a, b: np.dot(t, b), lambda t, y, a, b: np.dot(a, t))
defvjp(np.inner, lambda g, y, a, b: inner_grad(g, a, b, 0), lambda g, y, a, b: inner_grad(g, a, b, 1))
defjvp(np.inner, lambda t, y, a, b: np.inner(t, b), lambda t, y, a, b: np.inner(a, t))
defvjp(np.tensordot, lambda g, y, a, b, axes=2: tensordot_grad(g, a, b, axes, 0),
                     lambda g, y, a, b, axes=2: tensordot_grad(g, a, b, axes, 1))
defjvp(np.tensordot, lambda t, y, a, b, axes=2: np.tensordot(t, b, axes),
                     lambda t, y, a, b, axes=2: np.tensordot(a, t, axes))
defvjp(np.vdot, lambda g, y, a, b: match(g * xp_of(a, b).reshape(b, tuple(shape_of(a))), a),
                lambda g, y, a, b: match(g * xp_of(a, b).reshape(a, tuple(shape_of(b))), b))
defjvp(np.vdot, lambda t, y, a, b: np.vdot(t, b), lambda t, y, a, b: np.vdot(a, t))
defvjp(np.outer, lambda g, y, a, b: match(xp_of(g).reshape(g @ _flat(b), tuple(shape_of(a))), a),
                 lambda g, y, a, b: match(xp_of(g).reshape(_flat(a) @ g, tuple(shape_of(b))), b))
defjvp(np.outer, lambda t, y, a, b: np.outer(t, b), lambda t, y, a, b: np.outer(a, t))


def vecdot_grad(g, x, other, axis=-1):
    """Cotangent of ``x`` for ``y = vecdot(x, other, axis)`` (real arrays)."""
    return unbroadcast(xp_of(g, x).expand_dims(g, axis=axis % (g.ndim + 1)) * other, x)


for _f in (np.vecdot, np.linalg.vecdot):
    defvjp(_f, lambda g, y, x1, x2, axis=-1: vecdot_grad(g, x1, x2, axis),
               lambda g, y, x1, x2, axis=-1: vecdot_grad(g, x2, x1, axis))
    defjvp(_f, lambda t, y, x1, x2, axis=-1: np.vecdot(t, x2, axis=axis),
               lambda t, y, x1, x2, axis=-1: np.vecdot(x1, t, axis=axis))

# ---- diagonals and traces ----


def _diag_mask(shape, offset, axis1, axis2, xp, dtype):
    """``eye(n, m, k=offset)`` laid along axes ``axis1`` (rows) and ``axis2`` (columns) of ``shape``."""
    n, m = shape[axis1], shape[axis2]
    eye = xp.eye(n, m, k=offset, dtype=dtype)
    if axis1 > axis2:
        eye = xp.matrix_transpose(eye)
    return xp.reshape(eye, tuple(k if i in (axis1, axis2) else 1 for i, k in enumerate(shape)))


def trace_back(g, a, offset=0, axis1=0, axis2=1):
    """Cotangent of ``a`` for ``y = trace(a, offset, axis1, axis2)``."""
    shape = tuple(shape_of(a))
    axis1, axis2 = axis1 % len(shape), axis2 % len(shape)
    xp = xp_of(g, a)
    g = xp.asarray(g)
    for ax in sorted((axis1, axis2)):
        g = xp.expand_dims(g, axis=ax)
    return g * _diag_mask(shape, offset, axis1, axis2, xp, g.dtype)


def diagonal_back(g, a, offset=0, axis1=0, axis2=1):
    """Cotangent of ``a`` for ``y = diagonal(a, offset, axis1, axis2)`` (the diagonal is y's last axis)."""
    shape = tuple(shape_of(a))
    axis1, axis2 = axis1 % len(shape), axis2 % len(shape)
    xp = xp_of(g, a)
    n, k, first = shape[axis1], g.shape[-1], max(-offset, 0)
    rows = [xp.zeros(g.shape[:-1] + (first,), dtype=g.dtype), g,
            xp.zeros(g.shape[:-1] + (n - first - k,), dtype=g.dtype)]
    spread = xp.expand_dims(xp.concat(rows, axis=-1), axis=-1)  # g[..., i] on row first + i, every column
    eye = xp.eye(n, shape[axis2], k=offset, dtype=g.dtype)
    return xp.moveaxis(spread * eye, (-2, -1), (axis1, axis2))


def diag_back(g, v, k=0):
    """Cotangent of ``v`` for ``y = diag(v, k)``: a diagonal for a vector, a matrix for a diagonal."""
    return np.diagonal(g, k) if np.ndim(v) == 1 else diagonal_back(g, v, k)


for _f in (np.trace, np.ndarray.trace):
    defvjp(_f, lambda g, y, a, offset=0, axis1=0, axis2=1, **kw: trace_back(g, a, offset, axis1, axis2))
    defjvp(_f, lambda t, y, a, offset=0, axis1=0, axis2=1, **kw: np.trace(t, offset, axis1, axis2))
for _f in (np.diagonal, np.ndarray.diagonal):
    defvjp(_f, lambda g, y, a, offset=0, axis1=0, axis2=1: diagonal_back(g, a, offset, axis1, axis2))
    defjvp(_f, lambda t, y, a, offset=0, axis1=0, axis2=1: np.diagonal(t, offset, axis1, axis2))
defvjp(np.linalg.trace, lambda g, y, x, offset=0, **kw: trace_back(g, x, offset, -2, -1))
defjvp(np.linalg.trace, lambda t, y, x, offset=0, **kw: np.linalg.trace(t, offset=offset))
defvjp(np.linalg.diagonal, lambda g, y, x, offset=0: diagonal_back(g, x, offset, -2, -1))
defjvp(np.linalg.diagonal, lambda t, y, x, offset=0: np.linalg.diagonal(t, offset=offset))
defvjp(np.diag, lambda g, y, v, k=0: diag_back(g, v, k))
defjvp(np.diag, lambda t, y, v, k=0: np.diag(t, k))

# ---- solves and decompositions ----


def _mT(x):
    return xp_of(x).matrix_transpose(x)


def _sym(x):
    return (x + _mT(x)) / 2


def _flat(x):
    return xp_of(x).reshape(x, (-1,))


def _lift(v, a):
    """``v`` (an array or a Python number) as an array of ``a``'s namespace with two unit axes added."""
    xp = xp_of(a)
    if not hasattr(v, "shape"):
        v = np.asarray(v) if xp is np else xp.asarray(v, dtype=a.dtype, device=_device(a))
    return xp.reshape(v, tuple(v.shape) + (1, 1))


def _device(a):
    import array_api_compat

    return array_api_compat.device(a)


@rrule(np.linalg.solve)
def solve_rrule(a, b):
    xp = xp_of(a, b)
    x = xp.linalg.solve(a, b)

    def solve_pullback(g):
        vec = b.ndim == 1  # numpy >= 2 and the array API: b is a vector only when 1-d
        gb = xp.linalg.solve(_mT(a), xp.expand_dims(g, axis=-1) if vec else g)
        ga = -(gb @ _mT(xp.expand_dims(x, axis=-1) if vec else x))
        return unbroadcast(ga, a), unbroadcast(gb[..., 0] if vec else gb, b)

    return x, solve_pullback


@frule(np.linalg.solve)
def solve_frule(tangents, a, b):
    x = np.linalg.solve(a, b)
    ta, tb = tangents
    vec = np.ndim(b) == 1
    rhs = 0 if tb is None else (tb[..., None] if vec else tb)
    if ta is not None:
        rhs = rhs - ta @ (x[..., None] if vec else x)
    if ta is None and tb is None:
        return x, None
    t = np.linalg.solve(a, rhs)
    return x, t[..., 0] if vec else t


def det_back(g, y, a):
    """Cotangent of ``a`` for ``y = det(a)``: ``g y inv(a)^T``."""
    return _lift(g * y, a) * _mT(xp_of(a).linalg.inv(a))


defvjp(np.linalg.inv, lambda g, y, a: -(_mT(y) @ g @ _mT(y)))
defjvp(np.linalg.inv, lambda t, y, a: -(y @ t @ y))
defvjp(np.linalg.det, lambda g, y, a: det_back(g, y, a))
defjvp(np.linalg.det, lambda t, y, a: y * np.linalg.trace(np.linalg.solve(a, t)))


@rrule(np.linalg.slogdet)
def slogdet_rrule(a):
    xp = xp_of(a)
    y = xp.linalg.slogdet(a)

    def slogdet_pullback(g):
        return (None if g[1] is None else _lift(g[1], a) * _mT(xp.linalg.inv(a)),)

    return y, slogdet_pullback


@frule(np.linalg.slogdet)
def slogdet_frule(tangents, a):
    y = np.linalg.slogdet(a)
    t = tangents[0]
    return y, None if t is None else type(y)(None, np.linalg.trace(np.linalg.solve(a, t)))


def _phi(x):
    """The lower triangle of ``x`` with its diagonal halved."""
    xp = xp_of(x)
    return xp.tril(x) - 0.5 * x * xp.eye(x.shape[-1], dtype=x.dtype, device=_device(x))


@rrule(np.linalg.cholesky)
def cholesky_rrule(a, *, upper=False):
    xp = xp_of(a)
    factor = xp.linalg.cholesky(a, upper=upper)

    def cholesky_pullback(g):
        low, g_low = (_mT(factor), _mT(g)) if upper else (factor, g)
        low_inv = xp.linalg.inv(low)
        return (_sym(_mT(low_inv) @ _phi(_mT(low) @ g_low) @ low_inv),)

    return factor, cholesky_pullback


@frule(np.linalg.cholesky)
def cholesky_frule(tangents, a, *, upper=False):
    factor = np.linalg.cholesky(a, upper=upper)
    t = tangents[0]
    if t is None:
        return factor, None
    low = _mT(factor) if upper else factor
    low_inv = np.linalg.inv(low)
    t_low = low @ _phi(low_inv @ _sym(t) @ _mT(low_inv))
    return factor, _mT(t_low) if upper else t_low


def _gaps(w):
    """``F[i, j] = 1 / (w[j] - w[i])``, 0 where ``w[i] == w[j]`` (see the module docstring)."""
    xp = xp_of(w)
    diff = xp.expand_dims(w, axis=-2) - xp.expand_dims(w, axis=-1)
    same = diff == 0
    return xp.where(same, xp.zeros_like(diff), 1.0 / xp.where(same, xp.ones_like(diff), diff))


def eigh_back(gw, gv, w, v):
    """Cotangent of symmetric ``a`` for ``w, v = eigh(a)``."""
    xp = xp_of(w)
    inner = 0.0
    if gw is not None:
        inner = xp.expand_dims(gw, axis=-1) * xp.eye(w.shape[-1], dtype=w.dtype, device=_device(w))
    if gv is not None:
        inner = inner + _gaps(w) * (_mT(v) @ gv)
    return _sym(v @ inner @ _mT(v))


@rrule(np.linalg.eigh)
def eigh_rrule(a, *args, **kw):
    w, v = y = xp_of(a).linalg.eigh(a, *args, **kw)

    def eigh_pullback(g):
        return (eigh_back(g[0], g[1], w, v),) + (None,) * len(args)

    return y, eigh_pullback


@frule(np.linalg.eigh)
def eigh_frule(tangents, a, *args, **kw):
    w, v = y = np.linalg.eigh(a, *args, **kw)
    t = tangents[0]
    if t is None:
        return y, None
    m = _mT(v) @ _sym(t) @ v
    return y, type(y)(np.diagonal(m, axis1=-2, axis2=-1), v @ (_gaps(w) * m))


@rrule(np.linalg.eigvalsh)
def eigvalsh_rrule(a, *args, **kw):
    w, v = xp_of(a).linalg.eigh(a, *args, **kw)

    def eigvalsh_pullback(g):
        return (eigh_back(g, None, w, v),) + (None,) * len(args)

    return w, eigvalsh_pullback


@frule(np.linalg.eigvalsh)
def eigvalsh_frule(tangents, a, *args, **kw):
    w, v = np.linalg.eigh(a, *args, **kw)
    t = tangents[0]
    return w, None if t is None else np.diagonal(_mT(v) @ _sym(t) @ v, axis1=-2, axis2=-1)


# ---- norms ----


def _norm_axes(x, ord, axis):
    if axis is None:
        return tuple(range(np.ndim(x)))
    return tuple(a % np.ndim(x) for a in ((axis,) if isinstance(axis, int) else axis))


def _share(mask, axes):
    """``mask`` divided by its count over ``axes``: ties share the derivative evenly."""
    return mask / np.maximum(np.sum(mask, axis=axes, keepdims=True), 1)


def norm_weights(x, ord=None, axis=None):
    """``D`` with ``d norm(x) = sum(D * dx)`` over the norm's axes (0 where the norm is 0)."""
    axes = _norm_axes(x, ord, axis)
    yk = np.linalg.norm(x, ord, axis if axis is None or isinstance(axis, int) else tuple(axis), keepdims=True)
    safe = np.where(yk == 0, 1.0, yk)
    if ord is None or ord == "fro" or (ord == 2 and len(axes) == 1):
        return np.where(yk == 0, 0.0, x / safe)
    ax = np.abs(x)
    if len(axes) == 1:
        if ord == 1:
            return np.sign(x)
        if ord == 0:
            return np.zeros_like(x)
        if ord in (np.inf, -np.inf):
            return np.sign(x) * _share(ax == yk, axes)
        return np.where(yk == 0, 0.0, np.sign(x) * (ax / safe) ** (ord - 1))
    row, col = axes if axis is None else (axis[0] % np.ndim(x), axis[1] % np.ndim(x))
    if ord in (1, -1):
        sums = np.sum(ax, axis=row, keepdims=True)
        return np.sign(x) * _share(sums == yk, (row, col))
    if ord in (np.inf, -np.inf):
        sums = np.sum(ax, axis=col, keepdims=True)
        return np.sign(x) * _share(sums == yk, (row, col))
    if ord in ("nuc", 2, -2):
        m = np.moveaxis(x, (row, col), (-2, -1))
        u, _, vh = np.linalg.svd(m, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            i = 0 if ord == 2 else -1
            d = u[..., :, i, None] * vh[..., None, i, :]
        return np.moveaxis(d, (-2, -1), (row, col))
    raise NotImplementedError(f"no gradient for np.linalg.norm with ord={ord!r}")


def norm_back(g, x, ord=None, axis=None, keepdims=False):
    """Cotangent of ``x`` for ``y = norm(x, ord, axis, keepdims)``."""
    return expand(g, x, _norm_axes(x, ord, axis), keepdims) * norm_weights(x, ord, axis)


defvjp(np.linalg.norm, lambda g, y, x, ord=None, axis=None, keepdims=False:
                           norm_back(g, x, ord, axis, keepdims))
defjvp(np.linalg.norm, lambda t, y, x, ord=None, axis=None, keepdims=False:
                           np.sum(t * norm_weights(x, ord, axis), axis=_norm_axes(x, ord, axis), keepdims=keepdims))
