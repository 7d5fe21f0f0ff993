"""The dashboard and the alert rules against a real Prometheus scraping a real API.

Prometheus (Debian's package) runs on loopback with deploy/prometheus/prometheus.yml and
alerts.yml, pointed at a 2-worker API and scraping every second. The API gets normal and
drifted traffic, single and batch, some 4xx, a hot reload and a drift check; then every query of
every dashboard panel and every alert expression goes through Prometheus's HTTP API.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from churnguard.adapters.sqlite_prediction_log import read_predictions
from tests.conftest import BUNDLED_DATA, ROOT, TELCO_DATA, require_shared
from tests.integration.api_server import ApiServer
from tests.integration.conftest import run_cli_process
from tests.integration.load import wait_until
from tests.integration.ports import AddressInUse, address_in_use, on_a_free_port

DEPLOY = ROOT / "deploy"
ORIGINAL_CLIENTS = ROOT.parent / "shared" / "original"
ADMIN_KEY = "monitoring-test-key"
# Grafana's variables, as Grafana would expand them for a 10-minute view of 1 s scrapes
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "10m", "$job": "(.+/)?churnguard-api"}


@dataclass
class Stack:
    api: ApiServer
    prometheus_url: str
    workdir: Path
    predictions_sent: int
    drift_report: dict[str, Any]

    def query(self, expr: str) -> dict[str, Any]:
        return _query(self.prometheus_url, expr)


def _query(prometheus_url: str, expr: str) -> dict[str, Any]:
    response = httpx.get(prometheus_url + "/api/v1/query", params={"query": expr}, timeout=10)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, f"{expr}: {body}"
    assert body["status"] == "success", f"{expr}: {body}"
    return dict(body["data"])


def _after_the_next_scrape(prometheus_url: str) -> None:
    """Wait until Prometheus has scraped the API once more: traffic spread over several scrapes
    gives rate() and increase() samples apart (a scrape a second, not a sleep of one)."""

    def last_scrape() -> float:
        result = _query(prometheus_url, 'max(timestamp(up{job="churnguard-api"}))')["result"]
        return float(result[0]["value"][1]) if result else 0.0

    before = last_scrape()
    wait_until(lambda: last_scrape() > before, "the next scrape of the API", timeout=60)


def _original_job(api_port: int) -> dict[str, Any]:
    """The original ChurnGuard's scrape job, as its own prometheus.yml declares it, pointed at our
    API; it keeps only the original's names, so our own series are not counted twice."""
    original = yaml.safe_load(require_shared(ORIGINAL_CLIENTS / "prometheus.yml").read_text())
    (job,) = original["scrape_configs"]
    assert job["job_name"] == "inference-api"
    job.update(scrape_interval="1s", scrape_timeout="1s")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{api_port}"], "labels": job["static_configs"][0]["labels"]}]
    job["metric_relabel_configs"] = [{"source_labels": ["__name__"], "regex": "churnguard_.*", "action": "drop"}]
    return dict(job)


def _start_prometheus(
    directory: Path, api_port: int, extra_jobs: list[dict[str, Any]] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["job_name"] == "churnguard-api"
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config.pop("alerting")  # no Alertmanager here; Prometheus still evaluates the rules
    api_job = config["scrape_configs"][0]
    api_job.update(scrape_interval="1s", scrape_timeout="1s")
    api_job["static_configs"] = [{"targets": [f"127.0.0.1:{api_port}"]}]
    config["scrape_configs"] = [api_job, *(extra_jobs or [])]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", directory / "alerts.yml")
    return on_a_free_port(lambda port: _run_prometheus(directory, port))


def _run_prometheus(directory: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: `make tools` installs Debian's package"
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=(directory / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (directory / "prometheus.log").read_text()
            raise (AddressInUse if address_in_use(text) else RuntimeError)(text[-3000:])
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("Prometheus did not become ready")


def _customers(count: int) -> list[dict[str, Any]]:
    with BUNDLED_DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [
        {key: float(value) if "." in value else int(value) for key, value in row.items() if key != "churn"}
        for row in rows
    ]


def _send_traffic(api: ApiServer, prometheus_url: str) -> int:
    """Singles, batches (normal then drifted) and bad requests, spread over several scrapes."""
    sent = 0
    customers = _customers(120)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for round_number in range(6):
            for customer in customers[round_number * 20 : (round_number + 1) * 20]:
                explain = "shap" if round_number == 0 else "loo"
                response = client.post(f"/predict?explain={explain}", json=customer)
                assert response.status_code == 200, response.text
                sent += 1
            bad = client.post("/predict", json={**customers[0], "age": 7})
            assert bad.status_code == 422
            malformed = client.post(
                "/predict/batch", content=b"{not json", headers={"content-type": "application/json"}
            )
            assert malformed.status_code == 422
            _after_the_next_scrape(prometheus_url)
        reload = client.post("/admin/reload", headers={"X-API-Key": ADMIN_KEY})
        assert reload.status_code in (200, 202), reload.text
    for seed, drift in (
        (7, []),
        (8, ["age_shift=15", "charges_scale=1.4", "fiber_share=0.9", "new_customer_share=0.8", "extra_tickets=3"]),
    ):
        args = ["simulate-traffic", "--url", api.url, "--rows", "600", "--seed", str(seed), "--batch-size", "100"]
        for assignment in drift:
            args += ["--drift", assignment]
        result = run_cli_process(*args)
        assert result.returncode == 0, result.stderr
        assert "600 scored, 0 rejected" in result.stdout
        sent += 600
        _after_the_next_scrape(prometheus_url)
    return sent


def _settled(stack: Stack) -> Stack:
    """Wait until Prometheus has scraped every prediction sent and the latest drift report's
    check time, and then one more scrape and rule evaluation (rate() needs two samples)."""
    checked_at = datetime.fromisoformat(stack.drift_report["checked_at"]).timestamp()

    def scraped() -> bool:
        total = stack.query("sum(churnguard_predictions_total)")["result"]
        check = stack.query("max(churnguard_drift_last_check_timestamp_seconds)")["result"]
        return (
            bool(total and check)
            and float(total[0]["value"][1]) == stack.predictions_sent
            and float(check[0]["value"][1]) == pytest.approx(checked_at)
        )

    deadline = time.monotonic() + 90
    while not scraped() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scraped(), "Prometheus did not scrape the traffic and the drift report in 90 s"
    evaluated = time.time()

    def scraped_and_evaluated_again() -> bool:
        # Prometheus does not scrape itself here: its rule groups' last evaluations come from the API
        groups = httpx.get(stack.prometheus_url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        evaluations = [datetime.fromisoformat(group["lastEvaluation"]).timestamp() for group in groups]
        scrape = stack.query('max(timestamp(up{job="churnguard-api"}))')["result"]
        return bool(evaluations and scrape) and min(*evaluations, float(scrape[0]["value"][1])) > evaluated

    wait_until(scraped_and_evaluated_again, "one more scrape and rule evaluation", timeout=60)
    return stack


def _logged(workdir: Path, count: int) -> None:
    """Wait until the API's prediction log holds `count` predictions (it flushes every second)."""
    deadline = time.monotonic() + 60
    while len(read_predictions(workdir / "predictions.db")) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(read_predictions(workdir / "predictions.db")) == count


@pytest.fixture(scope="module")
def stack(trained_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("monitored")
    shutil.copytree(trained_workdir / "models", workdir / "models")
    api = ApiServer(workdir, workers=2, env={"ADMIN_API_KEY": ADMIN_KEY, "MODEL_POLL_SECONDS": "0"}).start()
    prometheus, prometheus_url = _start_prometheus(
        tmp_path_factory.mktemp("prometheus"), api.port, [_original_job(api.port)]
    )
    try:
        sent = _send_traffic(api, prometheus_url)
        _logged(workdir, sent)
        # the drifted half only: five shifted parts of the population, so drift at a 0.3 share
        drift = run_cli_process("drift", "--last", "600", "--workdir", str(workdir), env={"DRIFT_SHARE": "0.3"})
        assert drift.returncode == 1, drift.stdout + drift.stderr  # 1 = drift detected
        report = json.loads((workdir / "reports" / "drift_report.json").read_text())
        yield _settled(Stack(api, prometheus_url, workdir, sent, report))
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        api.stop()


def _expand(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _dashboard_targets(path: Path = DEPLOY / "grafana" / "dashboards" / "churnguard.json") -> list[tuple[str, str]]:
    board = json.loads(path.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def _empty_queries(stack: Stack, targets: list[tuple[str, str]]) -> list[str]:
    return [f"{title}: {expr}" for title, expr in targets if not stack.query(_expand(expr))["result"]]


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_dashboard_query_is_valid_and_returns_data(stack: Stack):
    targets = _dashboard_targets()
    assert len(targets) >= 40
    empty = _empty_queries(stack, targets)
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_every_query_of_the_original_churnguard_dashboard_returns_data(stack: Stack):
    """../shared/original/mlops-churn.json, scraped under its own job name: all 24 queries answer."""
    targets = _dashboard_targets(require_shared(ORIGINAL_CLIENTS / "mlops-churn.json"))
    assert len(targets) == 24
    empty = _empty_queries(stack, targets)
    assert not empty, "original panels without data:\n" + "\n".join(empty)
    predicted = stack.query('sum(predict_total{job="inference-api"})')["result"]
    assert float(predicted[0]["value"][1]) == stack.predictions_sent


def test_every_alert_expression_is_valid_and_loaded_healthy(stack: Stack):
    for rule in _alert_rules():
        stack.query(rule["expr"])  # asserts Prometheus accepted it
    groups = httpx.get(stack.prometheus_url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert set(loaded) == {rule["alert"] for rule in _alert_rules()}
    unhealthy = {name: rule.get("lastError") for name, rule in loaded.items() if rule["health"] != "ok"}
    assert not unhealthy


def test_prometheus_counts_exactly_what_the_api_served(stack: Stack):
    total = stack.query("sum(churnguard_predictions_total)")["result"]
    assert float(total[0]["value"][1]) == stack.predictions_sent
    bad = stack.query('sum(churnguard_http_requests_total{status="422"})')["result"]
    assert float(bad[0]["value"][1]) == 12
    rejected = stack.query('sum(churnguard_prediction_errors_total{reason="invalid_input"})')["result"]
    assert float(rejected[0]["value"][1]) >= 6
    assert float(stack.query('up{job="churnguard-api"}')["result"][0]["value"][1]) == 1


def test_the_drift_panels_show_the_latest_report_and_the_drift_alert_fires(stack: Stack):
    assert stack.drift_report["dataset_drift"] is True
    share = stack.query("max(churnguard_drift_share)")["result"]
    assert float(share[0]["value"][1]) == pytest.approx(stack.drift_report["drift_share"])
    scores = stack.query("max by (feature, test) (churnguard_drift_feature_score)")["result"]
    assert {sample["metric"]["feature"] for sample in scores} == {
        feature["feature"] for feature in stack.drift_report["features"] if feature["statistic"] is not None
    }
    alerts = httpx.get(stack.prometheus_url + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    states = {alert["labels"]["alertname"]: alert["state"] for alert in alerts}
    assert states.get("ChurnGuardDataDrift") == "firing"
    for quiet in (
        "ChurnGuardApiDown",
        "ChurnGuardModelNotLoaded",
        "ChurnGuardHighErrorRatio",
        "ChurnGuardPredictionLogDropping",
    ):
        assert quiet not in states, f"{quiet} should not fire on a healthy API ({states})"


@pytest.fixture(scope="module")
def telco_stack(telco_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Telco champion behind the API, Telco customers as traffic, a drift check on a file."""
    from tests.integration.test_served_schema import telco_rows

    workdir = tmp_path_factory.mktemp("telco-monitored")
    shutil.copytree(telco_workdir / "models", workdir / "models")
    api = ApiServer(workdir, env={"MODEL_POLL_SECONDS": "0"}).start()
    prometheus, prometheus_url = _start_prometheus(tmp_path_factory.mktemp("prometheus-telco"), api.port)
    try:
        customers = telco_rows(600)
        sent = 0
        with httpx.Client(base_url=api.url, timeout=30) as client:
            for round_number in range(4):
                for customer in customers[round_number * 10 : (round_number + 1) * 10]:
                    assert client.post("/predict", json=customer).status_code == 200
                    sent += 1
                batch = customers[100 + round_number * 100 : 200 + round_number * 100]
                assert client.post("/predict/batch", json={"customers": batch}).json()["scored"] == 100
                sent += 100
                assert client.post("/predict", json={**customers[0], "Contract": "Forever"}).status_code == 422
                _after_the_next_scrape(prometheus_url)
        drift = run_cli_process("drift", "--current", str(require_shared(TELCO_DATA)), "--workdir", str(workdir))
        assert drift.returncode in (0, 1), drift.stdout + drift.stderr
        report = json.loads((workdir / "reports" / "drift_report.json").read_text())
        yield _settled(Stack(api, prometheus_url, workdir, sent, report))
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        api.stop()


def test_every_query_of_the_telco_dashboard_returns_data(telco_stack: Stack):
    targets = _dashboard_targets(DEPLOY / "grafana" / "dashboards" / "churnguard-telco.json")
    assert len(targets) >= 50
    empty = _empty_queries(telco_stack, targets)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    total = telco_stack.query("sum(churnguard_predictions_total)")["result"]
    assert float(total[0]["value"][1]) == telco_stack.predictions_sent
    contracts = telco_stack.query("sum by (contract) (churnguard_input_contract_total)")["result"]
    assert {sample["metric"]["contract"] for sample in contracts} >= {"month_to_month", "one_year", "two_year"}
