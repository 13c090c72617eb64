"""Small pieces the forward generator's modules share: the number kinds, and helpers on
the text of generated expressions."""

from __future__ import annotations

import re

from wengert.backend.emit import INFIX, PREFIX
from wengert.ir.activity import BOOL, FLOAT, INT
from wengert.ir.kinds import TupleKind

_NUMS = (FLOAT, INT, BOOL)
_OPERATORS = INFIX.keys() | PREFIX.keys()


def _filled(kind) -> bool:
    """Is the tangent of an active value of ``kind`` read from a structure whose tangent is
    known (a list, a tuple) certainly complete (a float, a tuple of floats)? Such tangents
    are built with ``0.0`` for every number without one (see `TangentWriter.tan`)."""
    return kind == FLOAT or (isinstance(kind, TupleKind) and all(k in _NUMS for k in kind.items))


def _balanced(e: str) -> bool:
    depth = 0
    for ch in e:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _subst(expr: str, name: str, new: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", new, expr)


def _ident(name: str) -> str:
    name = name.strip("<>")
    return name if name.isidentifier() else "f"
