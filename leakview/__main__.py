"""`python -m leakview` runs the command-line interface; also the entry point of the
PyInstaller build (build.spec)."""

import multiprocessing

from leakview.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # no-op unless frozen and started as a worker process
    raise SystemExit(main())
