"""Bridges to other frameworks: PyTorch (`to_torch`) and JAX (`to_jax`).

torch and jax stay optional: they are imported only inside this package, and
only when a bridge is used, so ``import wengert`` imports neither.
"""

from __future__ import annotations

import sys
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


def _torch_provider(fn):
    """A rule for a torch function, tensor method or ``nn.Module`` met in differentiated code.

    Cheap for everything else: torch is never imported here, only recognised once a
    program has imported it.
    """
    torch = sys.modules.get("torch")
    if torch is None or isinstance(fn, type):
        return None
    nn = getattr(torch, "nn", None)  # (None while torch itself is being imported)
    if nn is None or not isinstance(fn, nn.Module):
        owner = getattr(fn, "__objclass__", None)  # method descriptors of torch._C.TensorBase
        module = getattr(owner if owner is not None else fn, "__module__", None) or ""
        if not (module == "torch" or module.startswith("torch.")) or not callable(fn):
            return None
    from wengert.interop.torch import rule_for

    return rule_for(fn)


def _install() -> None:
    from wengert.rules.table import add_provider

    add_provider(_torch_provider)


_install()
