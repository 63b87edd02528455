"""Before the QApplication: can Qt's X11 platform plugin (xcb) load?

On a plain Debian or Ubuntu machine some X11 libraries that PySide6's ``libqxcb.so`` links
against are not installed (first ``libxcb-cursor0``), and Qt then aborts the process with
"Could not load the Qt platform plugin "xcb" ... xcb-cursor0 or libxcb-cursor0 is needed"
and a core dump. :func:`xcb_hint` finds that out first, with ``ctypes`` (no Qt loaded): it
opens each library of :data:`XCB_LIBRARIES` and then the plugin itself, and names the missing
ones with the apt packages that provide them; :func:`exit_if_xcb_cannot_load` prints that one
line to stderr and exits with status 1 instead of Qt's abort. Nothing is checked unless Qt
would start on xcb: Linux, an X display (``DISPLAY``) and ``QT_QPA_PLATFORM`` unset (outside
a Wayland session) or naming xcb first.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

XCB_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb.so.1", "libxcb1"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libX11.so.6", "libx11-6"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libfreetype.so.6", "libfreetype6"),
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libgthread-2.0.so.0", "libglib2.0-0"),
)
"""The shared libraries PySide6's xcb plugin and the Qt libraries under it need from the
system (their ELF ``NEEDED`` entries, PySide6 6.11/6.12, less libc, libstdc++, zlib and zstd,
which every Debian has), each with the Debian/Ubuntu package that ships it."""


def packages_of(libraries: Sequence[tuple[str, str]]) -> list[str]:
    """The packages of ``libraries``, each once, in order."""
    return list(dict.fromkeys(package for _, package in libraries))


APT_INSTALL = "sudo apt-get install -y " + " ".join(packages_of(XCB_LIBRARIES))
"""All of them in one command (what the README's quick start says)."""


def xcb_expected(environ: Mapping[str, str] | None = None, platform: str | None = None
                 ) -> bool:
    """Whether Qt will start on its xcb platform plugin: on Linux with an X display, when
    ``QT_QPA_PLATFORM`` names xcb first, or is unset outside a Wayland session (where Qt
    tries Wayland first)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    return not (environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"))


def loads(library: str | os.PathLike[str]) -> str | None:
    """None when the dynamic loader opens ``library`` (a soname or a path), else its error."""
    try:
        ctypes.CDLL(os.fspath(library))
    except OSError as error:
        return str(error)
    return None


def missing_libraries(libraries: Sequence[tuple[str, str]] = XCB_LIBRARIES
                      ) -> list[tuple[str, str]]:
    """The ``(soname, package)`` pairs of ``libraries`` that the loader cannot open."""
    return [(soname, package) for soname, package in libraries if loads(soname) is not None]


def xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so`` (in the environment or the PyInstaller bundle), when present;
    found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for location in (spec.submodule_search_locations or ()) if spec else ():
        plugin = Path(location) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def xcb_hint(libraries: Sequence[tuple[str, str]] = XCB_LIBRARIES,
             plugin: Path | None = None) -> str | None:
    """One line naming what keeps the xcb plugin from loading and the apt packages to
    install, or None when it loads. ``plugin``: the plugin file to open last (default
    :func:`xcb_plugin`; its error names a library the table does not know)."""
    missing = missing_libraries(libraries)
    if missing:
        names = ", ".join(soname for soname, _ in missing)
        packages = " ".join(packages_of(missing))
        return (f"leakview: Qt's X11 platform plugin (xcb) cannot load: {names} missing. On "
                f"Debian/Ubuntu: sudo apt-get install -y {packages}")
    plugin = plugin if plugin is not None else xcb_plugin()
    error = loads(plugin) if plugin is not None else None
    if error is None:
        return None
    return (f"leakview: Qt's X11 platform plugin (xcb) cannot load ({error}). On "
            f"Debian/Ubuntu: {APT_INSTALL}")


def exit_if_xcb_cannot_load(environ: Mapping[str, str] | None = None,
                            libraries: Sequence[tuple[str, str]] = XCB_LIBRARIES,
                            plugin: Path | None = None) -> None:
    """Where Qt would start on xcb and its plugin cannot load, print :func:`xcb_hint` to
    stderr and exit with status 1 (instead of Qt's abort and core dump)."""
    if not xcb_expected(environ):
        return
    hint = xcb_hint(libraries, plugin)
    if hint is not None:
        print(hint, file=sys.stderr)
        raise SystemExit(1)
