"""A real `mlflow server` on 127.0.0.1 for the tests: random free port, sqlite, temp artifacts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.integration.ports import AddressInUse, address_in_use, on_a_free_port


class MlflowServer:
    def __init__(self, root: Path, backend_store_uri: str | None = None) -> None:
        """`backend_store_uri`: where runs and the registry live (default: a sqlite file in
        `root`); the artifacts are always served by the server from `root`."""
        self.root = root
        self.backend_store_uri = backend_store_uri
        self.port = 0  # bound at start()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> MlflowServer:
        return on_a_free_port(lambda port: self._start(port, timeout))

    def _start(self, port: int, timeout: float) -> MlflowServer:
        self.port = port
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--backend-store-uri",
                self.backend_store_uri or f"sqlite:///{self.root / 'server.db'}",
                "--artifacts-destination",
                str(self.root / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": ""},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = (self.root / "server.log").read_text()
                raise (AddressInUse if address_in_use(text) else RuntimeError)(f"mlflow server exited: {text[-2000:]}")
            try:
                if requests.get(self.uri + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
