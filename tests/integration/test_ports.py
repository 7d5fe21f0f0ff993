"""A server the tests start takes another port when the one it was given is taken meanwhile."""

from __future__ import annotations

import shutil
import socket

import httpx

from tests.integration import ports
from tests.integration.api_server import ApiServer


def test_an_api_whose_port_was_taken_starts_on_another(trained_workdir, tmp_path, monkeypatch):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = iter([busy])
        real = ports.free_port
        monkeypatch.setattr(ports, "free_port", lambda: next(offered, None) or real())
        server = ApiServer(tmp_path).start()
        try:
            assert server.port != busy
            assert "address already in use" in (tmp_path / f"api-{busy}.log").read_text().lower()
            assert httpx.get(server.url + "/ready").status_code == 200
        finally:
            server.stop()


def test_serve_on_a_busy_port_exits_5_saying_so_before_loading_any_model(tmp_path):
    """Not 3 (the integrity-check code): a code of its own, and the message first, with no
    model in the workdir to load."""
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        command = [sys.executable, "-m", "churnguard.entrypoints.cli", "serve", "--port", str(busy)]
        result = subprocess.run(
            [*command, "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
        )
    assert result.returncode == 5, result.stderr
    assert f"cannot listen on 127.0.0.1:{busy}" in result.stderr
    assert "choose a port with --port or PORT" in result.stderr
    assert "champion" not in result.stderr.lower()  # said before anything tried to load a model
    assert "serving ChurnGuard" not in result.stdout
