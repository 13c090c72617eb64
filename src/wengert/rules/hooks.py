"""Gradient hooks, stop_gradient and checkpointing: rules, not compiler features.

Each is an ordinary function with an entry in the rule table, so every mode
(generated reverse code, `pullback`, the tape, forward mode, `Dual` numbers and
forward-over-reverse) handles it the way it handles ``math.sin``:

    hook(fn, x)          value x; the cotangent reaching it is replaced by fn(cotangent)
    stop_gradient(x)     value x; no derivative flows through it (nondiff)
    checkpoint(fn)       a function calling fn that saves only its inputs and runs
                         fn's forward pass again (under `wengert.pullback`) when the
                         reverse pass reaches it

`checkpoint` returns a small Python function whose body calls the primitive
`checkpoint_call(fn, args)`. Its rule hands the cotangent of ``fn`` (its
captured variables, Zygote's convention) back as the cotangent of its first
argument, so a checkpointed closure differentiates its captured values too.
"""

from __future__ import annotations

import copy
import types

from wengert.rules.table import defjvp, frule, nondiff, rrule
from wengert import registry  # what the overload package and the dispatcher register

__all__ = ["checkpoint", "checkpoint_call", "hook", "stop_gradient"]


# ---- hook ----


def hook(fn, x):
    """``x``; in reverse mode the cotangent reaching this value is replaced by ``fn(cotangent)``.

    Zygote's ``hook``: identity in forward mode and when nothing is differentiated.
    Inside a loop ``fn`` runs once per iteration, the last iteration first.

    >>> import wengert
    >>> wengert.grad(lambda x: wengert.hook(lambda g: 10 * g, x * x))(3.0)
    60.0
    """
    return x


@rrule(hook)
def hook_rrule(fn, x):
    def hook_pullback(g):
        return None, fn(g)

    return x, hook_pullback


defjvp(hook, None, lambda t, y, fn, x: t)


# ---- stop_gradient ----


def stop_gradient(x):
    """``x`` with no derivative through it: floats, arrays and containers of them.

    Lists, dicts and sets are copied (shallowly, recursively through nested
    containers), so a cotangent kept per object by the mutation log cannot reach
    the original through the copy. Tensors of PyTorch are detached.

    >>> import wengert
    >>> wengert.grad(lambda x: x * wengert.stop_gradient(x))(3.0)
    3.0
    """
    if isinstance(x, list):
        return [stop_gradient(v) for v in x]
    if isinstance(x, dict):
        return {k: stop_gradient(v) for k, v in x.items()}
    if isinstance(x, tuple):
        vals = [stop_gradient(v) for v in x]
        return type(x)(*vals) if hasattr(x, "_fields") else tuple(vals)
    if isinstance(x, (set, bytearray)):
        return copy.copy(x)
    detach = getattr(x, "detach", None)
    if detach is not None and type(x).__module__.startswith("torch"):
        return detach()
    return x


nondiff(stop_gradient)


# ---- checkpoint ----


def checkpoint_call(fn, args: tuple):
    """``fn(*args)``; differentiated by running ``fn`` again in the reverse pass."""
    return fn(*args)


def _unrouted(fn):
    # the tape and forward-over-reverse hand rule bodies their callables wrapped for
    # tracked values (dual._LazyLift); wengert's pullback wants the function itself
    return registry.unlifted(fn)


def _callable(fn, args):
    # Duals among the arguments (forward over reverse): fn's math calls go through the rule table
    # (the overload package's lifting, registered: the rules never import it)
    return registry.lifted(fn) if isinstance(fn, types.FunctionType) and registry.has_tracked(args) else fn


@rrule(checkpoint_call)
def checkpoint_call_rrule(fn, args):
    y = _callable(fn, args)(*args)  # a plain call: nothing of fn's forward pass is kept

    def checkpoint_call_pullback(g):
        from wengert.registry import pullback  # the compiler, only when the reverse pass runs

        _, back = pullback(_unrouted(fn), *args)
        fn_bar, *args_bar = back(g)  # fn_bar: the cotangent of fn's captured variables
        return fn_bar, tuple(args_bar)

    return y, checkpoint_call_pullback


@frule(checkpoint_call)
def checkpoint_call_frule(tangents, fn, args):
    from wengert.registry import jvp_call  # forward mode keeps nothing: no recomputation needed

    fn_dot, args_dot = tangents
    return jvp_call(fn, args, args_dot if args_dot is not None else (None,) * len(args), None, fn_dot)


def checkpoint(fn):
    """A function equal to ``fn`` whose reverse pass saves only its inputs and runs ``fn`` again.

    Trades time for memory (Griewank and Walther, "Evaluating Derivatives", ch. 12):
    a loop calling a checkpointed step keeps one set of inputs per iteration
    instead of everything the step's adjoint needs. ``fn`` takes positional
    arguments and should not mutate them (it runs twice).

    >>> import wengert, math
    >>> step = wengert.checkpoint(lambda x: math.sin(x) * x)
    >>> round(wengert.grad(lambda x: step(step(x)))(1.0), 6)
    1.805083
    """

    def checkpointed(*args):
        return checkpoint_call(fn, args)  # one tuple, not *args: no star call to differentiate

    checkpointed.__name__ = f"checkpointed_{getattr(fn, '__name__', 'fn')}"
    checkpointed.__qualname__ = checkpointed.__name__
    checkpointed.__doc__ = getattr(fn, "__doc__", None)
    return checkpointed


@rrule(checkpoint)
def checkpoint_rrule(fn):
    # made inside differentiated code: the result's cotangent is {"fn": fn's cotangent}
    return checkpoint(fn), lambda g: (g.get("fn") if isinstance(g, dict) else g,)


@frule(checkpoint)
def checkpoint_frule(tangents, fn):
    # a function's tangent is the tuple of its captured values' tangents (forward.py)
    t = tangents[0] if tangents else None
    return checkpoint(fn), (None if t is None else (t,))
