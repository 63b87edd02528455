"""One module per ``leakview`` subcommand; each exposes ``register(subparsers)``."""
