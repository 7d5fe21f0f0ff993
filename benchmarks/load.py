"""Bounded load test: 2 workers, concurrency 32, /predict with explanation, a hot reload halfway.

    python benchmarks/load.py [--seconds 60] [--concurrency 32] [--workers 2]
    python benchmarks/load.py --memory [--requests 100000]

Loopback only; stops by itself. Trains two model versions (fast grid, seeds 1 and 2) into a
temp workdir, serves version A with `churnguard serve --workers 2`, and drives POST /predict
(leave-one-out explanation) from 32 concurrent clients over 200 real customer bodies. Halfway,
version B becomes the champion and /admin/reload is called (the other worker finds it by
polling). Afterwards:
- errors: any non-200 or transport error (must be 0);
- mixed responses: for each body and each model version, every probability returned must be
  the same number; a response claiming A but computed with B would add a second value (must be 0);
- p50/p99 latency (client side) and requests per second.

--memory sends --requests requests (default 100,000) and compares each worker's RSS after 10%
of them with its RSS at the end (the issue's "within 10%" leak check). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "raw" / "churn.csv"
ADMIN_KEY = "load-test-key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "churnguard.entrypoints.cli", *args],
        cwd=ROOT,
        env={**os.environ, "ENABLE_MLFLOW_TRACKING": "false", **(env or {})},
        check=True,
        capture_output=True,
    )


def _two_versions(workdir: Path) -> tuple[str, str]:
    for seed in ("1", "2"):
        _cli("train", "--grid", "fast", "--data", str(DATA), "--workdir", str(workdir), env={"RANDOM_STATE": seed})
    from churnguard.adapters.filesystem_model_store import FilesystemModelStore

    store = FilesystemModelStore(workdir / "models")
    first, second = sorted(path.name for path in (workdir / "models" / "versions").iterdir())
    store.set_champion(first)
    return first, second


def _bodies(count: int) -> list[dict[str, Any]]:
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [{k: float(v) if "." in v else int(v) for k, v in row.items() if k != "churn"} for row in rows]


def _serve(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "ENABLE_MLFLOW_TRACKING": "false",
        "ADMIN_API_KEY": ADMIN_KEY,
        "MODEL_POLL_SECONDS": "1",
        "PREDICTION_LOG_PATH": str(workdir / "predictions.db"),
    }
    log = workdir / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "churnguard.entrypoints.cli", "--log-level", "INFO", "serve", "--port", str(port),
         "--workers", str(workers), "--workdir", str(workdir)],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # every worker has finished its startup (uvicorn says so)
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("the API did not start: " + log.read_text(errors="replace")[-2000:])
    return process, url


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _drive(
    url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float | None, requests: int | None,
    on_progress: Any = None,
) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors: list[str] = []
    seen: dict[tuple[int, str], set[float]] = defaultdict(set)
    pids: set[str] = set()
    sent = 0
    stop_at = time.monotonic() + seconds if seconds else None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal sent
        index = offset
        while True:
            if stop_at is not None and time.monotonic() >= stop_at:
                return
            if requests is not None and sent >= requests:
                return
            sent += 1
            body_index = index % len(bodies)
            index += concurrency
            started = time.perf_counter()
            try:
                response = await client.post("/predict", json=bodies[body_index])
            except httpx.HTTPError as error:
                errors.append(repr(error))
                continue
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.text[:200]}")
                continue
            payload = response.json()
            seen[(body_index, payload["model_version"])].add(payload["churn_probability"])
            pids.add(response.headers["x-worker-pid"])
            if on_progress is not None:
                await on_progress(sent)

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(client_loop(client, offset) for offset in range(concurrency)))
    elapsed = time.monotonic() - started
    mixed = sum(len(values) - 1 for values in seen.values() if len(values) > 1)
    ordered = sorted(latencies)
    return {
        "requests": len(latencies) + len([e for e in errors if not e[:3].isdigit()]),
        "errors": len(errors),
        "error_samples": errors[:5],
        "mixed_responses": mixed,
        "versions_seen": sorted({version for _, version in seen}),
        "workers_seen": len(pids),
        "seconds": round(elapsed, 1),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None,
    }


def load_test(workdir: Path, seconds: float, concurrency: int, workers: int) -> dict[str, Any]:
    first, second = _two_versions(workdir)
    bodies = _bodies(200)
    process, url = _serve(workdir, workers)
    try:

        async def run() -> dict[str, Any]:
            async def swap_halfway() -> float:
                await asyncio.sleep(seconds / 2)
                from churnguard.adapters.filesystem_model_store import FilesystemModelStore

                FilesystemModelStore(workdir / "models").set_champion(second)
                async with httpx.AsyncClient(base_url=url) as admin:
                    reply = await admin.post("/admin/reload", headers={"X-API-Key": ADMIN_KEY})
                    reply.raise_for_status()
                return time.monotonic()

            _, result = await asyncio.gather(swap_halfway(), _drive(url, bodies, concurrency, seconds, None))
            return result

        result = asyncio.run(run())
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    result.update(
        concurrency=concurrency,
        workers=workers,
        endpoint="POST /predict (leave-one-out explanation)",
        hot_reload=f"{first[:12]} -> {second[:12]} at {seconds / 2:.0f} s",
        both_versions_served=result["versions_seen"] == sorted([first, second]),
    )
    return result


def memory_test(workdir: Path, requests: int, concurrency: int, workers: int) -> dict[str, Any]:
    _two_versions(workdir)
    bodies = _bodies(200)
    process, url = _serve(workdir, workers)
    worker_pids = [
        child.pid
        for child in psutil.Process(process.pid).children()
        if any("spawn_main" in part for part in child.cmdline())  # uvicorn's workers, not the resource tracker
    ]
    if len(worker_pids) != workers:
        os.killpg(process.pid, signal.SIGTERM)
        raise SystemExit(f"found {len(worker_pids)} worker processes, expected {workers}: nothing to measure")
    snapshots: dict[str, dict[int, int]] = {}
    early = max(1, requests // 10)

    async def on_progress(sent: int) -> None:
        if sent == early and "early" not in snapshots:
            snapshots["early"] = {pid: _rss_kib(pid) for pid in worker_pids}

    try:
        result = asyncio.run(_drive(url, bodies, concurrency, None, requests, on_progress))
        time.sleep(2.0)  # the prediction log's last flush
        snapshots["end"] = {pid: _rss_kib(pid) for pid in worker_pids}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    growth = {
        str(pid): round(100 * (snapshots["end"][pid] - snapshots["early"][pid]) / snapshots["early"][pid], 2)
        for pid in worker_pids
        if snapshots["early"].get(pid)
    }
    return {
        "requests": result["requests"],
        "errors": result["errors"],
        "rss_after_10_percent_mib": {str(p): round(v / 1024, 1) for p, v in snapshots["early"].items()},
        "rss_at_end_mib": {str(p): round(v / 1024, 1) for p, v in snapshots["end"].items()},
        "growth_percent": growth,
        "workers_measured": len(growth),
        "within_10_percent": len(growth) == workers and all(abs(value) <= 10 for value in growth.values()),
        "requests_per_second": result["requests_per_second"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="the RSS leak check instead of the load test")
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="churnguard-load-"))
    try:
        if args.memory:
            report = memory_test(workdir, args.requests, args.concurrency, args.workers)
            ok = report["errors"] == 0 and report["within_10_percent"]
        else:
            report = load_test(workdir, args.seconds, args.concurrency, args.workers)
            ok = report["errors"] == 0 and report["mixed_responses"] == 0 and report["both_versions_served"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
