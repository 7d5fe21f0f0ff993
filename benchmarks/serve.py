"""Serving benchmark: throughput and latency of the API under wrk, and the model's own floor.

    python benchmarks/serve.py [--seconds 20] [--workers 1] [--workdir DIR]
    python benchmarks/serve.py --table telco     # a Telco champion (trained first, ../shared/data)

Uses the champion in --workdir (default: the project root, where `make pipeline` leaves it;
if there is none, the pipeline is run into a temp dir first; with --table telco, the Telco
pipeline). Starts `churnguard serve` on a free loopback port, then drives it with wrk (Debian
package `wrk`) at concurrency 1 and 8: POST /predict with the original example body (for
another schema: its "most typical" customer from /schema), leave-one-out explanation, the same
with ?explain=none, and GET /health (the framework's ceiling). Also times one in-process
predict_proba of the explained rows, the model's floor. Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
EXAMPLE = {
    "gender": 0, "age": 47, "partner": 0, "dependents": 0, "tenure_months": 1, "monthly_charges": 98.53,
    "contract_type": 0, "payment_method": 2, "paperless_billing": 1, "internet_service": 2,
    "online_security": 0, "tech_support": 1, "num_tickets": 1,
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


TELCO = ("--schema", str(ROOT / "schemas" / "telco.yaml"), "--data", str(ROOT.parent / "shared" / "data" / "telco.csv"))


def _ensure_champion(workdir: Path | None, table: str) -> Path:
    if workdir is None and table == "original":
        workdir = ROOT
    if workdir is not None and (workdir / "models" / "champion.json").exists():
        return workdir
    temp = Path(tempfile.mkdtemp(prefix="churnguard-serve-bench-"))
    subprocess.run(
        [sys.executable, "-m", "churnguard.entrypoints.cli", "pipeline", "--workdir", str(temp),
         *(TELCO if table == "telco" else ())],
        cwd=ROOT,
        env={**os.environ, "ENABLE_MLFLOW_TRACKING": "false", "MIN_F1": "0.6" if table == "telco" else "0.72"},
        check=True,
        capture_output=True,
    )  # fmt: skip
    return temp


def _seconds(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(url: str, connections: int, seconds: int, body: dict[str, Any] | None) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            payload = json.dumps(body).replace('"', '\\"')
            script.write(
                f'wrk.method = "POST"\nwrk.body = "{payload}"\nwrk.headers["Content-Type"] = "application/json"\n'
            )
    threads = min(connections, 2)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _seconds(latency["50"]) * 1000,
        "p99_ms": _seconds(latency["99"]) * 1000,
        "requests": requests,
        "errors": errors,
    }


def model_floor(workdir: Path, body: dict[str, Any]) -> dict[str, float]:
    from churnguard.adapters.filesystem_model_store import FilesystemModelStore
    from churnguard.adapters.serving_model import compile_for_serving
    from churnguard.domain.attribution import substituted_rows
    from churnguard.domain.schema import Imputation

    store = FilesystemModelStore(workdir / "models")
    version = store.champion()
    assert version is not None
    schema = version.schema
    model = store.load(version.fingerprint)
    raw = Imputation(version.imputation).apply(schema, schema.check_record(body)[None, :])[0]
    rows = substituted_rows(schema, raw.tolist(), version.reference)
    result = {"rows": float(len(rows))}
    for name, scorer in (("sklearn", model), ("serving", compile_for_serving(model))):
        timings = []
        for _ in range(2000):
            started = time.perf_counter()
            scorer.predict_proba(rows)
            timings.append(time.perf_counter() - started)
        result[f"{name}_median_ms"] = statistics.median(timings) * 1000
        result[f"{name}_p99_ms"] = sorted(timings)[int(0.99 * len(timings))] * 1000
    return result


def start_server(workdir: Path, workers: int, prediction_log: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "churnguard.entrypoints.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--workdir",
            str(workdir),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "ENABLE_MLFLOW_TRACING": "false",
            "PREDICTION_LOG_ENABLED": "true" if prediction_log else "false",
            "PREDICTION_LOG_PATH": str(Path(tempfile.mkdtemp(prefix="churnguard-bench-log-")) / "predictions.db"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            if httpx.get(base + "/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError("the API did not become ready")
    return server, base


def request_body(base: str) -> dict[str, Any]:
    """The original's example for the original schema, else the data's most typical customer."""
    served = httpx.get(base + "/schema").json()
    if served["name"] == "original":
        return EXAMPLE
    return dict(next(p["customer"] for p in served["presets"] if p["name"] == "most typical"))


def warm_up(base: str, body: dict[str, Any]) -> None:
    """200 explained predictions before measuring; any that fails ends the benchmark."""
    for _ in range(200):
        response = httpx.post(base + "/predict", json=body)
        if response.status_code != 200:
            raise SystemExit(f"warm-up /predict answered {response.status_code}: {response.text[:500]}")


def compare_prediction_log(workdir: Path, seconds: int, repeats: int) -> int:
    """Alternate log-on and log-off servers; explained /predict at c=8; median p99 of each."""
    runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for _ in range(repeats):
        for setting in ("on", "off"):
            server, base = start_server(workdir, 1, setting == "on")
            body = request_body(base)
            warm_up(base, body)
            try:
                runs[setting].append(run_wrk(base + "/predict", 8, seconds, body))
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            print(setting, json.dumps(runs[setting][-1]), flush=True)
    summary: dict[str, Any] = {
        setting: {
            "p99_ms_runs": [round(r["p99_ms"], 2) for r in rows],
            "median_p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "median_requests_per_second": statistics.median(r["requests_per_second"] for r in rows),
        }
        for setting, rows in runs.items()
    }
    summary["p99_ratio_on_over_off"] = summary["on"]["median_p99_ms"] / summary["off"]["median_p99_ms"]
    print(json.dumps(summary, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="a workdir with a champion (default: the project root)")
    parser.add_argument("--table", choices=["original", "telco"], default="original", help="train this table if needed")
    parser.add_argument("--prediction-log", choices=["on", "off"], default="on", help="PREDICTION_LOG_ENABLED")
    parser.add_argument("--compare-log", type=int, metavar="REPEATS", help="alternate log on/off REPEATS times")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    workdir = _ensure_champion(args.workdir, args.table)
    if args.compare_log:
        return compare_prediction_log(workdir, args.seconds, args.compare_log)
    server, base = start_server(workdir, args.workers, args.prediction_log == "on")
    body = request_body(base)
    warm_up(base, body)
    try:
        results: dict[str, Any] = {
            "schema": httpx.get(base + "/schema").json()["name"],
            "workers": args.workers,
            "seconds": args.seconds,
            "prediction_log": args.prediction_log,
            "scenarios": {},
        }
        for name, path, sent in (
            ("predict (leave-one-out)", "/predict", body),
            ("predict ?explain=none", "/predict?explain=none", body),
            ("GET /health (ceiling)", "/health", None),
        ):
            for connections in (1, 8):
                key = f"{name} c={connections}"
                results["scenarios"][key] = run_wrk(base + path, connections, args.seconds, sent)
                print(key, json.dumps(results["scenarios"][key]), flush=True)
        results["model_floor"] = model_floor(workdir, body)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    scenarios = results["scenarios"]
    ceiling = scenarios["GET /health (ceiling) c=8"]["requests_per_second"]
    explained = scenarios["predict (leave-one-out) c=8"]
    results["explained_c8_share_of_health_ceiling"] = explained["requests_per_second"] / ceiling
    print(json.dumps(results, indent=2))
    print(f"\n{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for key, row in scenarios.items():
        rate, p50, p99 = row["requests_per_second"], row["p50_ms"], row["p99_ms"]
        print(f"{key:<34} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f} {row['errors']:>7}")
    floor = results["model_floor"]
    print(
        f"model floor, one {floor['rows']:.0f}-row predict_proba in process: "
        f"scikit-learn pipeline median {floor['sklearn_median_ms']:.3f} ms (p99 {floor['sklearn_p99_ms']:.3f}), "
        f"served twin median {floor['serving_median_ms']:.3f} ms (p99 {floor['serving_p99_ms']:.3f})"
    )
    print(f"explained /predict at c=8: {results['explained_c8_share_of_health_ceiling']:.0%} of the /health ceiling")
    failed = {key: row["errors"] for key, row in scenarios.items() if row["errors"]}
    if failed:
        print(f"FAILED: requests that did not succeed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
