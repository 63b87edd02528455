"""A dependency-free text progress bar for the command line (rate and ETA)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressBar:
    """``[#####-----] 50/100 12.3 it/s ETA 0:04 text`` on one line of a terminal; on a pipe or
    a file, one line every ~10% so logs stay short."""

    def __init__(self, total: int, label: str = "", unit: str = "it",
                 stream: TextIO | None = None, width: int = 24) -> None:
        self.total = max(0, int(total))
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._last_draw = 0.0
        self._last_length = 0

    def line(self, done: int, text: str = "") -> str:
        """The progress line for ``done`` items (without any terminal control characters)."""
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        fraction = done / self.total if self.total else 1.0
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        eta = format_duration((self.total - done) / rate) if rate > 0 and done < self.total else "-"
        parts = [self.label, f"[{bar}] {done}/{self.total}", f"{rate:.1f} {self.unit}/s",
                 f"ETA {eta}", text]
        return " ".join(part for part in parts if part)

    def update(self, done: int, text: str = "") -> None:
        """Redraw for ``done`` items (rate-limited on a terminal)."""
        now = time.monotonic()
        if self.interactive:
            if done < self.total and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            line = self.line(done, text)
            padding = " " * max(0, self._last_length - len(line))
            self._last_length = len(line)
            self.stream.write("\r" + line + padding)
        else:
            decile = int(10 * done / self.total) if self.total else 10
            if decile == self._last_decile and done < self.total:
                return
            self._last_decile = decile
            self.stream.write(self.line(done, text) + "\n")
        self.stream.flush()

    def close(self, text: str = "") -> None:
        """Finish the line (a terminal gets its final newline)."""
        if self.interactive:
            if text:
                self.stream.write("\r" + text + " " * max(0, self._last_length - len(text)))
            self.stream.write("\n")
        elif text:
            self.stream.write(text + "\n")
        self.stream.flush()
