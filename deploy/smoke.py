"""Smoke test of a running ChurnGuard API (`make smoke`, and CI's image job): ready, a valid
prediction for the served schema's first preset, a 422 for an empty body, the model gauge.

    python deploy/smoke.py --url http://127.0.0.1:8001     # an API that is already running
    python deploy/smoke.py                                  # starts `churnguard serve` itself

Standard library only, so it runs wherever Python does (a CI runner, next to a container).
Exits 0 when every check passes, 1 with the failed check otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any


def _call(url: str, body: object | None = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def _wait_ready(base: str, seconds: float) -> None:
    """Wait while nothing answers; an API answers only once its start-up has loaded (or failed
    to load) the champion, so a 503 then is its verdict and is reported at once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, text = _call(base + "/ready")
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return
        raise SystemExit(f"FAILED: {base}/ready answered {status}: {text[:300]}")
    raise SystemExit(f"FAILED: {base}/ready did not answer within {seconds:.0f} s")


def check(base: str, wait_seconds: float = 120.0) -> list[str]:
    """Run the checks against `base`; the passed checks, in order (raises SystemExit on a failure)."""
    passed: list[str] = []
    _wait_ready(base, wait_seconds)
    passed.append("ready")
    status, text = _call(base + "/schema")
    if status != 200:
        raise SystemExit(f"FAILED: /schema answered {status}: {text[:300]}")
    schema: dict[str, Any] = json.loads(text)
    customer = schema["presets"][0]["customer"]
    status, text = _call(base + "/predict", customer)
    if status != 200:
        raise SystemExit(f"FAILED: /predict answered {status}: {text[:300]}")
    body = json.loads(text)
    if not 0.0 <= body["churn_probability"] <= 1.0 or not body.get("model_version"):
        raise SystemExit(f"FAILED: /predict body is not a prediction: {text[:300]}")
    passed.append(f"predict ({schema['name']}: {schema['presets'][0]['name']}, p={body['churn_probability']:.3f})")
    status, _ = _call(base + "/predict", {})
    if status != 422:
        raise SystemExit(f"FAILED: an empty /predict body answered {status}, not 422")
    passed.append("refuses an empty body (422)")
    status, text = _call(base + "/metrics")
    if status != 200 or "\nchurnguard_model_loaded 1" not in "\n" + text:
        raise SystemExit("FAILED: /metrics does not say churnguard_model_loaded 1")
    passed.append("metrics")
    return passed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="an API that is already running (default: start one here)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for /ready")
    args = parser.parse_args()
    if args.url:
        passed = check(args.url.rstrip("/"), args.wait)
    else:
        port = int(os.environ.get("API_PORT") or _free_port())
        server = subprocess.Popen(
            [sys.executable, "-m", "churnguard.entrypoints.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            start_new_session=True,
        )
        try:
            passed = check(f"http://127.0.0.1:{port}", args.wait)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print("smoke test passed: " + "; ".join(passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
