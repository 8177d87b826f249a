"""``python -m kubecert`` is the ``kubecert`` command."""

from kubecert.cli import main

raise SystemExit(main())
