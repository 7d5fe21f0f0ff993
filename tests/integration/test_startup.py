"""Each command imports only what it uses: `--version` and `--help` no framework at all, `drift`
and `serve` (its supervisor and each worker) no MLflow, matplotlib or SHAP unless their
settings turn tracking or tracing on. Every user pays for what a command imports: each
worker, each CronJob run, each `--help`. The figures are in benchmarks/startup.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import BUNDLED_DATA, ROOT

HEAVY = ("mlflow", "matplotlib", "skops", "shap", "evidently", "sklearn", "pandas", "pandera", "fastapi", "pyspark")

RUN_CLI = """
import json, sys
import uvicorn
uvicorn.run = lambda *args, **kwargs: None  # the supervisor's own imports, without serving
from churnguard.entrypoints import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""

RUN_WORKER = """
import json, sys
from fastapi.testclient import TestClient
from churnguard.entrypoints.http.app import create_app
with TestClient(create_app()) as client:
    ready = client.get("/ready").status_code
    predicted = client.post("/predict", json=json.loads(sys.argv[1])).status_code
print(json.dumps({"code": [ready, predicted], "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def _imported(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[object, set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"]) & set(HEAVY)


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_no_framework(option):
    code, heavy = _imported(RUN_CLI.replace("import uvicorn\nuvicorn.run = lambda *args, **kwargs: None", ""), option)
    assert code == 0
    assert heavy == set()


def test_serve_supervisor_imports_no_framework_before_its_workers(trained_workdir, tmp_path):
    code, heavy = _imported(RUN_CLI, "serve", "--workers", "2", "--workdir", str(trained_workdir))
    assert code == 0
    # dependency-injector's wiring imports FastAPI (to recognise its Depends) for every command
    assert heavy == {"fastapi"}, "the process that only starts workers loads nothing they load"


def test_a_serving_worker_without_tracing_imports_no_mlflow_matplotlib_or_shap(trained_workdir, tmp_path):
    customer = {
        "gender": 0, "age": 47, "partner": 0, "dependents": 0, "tenure_months": 1, "monthly_charges": 98.53,
        "contract_type": 0, "payment_method": 2, "paperless_billing": 1, "internet_service": 2,
        "online_security": 0, "tech_support": 1, "num_tickets": 1,
    }  # fmt: skip
    env = {"WORKDIR": str(trained_workdir), "PREDICTION_LOG_PATH": str(tmp_path / "predictions.db")}
    code, heavy = _imported(RUN_WORKER, json.dumps(customer), env=env)
    assert code == [200, 200]
    # a filesystem champion is read by skops; explaining it by leave-one-out needs no SHAP
    assert {"mlflow", "matplotlib", "shap", "evidently"}.isdisjoint(heavy), heavy
    assert {"fastapi", "skops", "sklearn"} <= heavy  # the check sees what a worker does load


@pytest.mark.parametrize(
    ("tracking", "absent"),
    [("false", {"mlflow", "matplotlib", "shap"}), ("true", {"matplotlib", "shap"})],
    ids=["jsonl-runs", "mlflow-runs"],
)
def test_drift_imports_mlflow_only_to_log_its_run_and_never_plots(trained_workdir, tmp_path, tracking, absent):
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    (workdir / "models").symlink_to(trained_workdir / "models")
    code, heavy = _imported(
        RUN_CLI, "drift", "--split", "--data", str(BUNDLED_DATA), "--workdir", str(workdir),
        env={"ENABLE_MLFLOW_TRACKING": tracking},
    )  # fmt: skip
    assert code in (0, 1)  # drifted or not: the split of one table is the subject elsewhere
    assert absent.isdisjoint(heavy), heavy
    assert "evidently" in heavy
    assert ("mlflow" in heavy) == (tracking == "true")


def test_every_lazy_adapter_of_the_container_names_a_real_one():
    """The container imports its adapters by name when first built: a typo would surface only
    when that command runs, so every name (the in-memory overrides included) is resolved here."""
    import importlib
    import inspect
    from typing import Any

    from dependency_injector.providers import BaseSingleton, Factory

    from churnguard.entrypoints.container import build_container
    from churnguard.entrypoints.settings import Settings

    container = build_container(Settings(), in_memory=True)
    providers: list[Any] = list(container.traverse())
    providers += [override for provider in providers for override in provider.overridden]
    # what a provider builds, and the plain callables handed to one (ChampionCache's `prepare`)
    built = [getattr(p, "provides", None) for p in providers]
    built += [value for p in providers if isinstance(p, Factory | BaseSingleton) for value in p.kwargs.values()]
    paths = {b.adapter_path for b in built if inspect.isfunction(b) and hasattr(b, "adapter_path")}
    assert len(paths) == 39
    assert "churnguard.adapters.in_memory:InMemoryModelStore" in paths  # an override is seen too
    for path in paths:
        module, _, name = path.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), path
