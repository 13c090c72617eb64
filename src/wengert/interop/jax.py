"""JAX: a wengert-differentiated function as a JAX function with a custom VJP.

`to_jax(f)` returns ``g`` decorated with ``jax.custom_vjp``. With a NumPy body
(``numpy=True``, the default) both passes leave JAX through ``jax.pure_callback``:

- forward: ``f(*arrays)`` on the host, with the result's shapes and dtypes declared
  to JAX (``out_shape``, or found by calling ``f`` once on zeros of the arguments'
  shapes when ``g`` is traced);
- backward: ``wengert.pullback(f, *arrays)`` and its ``back(cotangent)`` on the host.
  The residuals are the inputs only, so the backward callback runs ``f``'s forward
  pass again (no Python object has to outlive a callback, which makes ``jit`` safe).

So ``g`` works eagerly and under ``jax.grad``, ``jax.jit`` and ``jax.vmap``. Under
``vmap`` the callbacks run once per batch element (``vmap_method="sequential"``:
the NumPy body never sees a batch axis); pass ``vmap_method="expand_dims"`` for a
body that broadcasts over a leading batch axis, to run it once per batch.

With ``numpy=False`` the body is JAX code (``jax.numpy``) and runs directly:
wengert differentiates it through the array API rules; it is used eagerly or
under ``jit`` when its control flow does not depend on traced values.

jax is imported by this module only; ``import wengert`` does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from wengert.interop.array_api import register_namespace

__all__ = ["to_jax"]

register_namespace(jnp)  # JAX bodies: jnp.sin and the rest get NumPy's rules (also when wengert came first)


def _struct(x) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x))


def _host(x, dtype=None):
    """A JAX value (or NumPy value handed to a callback) as the NumPy body sees it."""
    a = np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)
    return a


def _zeros_like_struct(s):
    return np.zeros(s.shape, s.dtype)


def _out_struct(f, out_shape, arg_structs):
    if isinstance(out_shape, jax.ShapeDtypeStruct) or (out_shape is not None and not callable(out_shape)):
        return out_shape
    if callable(out_shape):
        return out_shape(*arg_structs)
    y = f(*[_zeros_like_struct(s) for s in arg_structs])  # only shapes and dtypes are read
    return jax.tree_util.tree_map(_struct, y)


def to_jax(f: Callable, out_shape=None, numpy: bool = True, vmap_method: str = "sequential") -> Callable:
    """``f`` as a JAX function whose VJP is wengert's pullback of ``f``.

    ``out_shape``: the result's ``jax.ShapeDtypeStruct`` (or a pytree of them, or a
    function of the arguments' structs); by default found by calling ``f`` on zeros.
    Arguments are arrays or numbers; the result is an array or a tuple of arrays.

    >>> import jax, jax.numpy as jnp, numpy as np, wengert
    >>> g = wengert.to_jax(lambda x: np.sum(np.sin(x) ** 2))
    >>> x = jnp.array([0.1, 0.2])
    >>> bool(jnp.allclose(jax.jit(jax.grad(g))(x), jnp.sin(2 * x)))
    True
    """
    if not numpy:
        return _jax_body(f)

    def forward_host(*args):
        return f(*[_host(a) for a in args])

    def call_forward(args):
        structs = [_struct(a) for a in args]
        out = _out_struct(f, out_shape, structs)

        def host(*a):
            y = forward_host(*a)
            return jax.tree_util.tree_map(lambda v, s: np.asarray(v, dtype=s.dtype).reshape(s.shape), y, out)

        return jax.pure_callback(host, out, *args, vmap_method=vmap_method), out

    @jax.custom_vjp
    def jax_f(*args):
        return call_forward(args)[0]

    def jax_f_fwd(*args):
        y, _ = call_forward(args)
        return y, args

    def jax_f_bwd(args, g):
        from wengert.registry import pullback

        structs = tuple(_struct(a) for a in args)

        def host_back(a, gy):
            host_args = [_host(v) for v in a]
            y, back = pullback(f, *host_args)
            cot = jax.tree_util.tree_map(lambda gi, yi: _cotangent(gi, yi), gy, y)
            grads = back(cot)[1:]
            return tuple(_grad_as(gi, s) for gi, s in zip(grads, structs))

        return jax.pure_callback(host_back, structs, args, g, vmap_method=vmap_method)

    jax_f.defvjp(jax_f_fwd, jax_f_bwd)
    jax_f.__name__ = f"jax_{getattr(f, '__name__', 'f')}"
    return jax_f


def _cotangent(g, y):
    if isinstance(y, float):
        return float(g)
    return np.asarray(g, dtype=np.asarray(y).dtype).reshape(np.shape(y))


def _grad_as(g, s: jax.ShapeDtypeStruct):
    if g is None:
        return np.zeros(s.shape, s.dtype)
    return np.asarray(g, dtype=s.dtype).reshape(s.shape)


def _jax_body(f: Callable) -> Callable:
    """A JAX body: wengert differentiates the JAX code itself (array API rules), inside ``custom_vjp``."""
    from wengert.registry import pullback

    @jax.custom_vjp
    def jax_f(*args):
        return f(*args)

    def jax_f_fwd(*args):
        return f(*args), args

    def jax_f_bwd(args, g):
        _, back = pullback(f, *args)  # again, as the numpy path: only the inputs are residuals
        grads = back(g)[1:]
        return tuple(jnp.zeros_like(a) if gi is None else jnp.asarray(gi).reshape(jnp.shape(a))
                     for gi, a in zip(grads, args))

    jax_f.defvjp(jax_f_fwd, jax_f_bwd)
    jax_f.__name__ = f"jax_{getattr(f, '__name__', 'f')}"
    return jax_f
