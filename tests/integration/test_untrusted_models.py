"""A champion that is not what training wrote is never loaded: the API stays not-ready, says why
in its log, and a payload built to run code on unpickling runs nothing."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.integration.api_server import ApiServer


class RunsCodeWhenUnpickled:
    """pickle.loads of this object calls os.system(command): the classic model-file exploit."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


def _champion_dir(workdir: Path) -> Path:
    fingerprint = json.loads((workdir / "models" / "champion.json").read_text())["fingerprint"]
    return workdir / "models" / "versions" / fingerprint


def _rewrite_with_matching_checksum(version_dir: Path, payload: bytes) -> None:
    """What an attacker with write access to both files would do: the sha256 check then passes."""
    (version_dir / "model.skops").write_bytes(payload)
    metadata = json.loads((version_dir / "metadata.json").read_text())
    metadata["model_sha256"] = hashlib.sha256(payload).hexdigest()
    (version_dir / "metadata.json").write_text(json.dumps(metadata))


def tamper(version_dir: Path, marker: Path) -> str:
    model = version_dir / "model.skops"
    model.write_bytes(model.read_bytes() + b"\x00")
    return "sha256 mismatch"


def bad_metadata(version_dir: Path, marker: Path) -> str:
    (version_dir / "metadata.json").write_text("{ not json")
    return "does not parse"


def pickle_payload(version_dir: Path, marker: Path) -> str:
    _rewrite_with_matching_checksum(version_dir, pickle.dumps(RunsCodeWhenUnpickled(f"touch {marker}")))
    return "not a skops model file"


def skops_with_an_untrusted_function(version_dir: Path, marker: Path) -> str:
    dangerous = Pipeline([("run", FunctionTransformer(os.system, kw_args=None))])
    path = version_dir / "payload.skops"
    sio.dump(dangerous, path)
    _rewrite_with_matching_checksum(version_dir, path.read_bytes())
    path.unlink()
    return "outside the allow-list"


ATTACKS = [tamper, bad_metadata, pickle_payload, skops_with_an_untrusted_function]


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    """Control: proves the planted payload is live, so its silence below means something."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(RunsCodeWhenUnpickled(f"touch {marker}")))
    assert marker.exists()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.__name__)
def test_a_bad_champion_keeps_the_api_not_ready_and_runs_nothing(trained_workdir, tmp_path, attack):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    marker = tmp_path / "payload-ran"
    expected_reason = attack(_champion_dir(tmp_path), marker)
    server = ApiServer(tmp_path, env={"MODEL_POLL_SECONDS": "0"}).start()
    try:
        log = server.log_text()  # start() returned after the startup load, so its outcome is logged
        ready = httpx.get(server.url + "/ready")
        assert ready.status_code == 503
        assert httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER).status_code == 503
        assert httpx.get(server.url + "/health").json()["model_loaded"] is False
        assert "champion reload failed" in log
        assert expected_reason in log
        assert not marker.exists(), "the payload ran"
    finally:
        server.stop()
    assert not marker.exists()
