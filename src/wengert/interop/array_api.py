"""Array API namespaces share the NumPy rules.

Code written against the array API standard calls ``xp.tanh``, ``xp.sum`` or
``xp.linalg.solve`` on whatever namespace ``array_api_compat.array_namespace(x)``
returns: NumPy, CuPy, PyTorch, JAX or ``array_api_strict``. The NumPy rules go
through ``xp_of(...)`` for their array work, so one rule serves every namespace.
`register_namespace(xp)` gives each function of ``xp`` (and of ``xp.linalg``)
whose NumPy counterpart has a rule a copy of that rule; array API names map to
NumPy's (``acos`` -> ``arccos``, ``pow`` -> ``power``, ``concat`` ->
``concatenate``, ``permute_dims`` -> ``transpose``, ...). Functions that already
have a rule (most of ``array_api_compat.numpy`` is NumPy itself) are left alone.

A namespace is registered when differentiated code calls
``array_api_compat.array_namespace`` (its rule registers the namespace before
returning it, once), and at import for the namespaces of libraries already
imported. A namespace imported at module level after wengert (``import
array_api_strict as xp`` at the top of the user's file, then ``xp.sum(xp.exp(x))``)
needs nothing more: a rule-table provider (`namespace_provider`) answers a lookup
of any public function of a known namespace module (`NAMESPACES`: array_api_strict,
array_api_compat's numpy/torch/cupy/dask wrappers, cupy, jax.numpy) with a copy of
its NumPy counterpart's rule, so wengert never differentiates the namespace's own
Python source. A public function with no NumPy counterpart (``unique_values``,
the ``fft`` extension) gets a rule that refuses by name once a derivative reaches
it. torch's own functions (``torch.sin``) get their rules from `wengert.interop`'s
provider (torch autograd).

Methods of non-NumPy arrays (``t.sum()`` on a torch tensor) have no rules;
array API code calls the namespace's functions (``xp.sum(t)``) instead.

Rules whose derivative code still calls NumPy itself, and so serve NumPy arrays
only (on torch CPU tensors NumPy may convert them and hand back NumPy arrays; on
GPUs they raise): ``einsum``, ``tensordot`` and ``dot``/``inner`` of more than
2-d operands (their cotangents are einsums; array_api_strict has no einsum),
``sort``, ``repeat``, ``pad``, ``split``, ``linspace``/``arange`` with
differentiable bounds, ``np.array`` of differentiable scalars,
``reshape``/``ravel`` with ``order="F"``, ``linalg.norm`` and the forward
(tangent) rules of most functions. The rest (elementwise functions, reductions,
``matmul``/``vecdot``/``outer``/``trace``, ``solve``/``inv``/``det``/``slogdet``/
``cholesky``/``eigh``, shapes, ``take``) are tested on array_api_strict and
PyTorch (tests/test_array_backends.py).
"""

from __future__ import annotations

import sys

import numpy as np

from wengert.errors import UnsupportedError
from wengert.rules.support import Tangent
from wengert.rules.table import Rule, add_provider, copy_rule, get_rule, rrule

# array API name -> NumPy name, where they differ
ALIASES = {
    "acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh", "atan": "arctan",
    "atan2": "arctan2", "atanh": "arctanh", "pow": "power", "concat": "concatenate",
    "permute_dims": "transpose", "cumulative_sum": "cumsum", "cumulative_prod": "cumprod",
}

# functions of the array API's linalg extension that are NumPy's top-level ones (xp.linalg.diagonal is
# not: it takes the last two axes, np.diagonal the first two)
LINALG_FROM_NUMPY = {"outer", "matmul", "tensordot", "vecdot"}

_REGISTERED: set[int] = set()


def register_namespace(xp):
    """Give the functions of array API namespace ``xp`` the rules of their NumPy counterparts.

    >>> import array_api_compat.numpy as xp
    >>> register_namespace(xp) is xp
    True
    """
    if id(xp) in _REGISTERED:
        return xp
    _REGISTERED.add(id(xp))
    for module, np_module in ((xp, np), (getattr(xp, "linalg", None), np.linalg)):
        if module is None:
            continue
        for name in dir(module):
            if name.startswith("_"):
                continue
            fn = getattr(module, name, None)
            if not callable(fn) or isinstance(fn, type) or get_rule(fn) is not None:
                continue
            np_fn = getattr(np_module, ALIASES.get(name, name), None)
            rule = get_rule(np_fn) if np_fn is not None else None
            if rule is None and module is not xp and name in LINALG_FROM_NUMPY:
                rule = get_rule(getattr(np, name))
            if rule is not None:
                copy_rule(fn, rule)
    return xp


# modules whose public functions are array API functions, and the package prefixes of the modules
# that define them (array_api_compat's wrappers live in array_api_compat.common / .torch._aliases, ...)
NAMESPACES = ("array_api_strict", "array_api_compat.numpy", "array_api_compat.torch",
              "array_api_compat.cupy", "array_api_compat.dask.array", "cupy", "jax.numpy")
_PACKAGES = frozenset({"array_api_strict", "array_api_compat", "cupy", "cupyx", "jax", "jaxlib"})


def _numpy_rule(fn, name: str, top_level: bool):
    """The rule of ``fn``'s NumPy counterpart (``name`` in a namespace, or in its linalg extension)."""
    np_fn = getattr(np if top_level else np.linalg, ALIASES.get(name, name), None)
    rule = get_rule(np_fn) if np_fn is not None and np_fn is not fn else None
    if rule is None and not top_level and name in LINALG_FROM_NUMPY:
        rule = get_rule(getattr(np, name))
    return rule


def _refusing_rule(fn, where: str) -> Rule:
    """A rule that computes ``fn`` and refuses, by name, once a derivative reaches it."""
    message = (f"no rule for {where}: it has no NumPy counterpart with a rule; register one with "
               f"wengert.defvjp({where}, lambda g, y, x: ...), or wengert.nondiff({where}) if it has no derivative")

    def refused_rrule(*args, **kw):
        y = fn(*args, **kw)

        def refused_pullback(g):
            if g is None or isinstance(g, Tangent):  # none, or one that reached it through `.shape` (an int)
                return (None,) * len(args)
            raise UnsupportedError(message)

        return y, refused_pullback

    def refused_frule(tangents, *args, **kw):
        if any(t is not None for t in tangents):
            raise UnsupportedError(message)
        return fn(*args, **kw), None

    return Rule(fn, rrule=refused_rrule, frule=refused_frule)


def namespace_provider(fn):
    """The rule of a public function of an array API namespace module (`NAMESPACES`) the program
    imported: a copy of its NumPy counterpart's rule, or one that refuses by name. ``None`` for
    anything else, found with one attribute read for callables outside those packages."""
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str) or module.partition(".")[0] not in _PACKAGES or isinstance(fn, type):
        return None
    name = getattr(fn, "__name__", None)
    for ns_name in NAMESPACES:
        ns = sys.modules.get(ns_name)
        if ns is None:
            continue
        for sub, top_level in ((ns, True), (getattr(ns, "linalg", None), False), (getattr(ns, "fft", None), None)):
            if sub is None or not hasattr(sub, "__dict__"):
                continue
            attr = name if isinstance(name, str) and getattr(sub, name, None) is fn else next(
                (k for k, v in vars(sub).items() if v is fn and not k.startswith("_")), None)
            if attr is None or attr.startswith("_"):
                continue
            rule = _numpy_rule(fn, attr, top_level) if top_level is not None else None
            if rule is not None:
                return Rule(fn, vjps=rule.vjps, jvps=rule.jvps, rrule=rule.rrule, frule=rule.frule,
                            nondiff=rule.nondiff, broadcast=rule.broadcast)
            sub = "linalg" if top_level is False else "fft"
            where = f"{ns_name}.{attr}" if top_level else f"{ns_name}.{sub}.{attr}"
            return _refusing_rule(fn, where)
    return None


def _namespace_rrule(*arrays, **kw):
    import array_api_compat

    xp = register_namespace(array_api_compat.array_namespace(*arrays, **kw))
    return xp, lambda g: (None,) * len(arrays)


def _register_loaded() -> None:
    """Rules for ``array_namespace`` itself, and for the namespaces of libraries already imported."""
    if "array_api_compat" not in sys.modules:
        try:
            import array_api_compat
        except ImportError:
            return
    import array_api_compat

    for fn in (array_api_compat.array_namespace, getattr(array_api_compat, "get_namespace", None)):
        if fn is not None:
            rrule(fn)(_namespace_rrule)
    for name in ("array_api_compat.numpy", "array_api_strict"):
        if name in sys.modules:
            register_namespace(sys.modules[name])
    for lib, sub in (("torch", "array_api_compat.torch"), ("cupy", "array_api_compat.cupy"),
                     ("jax", "jax.numpy")):
        if lib in sys.modules:
            try:
                __import__(sub)
            except ImportError:
                continue
            register_namespace(sys.modules[sub])


_register_loaded()
add_provider(namespace_provider)
