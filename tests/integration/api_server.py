"""`churnguard serve` as a real uvicorn process on a free loopback port, for the API tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.integration.ports import AddressInUse, address_in_use, on_a_free_port


class ApiServer:
    def __init__(
        self,
        workdir: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        inherit: bool = True,
        args: Callable[[int], list[str]] | None = None,
    ) -> None:
        """`inherit=False`: the process gets `env` and nothing of this one's environment but PATH;
        `args`: serve's own options for the port it is given, instead of --port/--workers/--workdir
        (a deploy file's)."""
        self.inherit = inherit
        self.args = args
        self.workdir = workdir
        self.port = 0  # bound at start()
        self.workers = workers
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ApiServer:
        """Start on a free port (again on another if it was taken meanwhile); wait until every
        worker has started and /health answers."""
        return on_a_free_port(lambda port: self._start(port, timeout))

    def _start(self, port: int, timeout: float) -> ApiServer:
        self.port = port
        log_path = self.log_path
        log = log_path.open("wb")
        options = (
            self.args(port)
            if self.args
            else [
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--workdir",
                str(self.workdir),
            ]
        )
        base = {**os.environ, "ENABLE_MLFLOW_TRACKING": "false"} if self.inherit else {"PATH": os.environ["PATH"]}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "churnguard.entrypoints.cli", "serve", *options],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**base, **self.env},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = log_path.read_text()
                raise (AddressInUse if address_in_use(text) else RuntimeError)(text[-3000:])
            # Every worker must have finished its startup, not just the first to answer: a
            # test that needs both workers would otherwise race the second one's imports.
            started = log_path.read_text(errors="replace").count("Application startup complete")
            try:
                healthy = httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy and started >= self.workers:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the API did not answer in time")

    @property
    def log_path(self) -> Path:
        return self.workdir / f"api-{self.port}.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def predict_until_every_worker_answers(
    server: ApiServer, body: dict[str, object], at_least: int, timeout: float = 120.0
) -> tuple[int, set[str]]:
    """POST /predict in concurrent bursts on new connections (sequential requests on one may all
    reach one worker) until `at_least` were answered and every worker answered some; returns
    how many were sent (all answered 200) and the worker pids that answered."""
    pids: set[str] = set()
    sent = 0
    lock = threading.Lock()

    def send(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            with httpx.Client(timeout=10) as client:
                response = client.post(server.url + "/predict", json=body)
            assert response.status_code == 200, response.text
            with lock:
                sent += 1
                pids.add(response.headers["x-worker-pid"])

    deadline = time.monotonic() + timeout  # a hang guard: the loop ends on its condition
    while sent < at_least or len(pids) < server.workers:
        assert time.monotonic() < deadline, f"{len(pids)} of {server.workers} workers answered {sent} requests"
        burst = [threading.Thread(target=send, args=(5,)) for _ in range(4)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join()
    return sent, pids
