import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from churnguard.adapters.atomic_files import exclusive_lock
from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from tests.conftest import ROOT
from tests.integration.conftest import read_json


def _lock_waiters(lock_file: Path) -> set[int]:
    """The pids blocked on a flock of this file (/proc/locks marks a waiter with '->')."""
    inode = os.stat(lock_file).st_ino
    waiters = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "->" in parts and parts[parts.index("->") + 1] == "FLOCK":
            pid, device = parts[parts.index("->") + 4], parts[parts.index("->") + 5]
            if int(device.rsplit(":", 1)[1]) == inode:
                waiters.add(int(pid))
    return waiters


def test_two_concurrent_promotes_are_serialised_by_the_stores_lock(two_trained_versions, tmp_path):
    """Both promotes read the champion and switch it under the store's lock, one after the other:
    the second one is gated against the first one's champion. The test holds the lock until both
    are waiting on it, so the two always overlap; without the lock both would find no champion,
    both promote, and the last writer would win unexamined."""
    source, _ = two_trained_versions
    shutil.copytree(source / "models", tmp_path / "models")
    store = FilesystemModelStore(tmp_path / "models")
    fingerprints = sorted(path.name for path in (tmp_path / "models" / "versions").iterdir())
    assert len(fingerprints) == 2
    lock_file = tmp_path / "models" / ".lock"

    with exclusive_lock(lock_file):
        command = [sys.executable, "-m", "churnguard.entrypoints.cli", "promote", "--workdir", str(tmp_path)]
        promotes = [
            subprocess.Popen(
                [*command, "--model", fingerprint], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for fingerprint in fingerprints
        ]
        pids = {process.pid for process in promotes}
        deadline = time.monotonic() + 300  # a hang guard only: the outcome is decided by what happens first
        while _lock_waiters(lock_file) != pids:
            finished = [fp for fp, process in zip(fingerprints, promotes, strict=True) if process.poll() is not None]
            assert not finished, f"promote of {finished} finished while another process held the store's lock"
            assert time.monotonic() < deadline, "the promotes never reached the store's lock"
            time.sleep(0.05)
        assert not (tmp_path / "models" / "champion.json").exists()

    outputs = [process.communicate(timeout=300) for process in promotes]
    codes = [process.returncode for process in promotes]
    assert all(code in (0, 1) for code in codes), outputs
    said = [out for out, _ in outputs]
    first = [i for i, out in enumerate(said) if "no champion yet" in out]
    assert len(first) == 1, said  # exactly one found the store without a champion
    second = 1 - first[0]
    assert codes[first[0]] == 0
    assert "vs champion F1" in said[second], said[second]  # the other was gated against it
    champion = read_json(tmp_path / "models" / "champion.json")["fingerprint"]
    assert champion == fingerprints[second if codes[second] == 0 else first[0]]
    store.load(champion)
    assert not [p for p in (tmp_path / "models").iterdir() if p.suffix == ".tmp"]
