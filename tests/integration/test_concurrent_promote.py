import shutil
import subprocess
import sys

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from tests.conftest import ROOT
from tests.integration.conftest import read_json


def test_two_concurrent_promotes_leave_one_intact_champion(two_trained_versions, tmp_path):
    source, _ = two_trained_versions
    shutil.copytree(source / "models", tmp_path / "models")
    store = FilesystemModelStore(tmp_path / "models")
    fingerprints = sorted(path.name for path in (tmp_path / "models" / "versions").iterdir())
    assert len(fingerprints) == 2

    promotes = [
        subprocess.Popen(
            [sys.executable, "-m", "churnguard.entrypoints.cli", "promote", "--workdir", str(tmp_path), "--model", fp],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for fp in fingerprints
    ]
    outputs = [process.communicate(timeout=300) for process in promotes]
    codes = [process.returncode for process in promotes]
    assert all(code in (0, 1) for code in codes), outputs
    assert 0 in codes, outputs

    champion = read_json(tmp_path / "models" / "champion.json")["fingerprint"]
    assert champion in fingerprints
    store.load(champion)
    assert not [p for p in (tmp_path / "models").iterdir() if p.suffix == ".tmp"]
