"""Drift on real traffic: predictions sent to the API, logged, compared with the training data."""

import json
import shutil

import httpx
from mlflow.tracking import MlflowClient

from tests.conftest import BUNDLED_DATA
from tests.integration.api_server import ApiServer


def _serve_traffic(run_cli, trained_workdir, workdir, *drift: str) -> None:
    shutil.copytree(trained_workdir / "models", workdir / "models")
    server = ApiServer(workdir).start()
    try:
        args = ["simulate-traffic", "--url", server.url, "--rows", "2000", "--seed", "5"]
        for assignment in drift:
            args += ["--drift", assignment]
        sent = run_cli(*args)
        assert sent.code == 0, sent.err
        assert "2000 scored, 0 rejected" in sent.out
    finally:
        server.stop()  # graceful: the prediction log is flushed


def test_same_distribution_traffic_shows_no_drift(run_cli, trained_workdir, tmp_path):
    _serve_traffic(run_cli, trained_workdir, tmp_path)
    result = run_cli("drift", "--workdir", str(tmp_path))
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "reports" / "drift_report.json").read_text())
    assert report["dataset_drift"] is False
    assert report["drifted_features"] == []
    assert report["current_rows"] == 2000
    assert len(report["features"]) == 13


def test_drifted_traffic_is_caught_on_exactly_the_shifted_features(run_cli, trained_workdir, tmp_path):
    _serve_traffic(run_cli, trained_workdir, tmp_path, "age_shift=12", "charges_scale=1.3")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"DRIFT_SHARE": "0.1", "ENABLE_MLFLOW_TRACKING": "true", "MLFLOW_TRACKING_URI": uri}
    result = run_cli("drift", "--workdir", str(tmp_path), env=env)
    assert result.code == 1, result.err
    assert result.out.startswith("DRIFT: 2 of 13 features drifted")
    report = json.loads((tmp_path / "reports" / "drift_report.json").read_text())
    assert report["dataset_drift"] is True
    assert sorted(report["drifted_features"]) == ["age", "monthly_charges"]
    by_feature = {f["feature"]: f for f in report["features"]}
    assert by_feature["age"]["drifted"]
    assert not by_feature["tenure_months"]["drifted"]
    html = (tmp_path / "reports" / "drift_report.html").read_text()
    assert html.lstrip().lower().startswith(("<!doctype html", "<html"))
    assert html.rstrip().lower().endswith("</html>")

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("churn-classifier")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id], filter_string="tags.`churnguard.run_type` = 'drift'")
    assert run.data.metrics["dataset_drift"] == 1.0
    assert run.data.metrics["drift_share"] == report["drift_share"]
    assert {a.path for a in client.list_artifacts(run.info.run_id, "drift")} == {
        "drift/drift_report.html",
        "drift/drift_report.json",
    }

    server = ApiServer(tmp_path).start()
    try:
        text = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert "churnguard_drift_detected 1.0" in text
    assert 'churnguard_drift_feature_score{feature="age"' in text


def test_too_few_current_rows_is_a_usage_error_that_says_how_many(run_cli, trained_workdir, tmp_path):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    result = run_cli("drift", "--workdir", str(tmp_path))
    assert result.code == 2
    assert "0 current rows; drift needs at least 100" in result.err


def test_the_originals_split_mode_and_a_current_csv(run_cli, trained_workdir, tmp_path):
    split = run_cli("drift", "--split", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path))
    assert split.code == 0, split.err
    assert json.loads((tmp_path / "reports" / "drift_report.json").read_text())["reference_rows"] == 1500
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    current = run_cli("drift", "--current", str(BUNDLED_DATA), "--workdir", str(tmp_path))
    assert current.code == 0, current.err


def test_the_logs_of_several_replicas_are_read_together(run_cli, trained_workdir, tmp_path):
    _serve_traffic(run_cli, trained_workdir, tmp_path)
    replicas = tmp_path / "predictions"
    replicas.mkdir()
    for name in ("api-0.db", "api-1.db"):
        shutil.copy(tmp_path / "predictions.db", replicas / name)
    result = run_cli("drift", "--workdir", str(tmp_path), "--log", str(replicas / "*.db"), "--last", "5000")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "reports" / "drift_report.json").read_text())
    assert report["current_rows"] == 4000
    missing = run_cli("drift", "--workdir", str(tmp_path), "--log", str(tmp_path / "nowhere" / "*.db"))
    assert missing.code == 2
    assert "no prediction log matches" in missing.err
