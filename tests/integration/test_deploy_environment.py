"""`churnguard serve` started with exactly the environment the deploy files give it: the compose
service, and the Kubernetes ConfigMap + Deployment. Read from the files; secrets get test values,
container paths map to temp dirs (`/tmp` starting empty, as in a container), the MLflow host to
a real MLflow server on loopback, the PostgreSQL prediction log to a throwaway cluster; 2 workers;
then /ready, /predict and /metrics, the predictions in PostgreSQL, and the drift job's command
reading them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import yaml

from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.conftest import BUNDLED_DATA, ROOT
from tests.integration.api_server import ApiServer, predict_until_every_worker_answers
from tests.integration.conftest import run_cli_process
from tests.integration.mlflow_server import MlflowServer

DEPLOY = ROOT / "deploy"
SECRETS = {"ADMIN_API_KEY": "deploy-test-admin-key", "MLFLOW_TRACKING_TOKEN": "deploy-test-token"}
CONTAINER_MLFLOW = ("http://mlflow:5000", "http://mlflow.mlflow.svc.cluster.local:5000")
CONTAINER_POSTGRES = ("postgres:5432", "postgres.churnguard.svc.cluster.local:5432")
PREDICTIONS = 120  # above DRIFT_MIN_ROWS, so the drift job's command has a window to check


def _mapped(value: str, data: Path, tmp: Path, mlflow: str) -> str:
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: SECRETS.get(m[1], m[2]), value)  # compose interpolation
    for host in CONTAINER_MLFLOW:
        value = value.replace(host, mlflow)
    if value.startswith("postgresql://"):
        url = urlsplit(value)
        assert f"{url.hostname}:{url.port}" in CONTAINER_POSTGRES, value
        assert url.password is None, "the password comes from PGPASSWORD, never the URL in a file"
        return value  # pointed at the test's cluster by _with_postgres
    if value == "/data" or value.startswith("/data/"):
        return str(data) + value[len("/data") :]
    if value == "/tmp" or value.startswith("/tmp/"):
        return str(tmp) + value[len("/tmp") :]
    return value


def _serve_options(command: list[str], port: int) -> list[str]:
    assert command[:2] == ["churnguard", "serve"], command
    options = list(command[2:])
    options[options.index("--host") + 1] = "127.0.0.1"
    options[options.index("--port") + 1] = str(port)
    return options


def _with_postgres(env: dict[str, str], postgres_url: str) -> dict[str, str]:
    """The file's PREDICTION_LOG_URL with its host, port, user and database replaced by the
    test cluster's; the password stays out of the URL, in PGPASSWORD, as the files have it."""
    assert env["PREDICTION_LOG_URL"].startswith("postgresql://"), env.get("PREDICTION_LOG_URL")
    assert "PGPASSWORD" in env
    test = urlsplit(postgres_url)
    return {
        **env,
        "PREDICTION_LOG_URL": f"postgresql://{test.username}@{test.hostname}:{test.port}{test.path}",
        "PGPASSWORD": test.password or "",
    }


def _drive(server: ApiServer) -> int:
    """Predictions until every worker answered some (at least PREDICTIONS); returns how many."""
    assert httpx.get(server.url + "/ready", timeout=10).status_code == 200
    sent, pids = predict_until_every_worker_answers(server, EXAMPLE_CUSTOMER, PREDICTIONS)
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    served = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("churnguard_predictions_total{")
    )
    assert served == sent  # every worker's samples, aggregated
    assert len(pids) == server.workers
    return sent


def _logged(postgres_url: str, expected: int) -> int:
    deadline, count = time.monotonic() + 60, 0
    while time.monotonic() < deadline:
        connection = psycopg.connect(postgres_url)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM predictions")
                count = int(cursor.fetchall()[0][0])
        finally:
            connection.close()
        if count >= expected:
            break
        time.sleep(0.2)
    return count


@pytest.fixture(scope="module")
def mlflow_with_champion(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-deploy")).start()
    workdir = tmp_path_factory.mktemp("deploy-train")
    env = {"MLFLOW_TRACKING_URI": server.uri, "ENABLE_MLFLOW_TRACKING": "true", "MODEL_STORE": "mlflow"}
    trained = run_cli_process(
        "pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(workdir), env=env
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    yield server
    server.stop()


def test_the_compose_services_environment_serves_with_two_workers(
    trained_workdir, mlflow_with_champion, postgres_url, tmp_path
):
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    service = compose["services"]["inference-api"]
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    tmp.mkdir()
    shutil.copytree(trained_workdir / "models", data / "models")
    env = {
        key: _mapped(str(value), data, tmp, mlflow_with_champion.uri) for key, value in service["environment"].items()
    }
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp / "churnguard-metrics")  # nothing creates it but serve
    env = _with_postgres(env, postgres_url)
    server = ApiServer(data, workers=2, env={**env, "TMPDIR": str(tmp)}, inherit=False)
    server.args = lambda port: _serve_options(service["command"], port)
    server.start(timeout=180)
    try:
        sent = _drive(server)
        assert _logged(postgres_url, sent) == sent
    finally:
        server.stop()
    drift = compose["services"]["drift"]
    job_env = _with_postgres(
        {key: _mapped(str(value), data, tmp, mlflow_with_champion.uri) for key, value in drift["environment"].items()},
        postgres_url,
    )
    _run_drift_job(drift["command"], job_env, data, sent)


def _run_drift_job(command: list[str], env: dict[str, str], data: Path, logged: int) -> None:
    """The drift job's own command, with its environment: it reads the API's predictions."""
    assert command[:2] == ["churnguard", "drift"], command
    completed = subprocess.run(
        [sys.executable, "-m", "churnguard.entrypoints.cli", *command[1:]],
        cwd=ROOT, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr  # 1: drift found
    report = json.loads((data / "reports" / "drift_report.json").read_text())
    assert report["current_rows"] == logged
    assert report["current_source"].startswith("prediction log postgresql://")


def test_the_kubernetes_configmap_and_deployment_serve_the_registry_champion(
    mlflow_with_champion, postgres_url, tmp_path
):
    documents = {
        doc["kind"]: doc for path in (DEPLOY / "k8s").glob("*.yaml") for doc in yaml.safe_load_all(path.read_text())
        if doc and "kind" in doc
    }  # fmt: skip
    config = documents["ConfigMap"]["data"]
    (container,) = [c for c in documents["Deployment"]["spec"]["template"]["spec"]["containers"] if c["name"]]
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    data.mkdir()
    tmp.mkdir()
    env = {key: _mapped(str(value), data, tmp, mlflow_with_champion.uri) for key, value in config.items()}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = _mapped(str(item["value"]), data, tmp, mlflow_with_champion.uri)
        elif "secretKeyRef" in item.get("valueFrom", {}):
            env[item["name"]] = SECRETS.get(item["name"], "deploy-test-secret")
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = "churnguard-test-pod"
    assert env["MODEL_STORE"] == "mlflow"
    env = _with_postgres(env, postgres_url)
    workers = int(env["WORKERS"])
    server = ApiServer(data, workers=workers, env={**env, "TMPDIR": str(tmp)}, inherit=False)
    server.args = lambda port: _serve_options(container["args"], port)
    server.start(timeout=180)
    try:
        sent = _drive(server)
        assert _logged(postgres_url, sent) == sent
    finally:
        server.stop()
    (job,) = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    job_env = {key: _mapped(str(value), data, tmp, mlflow_with_champion.uri) for key, value in config.items()}
    job_env.update({item["name"]: "from-secret" for item in job.get("env", []) if "valueFrom" in item})
    _run_drift_job(job["args"], _with_postgres(job_env, postgres_url), data, sent)


def test_mlflows_usage_telemetry_is_off_in_every_deploy_file():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = " ".join(map(str, service.get("command", [])))
        if "churnguard" in command or "mlflow" in command:
            environment = service.get("environment", {})
            assert environment.get("MLFLOW_DISABLE_TELEMETRY") == "true", name
            assert environment.get("DO_NOT_TRACK") == "true", name
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())["data"]
    assert (config["MLFLOW_DISABLE_TELEMETRY"], config["DO_NOT_TRACK"]) == ("true", "true")
