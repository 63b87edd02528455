"""`python -m leakview` runs the command-line interface."""

from leakview.cli import main

raise SystemExit(main())
