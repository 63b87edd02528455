"""Tests of 'permission denied' paths, also where the suite runs as root.

Root bypasses file permissions through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (CI containers run
as root). :func:`where_permissions_hold` runs such a test in place when a mode-000 file is really
unreadable; otherwise it runs the same test in a child pytest started by ``setpriv`` without
those two capabilities (still root, but bound by the permission bits like any owner), and skips
only where neither is possible.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_DROP = "-dac_override,-dac_read_search"
_CHILD = "LEAKVIEW_TEST_WITHOUT_DAC_CAPS"


def _probe_denied(prefix: list[str]) -> bool:
    """Whether reading a mode-000 file fails (under ``prefix``, e.g. setpriv ...)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"x")
        probe.chmod(0)
        try:
            if not prefix:
                probe.read_bytes()
                return False
            result = subprocess.run([*prefix, sys.executable, "-c",
                                     f"open({str(probe)!r}, 'rb')"],
                                    capture_output=True, timeout=60)
            return result.returncode != 0 and b"PermissionError" in result.stderr
        except PermissionError:
            return True
        except (OSError, subprocess.SubprocessError):
            return False
        finally:
            probe.chmod(0o600)


def _setpriv_prefix() -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    return [setpriv, f"--bounding-set={_DROP}", f"--inh-caps={_DROP}"]


PERMISSIONS_ENFORCED = _probe_denied([])
CAN_DROP_CAPS = (not PERMISSIONS_ENFORCED and bool(_setpriv_prefix())
                 and _probe_denied(_setpriv_prefix()))


def where_permissions_hold(test):
    """Run ``test`` where file permissions are enforced (see the module docstring)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if PERMISSIONS_ENFORCED:
            return test(*args, **kwargs)
        if os.environ.get(_CHILD) or not CAN_DROP_CAPS:
            pytest.skip("file permissions are not enforced for this user (root) and setpriv "
                        "cannot drop CAP_DAC_OVERRIDE here")
        node = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        repo = Path(__file__).resolve().parent.parent
        result = subprocess.run(
            [*_setpriv_prefix(), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             node], cwd=repo, env={**os.environ, _CHILD: "1"}, capture_output=True, text=True,
            timeout=600)
        assert result.returncode == 0 and " passed" in result.stdout, (
            f"{node} without CAP_DAC_OVERRIDE:\n{result.stdout[-4000:]}{result.stderr[-2000:]}")
    return wrapper
