"""PyTorch both ways: wengert functions inside torch autograd, torch code inside wengert.

- `to_torch(f)` wraps ``f`` in a ``torch.autograd.Function``: its forward runs
  ``wengert.pullback(f, ...)`` and keeps the pullback, its backward calls it. A
  NumPy body (``numpy=True``, the default) gets NumPy arrays made from the tensors
  (on the CPU: NumPy has no devices) and its results go back as tensors of the
  inputs' dtype and device; a torch body (``numpy=False``) gets detached tensors.
- `rule_for(fn)` makes the rule of a torch function (``torch.sin``), tensor method
  (``Tensor.sum``, ``Tensor.__getitem__``) or ``nn.Module`` instance: the value
  and the VJP come from torch autograd (``torch.autograd.grad``), the JVP from
  ``torch.func.jvp``. wengert's rule table asks for these on first use
  (`wengert.rules.table.add_provider`, installed by `wengert.interop`), so
  ``wengert.grad(f)(t)`` works on code calling torch. A module's parameters are
  constants there: gradients go to the module's inputs (use `to_torch` and torch's
  own optimisers to train parameters).

torch is imported by this module only; ``import wengert`` does not import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from wengert.rules.table import Rule

__all__ = ["rule_for", "to_torch"]


# ---- wengert inside torch ----


def _is_float_tensor(x) -> bool:
    return isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())


def _to_body(x, numpy: bool):
    """A tensor as the body sees it: a NumPy array (NumPy bodies) or a detached tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return x.cpu().numpy() if numpy else x
    if isinstance(x, (list, tuple)):
        return type(x)(_to_body(v, numpy) for v in x)
    return x


def _to_tensor(y, like: torch.Tensor | None):
    """A body's result (array, number, or a tuple of them) as tensors on ``like``'s device."""
    if isinstance(y, (list, tuple)):
        return type(y)(_to_tensor(v, like) for v in y)
    if y is None:
        return None
    if isinstance(y, torch.Tensor):
        return y if like is None else y.to(device=like.device)
    kw: dict[str, Any] = {} if like is None else {"device": like.device}
    if like is not None and isinstance(y, (float, np.floating, np.ndarray)) and np.issubdtype(
            np.asarray(y).dtype, np.floating):
        kw["dtype"] = like.dtype
    return torch.as_tensor(np.asarray(y), **kw)


def _cotangent_for(g, y, numpy: bool):
    """torch's output gradient as the body's cotangent for its output ``y``."""
    if isinstance(y, (list, tuple)):
        return type(y)(_cotangent_for(gi, yi, numpy) for gi, yi in zip(g, y))
    if g is None:
        return None
    if isinstance(y, float):
        return float(g)
    if numpy:
        return g.detach().cpu().numpy().astype(np.asarray(y).dtype, copy=False)
    return g.detach()


def to_torch(f: Callable, numpy: bool = True) -> Callable:
    """``f`` as a torch function whose backward is wengert's pullback of ``f``.

    Tensors among the arguments (also inside lists and tuples) are converted for
    the body; other arguments pass through (and get no gradient). The result is a
    tensor or a tuple of tensors. Composes with anything torch autograd does
    before and after it, and ``torch.autograd.gradcheck`` passes in float64.

    >>> import numpy as np, torch, wengert
    >>> g = wengert.to_torch(lambda x: np.sum(np.sin(x) ** 2))
    >>> x = torch.tensor([0.1, 0.2], dtype=torch.float64, requires_grad=True)
    >>> g(x).backward()
    >>> torch.allclose(x.grad, torch.sin(2 * x).detach())
    True
    """
    from wengert.registry import pullback

    class WengertFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            like = next((a for a in _flat_tensors(args)), None)
            body_args = tuple(_to_body(a, numpy) for a in args)
            y, back = pullback(f, *body_args)
            ctx.back, ctx.y, ctx.args = back, y, args
            out = _to_tensor(y, like)
            return tuple(out) if isinstance(out, list) else out

        @staticmethod
        def backward(ctx, *gs):
            y = ctx.y
            g = _cotangent_for(gs if isinstance(y, (tuple, list)) else gs[0], y, numpy)
            grads = ctx.back(g)[1:]
            return tuple(_grad_for(gi, a) for gi, a in zip(grads, ctx.args))

    def torch_f(*args):
        return WengertFunction.apply(*args)

    torch_f.__name__ = f"torch_{getattr(f, '__name__', 'f')}"
    torch_f.__doc__ = getattr(f, "__doc__", None)
    torch_f.__wrapped__ = f
    return torch_f


def _flat_tensors(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _flat_tensors(a)


def _grad_for(g, a):
    """wengert's gradient for argument ``a`` as torch wants it (a tensor like ``a``, or None)."""
    if not isinstance(a, torch.Tensor) or g is None or not _is_float_tensor(a):
        return None
    if isinstance(g, torch.Tensor):
        return g.to(dtype=a.dtype, device=a.device).reshape(a.shape)
    return torch.as_tensor(np.asarray(g), dtype=a.dtype, device=a.device).reshape(a.shape)


# ---- torch inside wengert ----


def _leaf(x):
    if _is_float_tensor(x):
        return x.detach().requires_grad_(True)
    if isinstance(x, (list, tuple)) and any(_is_float_tensor(v) for v in x):
        return type(x)(_leaf(v) for v in x)
    return x


def _inputs(args) -> list[tuple[int, int | None, torch.Tensor]]:
    """(argument, position in a list argument or None, leaf) for every tensor that may get a gradient."""
    out = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            out.append((i, None, a))
        elif isinstance(a, (list, tuple)):
            out += [(i, j, v) for j, v in enumerate(a) if isinstance(v, torch.Tensor) and v.requires_grad]
    return out


def _outputs(y) -> list[torch.Tensor]:
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, (list, tuple)):
        return [v for v in y if isinstance(v, torch.Tensor)]
    return []


def _detached(y):
    if isinstance(y, torch.Tensor):
        return y.detach()
    if isinstance(y, (list, tuple)) and not hasattr(y, "_fields"):
        return type(y)(_detached(v) for v in y)
    return y


def _as_like(g, y: torch.Tensor):
    if isinstance(g, torch.Tensor):
        return g.to(dtype=y.dtype, device=y.device).expand(y.shape) if g.shape != y.shape else g
    return torch.full_like(y, float(g)) if np.ndim(g) == 0 else torch.as_tensor(g, dtype=y.dtype, device=y.device)


def _autograd_rrule(fn):
    def torch_rrule(*args, **kwargs):
        leaves = tuple(_leaf(a) for a in args)
        with torch.enable_grad():
            y = fn(*leaves, **kwargs)
        ins = _inputs(leaves)

        def torch_pullback(g):
            outs = _outputs(y)
            gs = [g] if isinstance(y, torch.Tensor) else [gi for gi, yi in zip(g, y) if isinstance(yi, torch.Tensor)]
            pairs = [(o, _as_like(gi, o)) for o, gi in zip(outs, gs) if gi is not None and o.requires_grad]
            per_arg: list[Any] = [None] * len(args)
            if not pairs or not ins:
                return tuple(per_arg)
            grads = torch.autograd.grad([o for o, _ in pairs], [t for _, _, t in ins], [gi for _, gi in pairs],
                                        allow_unused=True, retain_graph=True)
            for (i, j, _), gi in zip(ins, grads):
                if j is None:
                    per_arg[i] = gi
                else:
                    if per_arg[i] is None:
                        per_arg[i] = [None] * len(args[i])
                    per_arg[i][j] = gi
            return tuple(type(args[i])(v) if isinstance(v, list) and isinstance(args[i], tuple) else v
                         for i, v in enumerate(per_arg))

        return _detached(y), torch_pullback

    return torch_rrule


def _jvp_frule(fn):
    def torch_frule(tangents, *args, **kwargs):
        idx = [i for i, a in enumerate(args)
               if _is_float_tensor(a) and i < len(tangents) and tangents[i] is not None]
        if not idx:
            return fn(*args, **kwargs), None

        def part(*xs):
            full = list(args)
            for i, x in zip(idx, xs):
                full[i] = x
            return fn(*full, **kwargs)

        primals = tuple(args[i] for i in idx)
        tans = tuple(_as_like(tangents[i], args[i]) for i in idx)
        return torch.func.jvp(part, primals, tans)

    return torch_frule


def rule_for(fn) -> Rule:
    """The rule of a torch callable: value and VJP by torch autograd, JVP by ``torch.func.jvp``.

    >>> import torch
    >>> r = rule_for(torch.sin)
    >>> y, back = r.rrule(torch.tensor([0.0, 1.0], dtype=torch.float64))
    >>> back(torch.ones(2, dtype=torch.float64))[0]
    tensor([1.0000, 0.5403], dtype=torch.float64)
    """
    return Rule(fn, rrule=_autograd_rrule(fn), frule=_jvp_frule(fn))
