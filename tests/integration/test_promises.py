"""What the README and `--help` promise and no other test held to its word: each command in
process (the process boundary is not the subject here), each assertion on the values."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from churnguard import ChurnGuard
from churnguard.adapters.sqlite_prediction_log import SqlitePredictionLog
from churnguard.adapters.yaml_schema import load_schema, parse_schema
from churnguard.application.ports import PredictionRecord
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.conftest import BUNDLED_DATA, SCHEMAS, TELCO_DATA
from tests.integration.api_server import ApiServer
from tests.integration.conftest import read_json


@pytest.fixture
def workdir(trained_workdir: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    return tmp_path


def _tamper(workdir: Path) -> None:
    (model,) = (workdir / "models" / "versions").glob("*/model.skops")
    with model.open("ab") as handle:
        handle.write(b"\0")


def test_a_tampered_model_is_exit_3_for_predict_score_and_evaluate(run_cli, workdir, tmp_path):
    _tamper(workdir)
    customer = tmp_path / "customer.json"
    customer.write_text(json.dumps(EXAMPLE_CUSTOMER))
    for args in (
        ("predict", "--input", str(customer)),
        ("score", "--in", str(BUNDLED_DATA), "--out", str(tmp_path / "scored.csv")),
        ("evaluate", "--data", str(BUNDLED_DATA)),
    ):
        result = run_cli(*args, "--workdir", str(workdir))
        assert result.code == 3, (args, result.err)
        assert "sha256 mismatch" in result.err
        assert "refusing to load" in result.err
    assert not (tmp_path / "scored.csv").exists()


@pytest.mark.parametrize("command", ["predict", "score"])
def test_a_schema_other_than_the_champions_is_refused_naming_both(run_cli, workdir, tmp_path, command):
    customer = tmp_path / "customer.json"
    customer.write_text(json.dumps(EXAMPLE_CUSTOMER))
    args = ("--input", str(customer)) if command == "predict" else ("--in", str(BUNDLED_DATA), "--out", "x.csv")
    result = run_cli(command, *args, "--schema", str(SCHEMAS / "telco.yaml"), "--workdir", str(workdir))
    assert result.code == 2
    original, telco = load_schema(SCHEMAS / "original.yaml"), load_schema(SCHEMAS / "telco.yaml")
    assert f"trained with schema 'original' ({original.short_hash})" in result.err
    assert f"is schema 'telco' ({telco.short_hash})" in result.err


def test_log_level_warning_silences_the_info_lines(run_cli):
    chatty = run_cli("validate", "--data", str(BUNDLED_DATA))
    quiet = run_cli("--log-level", "WARNING", "validate", "--data", str(BUNDLED_DATA))
    assert (chatty.code, quiet.code) == (0, 0)
    assert " INFO churnguard.application.validate_dataset: dataset valid" in chatty.err
    assert quiet.err == ""
    assert quiet.out == chatty.out


def test_schema_init_takes_the_positive_label_and_a_name_and_prints_the_draft(run_cli, tmp_path):
    table = tmp_path / "bank.csv"
    pd.DataFrame(
        {"Balance": [10.0, 250.5, 99.0, 0.0] * 10, "Exited": ["gone", "stayed", "stayed", "gone"] * 10}
    ).to_csv(table, index=False)
    result = run_cli(
        "schema", "init", "--data", str(table), "--label", "Exited", "--positive", "gone", "--name", "bank"
    )
    assert result.code == 0, result.err

    drafted = parse_schema(yaml.safe_load(result.out), "<stdout>")  # the draft is the whole of stdout
    assert drafted.name == "bank"
    assert (drafted.label.column, drafted.label.positive, drafted.label.negative) == ("Exited", ("gone",), ("stayed",))
    assert list(drafted.raw_fields) == ["Balance"]
    assert "Balance" in result.err  # the notes go to stderr, so stdout stays a schema


def test_evaluate_an_older_version_by_its_prefix(run_cli, two_trained_versions, tmp_path):
    source, versions = two_trained_versions
    shutil.copytree(source / "models", tmp_path / "models")
    older = versions[0]
    result = run_cli(
        "evaluate", "--data", str(BUNDLED_DATA), "--model", older.fingerprint[:10], "--workdir", str(tmp_path)
    )
    assert result.code == 0, result.err
    assert f"evaluated {older.fingerprint}" in result.out
    report = read_json(tmp_path / "reports" / "eval_report.json")
    assert report["model_fingerprint"] == older.fingerprint
    assert report["metrics"] == dict(older.metrics)
    assert report["matches_training_metrics"] is True


def test_family_calibration_and_selection_metric_reach_the_search(run_cli, tmp_path):
    result = run_cli(
        "train", "--grid", "fast", "--family", "logistic", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path),
        env={"CALIBRATION": "none", "SELECTION_METRIC": "roc_auc"},
    )  # fmt: skip
    assert result.code == 0, result.err
    (event,) = [json.loads(line) for line in (tmp_path / "reports" / "runs" / "runs.jsonl").read_text().splitlines()]
    assert event["family"] == "logistic"
    assert event["calibration"]["method"] == "none"
    assert event["settings"]["selection_metric"] == "roc_auc"
    assert "    logistic " in result.out
    assert "    hgb " not in result.out
    assert "calibrate  none" in result.out
    with pytest.raises(SystemExit) as refused:  # argparse: not one of the families
        run_cli("train", "--family", "forest", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path))
    assert refused.value.code == 2


def test_predictions_export_to_parquet_keeps_every_row_and_field(run_cli, workdir):
    customers = pd.read_csv(BUNDLED_DATA).drop(columns="churn").head(25)
    schema = load_schema(SCHEMAS / "original.yaml")
    log = SqlitePredictionLog(workdir / "predictions.db", flush_interval=600, retention_days=0)
    now = time.time()
    log.record([
        PredictionRecord(now - i, f"r{i}", "v1", tuple(schema.check_record(row)), 0.25, 0, schema.hash)
        for i, row in enumerate(customers.to_dict("records"))
    ])  # fmt: skip
    log.close()
    out = workdir / "export.parquet"
    result = run_cli("predictions", "export", "--out", str(out), "--workdir", str(workdir))
    assert result.code == 0, result.err
    assert "exported 25 predictions" in result.out
    exported = pd.read_parquet(out)
    assert sorted(exported["request_id"]) == sorted(f"r{i}" for i in range(25))
    by_id = exported.set_index("request_id")
    assert by_id.loc["r3", "age"] == customers.loc[3, "age"]
    assert by_id.loc["r3", "monthly_charges"] == pytest.approx(customers.loc[3, "monthly_charges"])


def test_drift_window_days_is_the_default_window(run_cli, workdir):
    customers = pd.read_csv(BUNDLED_DATA).drop(columns="churn")
    schema = load_schema(SCHEMAS / "original.yaml")
    log = SqlitePredictionLog(workdir / "predictions.db", flush_interval=600, retention_days=0)
    now, day = time.time(), 86400.0
    ages = [0.5] * 150 + [3.0] * 200  # 150 in the last day, 200 three days ago
    log.record([
        PredictionRecord(now - age * day, f"r{i}", "v1", tuple(schema.check_record(customers.iloc[i].to_dict())),
                         0.25, 0, schema.hash)
        for i, age in enumerate(ages)
    ])  # fmt: skip
    log.close()
    for window, rows in (("1", 150), ("7", 350)):
        result = run_cli("drift", "--workdir", str(workdir), env={"DRIFT_WINDOW_DAYS": window})
        assert result.code in (0, 1), result.err
        assert read_json(workdir / "reports" / "drift_report.json")["current_rows"] == rows


def test_an_estimate_under_the_champions_own_floor_is_flagged(run_cli, workdir, tmp_path):
    """Drift holds the champion to the floor it was promoted against, stored with it, not to
    this process's MIN_F1: a champion promoted against 0.72 is not warned about under MIN_F1=0.99;
    the same model crowned against 0.99 is, and the report carries the flag the UI and the alert
    read."""
    from churnguard.adapters.filesystem_model_store import FilesystemModelStore
    from churnguard.domain.quality_gate import F1Floor

    result = run_cli("drift", "--current", str(BUNDLED_DATA), "--workdir", str(workdir), env={"MIN_F1": "0.99"})
    assert result.code == 0, result.err
    assert "WARNING" not in result.out
    estimated = read_json(workdir / "reports" / "drift_report.json")["estimated_performance"]
    assert (estimated["below_f1_floor"], estimated["f1_floor"]) == (False, 0.72)
    crowned = tmp_path / "crowned"
    shutil.copytree(workdir / "models", crowned / "models")
    store = FilesystemModelStore(crowned / "models")
    champion = store.champion()
    assert champion is not None
    store.set_champion(champion.fingerprint, F1Floor(0.99, "MIN_F1 setting"))
    again = run_cli("drift", "--current", str(BUNDLED_DATA), "--workdir", str(crowned))
    assert "WARNING: under the gate's F1 floor 0.99" in again.out
    estimated = read_json(crowned / "reports" / "drift_report.json")["estimated_performance"]
    assert (estimated["below_f1_floor"], estimated["f1_floor"]) == (True, 0.99)


def test_outcomes_by_period_with_observed_at_and_an_mlflow_run(run_cli, telco_workdir, tmp_path):
    """Predictions two hours apart, outcomes per 1-hour period; an outcome observed before its
    prediction was made cannot be about it; the run is logged to MLflow with a step per period."""
    shutil.copytree(telco_workdir / "models", tmp_path / "models")
    schema = load_schema(SCHEMAS / "telco.yaml")
    table = pd.read_csv(TELCO_DATA).head(200)
    table["TotalCharges"] = pd.to_numeric(table["TotalCharges"], errors="coerce")  # blank: imputed
    version = read_json(tmp_path / "models" / "champion.json")["fingerprint"]
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()
    log = SqlitePredictionLog(tmp_path / "predictions.db", flush_interval=600, retention_days=0)
    records = []
    rows = table.drop(columns="Churn").astype(object).where(table.notna(), None).to_dict("records")
    for i, row in enumerate(rows):
        at = start + (0 if i < 120 else 7200)  # 120 at 09:00, 80 at 11:00
        probability = 0.8 if row["Contract"] == "Month-to-month" else 0.1
        records.append(
            PredictionRecord(at, f"r{i}", version, tuple(schema.check_record(row)), probability,
                             int(probability >= 0.5), schema.hash, row["customerID"])
        )  # fmt: skip
    log.record(records)
    log.close()
    outcomes = table[["customerID", "Churn"]].copy()
    outcomes["observed_at"] = "2026-12-01T00:00:00Z"
    outcomes.loc[199, "observed_at"] = "2026-11-02T08:00:00Z"  # before its 11:00 prediction
    path = tmp_path / "outcomes.csv"
    outcomes.to_csv(path, index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli(
        "outcomes", "--in", str(path), "--period", "1h", "--workdir", str(tmp_path),
        env={"ENABLE_MLFLOW_TRACKING": "true", "MLFLOW_TRACKING_URI": uri},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "199 joined with their prediction, 1 unknown ids" in result.out
    report = read_json(tmp_path / "reports" / "outcomes_report.json")
    assert [period["rows"] for period in report["periods"]] == [120, 79]
    assert report["unknown_ids"]["first"] == [table.loc[199, "customerID"]]
    client = MlflowClient(uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("churn-classifier").experiment_id],  # type: ignore[union-attr]
        filter_string="tags.`churnguard.run_type` = 'outcomes'",
    )
    assert run.data.metrics["matched"] == 199
    assert [m.value for m in client.get_metric_history(run.info.run_id, "period_rows")] == [120, 79]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "outcomes")] == ["outcomes/outcomes_report.json"]


def test_embedded_train_evaluate_and_promote_one_by_one(tmp_path):
    guard = ChurnGuard.in_memory(grid="fast", family="logistic")
    assert guard.validate(BUNDLED_DATA).rows == 2000
    trained = guard.train(BUNDLED_DATA)
    assert trained.version.metrics["f1"] >= 0.72
    report = guard.evaluate(BUNDLED_DATA)
    assert report.fingerprint == trained.version.fingerprint
    assert report.evaluation.metrics == trained.version.metrics
    promoted = guard.promote(BUNDLED_DATA)
    assert promoted.decision.promote
    assert promoted.candidate.fingerprint == trained.version.fingerprint
    assert guard.predict(EXAMPLE_CUSTOMER)[0].model_version == trained.version.fingerprint


@pytest.fixture(scope="module")
def small_queue_api(trained_workdir, tmp_path_factory):
    """A server whose log queue holds its smallest size, 100 records, without the original
    ChurnGuard's metric names."""
    workdir = tmp_path_factory.mktemp("small-queue")
    shutil.copytree(trained_workdir / "models", workdir / "models")
    env = {"PREDICTION_LOG_QUEUE_SIZE": "100", "ORIGINAL_METRIC_NAMES": "false"}
    server = ApiServer(workdir, env=env).start()
    yield server
    server.stop()


def test_a_full_log_queue_drops_and_counts_and_the_summary_counts_what_was_served(small_queue_api):
    server = small_queue_api
    customers = pd.read_csv(BUNDLED_DATA).drop(columns="churn").head(105).to_dict("records")
    body = httpx.post(server.url + "/predict/batch", json={"customers": customers}).json()
    assert body["scored"] == 105
    text = httpx.get(server.url + "/metrics").text
    assert "churnguard_prediction_log_dropped_total 5.0" in text  # one batch: 100 queued, 5 over
    assert "\npredict_total" not in text  # ORIGINAL_METRIC_NAMES=false
    assert "churnguard_predictions_total" in text
    summary = httpx.get(server.url + "/monitoring/summary").json()
    churned = sum(p["churn_prediction"] for p in body["predictions"])
    assert summary["predictions_total"] == 105
    assert (summary["churn_predictions"], summary["no_churn_predictions"]) == (churned, 105 - churned)
    assert summary["model_version"] == body["predictions"][0]["model_version"]
    assert (summary["schema"], summary["drift"]) == ("original", None)
    redoc = httpx.get(server.url + "/redoc")
    assert redoc.status_code == 200
    assert "/static/offline/redoc" in redoc.text or "redoc.standalone.js" in redoc.text
    assert "cdn." not in redoc.text  # served by the API itself: works offline


def test_with_the_log_disabled_nothing_is_written(workdir, monkeypatch):
    from fastapi.testclient import TestClient

    from churnguard.entrypoints.http.app import create_app

    monkeypatch.setenv("WORKDIR", str(workdir))
    monkeypatch.setenv("PREDICTION_LOG_ENABLED", "false")
    with TestClient(create_app()) as client:
        assert client.post("/predict", json=EXAMPLE_CUSTOMER).status_code == 200
    assert not (workdir / "predictions.db").exists()


def test_serve_hands_the_worker_health_check_timeout_to_uvicorn(run_cli, workdir, monkeypatch):
    import uvicorn

    handed: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: handed.update(options, app=app))
    result = run_cli("serve", "--workers", "2", "--workdir", str(workdir), env={"WORKER_HEALTHCHECK_SECONDS": "17"})
    assert result.code == 0, result.err
    assert handed["timeout_worker_healthcheck"] == 17
    assert (handed["workers"], handed["app"]) == (2, "churnguard.entrypoints.http.app:create_app")
