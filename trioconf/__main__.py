"""``python -m trioconf``: the same command line as ``trioconf``."""

from ._cli import main

raise SystemExit(main())
