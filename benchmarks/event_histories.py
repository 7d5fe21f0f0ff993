"""Generated subscription histories: what window features add, and how fast the builder is.

    python benchmarks/event_histories.py                  # both parts, the issue's sizes
    python benchmarks/event_histories.py --part quality
    python benchmarks/event_histories.py --part speed --customers 100000

quality: `churnguard generate-data --events` (20,000 customers), built by `events build` with
  schemas/subscriptions.yaml (12 window features and 3 static attributes, 13 four-weekly cutoffs);
  two champions trained by the real pipeline on the same out-of-time split (test: the last
  cutoff), one on the static attributes alone, one on windows and attributes. ROC-AUC of each
  with a bootstrap 95 % interval, and of their difference.
speed: 100,000 customers (about 10,000,000 events, Parquet), then in a fresh process each:
  `events build` (13 cutoffs, 12 window features) on DuckDB, then on Spark (local[*]), and
  `score --as-of` the last cutoff with a champion trained on the quality part's table; wall time
  and peak memory (the process's maximum resident set) of each.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "subscriptions.yaml"
sys.path.insert(0, str(ROOT))

from benchmarks.events import interval  # noqa: E402


def cli(*argv: str) -> tuple[float, float]:
    """Run `churnguard ARGV` in a fresh process: (seconds, its peak resident memory in GB)."""
    started = time.perf_counter()
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "churnguard.entrypoints.cli", "--log-level", "WARNING", *argv]
    )
    _, status, usage = os.wait4(process.pid, 0)  # this child's own usage, not the largest child's so far
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"churnguard {' '.join(argv)} exited {process.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024**2


def quality(folder: Path, customers: int, grid: str) -> Path:
    from churnguard import ChurnGuard
    from churnguard.adapters.yaml_event_schema import YamlEventSchemaReader, YamlTableSchemaWriter

    events = folder / "events.parquet"
    cli("generate-data", "--events", "--rows", str(customers), "--out", str(events))
    table_path = folder / "observations.csv"
    cli("events", "build", "--schema", str(SCHEMA), "--events", str(events), "--customers",
        str(folder / "events.customers.parquet"), "--out", str(table_path))  # fmt: skip
    table = pd.read_csv(table_path, dtype={"customer_id": str})
    schema = YamlEventSchemaReader().load(str(SCHEMA))
    full = schema.observation_schema()
    static = dataclasses.replace(full, name="subscriptions-static", fields=schema.attributes)
    static_path = folder / "static.schema.yaml"
    YamlTableSchemaWriter().write(static, str(static_path), "the static attributes alone")
    test_cutoff = table["cutoff"].max()
    test = table[table["cutoff"] == test_cutoff].reset_index(drop=True)
    label = test["churn"].to_numpy()
    scores = {}
    for name, path in (
        ("static attributes alone", static_path),
        ("window features + attributes", table_path.with_suffix(".schema.yaml")),
    ):
        started = time.perf_counter()
        guard = ChurnGuard.in_memory(schema_path=str(path), grid=grid)
        columns = [c for c in table.columns if c not in full.raw_fields or c in guard.schema.raw_fields]
        outcome = guard.fit(table[columns])
        scored = guard.score(test[columns].drop(columns="churn")).table
        scores[name] = scored["churn_probability"].to_numpy()
        print(
            f"  trained {name} ({outcome.training.trained.family}, {grid} grid)"
            f" in {time.perf_counter() - started:.1f} s"
        )
    print(
        f"quality: {customers:,} customers, {len(table):,} rows; test cutoff {test_cutoff}: {len(test):,} customers, "
        f"churn rate {label.mean():.1%}"
    )
    for name, score in scores.items():
        ((low, high),) = interval(label, score)
        print(f"  {name:32s} ROC-AUC {roc_auc_score(label, score):.4f} (95% {low:.4f} to {high:.4f})")
    windows, static_score = scores["window features + attributes"], scores["static attributes alone"]
    _, _, (low, high) = interval(label, windows, static_score)
    gain = roc_auc_score(label, windows) - roc_auc_score(label, static_score)
    print(f"  {'windows - static alone':32s} {gain:+.4f} (95% {low:+.4f} to {high:+.4f})")
    return table_path


def speed(folder: Path, customers: int, table: Path | None, grid: str, spark: bool) -> None:
    events = folder / "big.parquet"
    started = time.perf_counter()
    cli("generate-data", "--events", "--rows", str(customers), "--out", str(events))
    generated = time.perf_counter() - started
    count = len(pd.read_parquet(events, columns=["type"]))
    print(f"speed: generated {count:,} events of {customers:,} customers in {generated:.1f} s")
    customers_file, observations = str(folder / "big.customers.parquet"), str(folder / "big-observations.parquet")
    build = ["--schema", str(SCHEMA), "--events", str(events), "--customers", customers_file]
    seconds, peak = cli("events", "build", *build, "--out", observations)
    rows = len(pd.read_parquet(observations, columns=["cutoff"]))
    print(f"  events build: {rows:,} rows (13 cutoffs, 12 window features) in {seconds:.1f} s, peak {peak:.2f} GB")
    if spark:
        spark_out = str(folder / "spark-observations.parquet")
        seconds, peak = cli("events", "build", *build, "--engine", "spark", "--out", spark_out)
        same = pd.read_parquet(spark_out).sort_values(["cutoff", "customer_id"]).reset_index(drop=True)
        mine = pd.read_parquet(observations).sort_values(["cutoff", "customer_id"]).reset_index(drop=True)
        numbers = mine.select_dtypes("number").columns
        gap = float((same[numbers] - mine[numbers]).abs().max().max())
        print(f"  events build --engine spark (local[*]): {len(same):,} rows in {seconds:.1f} s, peak {peak:.2f} GB"
              f" (the Python process; the JVM not counted); largest difference from DuckDB's {gap:.1e}")  # fmt: skip
    if table is not None:
        workdir = folder / "work"
        cli("pipeline", "--schema", str(table.with_suffix(".schema.yaml")), "--data", str(table), "--grid", grid,
            "--workdir", str(workdir))  # fmt: skip
        scoring = ["--events", str(events), "--events-schema", str(SCHEMA), "--customers", customers_file]
        out = ["--out", str(folder / "scored.parquet"), "--workdir", str(workdir)]
        seconds, peak = cli("score", "--as-of", "2025-06-02", *scoring, *out)
        scored = len(pd.read_parquet(folder / "scored.parquet", columns=["customer_id"]))
        print(f"  score --as-of 2025-06-02: {scored:,} customers in {seconds:.1f} s, peak {peak:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["quality", "speed", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000, help="speed: customers (about 100 events each)")
    parser.add_argument("--quality-customers", type=int, default=20_000)
    parser.add_argument("--grid", choices=["full", "fast"], default="fast")
    parser.add_argument("--no-spark", action="store_true", help="speed: leave the Spark builder out")
    args = parser.parse_args()
    np.seterr(all="ignore")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        table = quality(folder, args.quality_customers, args.grid) if args.part != "speed" else None
        if args.part != "quality":
            speed(folder, args.customers, table, args.grid, not args.no_spark)


if __name__ == "__main__":
    main()
