"""Outcomes that arrive later, joined with the predictions the API logged for the same ids."""

from __future__ import annotations

import csv
import json
import shutil

import httpx
import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.sqlite_prediction_log import read_predictions
from churnguard.adapters.yaml_schema import load_schema
from churnguard.domain.performance_estimate import estimate_performance
from tests.conftest import SCHEMAS, TELCO_DATA
from tests.integration.api_server import ApiServer
from tests.integration.test_served_schema import telco_rows


def test_outcomes_are_joined_by_id_and_report_realized_beside_estimated_performance(telco_workdir, tmp_path, run_cli):
    shutil.copytree(telco_workdir / "models", tmp_path / "models")
    customers = telco_rows(600)
    server = ApiServer(tmp_path).start()
    try:
        for start in range(0, 600, 200):
            body = httpx.post(server.url + "/predict/batch", json={"customers": customers[start : start + 200]}).json()
            assert body["scored"] == 200
    finally:
        server.stop()  # graceful: the prediction log is flushed
    schema = load_schema(SCHEMAS / "telco.yaml")
    logged = read_predictions(tmp_path / "predictions.db", schema)
    assert len(logged) == 600

    with TELCO_DATA.open(newline="") as handle:
        truth = {row["customerID"]: row["Churn"] for row in csv.DictReader(handle)}
    labels = tmp_path / "labels.csv"
    ids = [c["customerID"] for c in customers]
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customerID", "Churn"])
        for customer_id in ids:
            writer.writerow([customer_id, truth[customer_id]])
        writer.writerow([ids[0], truth[ids[0]]])  # a duplicate outcome
        writer.writerow(["0000-NOBODY", "Yes"])  # never predicted
    result = run_cli("outcomes", "--in", str(labels), "--workdir", str(tmp_path))
    assert result.code == 0, result.err
    assert "602 outcomes" in result.out
    assert "600 joined with their prediction, 1 unknown ids, 1 duplicates" in result.out
    report = json.loads((tmp_path / "reports" / "outcomes_report.json").read_text())
    assert report["unknown_ids"] == {"count": 1, "first": ["0000-NOBODY"]}
    assert report["duplicate_ids"] == {"count": 1, "first": [ids[0]]}
    (period,) = report["periods"]
    assert period["rows"] == 600
    churned = np.array([truth[i] == "Yes" for i in ids])
    by_id = logged.set_index("customer_id")
    assert period["realized"]["f1"] == pytest.approx(f1_score(churned, by_id.loc[ids, "prediction"]))
    assert period["realized"]["roc_auc"] == pytest.approx(roc_auc_score(churned, by_id.loc[ids, "probability"]))
    # the estimate beside them is the domain's, from the logged probabilities alone (its draws
    # depend on the rows' order, so the interval agrees to the draws' noise, not to the bit)
    threshold = FilesystemModelStore(tmp_path / "models").champion().threshold  # type: ignore[union-attr]
    expected = estimate_performance(by_id.loc[ids, "probability"].to_numpy(), threshold)
    assert period["estimated"]["f1"] == pytest.approx(expected.f1, abs=1e-12)
    assert period["estimated"]["f1_interval"] == pytest.approx(expected.f1_interval, abs=0.01)
    assert period["estimated"]["roc_auc_interval"] == pytest.approx(expected.roc_auc_interval, abs=0.01)

    server = ApiServer(tmp_path).start()  # the Monitoring view's JSON carries the same periods
    try:
        shown = httpx.get(server.url + "/monitoring/traffic").json()["outcomes"]
    finally:
        server.stop()
    assert shown["periods"] == report["periods"]

    again = run_cli("outcomes", "--in", str(labels), "--workdir", str(tmp_path))  # sent twice: nothing doubles
    assert again.code == 0, again.err
    assert "0 joined with their prediction, 1 unknown ids, 601 duplicates" in again.out
    (same,) = json.loads((tmp_path / "reports" / "outcomes_report.json").read_text())["periods"]
    assert same["rows"] == 600


def test_a_file_without_the_label_column_is_refused_naming_it(telco_workdir, tmp_path, run_cli):
    shutil.copytree(telco_workdir / "models", tmp_path / "models")
    labels = tmp_path / "labels.csv"
    labels.write_text("customerID,Outcome\n7590-VHVEG,Yes\n")
    result = run_cli("outcomes", "--in", str(labels), "--workdir", str(tmp_path))
    assert result.code == 2
    assert "Churn" in result.err
