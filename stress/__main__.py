"""``python -m stress``: see :mod:`stress.cli`."""

from .cli import main

raise SystemExit(main())
