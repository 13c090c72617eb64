"""The program as the compiler sees it: a function's source, its IR, and the guards that
say when that IR (or code made from it) is stale.

The analysis asks here for a callee's IR (`get_ir`), and whether it has source
(`has_source`); compiling stays in the cache above (`wengert.dispatch.cache`), which
shares this module's lock, epoch and guard checks. A guard is ``(key, obj)``: the object
a global name (``key`` a string, in the function's globals), a name in another module's
globals (``(dict, name)``) or a module attribute (``(module, name)``) resolved to; code
made for those objects is valid while each still resolves to the same object and
`wengert.clear_cache` has not run since (the epoch).
"""

from __future__ import annotations

import builtins
import inspect
import threading
import types

from wengert.frontend.lower import lower
from wengert.ir import callees
from wengert.ir.kinds import ANY, NONE, kind_of

# Lookups take no lock; lowering, transforming, publishing and clearing hold `LOCK`
# (re-entrant, for recursion), so an entry is published only complete.
LOCK = threading.RLock()
EPOCH = [0]  # bumped by clear_cache: everything made before is invalid
_IR: dict = {}      # code -> (IR, the globals it was lowered for, its guard check)
_SOURCE: dict = {}  # code -> has source
_MISSING = object()


def guard_check(guards: list, g: dict, epoch: int):
    """One compiled expression testing every guard of code made for globals ``g`` at
    ``epoch`` (faster than a loop)."""
    ns = {"g": g, "MISSING": _MISSING, "EPOCH": EPOCH}
    terms = [f"EPOCH[0] == {epoch}"]
    for i, (key, obj) in enumerate(guards):
        ns[f"o{i}"] = obj
        if isinstance(key, str):
            ns[f"b{i}"] = getattr(builtins, key, _MISSING)
            terms.append(f"g.get({key!r}, b{i}) is o{i}")
        elif isinstance(key[0], dict):  # a name in another module's globals
            ns[f"m{i}"] = key[0]
            ns[f"b{i}"] = getattr(builtins, key[1], _MISSING)
            terms.append(f"m{i}.get({key[1]!r}, b{i}) is o{i}")
        else:
            ns[f"m{i}"] = key[0]
            terms.append(f"getattr(m{i}, {key[1]!r}, MISSING) is o{i}")
    return eval("lambda: " + " and ".join(terms), ns)


def has_source(fn) -> bool:
    """Can ``fn``'s source be read (and so transformed)?"""
    code = fn.__code__
    ok = _SOURCE.get(code)
    if ok is None:
        try:
            inspect.getsourcelines(fn)
            ok = True
        except (OSError, TypeError):
            ok = False
        _SOURCE[code] = ok
    return ok


def get_ir(fn):
    """The IR of ``fn``, lowered again when a global it resolved (a callee) was rebound."""
    code = fn.__code__
    entry = _IR.get(code)
    if entry is None or entry[1] is not fn.__globals__ or not entry[2]():
        with LOCK:  # lowering normalises the cached source tree in place
            entry = _IR.get(code)
            if entry is None or entry[1] is not fn.__globals__ or not entry[2]():
                f_ir = lower(fn)
                check = guard_check(list(f_ir.globals_resolved.items()), fn.__globals__, EPOCH[0])
                entry = _IR[code] = (f_ir, fn.__globals__, check)
    return entry[0]


def forget_ir(code) -> None:
    _IR.pop(code, None)


def free_kinds(fn) -> tuple:
    """The kinds of the values ``fn``'s closure captured, in the order of its free variables."""
    out = []
    for c in fn.__closure__ or ():
        try:
            v = c.cell_contents
        except ValueError:
            out.append(NONE)
            continue
        if isinstance(v, types.FunctionType):
            out.append(ANY if v.__closure__ else NONE)
        else:
            out.append(kind_of(v))
    return tuple(out)


def clear() -> None:
    """Forget every IR and source lookup (under `LOCK`, by `wengert.clear_cache`)."""
    EPOCH[0] += 1
    _IR.clear()
    _SOURCE.clear()


callees.register(has_source=has_source, get_ir=get_ir, free_kinds=free_kinds)  # for the analysis
