"""The overload package (Duals, the tape) plugged into the ladder and the compile cache.

The overload package sits below the compiler and never imports it; this module, the one
place where the dispatch layer meets it, registers

- its fallback rungs and its view of tracked values (`overload.fallback.LADDER`) as the
  ladder's `Overload` (rung 7 of `ladder.climb`);
- its stores of routed objects, emptied by `cache.clear_cache`;
- the ``"dual"`` *variant* of compiled code (`cache.variant`): the same generated source
  compiled against the routed namespaces of `overload.variant`, so that `Dual` numbers flow
  through it (forward over reverse where the compiled composition `compose` does not
  apply; forward over forward).

`dual_cotangents` runs a pullback on the dual variant: the `Dual` path of second derivatives.
``import wengert`` imports this module.
"""

from __future__ import annotations

import dataclasses

from wengert.backend.emit import compile_source
from wengert.dispatch import cache, ladder
from wengert.dispatch.pullbacks import pullback_of
from wengert.overload import fallback
from wengert.overload.dual import base, one_like
from wengert.overload.variant import dual_pass, routed_globals, routed_helpers
from wengert.rules.support import shape_of
from wengert.runtime import tangents
from wengert.transforms.reverse.plan import RUNTIME_HELPERS

__all__ = ["dual_cotangents"]

ladder.register_overload(**fallback.LADDER)
cache.on_clear(*fallback.STORES)


def _runtime_objects() -> frozenset:
    """The ids of the helpers every generated function gets (they take Duals as they are)."""
    return frozenset(id(v) for v in (*RUNTIME_HELPERS.values(), *tangents.RUNTIME_HELPERS.values()))


def _dual_builder(c: cache.Compiled) -> cache.Compiled:
    helpers = routed_helpers(c.helpers, c.globals, _runtime_objects())
    g = routed_globals(c.globals)
    pb, _ = compile_source(c.source_pullback, c.pullback.__name__, c.ir.filename, helpers, g)
    gr, _ = compile_source(c.source_grad, c.grad.__name__, c.ir.filename, helpers, g)
    return dataclasses.replace(c, helpers=helpers, directs={}, variants={}, pullback=pb, grad=gr)


def _dual_jvp_builder(c: cache.CompiledJVP) -> cache.CompiledJVP:
    """The same tangent code compiled against routed globals and helpers (forward over forward)."""
    fn, _ = compile_source(c.source, c.fn.__name__, c.ir.filename,
                           routed_helpers(c.helpers, keep=_runtime_objects()), routed_globals(c.globals))
    return dataclasses.replace(c, directs={}, variants={}, fn=fn)


cache.VARIANT_BUILDERS[("dual", cache.REVERSE)] = _dual_builder
cache.VARIANT_BUILDERS[("dual", cache.FORWARD)] = _dual_jvp_builder


def dual_cotangents(f, args: tuple, kwargs: dict):
    """Value of scalar ``f``, the cotangent of ``f`` itself (its captured values) and of
    every argument, by reverse mode on the dual variant (Duals flow through the adjoint)."""
    p = dual_pass()
    with cache.variant("dual"):
        y, back = pullback_of(f, args, kwargs, p)
        if shape_of(base(y)) != ():
            raise TypeError(f"grad needs a scalar output, got shape {shape_of(base(y))}")
        p.start_backward()
        try:
            f_bar, bars, _ = back(one_like(y))
        finally:
            p.finish()
    return y, f_bar, bars
