"""Bridges to other frameworks: PyTorch (`to_torch`) and JAX (`to_jax`).

torch and jax stay optional: they are imported only inside this package, and
only when a bridge is used, so ``import wengert`` imports neither.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["to_jax", "to_torch"]


def to_torch(f: Callable, **options) -> Callable:
    """``f`` as a PyTorch function differentiated by torch autograd with wengert's pullback.

    See `wengert.interop.torch.to_torch`.
    """
    from wengert.interop.torch import to_torch as make

    return make(f, **options)


def to_jax(f: Callable, **options) -> Callable:
    """``f`` as a JAX function with a custom VJP from wengert's pullback.

    See `wengert.interop.jax.to_jax`.
    """
    from wengert.interop.jax import to_jax as make

    return make(f, **options)
