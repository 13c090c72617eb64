"""How the analysis reaches a callee's IR without importing the frontend.

The analysis looks into Python callees (their writes, `effects.pure_call`; their return
kinds, `returns.return_type`), so it needs their IR; the frontend builds IR, so it sits
above `ir/`. `frontend.program` registers its program service here when it is imported
(before anything is analysed): ``has_source(fn)``, ``get_ir(fn)``, ``free_kinds(fn)``.
"""

from __future__ import annotations


def _unregistered(*_args):
    raise RuntimeError("wengert.frontend.program was not imported: no IR for callees")


has_source = get_ir = free_kinds = _unregistered


def register(*, has_source, get_ir, free_kinds) -> None:
    """Called once by `wengert.frontend.program`."""
    g = globals()
    g["has_source"], g["get_ir"], g["free_kinds"] = has_source, get_ir, free_kinds
