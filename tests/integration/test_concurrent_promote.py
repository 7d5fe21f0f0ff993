import subprocess
import sys

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from tests.conftest import BUNDLED_DATA, ROOT
from tests.integration.conftest import read_json, run_cli_process


def test_two_concurrent_promotes_leave_one_intact_champion(tmp_path):
    for seed in ("1", "2"):
        trained = run_cli_process(
            "train",
            "--grid",
            "fast",
            "--data",
            str(BUNDLED_DATA),
            "--workdir",
            str(tmp_path),
            env={"RANDOM_STATE": seed},
        )
        assert trained.returncode == 0, trained.stderr
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
