"""Who may call what, what leaks, and what the browser is told: keys, CORS, headers, faults."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient

from churnguard.entrypoints.container import build_container
from churnguard.entrypoints.http.app import create_app
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from churnguard.entrypoints.settings import Settings
from tests.conftest import ROOT

PREDICT_KEY = "predict-key-for-tests-only"


@pytest.fixture
def client_for(trained_workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A TestClient on a copy of the trained workdir, with the given environment."""
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    clients: list[TestClient] = []

    def make(env: dict[str, str] | None = None, fault: Exception | None = None) -> TestClient:
        monkeypatch.setenv("WORKDIR", str(tmp_path))
        monkeypatch.setenv("MODEL_POLL_SECONDS", "0")
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        container = build_container(settings)
        if fault is not None:

            def broken(*_: Any, **__: Any) -> Any:
                raise fault

            container.predict_churn.override(providers.Object(broken))
        client = TestClient(create_app(settings, container), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_predict_is_open_by_default_and_needs_the_key_when_one_is_set(client_for):
    open_api = client_for()
    assert open_api.post("/predict", json=EXAMPLE_CUSTOMER).status_code == 200
    guarded = client_for({"PREDICT_API_KEY": PREDICT_KEY})
    for path, body in (("/predict", EXAMPLE_CUSTOMER), ("/predict/batch", {"customers": [EXAMPLE_CUSTOMER]})):
        assert guarded.post(path, json=body).status_code == 401
        wrong = guarded.post(path, json=body, headers={"X-API-Key": PREDICT_KEY[:-1] + "X"})
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "missing or wrong X-API-Key"
        assert guarded.post(path, json=body, headers={"X-API-Key": PREDICT_KEY}).status_code == 200
    assert guarded.get("/health").status_code == 200  # probes never need a key


def test_admin_endpoints_are_off_without_a_key_and_refuse_a_wrong_one(client_for):
    assert client_for().post("/admin/reload", headers={"X-API-Key": "anything"}).status_code == 404
    admin = client_for({"ADMIN_API_KEY": "admin-key-for-tests"})
    assert admin.post("/admin/reload").status_code == 401
    assert admin.post("/admin/reload", headers={"X-API-Key": "admin-key-for-test"}).status_code == 401
    assert admin.post("/admin/reload", headers={"X-API-Key": "admin-key-for-tests"}).status_code == 200


def test_every_key_check_goes_through_the_constant_time_comparison(client_for, monkeypatch):
    """Each key a request carries reaches secrets.compare_digest, and its answer is the one
    obeyed: with the comparison forced to "equal", a wrong key is let through."""
    import secrets

    compared: list[tuple[str, str]] = []
    real = secrets.compare_digest

    def recording(given, expected):
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(secrets, "compare_digest", recording)
    client = client_for({"PREDICT_API_KEY": PREDICT_KEY, "ADMIN_API_KEY": "admin-key-for-tests"})
    assert client.post("/predict", json=EXAMPLE_CUSTOMER, headers={"X-API-Key": "wrong-1"}).status_code == 401
    assert client.post("/admin/reload", headers={"X-API-Key": "wrong-2"}).status_code == 401
    assert compared == [("wrong-1", PREDICT_KEY), ("wrong-2", "admin-key-for-tests")]
    monkeypatch.setattr(secrets, "compare_digest", lambda given, expected: True)
    assert client.post("/predict", json=EXAMPLE_CUSTOMER, headers={"X-API-Key": "wrong-3"}).status_code == 200


def test_cors_is_off_by_default_and_allows_only_configured_origins(client_for):
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    closed = client_for().options("/predict", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    configured = client_for({"CORS_ALLOW_ORIGINS": "https://crm.example, https://ops.example"})
    allowed = configured.options("/predict", headers={**preflight, "Origin": "https://crm.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://crm.example"
    refused = configured.options("/predict", headers=preflight)
    assert "access-control-allow-origin" not in refused.headers


def test_the_ui_and_the_api_send_security_headers(client_for):
    client = client_for()
    for path in ("/", "/static/app.js", "/health"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger UI's CDN assets


def test_a_fault_is_a_500_with_a_request_id_and_no_stack_trace(client_for, caplog):
    client = client_for(fault=RuntimeError("boom at /srv/secret/path.py line 42"))
    response = client.post("/predict", json=EXAMPLE_CUSTOMER, headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (request id req-123)", "errors": []}
    assert "Traceback" not in response.text
    assert "secret" not in response.text
    assert any("unhandled error" in record.message and record.exc_info for record in caplog.records)
    assert client.get("/health").status_code == 200


def test_bodies_and_batches_over_their_limits_are_refused(client_for):
    client = client_for({"MAX_BODY_BYTES": "2048", "BATCH_LIMIT": "3"})
    assert client.post("/predict", content=b"{" + b" " * 4096 + b"}").status_code == 413
    batch = client.post("/predict/batch", json={"customers": [EXAMPLE_CUSTOMER] * 4})
    assert batch.status_code == 413
    assert "limit of 3" in batch.json()["detail"]


def test_bandit_finds_nothing_unjustified():
    result = subprocess.run(
        [str(Path(ROOT / ".venv/bin/bandit")), "-c", "pyproject.toml", "-r", "churnguard", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/"),
    "password assignment": re.compile(r"(?i)\b(password|passwd|secret)\b\s*[:=]\s*['\"][^'\"$\s]{6,}['\"]"),
}


def test_no_secrets_are_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    findings = []
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".csv", ".parquet", ".skops"}:
            continue
        text = path.read_text(errors="ignore")
        findings += [f"{name}: {label}" for label, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    assert not findings
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert "/deploy/.env" in (ROOT / ".gitignore").read_text().split()


def test_the_container_runs_as_a_non_root_user():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}


def test_a_body_that_is_not_utf8_is_a_422_on_every_scoring_route(client_for):
    """Regression (schemathesis ST103): FastAPI answered an undocumented 400 on /predict/batch."""
    client = client_for()
    for path in ("/predict", "/predict/batch"):
        response = client.post(path, content=b"\xff\xfe{", headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, response.text)
        assert "JSON" in response.text
