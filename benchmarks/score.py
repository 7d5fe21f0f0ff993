"""Offline scoring benchmark: wall time, rows/s and peak memory of `churnguard score`, on the
single-process engine and on Spark (local[2] on this 2-core machine), on the same rows.

    python benchmarks/score.py [--rows 1000000] [--engine local|spark|both] [--explain]

Generates the rows (CSV) with our generator, makes sure a champion exists (the project's, or a
fresh pipeline run in a temp dir), then times `churnguard score` in its own process. Peak
memory is the largest summed RSS of the command's whole process tree (Spark's JVM and Python
workers included), sampled every 100 ms. Exits non-zero if a run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "churnguard.entrypoints.cli"]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that exited between listing and reading
            total += member.memory_info().rss
    return total


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak tree RSS in MiB, stdout) of one command."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(child.pid)
        while not done.wait(0.1):
            peak = max(peak, _tree_rss(watched))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}:\n{stderr[-3000:]}")
    return wall, peak / 2**20, stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["local", "spark", "both"], default="local")
    parser.add_argument("--explain", action="store_true", help="single-process engine only")
    parser.add_argument("--workdir", type=Path, default=ROOT)
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()
    env = {**os.environ, "ENABLE_MLFLOW_TRACKING": "false", "SPARK_MASTER": args.spark_master}
    engines = ["local", "spark"] if args.engine == "both" else [args.engine]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="churnguard-score-bench-") as temp:
        workdir = args.workdir
        if not (workdir / "models" / "champion.json").exists():
            workdir = Path(temp)
            subprocess.run(
                [*CLI, "pipeline", "--workdir", str(workdir)], cwd=ROOT, env=env, check=True, capture_output=True
            )
        customers = Path(temp) / "customers.csv"
        subprocess.run([*CLI, "generate-data", "--rows", str(args.rows), "--seed", "11", "--out", str(customers)],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        for engine in engines:
            out = Path(temp) / f"scored-{engine}.parquet"
            command = [*CLI, "score", "--engine", engine, "--in", str(customers), "--out", str(out)]
            command += ["--workdir", str(workdir), *(["--explain"] if args.explain and engine == "local" else [])]
            wall, peak, printed = timed(command, env)
            print(printed, file=sys.stderr)
            if f"scored {args.rows} customers" not in printed:
                raise SystemExit(f"{engine}: expected {args.rows} scored rows, got: {printed}")
            results.append({
                "engine": engine if engine == "local" else f"spark {args.spark_master}",
                "rows": args.rows,
                "explain": args.explain and engine == "local",
                "wall_seconds": round(wall, 2),
                "rows_per_second": round(args.rows / wall),
                "peak_rss_mib": round(peak, 1),
            })  # fmt: skip
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
