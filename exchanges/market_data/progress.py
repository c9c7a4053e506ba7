"""A plain-text progress bar, redrawn in place on one line of a terminal (a command's stderr)."""

from __future__ import annotations

import time
from typing import Protocol

BAR_WIDTH = 30
REDRAW_EVERY = 0.1  # seconds: a fast import would otherwise spend its time drawing


class Stream(Protocol):
    def write(self, msg: str = "", style_func: None = None, ending: str | None = None) -> None: ...

    def flush(self) -> None: ...


class TextProgress:
    """`label [#########.........]  31%  3,400/10,999`; draws nothing when disabled."""

    def __init__(self, stream: Stream, label: str, *, enabled: bool) -> None:
        self.stream = stream
        self.label = label
        self.enabled = enabled
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._drawn_at < REDRAW_EVERY):
            return
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        percent = 100 * done // total if total else 100
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}%  {done:,}/{total:,}", ending="")
        self.stream.flush()
        self._drawn_at, self._drawn = now, True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n", ending="")
            self.stream.flush()
