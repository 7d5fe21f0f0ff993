"""Progress of a long run on a terminal: one line, rewritten in place, with rows done, the
rate, and the time left; nothing at all when the stream is not a terminal (a job's log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from churnguard.application.ports import NoProgress, Progress

REDRAW_SECONDS = 0.2


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(what: str, done: int, total: int | None, elapsed: float) -> str:
    """`scoring: 420,000 / 1,000,000 rows (42%) · 85,000 rows/s · 7 s left`."""
    rate = done / elapsed if elapsed > 0 else 0.0
    counted = f"{done:,} / {total:,} rows ({100 * done / total:.0f}%)" if total else f"{done:,} rows"
    line = f"{what}: {counted} · {rate:,.0f} rows/s"
    if total and rate > 0 and done < total:
        line += f" · {_duration((total - done) / rate)} left"
    elif total and done >= total:
        line += f" · {_duration(elapsed)}"
    return line


class TerminalProgress:
    """The Progress port on a terminal stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._what = ""
        self._total: int | None = None
        self._done = 0
        self._started = 0.0
        self._drawn = -REDRAW_SECONDS
        self._active = False

    def start(self, what: str, total: int | None = None) -> None:
        if self._active:
            self.finish()
        self._what, self._total, self._done = what, total, 0
        self._started = self._clock()
        self._active = True
        self._draw(force=True)

    def advance(self, rows: int) -> None:
        self._done += rows
        self._draw(force=self._total is not None and self._done >= self._total)

    def finish(self) -> None:
        if self._active:
            self._draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
            self._active = False

    def _draw(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._drawn < REDRAW_SECONDS:
            return
        self._drawn = now
        line = progress_line(self._what, self._done, self._total, now - self._started)
        self._stream.write(f"\r{line}\x1b[K")
        self._stream.flush()


def progress_on_terminal(stream: TextIO | None = None) -> Progress:
    """TerminalProgress when `stream` (stderr) is a terminal; otherwise silence."""
    stream = stream if stream is not None else sys.stderr
    return TerminalProgress(stream) if stream.isatty() else NoProgress()
