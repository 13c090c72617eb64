"""Return kinds of Python callees, found by analysing them (recursion by iteration).

`return_type` answers the kind a Python function returns for argument kinds made of
numbers; the answer is cached with the globals it was found with (callees included) and
found again only while they hold. `CalleeGuards` gathers those globals for code
specialised to such answers.
"""

from __future__ import annotations

import builtins

from wengert import ir
from wengert.ir import callees
from wengert.ir.kinds import BOOL, FLOAT, INT, NONE

PENDING = object()
_RET: dict = {}  # (code, kinds) -> (return type, guards): fixpoints reached (cleared by clear_cache)
_IN_PROGRESS: dict = {}  # thread id -> that thread's fixpoints being iterated, outermost first


class _Fixpoint:
    """A return type being found by iteration: the approximation so far, the globals it was
    found with (``(globals dict or module, name, object)``), and whether it read another
    fixpoint's approximation (then it is not final, and not cached)."""

    __slots__ = ("key", "type", "guards", "tentative")

    def __init__(self, key):
        self.key = key
        self.type = PENDING
        self.guards: dict = {}  # (id of where, name) -> (where, name, object)
        self.tentative = False


def _guards_hold(guards: dict) -> bool:
    for where, name, obj in guards.values():
        if isinstance(where, dict):
            cur = where.get(name, PENDING)
            if cur is PENDING:
                cur = getattr(builtins, name, PENDING)
        else:
            cur = getattr(where, name, PENDING)
        if cur is not obj:
            return False
    return True


class CalleeGuards:
    """``with CalleeGuards() as found:`` gathers the globals that the return types of the
    callees typed by the analyses in the block depend on (callees of callees included):
    ``found[(id of where, name)] = (where, name, object)``, where is a globals dict or a
    module. Code specialised to those types must be guarded by them too."""

    def __enter__(self) -> dict:
        import threading

        self.frame = _Fixpoint(None)
        _IN_PROGRESS.setdefault(threading.get_ident(), []).append(self.frame)
        return self.frame.guards

    def __exit__(self, *exc) -> None:
        import threading

        me = threading.get_ident()
        stack = _IN_PROGRESS[me]
        stack.remove(self.frame)
        if not stack:
            del _IN_PROGRESS[me]


def return_type(fn, kinds: tuple, analyse):
    """The type of what Python function ``fn`` returns for argument kinds ``kinds``
    (scalars only), by analysing it with ``analyse`` (`activity.analyse`); recursion is
    resolved by iterating from the base cases. None when unknown.

    Each thread iterates its own fixpoints (another thread's approximations are never
    read); a result is cached only when final, with the globals it depends on (callees
    included), and is found again only while they hold."""
    if not all(k in (FLOAT, INT, BOOL, NONE) for k in kinds) or fn.__closure__:
        return None
    code = fn.__code__
    if code.co_argcount != len(kinds) or code.co_kwonlyargcount or code.co_flags & 0x0C:
        return None
    import threading

    key = (code, kinds)
    stack = _IN_PROGRESS.get(threading.get_ident())
    if stack:
        for depth, frame in enumerate(stack):
            if frame.key == key:  # recursion: the approximation so far
                for inner in stack[depth + 1:]:
                    inner.tentative = True
                return frame.type
    done = _RET.get(key)
    if done is not None and _guards_hold(done[1]):
        if stack:
            stack[-1].guards.update(done[1])
        return done[0]
    if not callees.has_source(fn):
        return None
    try:
        f_ir = callees.get_ir(fn)
    except Exception:  # noqa: BLE001 - not analysable: unknown type
        return None
    frame = _Fixpoint(key)
    for name, obj in f_ir.globals_resolved.items():
        where, attr = (fn.__globals__, name) if isinstance(name, str) else name
        frame.guards[(id(where), attr)] = (where, attr, obj)
    if stack is None:
        stack = _IN_PROGRESS[threading.get_ident()] = []
    stack.append(frame)
    try:
        for _ in range(6):
            info = analyse(f_ir, kinds, {})
            r = f_ir.body.term.values[0]
            t = info.type_of(r) if isinstance(r, ir.Const) or r.id in info.type else PENDING
            if t is PENDING or t == frame.type:
                break
            frame.type = t
    finally:
        stack.pop()
        if not stack:
            del _IN_PROGRESS[threading.get_ident()]
    t = frame.type if frame.type in (FLOAT, INT, BOOL, NONE) else None
    if stack:
        stack[-1].guards.update(frame.guards)
    if not frame.tentative:
        _RET[key] = (t, frame.guards)
    return t
