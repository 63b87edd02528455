"""The start-up check of Qt's X11 (xcb) platform plugin (leakview.gui.platform_check): a
missing library is named with its apt package in one line and the app exits with status 1
instead of Qt's abort. Headless: nothing here opens a display."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leakview.gui import platform_check
from leakview.gui.platform_check import (
    APT_INSTALL,
    XCB_LIBRARIES,
    exit_if_xcb_cannot_load,
    missing_libraries,
    xcb_expected,
    xcb_hint,
)

ROOT = Path(__file__).resolve().parents[1]
PRESENT = ("libc.so.6", "libc6")       # a library every Linux loader opens
ABSENT = ("libxcb-no-such-thing.so.0", "libxcb-no-such-thing0")
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 libraries")


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb:nograb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
     "linux", False),
    ({}, "linux", False),                                       # no X display
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_the_check_runs_only_where_qt_starts_on_xcb(environ, platform, expected):
    assert xcb_expected(environ, platform) is expected


@linux
def test_a_missing_library_is_named_with_its_package():
    assert missing_libraries([PRESENT, ABSENT]) == [ABSENT]
    hint = xcb_hint([PRESENT, ABSENT, ("libxcb-also-missing.so.4", "libxcb-also4")])
    assert hint is not None and "\n" not in hint
    assert "libxcb-no-such-thing.so.0, libxcb-also-missing.so.4 missing" in hint
    assert hint.endswith("sudo apt-get install -y libxcb-no-such-thing0 libxcb-also4")


@linux
def test_nothing_to_say_when_everything_loads():
    assert xcb_hint([PRESENT], plugin=Path(PRESENT[0])) is None


@linux
def test_a_plugin_that_does_not_load_is_quoted(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"not a shared object")
    hint = xcb_hint([PRESENT], plugin=plugin)
    assert hint is not None and "\n" not in hint
    assert str(plugin) in hint and hint.endswith(APT_INSTALL)


@linux
def test_missing_libraries_exit_1_with_the_hint_on_stderr(capsys):
    environ = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}
    with pytest.raises(SystemExit) as stopped:
        exit_if_xcb_cannot_load(environ, [PRESENT, ABSENT], Path(PRESENT[0]))
    assert stopped.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "sudo apt-get install -y libxcb-no-such-thing0" in err
    exit_if_xcb_cannot_load({"QT_QPA_PLATFORM": "offscreen"}, [ABSENT])   # not xcb: silent


def test_the_table_names_the_packages_the_readme_lists():
    packages = [package for _, package in XCB_LIBRARIES]
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= set(packages)
    assert APT_INSTALL == "sudo apt-get install -y " + " ".join(dict.fromkeys(packages))


def needed(library: Path) -> list[str]:
    """The ELF NEEDED entries of ``library`` (readelf)."""
    listed = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True,
                            check=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in listed.splitlines()
            if "(NEEDED)" in line]


@linux
def test_the_table_covers_every_system_library_the_plugin_needs():
    """Every system library that the xcb plugin and the Qt libraries under it link against
    (NEEDED, followed through PySide6's own Qt/lib) is in the table or in every Debian."""
    plugin = platform_check.xcb_plugin()
    if plugin is None or shutil.which("readelf") is None:
        pytest.skip("no PySide6 xcb plugin or no readelf here")
    qt_lib = plugin.parents[2] / "lib"
    seen, system, todo = set(), set(), [plugin]
    while todo:
        for name in needed(todo.pop()):
            if (qt_lib / name).exists():
                if name not in seen:
                    seen.add(name)
                    todo.append(qt_lib / name)
            else:
                system.add(name)
    every_debian = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                    "libpthread.so.0", "libdl.so.2", "librt.so.1", "libz.so.1", "libzstd.so.1"}
    system = {name for name in system if not name.startswith("ld-linux")}
    table = {soname for soname, _ in XCB_LIBRARIES}
    assert "libxcb-cursor.so.0" in system
    assert system - every_debian - table == set()


def _can_hide_a_library() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_hide_a_library(), reason="needs unshare --mount (root)")
def test_leakview_gui_without_libxcb_cursor_exits_1_with_the_hint(tmp_path):
    """End to end, as on a plain Debian: in a mount namespace where libxcb-cursor.so.0 is an
    empty file, ``leakview gui`` prints the hint and exits 1 (Qt would abort: status 134)."""
    library = next((Path(folder) / "libxcb-cursor.so.0" for folder in
                    ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
                     "/usr/lib", "/lib/aarch64-linux-gnu")
                    if (Path(folder) / "libxcb-cursor.so.0").exists()), None)
    if library is None:
        pytest.skip("libxcb-cursor is not installed here (the check is then what a user sees)")
    script = (f"mount --bind /dev/null {library.resolve()} && exec {sys.executable} -m "
              f"leakview gui --demo")
    environ = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":4321",
               "PYTHONPATH": str(ROOT), "LEAKVIEW_SETTINGS": str(tmp_path / "s.ini"),
               "LEAKVIEW_DATA": str(tmp_path / "data")}
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert ("leakview: Qt's X11 platform plugin (xcb) cannot load: libxcb-cursor.so.0 missing"
            in done.stderr)
    assert "sudo apt-get install -y libxcb-cursor0" in done.stderr
    assert "Aborted" not in done.stderr and "could not connect" not in done.stderr.lower()
