"""`dvc repro` end to end in a fresh git clone (of the committed HEAD), then a second run does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": venv_bin + os.pathsep + os.environ["PATH"], "ENABLE_MLFLOW_TRACKING": "false"}
    return subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=540, check=False)


def test_dvc_repro_runs_every_stage_in_a_fresh_clone_and_then_has_nothing_to_do(tmp_path):
    clone = tmp_path / "clone"
    cloned = run("git", "clone", "--quiet", str(ROOT), str(clone), cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    dvc = str(Path(sys.executable).parent / "dvc")

    first = run(dvc, "repro", cwd=clone)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in ("generate", "validate", "train", "evaluate", "promote", "drift"):
        assert f"Running stage '{stage}'" in first.stdout
    champion = json.loads((clone / "pipeline/models/champion.json").read_text())
    assert (clone / "pipeline/models/versions" / champion["fingerprint"] / "model.skops").exists()
    evaluation = json.loads((clone / "pipeline/reports/eval_report.json").read_text())
    assert evaluation["metrics"]["f1"] >= 0.72
    drift = json.loads((clone / "pipeline/reports/drift_report.json").read_text())
    assert drift["dataset_drift"] is False
    assert drift["current_rows"] == 1000

    second = run(dvc, "repro", cwd=clone)
    assert second.returncode == 0, second.stderr
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date." in second.stdout
    status = run(dvc, "status", "--json", cwd=clone)
    assert json.loads(status.stdout) == {}
