"""Every worker logs ChurnGuard's lines in the configured format, with the request id."""

from __future__ import annotations

import json
import shutil

import httpx

from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.integration.api_server import ApiServer


def test_a_two_worker_server_logs_json_lines_with_time_level_logger_and_request_id(trained_workdir, tmp_path):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    server = ApiServer(tmp_path, workers=2, env={"LOG_FORMAT": "json", "ACCESS_LOG": "true"}).start()
    sent = {}
    try:
        for index in range(40):
            request_id = f"log-test-{index:03d}"
            response = httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER, headers={"X-Request-Id": request_id})
            assert response.status_code == 200
            sent[request_id] = response.headers["x-worker-pid"]
    finally:
        server.stop()
    records = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    loaded = {r["pid"] for r in records if r["message"] == "champion loaded"}
    assert len(loaded) == 2, "each worker configures its own logging and says what it loaded"
    access = {r["request_id"]: r for r in records if r["logger"] == "churnguard.access"}
    assert set(sent) <= set(access)
    for request_id, pid in sent.items():
        record = access[request_id]
        assert {"time", "level", "logger", "message", "pid"} <= set(record)
        assert record["level"] == "INFO"
        assert str(record["pid"]) == pid  # logged by the worker that answered
        assert record["status"] == 200
        assert record["message"] == "POST /predict 200"
