"""Offline scoring benchmark: rows/s and peak RSS of `churnguard score` on 1,000,000 rows.

    python benchmarks/score.py [--rows 1000000] [--explain]

Generates the rows with our generator, makes sure a champion exists (the project's, or a
fresh pipeline run in a temp dir), then times `churnguard score` in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "churnguard.entrypoints.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--workdir", type=Path, default=ROOT)
    args = parser.parse_args()
    env = {**os.environ, "ENABLE_MLFLOW_TRACKING": "false"}
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
        out = Path(temp) / "scored.parquet"
        measured = (
            "import resource, sys; from churnguard.entrypoints.cli import main; code = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
        )
        command = [sys.executable, "-c", measured, "score", "--in", str(customers), "--out", str(out)]
        command += ["--workdir", str(workdir), *(["--explain"] if args.explain else [])]
        started = time.perf_counter()
        child = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - started
        print(child.stdout.strip())
        peak = int(child.stderr.strip().splitlines()[-1]) / 1024
    result = {
        "rows": args.rows,
        "explain": args.explain,
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(args.rows / wall),
        "peak_rss_mib": round(peak, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
