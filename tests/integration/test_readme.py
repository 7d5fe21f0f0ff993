"""The README's "Use your own data" walk-through runs as written, from a project root."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, TELCO_DATA, require_shared


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
    prediction = json.loads(result.stdout[result.stdout.rindex("\n{\n") + 1 :])
    assert prediction["customerID"] == "7590-VHVEG"
    values = {item["feature"]: item["value"] for item in prediction["feature_contributions"]}
    assert values["Contract"] == "Month-to-month"


def test_every_schema_in_the_readme_is_a_valid_schema():
    from churnguard.adapters.yaml_schema import YamlSchemaReader

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert blocks, "the README shows no schema"
    for block in blocks:
        schema = YamlSchemaReader().parse(block, "README.md")
        assert schema.fields


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_every_python_block_of_the_readme_runs_as_written_and_writes_nothing(index, tmp_path):
    """Each block runs as a script in a directory of its own (the bundled data reachable as in a
    checkout); it must exit 0, print, and leave that directory as it found it."""
    (tmp_path / "data").symlink_to(ROOT / "data")
    (tmp_path / "schemas").symlink_to(ROOT / "schemas")
    before = sorted(path.name for path in tmp_path.iterdir())
    env = {k: v for k, v in os.environ.items() if k not in ("WORKDIR", "SCHEMA_PATH", "DATA_PATH", "MIN_F1")}
    result = subprocess.run(
        [sys.executable, "-c", python_blocks()[index]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip()
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_the_readme_has_its_embedding_examples():
    blocks = python_blocks()
    assert len(blocks) >= 2
    assert any("ChurnGuard.in_memory" in block and "guard.predict" in block for block in blocks)
