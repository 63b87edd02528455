"""leakview: find data leakage in image classifiers."""

__version__ = "0.1.0"
