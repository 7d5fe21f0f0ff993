"""The README's make targets as a user types them: `make run` and `make serve` (start, answer
/ready, stop), the original ChurnGuard's `make train eval promote smoke`, `make image` and
`make api-up` where there is no Docker engine, and a pre-commit config that runs `make lint`'s
own checks."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import ROOT
from tests.integration.ports import free_port


def _env(workdir: Path, port: int | None = None) -> dict[str, str]:
    env = {**os.environ, "WORKDIR": str(workdir), "ENABLE_MLFLOW_TRACKING": "false", "MODEL_POLL_SECONDS": "0"}
    if port is not None:
        env["API_PORT"] = str(port)
    return env


def _make(*targets: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540
    )


def _serves_until_ready(command: list[str], env: dict[str, str], port: int) -> dict:
    """Start a make target that serves, wait for /ready, stop it; /ready's body."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()[-3000:] if process.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the API did not become ready")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_make_run_trains_promotes_and_serves_on_api_port(tmp_path):
    port = free_port()
    ready = _serves_until_ready(["make", "--no-print-directory", "run", "GRID=fast"], _env(tmp_path, port), port)
    champion = (tmp_path / "models" / "champion.json").read_text()
    assert ready["model_version"] in champion


def test_the_original_commands_train_eval_promote_then_smoke_and_serve(tmp_path, trained_workdir):
    env = _env(tmp_path)
    trained = _make("train", "GRID=fast", env=env)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert _make("eval", env=env).returncode == 0
    assert (tmp_path / "reports" / "eval_report.json").exists()
    promoted = _make("promote", env=env)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "champion is now" in promoted.stdout
    smoke = _make("smoke", env={**env, "API_PORT": str(free_port())})
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "smoke test passed: ready; predict (original:" in smoke.stdout

    port = free_port()
    ready = _serves_until_ready(["make", "--no-print-directory", "serve"], _env(tmp_path, port), port)
    assert ready["model_version"] in (tmp_path / "models" / "champion.json").read_text()


def test_smoke_fails_loudly_without_a_champion(tmp_path):
    smoke = _make("smoke", env={**_env(tmp_path), "API_PORT": str(free_port())})
    assert smoke.returncode != 0
    assert "/ready answered 503" in smoke.stderr + smoke.stdout
    assert "no verified champion" in smoke.stderr + smoke.stdout


def test_image_and_the_compose_targets_say_when_there_is_no_docker_engine(tmp_path):
    engine = (
        shutil.which("docker") is not None and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    )
    if engine:  # a machine with an engine builds for real; only the dry run is checked here
        assert "docker build" in _make("-n", "image", env=_env(tmp_path)).stdout
        return
    image = _make("image", env=_env(tmp_path))
    assert image.returncode == 0
    assert "no Docker engine on this machine" in image.stdout
    for target in ("api-up", "api-down"):
        result = _make(target, env=_env(tmp_path))
        assert result.returncode != 0
        assert "no Docker engine on this machine" in result.stderr


def test_make_pipeline_is_the_original_chain():
    dry = subprocess.run(["make", "-n", "pipeline"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    steps = ["ruff check", "pytest", "churnguard train", "churnguard evaluate", "churnguard promote",
             "docker build", "deploy/smoke.py"]  # fmt: skip
    positions = [dry.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)


def _dry(*args: str) -> list[str]:
    """The churnguard commands `make -n` would run: what a target does with these variables."""
    env = {k: v for k, v in os.environ.items() if k != "WORKDIR"}
    dry = subprocess.run(["make", "-n", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return [line for line in dry.stdout.splitlines() if line.startswith(".venv/bin/churnguard ")]


def test_another_tables_champion_lives_in_a_place_of_its_own():
    """`make run SCHEMA=...` trains and serves in work/<schema name>, never the bundled table's
    models/; the bundled table's commands take no --workdir; WORKDIR= puts it anywhere."""
    telco = ["SCHEMA=schemas/telco.yaml", "DATA=../shared/data/telco.csv"]
    pipeline, serve = _dry("run", *telco)
    assert pipeline.endswith("--schema schemas/telco.yaml --data ../shared/data/telco.csv --workdir work/telco")
    assert serve.endswith("--workdir work/telco")
    assert _dry("serve", "SCHEMA=schemas/telco.yaml") == [serve]
    assert all("--workdir" not in line for line in _dry("run"))
    assert _dry("train", *telco, "WORKDIR=/tmp/elsewhere")[0].endswith("--workdir /tmp/elsewhere")


def test_pre_commit_runs_the_same_ruff_and_mypy_as_make_lint():
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    recipe = re.search(r"^lint:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe
    lint = [line.strip().replace("$(BIN)", ".venv/bin") for line in recipe.group(1).splitlines()]
    entries = [hook["entry"] for hook in hooks]
    assert entries == [".venv/bin/ruff check", ".venv/bin/ruff format --check", ".venv/bin/mypy"]
    for entry in entries:
        assert any(line.startswith(entry) for line in lint), entry


def test_make_run_installs_the_runtime_alone_and_the_runtime_covers_every_import():
    """`make run` and the commands that only run ChurnGuard install `-e .` (no extras); every
    module churnguard/ imports is provided by the package's runtime requirements, transitively
    (pyspark, the `spark` extra, is imported only by `score --engine spark`)."""
    import ast
    import re as regex
    from importlib import metadata

    makefile = (ROOT / "Makefile").read_text()
    for target in ("ml-pipeline", "serve", "train", "eval", "promote"):
        assert regex.search(rf"^{target}: \$\(RUNTIME_STAMP\)$", makefile, regex.M), target
    assert "run: ml-pipeline serve" in makefile
    runtime_recipe = makefile.split("$(RUNTIME_STAMP): pyproject.toml constraints.txt", 1)[1].split("\n\n", 1)[0]
    assert "-c constraints.txt -e .\n" in runtime_recipe + "\n"

    from packaging.requirements import Requirement

    def requirements(name: str, seen: set[str]) -> set[str]:
        key = name.lower().replace("_", "-")
        if key in seen:
            return seen
        seen.add(key)
        for line in metadata.requires(key) or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue  # an extra's, or another platform's
            requirements(requirement.name, seen)
        return seen

    installed = requirements("churnguard", set())
    provided = {
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-") in installed for d in distributions)
    }
    imported = set()
    for path in (ROOT / "churnguard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    import sys

    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ("churnguard", "__future__")}
    assert third_party - provided == {"pyspark"}
