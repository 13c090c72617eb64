"""Forward mode by source transformation: IR -> tangent (jvp) code.

For one function and one argument-type signature, `TangentWriter` walks the same
structured SSA IR as reverse mode and writes one Python function
``<f>_jvp(x, n, x_dot, n_dot)`` returning ``(y, y_dot)``: the primal program
where every active value ``v`` is followed by its tangent ``v_dot``. Loops
stay loops and branches stay branches; nothing is stacked, since the tangent
of a value only needs values live at that point.

Contract of the generated code:

- The tangent of an active number or array is never ``None`` (inactive
  values get no tangent at all). Parameters are normalised on entry,
  structures are built with zeros for inactive numbers, and what comes out of
  structures, calls and attributes is normalised (`tangents.tz`, `nz`,
  `fill`). So rule ``jvp`` lambdas with a single-expression body are inlined
  for every type: float-typed code uses the scalar forms (``_SCALAR_JVPS``,
  else the rule's own) and runs at close to the primal's speed with no `Dual`
  objects; other code uses the general rule, spread to the output's shape
  (`tangents.bcast`) when an elementwise rule has one active argument.
- Rules with only a full ``frule`` are called as helpers. Calls to Python
  functions, methods, classes and callables without source go through
  `tangents.jvp_call` (user functions are transformed on first use, so
  recursion works).
- A function value's tangent is the tuple of its captured values' tangents,
  in the order of its free variables (Zygote's closure tangents); a user
  object's is a `runtime.Tangent` of its fields. Mutations (item and
  attribute assignment, list and dict methods) are mirrored on the tangent.
- Module-level float constants are typed as floats (and guarded), so code
  around ``DT = 0.005`` stays specialised.

`compiled_jvp(fn, kinds)` caches per code object and signature, guarded like

The package, along its seams: `generator` (the `TangentWriter` class: names, the function,
blocks, branches and loops), `structures` (values, containers and their mutation),
`calls` (rules, in-place operators, direct calls, the dispatcher), `linear` (forward
over reverse: the linear forms of generated adjoint code's helpers and of its `Pass`),
`analysis` (the activity analysis as forward mode runs it), `common` (shared pieces).
"""

from __future__ import annotations

import inspect

from wengert.errors import UnsupportedError
from wengert.backend.emit import user_location
from wengert.ir.activity import FLOAT, kind_of
from wengert.runtime.binding import bind as _bind
from wengert.registry import compiled_jvp, jvp_call  # the cache and the dispatcher, registered
from wengert.runtime.tangents import RUNTIME_HELPERS, _rebuild  # noqa: F401  (re-exported)
from wengert.transforms.forward.analysis import _analyse  # noqa: F401  (re-exported: the cache runs it)
from wengert.transforms.forward.generator import TangentWriter
from wengert.transforms.forward.linear import generated, resolve_cells  # noqa: F401  (re-exported)

__all__ = ["TangentWriter", "compiled_jvp", "jvp", "jvp_call", "show_tangent"]


def _as_float(x, t):
    return float(x) if type(x) is int and t is not None else x


def jvp(f, primals, tangents) -> tuple:
    """``(f(*primals), J·tangents)`` by the generated tangent code (one pass, no `Dual`s).

    >>> import math
    >>> jvp(lambda x, y: x * math.sin(y), (2.0, 0.0), (1.0, 1.0))
    (0.0, 2.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    primals = tuple(_as_float(x, t) for x, t in zip(primals, tangents))
    _check_aliases(primals, tangents)
    try:
        return jvp_call(f, primals, tangents)
    except Exception as e:
        _note(e)
        raise


_IMMUTABLE = (int, float, complex, bool, str, bytes, tuple, frozenset, type(None))


def _check_aliases(primals: tuple, tangents: tuple) -> None:
    """One mutable object passed as two arguments has one tangent: the two given must be the
    same object (or both ``None``). Different ones contradict each other once the function
    writes through one name and reads through the other, so they are refused."""
    seen: dict[int, int] = {}
    for i, x in enumerate(primals):
        if isinstance(x, _IMMUTABLE):
            continue
        j = seen.setdefault(id(x), i)
        if j != i and tangents[j] is not tangents[i]:
            raise UnsupportedError(
                f"jvp: arguments {j} and {i} are one object ({type(x).__name__}) with two different "
                "tangents; pass the same tangent object for both (or None for both), or pass a copy")


def _note(e: Exception) -> None:
    """Name the user's line an exception raised in tangent code came from (as `api` does for grad)."""
    loc = user_location(e.__traceback__)
    if loc is not None and not getattr(e, "_wengert_noted", False):
        e.add_note(f"wengert: raised while differentiating {loc[0]}:{loc[1]}")
        e._wengert_noted = True


def show_tangent(f, *args) -> str:
    """The generated tangent (jvp) source of ``f`` for example ``args`` (floats by default)."""
    if args:
        values, _ = _bind(f, args, {})
        kinds = tuple(kind_of(v) for v in values)
    else:
        code = f.__code__
        n = code.co_argcount + code.co_kwonlyargcount
        n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
        kinds = (FLOAT,) * n
    return compiled_jvp(f, kinds).source
