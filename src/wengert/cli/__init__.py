"""The command line: ``wengert demo``, ``wengert show``, ... (`wengert.cli.commands`)."""

from wengert.cli.commands import main

__all__ = ["main"]
