"""The analysis forward mode runs: the kinds and activity of `wengert.ir.activity`, with
module-level float constants typed as floats (and guarded) and the values an in-place
operator on an array updates made active."""

from __future__ import annotations

from wengert import ir
from wengert.ir import activity
from wengert.ir.activity import Info, analyse
from wengert.transforms.forward.calls import _INPLACE
from wengert.transforms.forward.common import _NUMS


def _analyse(f_ir: ir.Function, kinds, free_kinds, globals_: dict):
    """Activity analysis, with module-level float constants (``DT = 0.005``) typed as
    floats rather than unknown, so the scalar code around them stays specialised.
    The constants become guards: rebinding one retransforms."""
    overrides = []
    for _, st in ir.walk(f_ir.body):
        if isinstance(st, ir.Op) and st.kind == "global" and st.static is None \
                and type(globals_.get(st.fn)) is float:
            overrides.append(st)
    for st in overrides:
        st.static = globals_[st.fn]
    try:
        info = analyse(f_ir, kinds, free_kinds)
        _aliases(f_ir, info, free_kinds)
    finally:
        for st in overrides:
            st.static = None
    return info, [(st.fn, globals_[st.fn]) for st in overrides]


def _aliases(f_ir: ir.Function, info: Info, free_kinds) -> None:
    """``a += x`` on an array updates ``a`` itself: when ``x`` is active, so is ``a``'s
    earlier value (and whatever holds it, ``lst = [a]``). The analysis knows this for item
    assignment and mutating methods; in-place operators are added here."""
    changed = True
    while changed:
        changed = False
        for _, st in ir.walk(f_ir.body):
            if isinstance(st, ir.Op) and st.kind == "call" and not st.star and len(st.args) == 2:
                fn = st.static if isinstance(st.fn, ir.Value) else st.fn.value
                a = st.args[0]
                if fn in _INPLACE and isinstance(a, ir.Value) and not info.is_active(a) \
                        and info.type_of(a) not in _NUMS and info.is_active(st.args[1]):
                    changed |= activity._set(info, a, info.type_of(a), True)
        if changed:
            while activity._block(f_ir.body, info, free_kinds):
                pass
