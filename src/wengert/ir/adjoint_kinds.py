"""Kinds of values that only generated adjoint code has, for when that code is itself
transformed (forward over reverse: `wengert.dispatch.compose`).

==================  ==========================================  ==========================
kind                values                                      tangent
==================  ==========================================  ==========================
``pass``            the `Pass` that generated adjoint code      the tangent's own Pass
                    receives as ``_pass`` (given explicitly,    (``_pass_dot``), passed in
                    as a constant parameter; never the kind
                    of a user's value)
``handle``          ``_pass.handle(obj)``: the Pass's own dict  the tangent Pass's dict
                    of ``obj``'s float-field cotangents,
                    written through (``h["w"] = h.get(...)``)
``next[k]``         the bound ``__next__`` of an iterator over  an iterator's ``__next__``
                    ``k`` (``saved_pop = reversed(saved)        in step with it
                    .__next__``): calling it gives a ``k``
==================  ==========================================  ==========================

The Pass's methods in `PASS_LINEAR` are linear in their cotangent arguments and write
only into the Pass's own buffers, which the program reads only through those methods:
the analysis (`wengert.ir.activity`, `wengert.ir.effects`) sees no heap write in them
and no change of kinds; any other method of the Pass is an opaque call. The kinds here
register themselves with `wengert.ir.kinds` (``as_kind`` of their tags and tuples).
"""

from __future__ import annotations

from wengert.ir import kinds
from wengert.ir.kinds import ANY, Compound, Kind, Scalar, differentiable, join

PASS_TAG, HANDLE_TAG, NEXT_TAG = "pass", "handle", "next"
PASS_LINEAR = frozenset({"add", "add_item", "add_attr", "take", "pop_attr", "handle"})


class _Handle(Scalar):
    """``handle``: a dict of cotangents, so it carries derivatives (its tangent is one)."""

    __slots__ = ()

    @property
    def differentiable(self) -> bool:
        return True


class NextKind(Compound):
    """``next[k]``: the bound ``__next__`` of an iterator over ``k``."""

    __slots__ = ()

    def __new__(cls, elem):
        return tuple.__new__(cls, (NEXT_TAG, elem))

    @property
    def elem(self) -> Kind | None:
        return tuple.__getitem__(self, 1)

    @property
    def differentiable(self) -> bool:
        return differentiable(self.elem)

    def join_same(self, other: NextKind) -> NextKind:
        return NextKind(join(self.elem, other.elem))

    def __repr__(self) -> str:
        return f"next[{'?' if self.elem is None else repr(self.elem)}]"


PASS, HANDLE = Scalar(PASS_TAG), _Handle(HANDLE_TAG)
kinds._SCALARS.update({PASS_TAG: PASS, HANDLE_TAG: HANDLE})
kinds._MAKERS[NEXT_TAG] = lambda t: NextKind(kinds.as_kind(t[1]))

__all__ = ["ANY", "HANDLE", "PASS", "PASS_LINEAR", "NextKind"]
