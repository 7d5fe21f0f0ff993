"""CLI paths the other tests do not take: `predict` from stdin and without explanation,
`predictions export --since` and `prune`, `drift --days` and `--schedule`, `--family`, the
JSONL tracker, and the API's own pruning of an old log."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from churnguard.adapters.sqlite_prediction_log import SqlitePredictionLog, read_predictions
from churnguard.application.ports import PredictionRecord
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.conftest import BUNDLED_DATA, ROOT
from tests.integration.api_server import ApiServer

DAY = 86400.0


@pytest.fixture
def workdir(trained_workdir: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    return tmp_path


def _log(workdir: Path, ages_in_days: list[float]) -> None:
    """Predictions of customers drawn from the bundled data, logged `age` days ago each."""
    customers = pd.read_csv(BUNDLED_DATA).drop(columns="churn").to_dict("records")
    log = SqlitePredictionLog(workdir / "predictions.db", flush_interval=600, retention_days=0)
    now = time.time()
    log.record([
        PredictionRecord(now - age * DAY, f"r{i}", "v1", tuple(ORIGINAL_SCHEMA.check_record(customers[i % 2000])),
                         0.5, 1, ORIGINAL_SCHEMA.hash)
        for i, age in enumerate(ages_in_days)
    ])  # fmt: skip
    log.close()


def test_predict_reads_stdin_and_skips_explanations_on_request(workdir, run_cli, monkeypatch):
    customers = [EXAMPLE_CUSTOMER, {**EXAMPLE_CUSTOMER, "tenure_months": 60, "contract_type": 2}]

    def predict(text: str, *options: str):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        return run_cli("predict", "--input", "-", "--workdir", str(workdir), *options)

    explained = predict(json.dumps(customers))
    assert explained.code == 0, explained.err
    plain = predict(json.dumps(customers), "--no-explain")
    assert plain.code == 0, plain.err
    with_contributions, without = json.loads(explained.out), json.loads(plain.out)
    assert [len(item["feature_contributions"]) for item in with_contributions] == [13, 13]
    assert [item["feature_contributions"] for item in without] == [None, None]
    assert [item["churn_probability"] for item in without] == [item["churn_probability"] for item in with_contributions]
    assert without[0]["churn_probability"] > without[1]["churn_probability"]
    broken = predict("{not json")
    assert broken.code == 2
    assert "--input is not valid JSON" in broken.err


def test_export_since_a_date_and_prune_by_age(workdir, tmp_path, run_cli):
    _log(workdir, [10.0] * 30 + [3.0] * 20 + [0.1] * 10)
    since = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(days=5)
    out = tmp_path / "recent.csv"
    exported = run_cli(
        "predictions", "export", "--since", since.isoformat(), "--out", str(out), "--workdir", str(workdir)
    )
    assert exported.code == 0, exported.err
    assert "exported 30 predictions" in exported.out
    assert len(pd.read_csv(out)) == 30
    bad = run_cli("predictions", "export", "--since", "last tuesday", "--workdir", str(workdir))
    assert bad.code == 2
    assert "is not an ISO date or time" in bad.err
    pruned = run_cli("predictions", "prune", "--older-than-days", "7", "--workdir", str(workdir))
    assert pruned.code == 0, pruned.err
    assert "pruned 30 predictions older than 7 days" in pruned.out
    assert len(read_predictions(workdir / "predictions.db")) == 30


def test_drift_reads_the_window_of_days_it_is_given(workdir, run_cli):
    _log(workdir, [20.0] * 150 + [2.0] * 120)
    for days, rows in (("3", 120), ("30", 270)):
        result = run_cli("drift", "--days", days, "--workdir", str(workdir))
        assert result.code in (0, 1), result.err
        report = json.loads((workdir / "reports" / "drift_report.json").read_text())
        assert report["current_rows"] == rows
    too_few = run_cli("drift", "--days", "1", "--workdir", str(workdir))
    assert too_few.code == 2
    assert "100" in too_few.err  # DRIFT_MIN_ROWS, named in the refusal


def test_drift_on_a_schedule_reruns_until_stopped(workdir):
    _log(workdir, [1.0] * 150)
    process = subprocess.Popen(
        [sys.executable, "-m", "churnguard.entrypoints.cli", "drift", "--last", "150", "--schedule", "1s",
         "--workdir", str(workdir)],
        cwd=ROOT, env={**os.environ, "ENABLE_MLFLOW_TRACKING": "false"}, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    checks: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        while len(checks) < 3 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("reports: "):
                checks.append(line)
        assert process.poll() is None  # still running: a schedule does not exit after a check
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert len(checks) == 3


def test_one_family_and_the_jsonl_tracker(tmp_path, run_cli):
    result = run_cli(
        "train", "--grid", "fast", "--family", "logistic", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path),
        env={"ENABLE_MLFLOW_TRACKING": "false"},
    )  # fmt: skip
    assert result.code == 0, result.err
    promoted = run_cli("promote", "--workdir", str(tmp_path), env={"ENABLE_MLFLOW_TRACKING": "false"})
    assert promoted.code == 0, promoted.err
    events = [json.loads(line) for line in (tmp_path / "reports" / "runs" / "runs.jsonl").read_text().splitlines()]
    assert [event["event"] for event in events] == ["training", "promotion"]
    assert events[0]["family"] == "logistic"
    assert events[1]["promoted"] is True
    assert events[1]["fingerprint"] == events[0]["fingerprint"]
    assert not (tmp_path / "mlflow.db").exists()


def test_the_api_prunes_a_log_older_than_its_retention(workdir):
    _log(workdir, [100.0] * 40 + [1.0] * 5)
    server = ApiServer(workdir, env={"PREDICTION_RETENTION_DAYS": "30", "MODEL_POLL_SECONDS": "0"}).start()
    try:
        deadline = time.monotonic() + 60
        while len(read_predictions(workdir / "predictions.db")) != 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(read_predictions(workdir / "predictions.db")) == 5  # the writer's first round prunes
        assert httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER).status_code == 200
    finally:
        server.stop()
    assert len(read_predictions(workdir / "predictions.db")) == 6


def test_train_with_successive_halving_runs_the_rounds_and_keeps_a_third(run_cli, tmp_path):
    """The logistic full grid has 8 fit groups: round 1 fits all on a third of each fold's rows,
    round 2 the best 3 on all of them; only their candidates reach selection (grid: all 8)."""
    result = run_cli(
        "train", "--grid", "full", "--family", "logistic", "--search", "halving", "--data", str(BUNDLED_DATA),
        "--workdir", str(tmp_path),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "halving round 1/2 (8 groups, 33% of rows)" in result.err
    assert "halving round 2/2 (3 groups, 100% of rows)" in result.err
    (event,) = [json.loads(line) for line in (tmp_path / "reports" / "runs" / "runs.jsonl").read_text().splitlines()]
    assert event["settings"]["search"] == "halving"
    assert (event["cv"]["cv_fit_groups"], event["cv"]["cv_candidates"]) == (8, 3)
    assert "search     3 candidates from 8 fits per fold x 5 folds" in result.out
    assert event["holdout_metrics"]["f1"] > 0.72


def test_every_option_of_every_command_says_what_it_is_for():
    """`churnguard CMD --help` explains each option (the serve --workdir a user needs to serve a
    table of their own, among them), and `churnguard --help` lists every command."""
    from churnguard.entrypoints.cli import build_parser

    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    silent = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, sub in [("churnguard", parser), *commands.choices.items()]
        for action in sub._actions
        if action.help is None and not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]
    assert not silent, f"options with no help text: {silent}"
    listed = parser.format_help()
    assert [name for name in commands.choices if f"    {name} " not in listed and f"    {name}\n" not in listed] == []
    assert "the directory a `pipeline --workdir DIR` wrote" in " ".join(commands.choices["serve"].format_help().split())
