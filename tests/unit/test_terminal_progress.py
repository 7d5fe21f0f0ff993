"""Progress lines: what a terminal shows of a long run, and that a log gets none of it."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from churnguard.adapters.terminal_progress import TerminalProgress, progress_line, progress_on_terminal
from churnguard.application.ports import NoProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stream_that_is_not_a_terminal_gets_no_progress_at_all():
    assert isinstance(progress_on_terminal(io.StringIO()), NoProgress)
    assert isinstance(progress_on_terminal(Terminal()), TerminalProgress)


def test_one_line_is_rewritten_in_place_with_rows_rate_and_time_left():
    stream, clock = Terminal(), Clock()
    progress = TerminalProgress(stream, clock)
    progress.start("scoring", 1_000_000)
    clock.now += 2.0
    progress.advance(200_000)
    clock.now += 0.05  # redraws are throttled: this advance is counted, not drawn
    progress.advance(10_000)
    clock.now += 2.0
    progress.advance(290_000)
    progress.finish()
    frames = stream.getvalue().split("\r")[1:]
    assert frames[1] == "scoring: 200,000 / 1,000,000 rows (20%) · 100,000 rows/s · 8 s left\x1b[K"
    assert frames[2] == "scoring: 500,000 / 1,000,000 rows (50%) · 123,457 rows/s · 4 s left\x1b[K"
    assert len(frames) == 4  # start, two drawn advances, finish
    assert stream.getvalue().endswith("\n")
    assert stream.getvalue().count("\n") == 1


def test_a_finished_stage_shows_its_duration_and_an_unknown_total_shows_rows_only():
    assert (
        progress_line("writing a.csv", 300, 300, 75.0) == "writing a.csv: 300 / 300 rows (100%) · 4 rows/s · 1 min 15 s"
    )
    assert progress_line("scoring", 5_000, None, 2.0) == "scoring: 5,000 rows · 2,500 rows/s"


@given(
    total=st.integers(1, 10**9),
    share=st.floats(0.0, 1.0),
    elapsed=st.floats(0.01, 10**5),
)
def test_the_line_counts_what_was_done_and_the_time_left_follows_the_rate(total, share, elapsed):
    done = int(total * share)
    line = progress_line("scoring", done, total, elapsed)
    assert line.startswith(f"scoring: {done:,} / {total:,} rows ({100 * done / total:.0f}%)")
    rate = done / elapsed
    assert f"· {rate:,.0f} rows/s" in line
    assert ("left" in line) == (0 < done < total)
