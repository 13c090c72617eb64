"""``python -m wengert``: the command line of `wengert.cli.commands`."""

from wengert.cli.commands import main

raise SystemExit(main())
