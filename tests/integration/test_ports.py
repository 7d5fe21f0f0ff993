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
