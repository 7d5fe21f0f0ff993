"""One prediction path: HTTP, the CLI and the embedded API call the same use-case, so the same
customer gets the same probability, decision and explanation from each, and each prediction
is written to the prediction log exactly once, whichever entrypoint made it."""

from __future__ import annotations

import csv
import json

import pytest
from fastapi.testclient import TestClient

from churnguard import ChurnGuard
from churnguard.adapters.sqlite_prediction_log import read_predictions
from churnguard.entrypoints.container import build_container
from churnguard.entrypoints.http.app import create_app
from churnguard.entrypoints.settings import Settings
from tests.conftest import TELCO_DATA, require_shared
from tests.integration.conftest import run_cli_process


def _customer() -> dict[str, object]:
    """The first customer of the Telco table."""
    with require_shared(TELCO_DATA).open(newline="") as handle:
        row = next(csv.DictReader(handle))
    del row["Churn"]
    return {name: _number(value) for name, value in row.items()}


def _number(text: str) -> object:
    """A CSV cell as a JSON client would send it: numbers as numbers."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def test_http_cli_and_embedded_give_one_prediction_and_log_it_once_each(telco_workdir, tmp_path, monkeypatch):
    customer = _customer()
    log_path = tmp_path / "predictions.db"
    env = {"WORKDIR": str(telco_workdir), "PREDICTION_LOG_PATH": str(log_path), "PREDICTION_LOG_FLUSH_SECONDS": "0.05"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        response = client.post("/predict", json=customer)
        assert response.status_code == 200, response.text
        http = response.json()

    request = tmp_path / "customer.json"
    request.write_text(json.dumps(customer), encoding="utf-8")
    # its own process: a logged prediction must be written before the process ends
    done = run_cli_process("predict", "--input", str(request), env=env)
    assert done.returncode == 0, done.stderr
    by_cli = json.loads(done.stdout)

    with ChurnGuard(workdir=telco_workdir, prediction_log_path=log_path) as guard:
        (embedded,) = guard.predict(customer)
        schema = guard.container.champion_cache().current().schema

    assert http["customer_id"] == by_cli["customer_id"] == customer["customerID"]
    assert http["model_version"] == by_cli["model_version"] == embedded.model_version
    assert http["churn_probability"] == by_cli["churn_probability"] == pytest.approx(embedded.probability, abs=1e-12)
    assert http["churn_prediction"] == by_cli["churn_prediction"] == int(embedded.churns)
    assert embedded.contributions is not None
    explained = {c.feature: c.contribution for c in embedded.contributions}
    for body in (http, by_cli):
        shown = {item["feature"]: item["contribution"] for item in body["feature_contributions"]}
        assert shown == pytest.approx(explained, abs=1e-12)
        assert [item["feature"] for item in body["feature_contributions"]] == [
            c.feature for c in embedded.contributions
        ]

    # Telco declares time to churn: the same survival object from each entrypoint
    assert embedded.survival is not None
    from churnguard.entrypoints.presenters import survival_json

    forecast = survival_json(embedded.survival)
    for body in (http, by_cli):
        assert body["survival"]["curve"] == pytest.approx(forecast["curve"], abs=1e-12)
        assert body["survival"]["revenue_at_risk"] == pytest.approx(forecast["revenue_at_risk"], abs=1e-9)
        within = body["survival"]["churn_within"]
        assert [item["periods"] for item in within] == [h for h, _ in embedded.survival.churn_within]
        expected = [p for _, p in embedded.survival.churn_within]
        assert [item["probability"] for item in within] == pytest.approx(expected, abs=1e-12)

    logged = read_predictions(log_path, schema)
    assert len(logged) == 3  # one per entrypoint, none twice
    assert logged["probability"].tolist() == pytest.approx([embedded.probability] * 3, abs=1e-12)
    assert logged["customer_id"].tolist() == [customer["customerID"]] * 3
