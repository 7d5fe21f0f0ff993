"""What the original ChurnGuard's metric names cost per scrape: /metrics size, series and time,
with ORIGINAL_METRIC_NAMES on and off, after the same traffic.

    python benchmarks/metrics.py [--workdir DIR] [--scrapes 300]

The workdir needs a champion (benchmarks/serve.py --workdir, or `make pipeline`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import ROOT, _free_port, request_body


def measure(workdir: Path, original_names: bool, scrapes: int) -> dict[str, float]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "churnguard.entrypoints.cli", "serve", "--port", str(port), "--workdir", str(workdir)],
        cwd=ROOT,
        env={**os.environ, "ENABLE_MLFLOW_TRACKING": "false", "ORIGINAL_METRIC_NAMES": str(original_names).lower(),
             "PREDICTION_LOG_PATH": str(Path(tempfile.mkdtemp()) / "p.db")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        body = request_body(base)
        with httpx.Client(base_url=base) as client:
            for _ in range(500):
                client.post("/predict", json=body)
            client.post("/predict", json={**body, "bogus": 1})
            timings, text = [], ""
            for _ in range(scrapes):
                started = time.perf_counter()
                text = client.get("/metrics").text
                timings.append(time.perf_counter() - started)
        samples = [line for line in text.splitlines() if line and not line.startswith("#")]
        return {
            "bytes": len(text.encode()),
            "samples": len(samples),
            "families": sum(1 for line in text.splitlines() if line.startswith("# TYPE")),
            "median_ms": statistics.median(timings) * 1000,
            "p99_ms": sorted(timings)[int(0.99 * len(timings))] * 1000,
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=ROOT)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    results = {setting: measure(args.workdir, setting == "on", args.scrapes) for setting in ("off", "on")}
    extra = {key: results["on"][key] - results["off"][key] for key in results["on"]}
    print(json.dumps({**results, "cost_of_original_names": extra}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
