from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = ROOT / "data" / "raw" / "churn.csv"
SHARED_DATA = ROOT.parent / "shared" / "data" / "churn.csv"


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
        } or name.startswith(("MLFLOW_", "ENABLE_MLFLOW_", "ADMIN_API_KEY", "PROMETHEUS_MULTIPROC_DIR")):
            monkeypatch.delenv(name)
    for name, value in FAST_DEFAULTS.items():
        monkeypatch.setenv(name, value)
