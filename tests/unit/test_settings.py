"""Settings read from the environment under their names and the original ChurnGuard's."""

from __future__ import annotations

import os

import pytest

from churnguard.entrypoints.settings import Settings, environment_names, masked


def test_the_original_api_host_and_port_names_are_accepted(monkeypatch):
    monkeypatch.setenv("API_HOST", "0.0.0.0")
    monkeypatch.setenv("API_PORT", "9011")
    settings = Settings()
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", 9011)
    assert settings.with_overrides("api", port=9100).api.port == 9100  # --port still wins


def test_a_port_out_of_range_is_refused_under_either_name(monkeypatch):
    monkeypatch.setenv("API_PORT", "70000")
    with pytest.raises(ValueError, match="less than or equal to 65535"):
        Settings()


def test_the_prediction_log_url_picks_the_engine_and_its_password_is_never_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("PREDICTION_LOG_URL", "postgresql://cg:s3cret@db:5432/log")
    settings = Settings()
    assert settings.prediction_log_location == "postgresql://cg:s3cret@db:5432/log"
    assert "s3cret" not in str(settings.effective())
    assert masked("postgresql://cg:s3cret@db:5432/log") == "postgresql://cg:**********@db:5432/log"
    monkeypatch.setenv("PREDICTION_LOG_URL", f"sqlite:///{tmp_path}/p.db")
    assert Settings().prediction_log_location == f"{tmp_path}/p.db"
    monkeypatch.setenv("PREDICTION_LOG_URL", "mysql://db/log")
    with pytest.raises(ValueError, match="must start with postgresql://"):
        Settings()


def test_the_suite_reads_no_dotenv_and_no_exported_setting(tmp_path, monkeypatch):
    """tests/conftest.py's promise, for the session fixtures too: it holds before any fixture."""
    (tmp_path / ".env").write_text("MIN_F1=0.99\nGRID=fast\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.gate.min_f1 is None  # unset: the schema declares its floor (the original: 0.72)
    assert settings.training.grid == "full"
    assert {name for name in os.environ if name.upper() in environment_names()} == {"ENABLE_MLFLOW_TRACKING"}
