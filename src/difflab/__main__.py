"""``python -m difflab`` is the ``difflab`` command (for machines where the package is on PYTHONPATH only)."""

from difflab.cli.main import main

raise SystemExit(main())
