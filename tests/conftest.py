from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

ENV_FILE_VARIABLE = "CHURNGUARD_ENV_FILE"  # churnguard.entrypoints.settings reads it at import

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

HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
"""`ci`: each property test's own example count (what CI runs); `dev`: a fifth of it, for a quick
local loop. HYPOTHESIS_PROFILE=ci locally runs CI's counts."""
settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(ci_count: int) -> int:
    """A property test's example count under the active profile."""
    return ci_count if HYPOTHESIS_PROFILE == "ci" else max(5, ci_count // 5)


def _scrub_environment() -> None:
    """No developer's .env or exported ChurnGuard or MLflow variable reaches a test: done once
    before any fixture (session-scoped ones and the processes they start included)."""
    os.environ[ENV_FILE_VARIABLE] = os.devnull
    from churnguard.entrypoints import settings as churnguard_settings

    assert churnguard_settings.ENV_FILE_VARIABLE == ENV_FILE_VARIABLE
    environment_names = churnguard_settings.environment_names

    read = environment_names()
    for name in list(os.environ):
        if name.upper() in read or name.startswith(("MLFLOW_", "PROMETHEUS_MULTIPROC_DIR")):
            del os.environ[name]
    os.environ.update(FAST_DEFAULTS)


def pytest_configure(config: pytest.Config) -> None:
    _scrub_environment()


@pytest.fixture(autouse=True)
def _isolated_settings() -> Iterator[None]:
    """Whatever a test or the code under it sets in the environment (MLflow reads its retry
    settings from there) is undone after it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


SLOW_TIER = {
    "test_spark": "Spark in local mode: 100,000-row files scored on the JVM against the single process",
    "test_postgres": "a PostgreSQL cluster: two workers on one table, a 10 s outage, kill -9, MLflow on it",
    "test_deploy_environment": "the API started with the compose and Kubernetes files' own environments",
    "test_ui": "headless Chromium driving the web UI",
    "test_monitoring": "Prometheus scraping the API, the alert rules (promtool) and Alertmanager routes (amtool)",
    "test_make_targets": "make run / pipeline / smoke / serve in a fresh tree",
    "test_readme": "the README's walk-through and drift demos run as shell scripts",
    "test_dvc": "dvc repro of dvc.yaml",
    "test_schemathesis": "generated requests from the OpenAPI document, per schema",
    "test_faults": "faults injected under load: a dying tracker, a full disk, a hot reload",
    "test_mlflow": "a real mlflow server: tracking, registry, traces",
    "test_csv_fuzzing": "thousands of generated CSV files through the reader",
}
"""`make test` runs every test but these modules (under 10 minutes on 2 cores); `make test-all`,
what CI runs, adds them: each value says what that module proves that the fast tier does not."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_TIER:
            item.add_marker(pytest.mark.slow)
