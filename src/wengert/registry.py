"""What the compiler registers for the run-time support to call back into.

The run-time support (`wengert.runtime`), the rules and the overload package never import
the compiler (`wengert.dispatch`, `wengert.transforms`, ...): the helpers that must
differentiate a callee (`cotangents.call_pullback`, `Pass.getattr`, `iter_tangent`, a
checkpoint's rule, the torch and JAX bridges) reach the dispatcher and the compile cache
through this module. `wengert.dispatch` registers them when it is imported, and
``import wengert`` imports it, so they are in place before any derivative is taken.

Each name is first a forwarding stand-in, so that ``from wengert.registry import
pullback_of`` works whenever it runs; `register` replaces the module attribute by the
function itself, so ``registry.pullback_of(...)`` costs one attribute lookup.

- ``pullback_of(fn, args, kwargs, _pass=None)``, ``jvp_call(fn, args, tangents, ...)``: the
  dispatch ladder of each mode (`wengert.dispatch.ladder`);
- ``compiled(fn, kinds, fkinds=None)``, ``compiled_jvp(...)``, ``variant(c, name)``: the
  compile cache (`wengert.dispatch.cache`);
- ``pullback(f, *args)``: the public `wengert.pullback` (registered by ``wengert/__init__``);
- ``object_items``, ``SELF``: the frontend's replayable iteration of a user object
  (`wengert.frontend.stdlib.object_items_`) and its marker for a closure capturing itself;
- ``zero_like``, ``numeric``, ``has_tracked``, ``lifted``, ``unlifted``: the overload
  package's zero of a (possibly `Dual`) value, whether one is a number or an array under its
  levels, its test for tracked values, and lifting a rule body for them and back
  (registered by `wengert.overload.fallback`: the overload package sits above the
  run-time support and the rules).
"""

from __future__ import annotations

_IMPL: dict = {}


def _stand_in(name: str):
    def stand_in(*args, **kwargs):
        impl = _IMPL.get(name)
        if impl is None:
            raise RuntimeError(f"wengert.registry.{name} is not registered yet (import wengert first)")
        return impl(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


pullback_of = _stand_in("pullback_of")
jvp_call = _stand_in("jvp_call")
compiled = _stand_in("compiled")
compiled_jvp = _stand_in("compiled_jvp")
variant = _stand_in("variant")
pullback = _stand_in("pullback")
object_items = _stand_in("object_items")
SELF = object()  # replaced by the frontend's marker
zero_like = _stand_in("zero_like")
numeric = _stand_in("numeric")
has_tracked = _stand_in("has_tracked")
lifted = _stand_in("lifted")
unlifted = _stand_in("unlifted")


def register(**impls) -> None:
    """Install implementations (``register(pullback_of=..., jvp_call=...)``)."""
    unknown = set(impls) - set(globals())
    if unknown:
        raise KeyError(f"not a registry entry: {sorted(unknown)}")
    _IMPL.update(impls)
    globals().update(impls)
