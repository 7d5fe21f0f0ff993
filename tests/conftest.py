from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = ROOT / "data" / "raw" / "churn.csv"
SHARED_DATA = ROOT.parent / "shared" / "data" / "churn.csv"
TELCO_DATA = ROOT.parent / "shared" / "data" / "telco.csv"
"""IBM's Telco Customer Churn sample, read from ../shared (IBM's terms: never copied into the repo)."""
SCHEMAS = ROOT / "schemas"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_shared(path: Path) -> Path:
    """A file from ../shared: a test that needs it fails under CI=true, and skips elsewhere."""
    if not path.exists():
        message = f"{path} is not beside this checkout (../shared)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Under CI=true nothing skips: a skip there is a failure, so a missing tool cannot pass CI."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"


FAST_DEFAULTS = {"ENABLE_MLFLOW_TRACKING": "false"}
"""MLflow tracking is the subject of tests/integration/test_mlflow.py; elsewhere the JSONL log
keeps CLI runs quick. Tests that need MLflow set ENABLE_MLFLOW_TRACKING=true themselves."""


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read a developer's .env or exported ChurnGuard variables."""
    for name in list(os.environ):
        if name in {
            "MIN_F1",
            "F1_TOLERANCE",
            "TEST_SIZE",
            "RANDOM_STATE",
            "CV_FOLDS",
            "GRID",
            "N_JOBS",
            "WORKDIR",
            "DATA_PATH",
            "SCHEMA_PATH",
            "KEEP_DUPLICATES",
        } or name.startswith(("MLFLOW_", "ENABLE_MLFLOW_", "ADMIN_API_KEY", "PROMETHEUS_MULTIPROC_DIR")):
            monkeypatch.delenv(name)
    for name, value in FAST_DEFAULTS.items():
        monkeypatch.setenv(name, value)
