"""The SSA IR (values, statements, structured blocks, printer, verifier) and the
analysis over it: kinds (`wengert.ir.kinds`, the lattice of value types), activity
(`wengert.ir.activity`), heap effects (`wengert.ir.effects`) and callees' return kinds
(`wengert.ir.returns`)."""

from wengert.ir.core import *  # noqa: F401,F403  (the IR's types: `ir.Function`, `ir.Call`, ...)
