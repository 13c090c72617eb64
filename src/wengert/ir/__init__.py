"""The SSA IR (values, statements, structured blocks, printer, verifier) and the
analysis of kinds and activity over it (`wengert.ir.activity`)."""

from wengert.ir.core import *  # noqa: F401,F403  (the IR's types: `ir.Function`, `ir.Call`, ...)
