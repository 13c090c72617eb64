"""The public API: grad, value_and_grad, gradient, pullback, vjp, show_ir, show_adjoint; and,
from the modules beside it, jvp and show_tangent (`wengert.transforms.forward`), hessian,
hvp and derivative (`wengert.api_higher`), jacobian (`wengert.api_jacobian`).

>>> import math
>>> def f(x):
...     return 5 * math.sin(math.log(x))
>>> round(grad(f)(2.0), 6) == round(5 * math.cos(math.log(2.0)) / 2.0, 6)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from wengert import ir
from wengert.api_higher import derivative, grad_hooks, hessian, hvp  # noqa: F401  (hvp: re-exported)
from wengert.api_jacobian import jacobian
from wengert.runtime import cotangents
from wengert.transforms.forward import jvp, show_tangent
from wengert.ir.activity import analyse, show_kinds
from wengert.ir.kinds import FLOAT, const, kind_of
from wengert.frontend.program import free_kinds
from wengert.rules.table import get_rule
from wengert.runtime.mutation import Pass
from wengert.dispatch.cache import clear_cache, compiled, compiled_jvp, get_ir, last_kinds
from wengert.dispatch.pullbacks import bind, pullback_of

__all__ = [
    "clear_cache",
    "derivative",
    "grad",
    "gradient",
    "hessian",
    "jacobian",
    "jvp",
    "pullback",
    "show_adjoint",
    "show_ir",
    "show_tangent",
    "value_and_grad",
    "vjp",
]


def _located(fn):
    """Run ``fn``; an exception raised in generated code gets a note naming the user's line."""
    import functools

    @functools.wraps(fn)
    def located(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            _note(e)
            raise

    return located


def _note(e: Exception) -> None:
    """Add a note naming the user's line to an exception raised in generated code."""
    from wengert.backend.emit import user_location

    loc = user_location(e.__traceback__)
    if loc is not None and hasattr(e, "add_note") and not getattr(e, "_wengert_noted", False):
        e.add_note(f"wengert: raised while differentiating {loc[0]}:{loc[1]}")
        e._wengert_noted = True


def pullback(f: Callable, *args, **kwargs) -> tuple[Any, Callable]:
    """``y, back = pullback(f, *args)``; ``back(dy)`` returns the gradient for ``f``
    itself (its captured variables, or ``None``) followed by one per argument.

    >>> y, back = pullback(lambda x, y: x * y, 2.0, 3.0)
    >>> y, back(1.0)
    (6.0, (None, 3.0, 2.0))

    Keyword arguments are passed through; their gradients are not returned.
    """
    y, back = _located(pullback_of)(f, args, kwargs)

    @_located
    def pullback_back(dy):
        if dy is None:
            return (None,) * (len(args) + 1)
        f_bar, a_bar, _ = back(dy)
        return (f_bar, *a_bar)

    return y, pullback_back


def vjp(f: Callable, *primals) -> tuple[Any, Callable]:
    """JAX's spelling: ``y, f_vjp = vjp(f, *primals)``; ``f_vjp(ct)`` returns one
    cotangent per primal (no entry for ``f``)."""
    y, back = pullback(f, *primals)

    def vjp_fn(ct):
        return tuple(back(ct)[1:])

    return y, vjp_fn


def _as_float(x):
    return float(x) if type(x) is int else x


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   mode: str = "source") -> Callable:
    """A function returning ``(value, gradient)`` of scalar-valued ``f``.

    ``argnums`` picks the arguments (an int gives one gradient, a tuple a
    tuple); ints among them are treated as floats. With ``has_aux``, ``f``
    returns ``(value, aux)`` and the result is ``((value, aux), gradient)``.
    ``mode="tape"`` differentiates on the run-time tape instead.
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    fast = _fast_path(f, nums, single) if mode == "source" and not has_aux else None

    def value_and_grad_f(*args, **kwargs):
        if fast is not None and not kwargs and not _has_reverse_rule(f):
            done = fast(args)
            if done is not None:
                return done
        args = tuple(_as_float(a) if i in nums else a for i, a in enumerate(args))
        for i in nums:
            if i >= len(args):
                raise TypeError(f"argnums={i} but only {len(args)} positional arguments were given")
        if mode == "tape":
            from wengert.overload.tape import tape_pullback

            def call(*a):
                return f(*a, **kwargs)

            # trace() runs `call` with its globals routed through tape_call (dual.lifted),
            # transitively for the Python functions it calls, so math.sin(Var) works
            y, back = tape_pullback(call, *args, argnums=nums)
            value = y[0] if has_aux else y
            grads = back((_seed(value), None) if has_aux else _seed(value))[1:]
        elif mode == "source":
            y, grads = _source_grad(f, args, kwargs, has_aux)
        else:
            raise ValueError(f"mode must be 'source' or 'tape', not {mode!r}")
        picked = tuple(_zero_if_none(grads[i], args[i]) for i in nums)
        return y, (picked[0] if single else picked)

    value_and_grad_f = _located(value_and_grad_f)
    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    value_and_grad_f.__wrapped__ = f
    return value_and_grad_f


def _fast_path(f, nums, single):
    """For a plain function called with positional arguments: the compiled fused
    gradient, looked up by argument kinds, with the least work around it."""
    import types

    if not isinstance(f, types.FunctionType):
        return None
    code = f.__code__
    if code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_freevars:
        return None
    nargs = code.co_argcount
    cache: dict = {}
    num = nums[0] if single else None

    def fast(args):
        if len(args) != nargs:
            return None
        if single:
            a = args[num]
            if type(a) is int:
                args = args[:num] + (float(a),) + args[num + 1:]
        else:
            args = tuple(float(a) if type(a) is int and i in nums else a for i, a in enumerate(args))
        if nargs == 1 and type(args[0]) is float:
            key = (FLOAT,)
        else:  # arguments not asked for are constants: no adjoint work for them
            key = tuple(kind_of(a) if i in nums else const(kind_of(a)) for i, a in enumerate(args))
        entry = cache.get(key)
        if entry is None or not entry[0]():
            try:
                c = compiled(f, key, ())
            except Exception:  # noqa: BLE001 - the general path reports it properly
                return None
            c.valid()  # builds the compiled guard check
            entry = cache[key] = (c._check, c.grad, c.uses_pass, c)
        if not entry[3].__dict__.get("_float_output"):
            # first call, or not a float output: the pullback, seeded by the output's type
            # (see _source_grad)
            c, p = entry[3], Pass()
            y, back = c.pullback(p, *args)
            p.start_backward()
            _, bars = back(_seed(y))
            p.finish()
            c.__dict__["_float_output"] = isinstance(y, float)
        else:
            if entry[2]:
                p = Pass()
                y, _, bars = entry[1](p, *args)
                if p.log:
                    p.finish()
            else:
                y, _, bars = entry[1](None, *args)
            if not isinstance(y, float):
                # f ran already (running it again would repeat what it did to its arguments)
                _check_fused_output(f, y)
        if single:
            g = bars[num]
            return y, (0.0 if g is None and type(args[num]) is float else g)
        return y, tuple(_zero_if_none(bars[i], args[i]) for i in nums)

    return fast


def _quick_grad(f, num: int):
    """``grad(f)(x, ...)`` when every argument is a plain float: the compiled fused
    gradient called directly, with one guard check. ``None`` from it means "take the
    general path" (other argument types, a rule registered for ``f``, a non-float
    result, or an exception, which the general path raises again with its note)."""
    import types

    from wengert.rules import table

    if not isinstance(f, types.FunctionType):
        return None
    code = f.__code__
    if code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_freevars or not 0 <= num < code.co_argcount:
        return None
    n = code.co_argcount
    key = tuple(FLOAT if i == num else const(FLOAT) for i in range(n))
    state: list = [None]  # (rule table version, guard check, fused gradient)
    seen: list = [False]  # a call through the general path returned a float: the seed 1.0 is right

    def quick(args):
        if not seen[0] or len(args) != n:
            return None
        for a in args:
            if type(a) is not float:
                return None
        st = state[0]
        if st is None or st[0] != table.VERSION or not st[1]():
            st = _rebuild()
            if st is None:
                return None
        try:
            y, _, bars = st[2](None, *args)
        except Exception as e:  # not run again by the general path: f may have side effects
            _note(e)
            raise
        if type(y) is not float:
            # f ran already; its output decides: a scalar's gradient is this one (seeded with
            # 1.0), anything else is refused as the general path would
            seen[0] = False
            _seed(y)
        g = bars[num]
        return 0.0 if g is None else g

    def saw(y):
        """The general path returned ``y``: the quick path may take the next call."""
        seen[0] = type(y) is float

    quick.saw = saw

    def _rebuild():
        version = table.VERSION
        if _has_reverse_rule(f):
            return None
        try:
            c = compiled(f, key, ())
        except Exception:  # noqa: BLE001 - the general path reports it
            return None
        if c.uses_pass:
            return None
        c.valid()
        st = state[0] = (version, c._check, c.grad)
        return st

    return quick


def _has_reverse_rule(f) -> bool:
    """Was a rule registered for ``f`` itself (``defvjp(f, ...)``)? Then it is used, not f's source."""
    rule = get_rule(f)
    return rule is not None and rule.has_reverse


def _zero_if_none(g, x):
    if g is None and type(x) is float:
        return 0.0
    return g


def _check_fused_output(f, y) -> None:
    """The fused gradient, seeded with 1.0, gave a non-float output (its earlier calls gave
    floats): right for a 0-d array, else an error (f has run: it is not run again)."""
    if cotangents.shape_of(y) != ():
        raise TypeError(f"grad needs a scalar output; {getattr(f, '__name__', f)} returned a float "
                        f"on an earlier call and {type(y).__name__} of shape {cotangents.shape_of(y)} now")


def _seed(value):
    if isinstance(value, float):
        return 1.0
    shape = getattr(value, "shape", None)
    if shape is not None:
        if math.prod(tuple(shape)) != 1:
            raise TypeError(f"grad needs a scalar output (or one of size 1), got shape {tuple(shape)}; "
                            "use jacobian, or pullback / vjp with a cotangent of that shape")
        try:
            import array_api_compat

            return array_api_compat.array_namespace(value).ones_like(value)
        except (ImportError, TypeError):
            return 1.0
    if isinstance(value, (int, bool)) or value is None:
        return 1.0
    if isinstance(value, complex):
        raise TypeError("grad needs a real scalar output, got a complex number")
    raise TypeError(f"grad needs a scalar output, got {type(value).__name__}; use pullback or vjp")


def _source_grad(f, args, kwargs, has_aux):
    import types

    if isinstance(f, types.FunctionType) and not has_aux and "_wengert_pullback" not in f.__dict__ \
            and not _has_reverse_rule(f):
        from wengert.frontend.program import has_source as _has_source

        if _has_source(f):
            values, mapper = bind(f, args, kwargs)
            c = compiled(f, tuple(kind_of(v) for v in values))
            extra = (f.__closure__,) if f.__code__.co_freevars else ()
            p = Pass()
            if c.__dict__.get("_float_output"):
                # the fused gradient seeds its output with 1.0: used once a call showed a float
                # output (issue 10: running it first and the pullback again for an array output
                # ran f twice: an argument f appends to was appended to twice, a wrong gradient)
                y0, _, bars = c.grad(p, *values, *extra)
                p.finish()
                if not isinstance(y0, float):
                    _check_fused_output(f, y0)
            else:
                y0, back = c.pullback(p, *values, *extra)
                p.start_backward()
                _, bars = back(_seed(y0))
                p.finish()
                c.__dict__["_float_output"] = isinstance(y0, float)
            a, _ = mapper(bars)
            return y0, a
    y, back = pullback_of(f, args, kwargs)
    value = y[0] if has_aux else y
    _, a, _ = back((_seed(value), None) if has_aux else _seed(value))
    return y, a


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         mode: str = "source") -> Callable:
    """The gradient of scalar-valued ``f`` with respect to argument(s) ``argnums``.

    >>> def pow(x, n):
    ...     r = 1.0
    ...     while n > 0:
    ...         n -= 1
    ...         r *= x
    ...     return r
    >>> grad(pow)(2.0, 3)
    12.0
    """
    vg = value_and_grad(f, argnums, has_aux, mode)
    quick = _quick_grad(f, argnums) if mode == "source" and not has_aux and isinstance(argnums, int) else None

    def grad_f(*args, **kwargs):
        if quick is not None and not kwargs:
            g = quick(args)
            if g is not None:
                return g
        y, g = vg(*args, **kwargs)
        if quick is not None and not kwargs and all(type(a) is float for a in args):
            quick.saw(y)
        return (g, y[1]) if has_aux else g

    grad_f._quick = quick

    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    grad_f.__wrapped__ = f
    return grad_hooks(grad_f, f, argnums, has_aux)  # grad(grad(f)): forward over reverse


def gradient(f: Callable, *args, **kwargs) -> tuple:
    """Zygote's ``gradient``: one gradient per argument (``None`` for ints and strings).

    >>> gradient(lambda x, y: x * y, 2.0, 3.0)
    (3.0, 2.0)
    """
    y, back = pullback(f, *args, **kwargs)
    return tuple(back(_seed(y))[1:])


def _example_kinds(f, args) -> tuple:
    if args:
        values, _ = bind(f, args, {})
        return tuple(kind_of(v) for v in values)
    code = f.__code__
    kinds = last_kinds(code)
    if kinds is not None:
        return kinds
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    return (FLOAT,) * n


def show_ir(f: Callable, *args, transform: str | None = None) -> str:
    """The SSA IR of ``f`` as text. With example ``args``, every value shows the kind the
    analysis gives it for their kinds, and ``active`` where it may carry a derivative.

    ``transform="reverse"`` shows the IR of ``f``'s generated gradient for the kinds of
    ``args`` (what ``show_adjoint`` prints, read back by the frontend: the program the
    forward transform differentiates for a Hessian), ``"forward"`` that of its tangent code.
    """
    if transform is not None:
        kinds = _example_kinds(f, args)
        if transform == "reverse":
            return ir.format_function(get_ir(compiled(f, kinds).grad))
        if transform == "forward":
            return ir.format_function(get_ir(compiled_jvp(f, kinds).fn))
        raise ValueError(f"transform must be None, 'reverse' or 'forward', not {transform!r}")
    if not args:
        return ir.format_function(get_ir(f))
    f_ir = get_ir(f)
    info = analyse(f_ir, _example_kinds(f, args), dict(zip(f.__code__.co_freevars, free_kinds(f))))
    return show_kinds(f_ir, info)


def show_adjoint(f: Callable, *args, fused: bool = True) -> str:
    """The generated Python source of ``f``'s gradient.

    With example ``args``, the code specialised to their types; without, the
    types of the last call (or floats for every parameter). ``fused=True``
    shows the one-call gradient ``grad`` runs; ``False`` the pullback with its
    nested ``back``.
    """
    kinds = _example_kinds(f, args)
    c = compiled(f, kinds)
    return c.source_grad if fused else c.source_pullback

