"""``python -m wengert``: the command line of `wengert.cli`."""

from wengert.cli import main

raise SystemExit(main())
