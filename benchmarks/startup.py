"""Start-up benchmark: what every command, worker and CronJob pays before doing any work.

    python benchmarks/startup.py [--runs 5] [--workers 2] [--workdir DIR]

Times `churnguard --version` and `churnguard --help` (wall and CPU seconds of the process,
median of --runs), then `churnguard serve --workers N` from spawn until `/ready` answers 200
and every worker has logged its start-up (median of 3). Serving needs a champion: the one in
--workdir, or a fast-grid pipeline run into a temp dir first. Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "churnguard.entrypoints.cli"]
ENV = {**os.environ, "ENABLE_MLFLOW_TRACKING": "false"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str], runs: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        cpu_before, start = _children_cpu(), time.perf_counter()
        subprocess.run([*CLI, *args], env=ENV, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu_before)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def time_serve(workdir: Path, workers: int) -> float:
    port = _free_port()
    log = workdir / f"startup-bench-{port}.log"
    start = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", str(workers), "--workdir", str(workdir)],
            env=ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(log.read_text()[-3000:])
            started = log.read_text(errors="replace").count("Application startup complete")
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and started >= workers:
                return time.perf_counter() - start
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    temp: Path | None = None
    workdir = args.workdir
    if workdir is None or not (workdir / "models" / "champion.json").exists():
        temp = workdir = Path(tempfile.mkdtemp(prefix="churnguard-startup-bench-"))
        subprocess.run(
            [*CLI, "pipeline", "--grid", "fast", "--data", str(ROOT / "data" / "raw" / "churn.csv"),
             "--workdir", str(workdir)],
            env=ENV, check=True, capture_output=True,
        )  # fmt: skip
    try:
        figures: dict[str, Any] = {
            "version": time_command(["--version"], args.runs),
            "help": time_command(["--help"], args.runs),
            f"serve_ready_{args.workers}_workers_s": statistics.median(
                time_serve(workdir, args.workers) for _ in range(3)
            ),
        }
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    for name in ("version", "help"):
        print(f"churnguard --{name:<8} wall {figures[name]['wall_s']:.2f} s  cpu {figures[name]['cpu_s']:.2f} s")
    print(f"serve -> /ready ({args.workers} workers)  {figures[f'serve_ready_{args.workers}_workers_s']:.2f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
