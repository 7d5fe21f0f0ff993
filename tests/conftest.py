from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = ROOT / "data" / "raw" / "churn.csv"
SHARED_DATA = ROOT.parent / "shared" / "data" / "churn.csv"


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
        } or name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)
