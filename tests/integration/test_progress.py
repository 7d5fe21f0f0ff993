"""Long runs show progress on a terminal (one line rewritten in place) and nothing in a log:
`generate-data`, `score` and `predictions export`, each run with stderr on a pseudo-terminal and
on a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from churnguard.adapters.sqlite_prediction_log import SqlitePredictionLog
from churnguard.application.ports import PredictionRecord
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.conftest import ROOT

ROWS = 250_000  # three chunks of 100,000: more than one line drawn


def _run(args: list[str], terminal: bool, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The CLI with stderr on a pseudo-terminal (or a pipe); returns its exit code and stderr."""
    command = [sys.executable, "-m", "churnguard.entrypoints.cli", *args]
    environment = {**os.environ, "ENABLE_MLFLOW_TRACKING": "false", **(env or {})}
    if not terminal:
        done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    captured = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        captured += chunk
    os.close(leader)
    return process.wait(timeout=600), captured.decode(errors="replace")


def _progress_lines(stderr: str) -> list[str]:
    return [part for part in stderr.replace("\r\n", "\n").split("\r") if "rows/s" in part]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
def test_generate_data_and_score_show_progress_only_on_a_terminal(trained_workdir, tmp_path, terminal):
    table = tmp_path / "customers.csv"
    code, stderr = _run(["generate-data", "--rows", str(ROWS), "--seed", "5", "--out", str(table)], terminal)
    assert code == 0, stderr
    lines = _progress_lines(stderr)
    if not terminal:
        assert lines == []
        assert "\r" not in stderr
    else:
        assert lines[-1].startswith(f"writing customers.csv: {ROWS:,} / {ROWS:,} rows (100%)")
        assert len(lines) >= 2

    code, stderr = _run(
        ["score", "--in", str(table), "--out", str(tmp_path / "scored.parquet"), "--workdir", str(trained_workdir)],
        terminal,
    )
    assert code == 0, stderr
    lines = _progress_lines(stderr)
    if not terminal:
        assert lines == []
    else:
        assert lines[0].startswith(f"scoring: 0 / {ROWS:,} rows (0%)")  # the total counted before any row
        assert lines[-1].startswith(f"scoring: {ROWS:,} / {ROWS:,} rows (100%)")


def test_predictions_export_shows_progress_on_a_terminal(tmp_path):
    log = SqlitePredictionLog(tmp_path / "predictions.db", flush_interval=0.05)
    row = tuple(ORIGINAL_SCHEMA.check_record(EXAMPLE_CUSTOMER))
    log.record([PredictionRecord(time.time(), f"r{i}", "v1", row, 0.5, 1, ORIGINAL_SCHEMA.hash) for i in range(1000)])
    log.close()
    out = tmp_path / "export.csv"
    code, stderr = _run(["predictions", "export", "--out", str(out), "--workdir", str(tmp_path)], terminal=True)
    assert code == 0, stderr
    assert _progress_lines(stderr)[-1].startswith("writing export.csv: 1,000 / 1,000 rows (100%)")
    assert len(Path(out).read_text().splitlines()) == 1001
