"""The prediction log on a real PostgreSQL (a throwaway cluster on loopback): the same answers as
the SQLite log, one table for every replica, the API, drift, export and outcomes reading it, and
the faults a platform engineer asks about (the database stopped under load, a worker killed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import psutil
import psycopg
from mlflow.tracking import MlflowClient

from churnguard.adapters.csv_dataset_source import FileTableWriter
from churnguard.adapters.postgres_prediction_log import (
    PostgresOutcomeLedger,
    PostgresPredictionArchive,
    PostgresPredictionHistory,
    PostgresPredictionLog,
    shown,
)
from churnguard.adapters.postgres_prediction_log import read_predictions as read_postgres
from churnguard.adapters.sqlite_prediction_log import (
    SqliteOutcomeLedger,
    SqlitePredictionArchive,
    SqlitePredictionHistory,
    SqlitePredictionLog,
)
from churnguard.adapters.sqlite_prediction_log import read_predictions as read_sqlite
from churnguard.adapters.yaml_schema import load_schema
from churnguard.application.ports import PredictionArchive, PredictionRecord
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.outcomes import Outcome
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.conftest import BUNDLED_DATA, SCHEMAS
from tests.integration.api_server import ApiServer
from tests.integration.conftest import run_cli_process
from tests.integration.load import Answer, load, lost_only_a_tail, wait_until
from tests.integration.mlflow_server import MlflowServer
from tests.integration.postgres_server import PASSWORD, PostgresServer

TELCO = load_schema(SCHEMAS / "telco.yaml")
NOW = 1_790_000_000.0


def _records() -> list[PredictionRecord]:
    """300 records of two schemas over three days, some with ids, some imputed (NaN) inputs."""
    rng = np.random.default_rng(7)
    telco_row = TELCO.check_record(
        {"gender": "Male", "SeniorCitizen": 0, "Partner": "No", "Dependents": "No", "tenure": 3, "PhoneService": "Yes",
         "MultipleLines": "No", "InternetService": "DSL", "OnlineSecurity": "No", "OnlineBackup": "No",
         "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "No", "StreamingMovies": "No",
         "Contract": "One year", "PaperlessBilling": "Yes", "PaymentMethod": "Mailed check", "MonthlyCharges": 20.5}
    )  # fmt: skip
    records = []
    for i in range(300):
        at = NOW - 3 * 86400 + i * 864.0
        probability = float(rng.uniform())
        if i % 3 == 0:
            records.append(
                PredictionRecord(at, f"t-{i}", "v9", tuple(telco_row), probability, int(probability > 0.4), TELCO.hash,
                                 f"c-{i}")
            )  # fmt: skip
        else:
            row = ORIGINAL_SCHEMA.check_record({**EXAMPLE_CUSTOMER, "tenure_months": i % 70, "age": 18 + i % 60})
            inputs = tuple(float(v) for v in row)
            inputs = (*inputs[:5], float("nan"), *inputs[6:]) if i % 5 == 0 else inputs  # an imputed charge
            records.append(
                PredictionRecord(at, f"o-{i}", "v1", inputs, probability, int(probability > 0.5), ORIGINAL_SCHEMA.hash,
                                 f"c-{i}" if i % 2 else None)
            )  # fmt: skip
    return records


def _both(tmp_path: Path, postgres_url: str) -> tuple[Path, str]:
    sqlite = SqlitePredictionLog(tmp_path / "log.db", flush_interval=0.05, retention_days=0)
    postgres = PostgresPredictionLog(postgres_url, flush_interval=0.05, retention_days=0)
    for log in (sqlite, postgres):
        log.record(_records())
        log.close()
        assert log.dropped_records == 0
    return tmp_path / "log.db", postgres_url


def test_postgres_and_sqlite_logs_answer_every_read_alike(tmp_path, postgres_url):
    path, url = _both(tmp_path, postgres_url)
    since = pd.Timestamp(NOW - 86400, unit="s", tz="UTC").to_pydatetime()
    for schema in (ORIGINAL_SCHEMA, TELCO):
        for options in ({}, {"labels": True}, {"since": since}, {"last": 17}, {"last": 17, "labels": True}):
            expected = read_sqlite(path, schema, **options)
            got = read_postgres(url, schema, **options)
            assert len(got) > 0
            pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        history = [
            engine.traffic(NOW - 2 * 86400, 3600.0, 20, schema.hash)
            for engine in (SqlitePredictionHistory(path), PostgresPredictionHistory(url))
        ]
        assert history[1] == history[0]
        window = read_sqlite(path, schema, since=pd.Timestamp(NOW - 2 * 86400, unit="s", tz="UTC").to_pydatetime())
        assert sum(b.predictions for b in history[0].buckets) == len(window) > 0

    ledgers = (SqliteOutcomeLedger(path), PostgresOutcomeLedger(url))
    outcomes = [Outcome(f"c-{i}", i % 4 == 0, NOW) for i in range(0, 300, 7)] + [Outcome("nobody", True, NOW)]
    joined = [ledger.record(outcomes, TELCO.hash, 0.4) for ledger in ledgers]
    assert joined[1] == joined[0]
    assert len(joined[0].matched) > 0
    assert joined[0].unknown[-1] == "nobody"
    recorded = {m.customer_id for m in joined[0].matched}
    again = [ledger.record(outcomes[:6], TELCO.hash, 0.4) for ledger in ledgers]
    assert again[1] == again[0]
    assert list(again[0].already_recorded) == [o.customer_id for o in outcomes[:6] if o.customer_id in recorded]
    assert ledgers[1].matched(TELCO.hash, 0.4) == ledgers[0].matched(TELCO.hash, 0.4)

    writer = FileTableWriter()
    archives: tuple[PredictionArchive, ...] = (
        SqlitePredictionArchive(path, writer),
        PostgresPredictionArchive(url, writer),
    )
    exported = [archive.export(TELCO, None, str(tmp_path / f"{i}.csv")) for i, archive in enumerate(archives)]
    assert exported == [100, 100]
    assert (tmp_path / "0.csv").read_text() == (tmp_path / "1.csv").read_text()
    cut = pd.Timestamp(NOW - 2 * 86400, unit="s", tz="UTC").to_pydatetime()
    assert [archive.prune(cut) for archive in archives] == [100, 100]
    assert len(read_postgres(url, ORIGINAL_SCHEMA)) == len(read_sqlite(path, ORIGINAL_SCHEMA))


def test_replicas_starting_together_share_one_table(postgres_url):
    """Four logs opened at once race to create the layout (an advisory lock orders them)."""
    logs: list[PostgresPredictionLog] = []
    lock = threading.Lock()

    def replica(k: int) -> None:
        log = PostgresPredictionLog(postgres_url, flush_interval=0.05)
        with lock:
            logs.append(log)
        log.record([PredictionRecord(NOW + i, f"r{k}-{i}", "v1", (1.0,) * 13, 0.5, 1, ORIGINAL_SCHEMA.hash)
                    for i in range(500)])  # fmt: skip

    threads = [threading.Thread(target=replica, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for log in logs:
        log.close()
    frame = read_postgres(postgres_url)
    assert len(frame) == 2000
    assert frame["request_id"].nunique() == 2000
    assert sum(log.dropped_records for log in logs) == 0


def test_an_unreachable_log_database_is_a_readable_error_not_a_crash(postgres, tmp_path):
    url = postgres.url("no_such_database")
    result = run_cli_process("drift", "--log", url, "--last", "10", "--workdir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "prediction log's database is unreachable" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr  # the password is never printed


def _count(url: str) -> int:
    connection = psycopg.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM predictions")
            return int(cursor.fetchall()[0][0])
    finally:
        connection.close()


def _wait_for_rows(url: str, expected: int, deadline_seconds: float = 60.0) -> int:
    deadline = time.monotonic() + deadline_seconds
    count = _count(url)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        count = _count(url)
    return count


def test_two_workers_log_to_one_table_read_by_drift_export_and_the_ui(trained_workdir, postgres_url, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(trained_workdir / "models", workdir / "models")
    env = {"PREDICTION_LOG_URL": postgres_url, "PREDICTION_LOG_FLUSH_SECONDS": "0.2", "MODEL_POLL_SECONDS": "0"}
    server = ApiServer(workdir, workers=2, env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(120):
                body = {**EXAMPLE_CUSTOMER, "tenure_months": 1 + i % 60}
                response = client.post("/predict", json=body, headers={"X-Request-ID": f"pg-{i}"})
                assert response.status_code == 200, response.text
            assert client.post("/predict/batch", json={"customers": [EXAMPLE_CUSTOMER] * 30}).status_code == 200
            assert _wait_for_rows(postgres_url, 150) == 150
            traffic = client.get("/monitoring/traffic").json()
            assert sum(bucket["predictions"] for bucket in traffic["buckets"]) == 150
    finally:
        server.stop()
    logged = read_postgres(postgres_url)
    assert {f"pg-{i}" for i in range(120)} <= set(logged["request_id"])
    assert sorted(logged["tenure_months"].head(120).astype(int)) == sorted(1 + i % 60 for i in range(120))

    drift = run_cli_process("drift", "--last", "150", "--workdir", str(workdir), env=env)
    assert drift.returncode in (0, 1), drift.stdout + drift.stderr
    report = json.loads((workdir / "reports" / "drift_report.json").read_text())
    assert report["current_rows"] == 150
    assert report["current_source"] == f"prediction log {shown(postgres_url)}, last 150"
    assert PASSWORD not in drift.stdout + drift.stderr

    out = tmp_path / "export.csv"
    exported = run_cli_process("predictions", "export", "--out", str(out), "--workdir", str(workdir), env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(pd.read_csv(out)) == 150
    assert PASSWORD not in exported.stdout


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def _copy(trained_workdir: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained_workdir / "models", tmp_path / "work" / "models")
    return tmp_path / "work"


def test_postgres_stopped_for_10_s_under_load_costs_serving_nothing_and_the_log_catches_up(
    trained_workdir, postgres: PostgresServer, postgres_url, tmp_path
):
    env = {"PREDICTION_LOG_URL": postgres_url, "PREDICTION_LOG_FLUSH_SECONDS": "0.2", "MODEL_POLL_SECONDS": "0"}
    server = ApiServer(_copy(trained_workdir, tmp_path), workers=1, env=env).start()
    results: list[Answer] = []
    stop = threading.Event()
    loader = threading.Thread(target=load, args=(server.url, stop, results, "outage"))
    try:
        loader.start()
        wait_until(lambda: len(results) >= 300, "300 answers", loader.is_alive)
        before = len(results)
        postgres.stop()
        stopped_at = time.time()
        time.sleep(10.0)  # the scenario: ten seconds without the database (no outcome depends on it)
        during = [r for r in results if r[2] >= stopped_at]
        postgres.start()
        resumed = len(results)
        wait_until(lambda: len(results) >= resumed + 300, "300 answers after the restart", loader.is_alive)
        stop.set()
        loader.join()
        served = [r for r in results if r[1] == 200]
        assert len(served) == len(results)  # every request answered, during the outage too
        assert len(during) > 100
        logged = _wait_for_rows(postgres_url, len(served))
        metrics = httpx.get(server.url + "/metrics").text
    finally:
        stop.set()
        server.stop()
    assert logged == len(served)  # the queue held the outage's records and wrote them after
    assert _metric(metrics, "churnguard_prediction_log_dropped_total") == 0
    assert set(read_postgres(postgres_url)["request_id"]) == {r[0] for r in served}
    latency = {
        "before": np.percentile([r[3] for r in results[:before]], 99) * 1000,
        "outage": np.percentile([r[3] for r in during], 99) * 1000,
    }
    print(
        f"PostgreSQL stopped 10 s under load: {len(results)} requests, all 200, {len(during)} during the outage;"
        f" p99 {latency['before']:.1f} ms before, {latency['outage']:.1f} ms during; 0 dropped, all {logged} logged"
    )


def _workers(server: ApiServer) -> list[int]:
    assert server.process is not None
    children = psutil.Process(server.process.pid).children()
    return [child.pid for child in children if any("spawn_main" in part for part in child.cmdline())]


def test_kill_9_of_a_worker_loses_only_what_it_had_not_flushed_yet(trained_workdir, postgres_url, tmp_path):
    """Four clients, each sending one request after another, on a 2-worker API (flush 1 s);
    one worker killed mid-load. The survivors lose nothing, and what the killed worker lost is
    the tail of what it answered: per client, no prediction is lost before one that was logged
    (the queue is written in order, a flush at a time). The figure: how much, how long before."""
    flush = 1.0
    env = {"PREDICTION_LOG_URL": postgres_url, "PREDICTION_LOG_FLUSH_SECONDS": str(flush), "MODEL_POLL_SECONDS": "0"}
    server = ApiServer(_copy(trained_workdir, tmp_path), workers=2, env=env).start()
    results: list[Answer] = []
    stop = threading.Event()
    loaders = [threading.Thread(target=load, args=(server.url, stop, results, f"k{n}")) for n in range(4)]
    try:
        for loader in loaders:
            loader.start()
        alive = lambda: all(loader.is_alive() for loader in loaders)  # noqa: E731
        wait_until(lambda: len(results) >= 2000, "2,000 answers", alive)
        victim = str(_workers(server)[0])
        os.kill(int(victim), signal.SIGKILL)
        killed_at = time.time()
        count = len(results)
        # the other worker (and the restarted one) keep serving
        wait_until(lambda: len(results) >= count + 1000, "1,000 answers after the kill", alive)
        stop.set()
        for loader in loaders:
            loader.join()
    finally:
        stop.set()
        server.stop()  # the survivors flush their queues on the way out
    served = [r for r in results if r[1] == 200]
    logged = set(read_postgres(postgres_url)["request_id"])
    assert logged <= {r[0] for r in served}
    survivors = [r for r in served if r[4] != victim]
    assert all(r[0] in logged for r in survivors), "a surviving worker lost a prediction"
    killed = [r for r in served if r[4] == victim]
    assert any(r[0] in logged for r in killed)  # it had flushed before it died
    lost_only_a_tail(logged, killed, [f"k{n}" for n in range(4)])
    lost = sorted(r[2] for r in killed if r[0] not in logged)
    oldest = killed_at - lost[0] if lost else 0.0
    print(
        f"kill -9 of 1 of 2 workers (flush {flush:g} s): {len(lost)} of {len(served)} answered predictions lost,"
        f" all the killed worker's last ones, the oldest answered {oldest:.2f} s before the kill"
    )


def test_mlflow_on_postgres_tracks_registers_promotes_and_its_champion_is_served(postgres_url, tmp_path):
    """`mlflow server --backend-store-uri postgresql://...` with the artifacts served by the
    server: train, register, promote via the alias, serve the champion with MODEL_STORE=mlflow."""
    server = MlflowServer(tmp_path / "mlflow", backend_store_uri=postgres_url).start(timeout=180)
    workdir = tmp_path / "work"
    env = {"MLFLOW_TRACKING_URI": server.uri, "ENABLE_MLFLOW_TRACKING": "true", "MODEL_STORE": "mlflow"}
    try:
        trained = run_cli_process(
            "pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(workdir), env=env
        )
        assert trained.returncode == 0, trained.stderr[-3000:]
        client = MlflowClient(server.uri)
        champion = client.get_model_version_by_alias("churn-model", "champion")
        assert champion.run_id is not None
        run = client.get_run(champion.run_id)
        assert run.data.metrics["eval_f1"] >= 0.72
        assert run.data.params["fingerprint"] == champion.tags["fingerprint"]
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
        assert {"schema", "training"} <= {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
        source = client.get_model_version_download_uri("churn-model", champion.version)
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=server.uri))
        assert (local / "MLmodel").exists()  # the registered model's files, downloaded through the server

        connection = psycopg.connect(postgres_url)  # the registry really lives in PostgreSQL
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT name, alias, version FROM registered_model_aliases")
                assert cursor.fetchall() == [("churn-model", "champion", int(champion.version))]
                cursor.execute("SELECT COUNT(*) FROM runs")
                assert cursor.fetchall()[0][0] >= 1
        finally:
            connection.close()

        api = ApiServer(workdir, env={**env, "MODEL_POLL_SECONDS": "0"}).start(timeout=180)
        try:
            answer = httpx.post(api.url + "/predict", json=EXAMPLE_CUSTOMER, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_version"] == champion.tags["fingerprint"]
        finally:
            api.stop()
    finally:
        server.stop()


def test_a_log_whose_database_is_down_keeps_a_full_queue_and_counts_the_rest(postgres):
    """Nothing listens on the port: the log still starts (the API serves without it), keeps
    `queue_size` records, drops and counts the overflow, and counts what is left at shutdown."""
    from tests.integration.ports import free_port

    log = PostgresPredictionLog(
        f"postgresql://churnguard@127.0.0.1:{free_port()}/nowhere", flush_interval=0.05, queue_size=100
    )
    log.record([PredictionRecord(NOW, f"x-{i}", "v1", (1.0,) * 13, 0.5, 1, ORIGINAL_SCHEMA.hash) for i in range(150)])
    assert log.dropped_records == 50
    assert log.queued_records == 100
    log.close()
    assert log.dropped_records == 150


def test_the_writer_prunes_rows_older_than_the_retention(postgres_url):
    # a flush interval longer than the test: the writer's first round is close()'s, after the records
    log = PostgresPredictionLog(postgres_url, flush_interval=600, retention_days=1)
    now = time.time()
    log.record([
        PredictionRecord(at, request, "v1", (1.0,) * 13, 0.5, 1, ORIGINAL_SCHEMA.hash)
        for at, request in ((now - 3 * 86400, "old"), (now - 2 * 3600, "recent"), (now, "new"))
    ])  # fmt: skip
    log.close()  # the writer's first round writes, then prunes (and then once an hour)
    assert read_postgres(postgres_url)["request_id"].tolist() == ["recent", "new"]
