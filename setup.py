"""Installs resources/ (demo images and models) as data files of a wheel, under
``<prefix>/share/leakview/resources``, where :func:`leakview.resources.resources_dir` finds them.
Everything else is configured in pyproject.toml."""

import os

from setuptools import setup


def resource_files(root: str = "resources") -> list[tuple[str, list[str]]]:
    entries = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        if files:
            entries.append((os.path.join("share", "leakview", folder),
                            sorted(os.path.join(folder, name) for name in files)))
    return entries


setup(data_files=resource_files())
