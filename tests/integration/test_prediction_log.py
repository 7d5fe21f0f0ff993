"""The prediction log: every prediction kept, off the request path, intact after a kill -9."""

import os
import shutil
import signal
import sqlite3
import threading
import time

import httpx
import pandas as pd
import pytest

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.sqlite_prediction_log import SqlitePredictionLog, read_predictions
from churnguard.application.ports import PredictionRecord
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.integration.api_server import ApiServer
from tests.integration.load import Answer, load, lost_only_a_tail, wait_until


def _record(i: int, timestamp: float | None = None) -> PredictionRecord:
    inputs = tuple(float(i % 7) for _ in range(13))
    return PredictionRecord(timestamp or time.time(), f"req-{i}", "v1", inputs, 0.5, 1, ORIGINAL_SCHEMA.hash)


def test_records_from_many_threads_are_all_written(tmp_path):
    log = SqlitePredictionLog(tmp_path / "log.db", flush_interval=0.2)
    threads = [
        threading.Thread(target=lambda k=k: log.record([_record(k * 1000 + i) for i in range(1000)])) for k in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    frame = read_predictions(tmp_path / "log.db")
    assert len(frame) == 5000
    assert frame["request_id"].nunique() == 5000
    assert log.dropped_records == 0
    last = read_predictions(tmp_path / "log.db", last=3)
    assert last["request_id"].tolist() == frame["request_id"].tolist()[-3:]


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    # a flush interval longer than the test: nothing drains the queue before close()
    log = SqlitePredictionLog(tmp_path / "log.db", flush_interval=600, queue_size=100)
    log.record([_record(i) for i in range(1000)])
    assert log.dropped_records == 900  # a 100-slot queue takes the first 100 of a burst of 1,000
    assert log.queued_records == 100
    log.close()
    assert read_predictions(tmp_path / "log.db")["request_id"].tolist() == [f"req-{i}" for i in range(100)]


def test_old_rows_are_pruned_and_a_window_is_read_by_time(tmp_path):
    log = SqlitePredictionLog(tmp_path / "log.db", flush_interval=0.1, retention_days=0)
    now = time.time()
    log.record([_record(1, now - 10 * 86400), _record(2, now - 86400), _record(3, now)])
    log.close()
    log = SqlitePredictionLog(tmp_path / "log.db", retention_days=0)
    assert log.prune(now - 5 * 86400) == 1
    log.close()
    recent = read_predictions(tmp_path / "log.db", since=pd.Timestamp(now - 3600, unit="s", tz="UTC").to_pydatetime())
    assert recent["request_id"].tolist() == ["req-3"]


@pytest.fixture
def champion_workdir(trained_workdir, tmp_path):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    return tmp_path


def _hammer(url: str, count: int, threads: int, results: list, stop: threading.Event | None = None) -> None:
    def worker(n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(n):
                if stop is not None and stop.is_set():
                    return
                try:
                    response = client.post("/predict?explain=none", json=EXAMPLE_CUSTOMER)
                except httpx.HTTPError:
                    return
                results.append((time.monotonic(), response.status_code, response.headers.get("x-request-id")))

    pool = [threading.Thread(target=worker, args=(count // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def test_every_one_of_5000_predictions_under_load_is_logged(champion_workdir, run_cli):
    server = ApiServer(champion_workdir).start()
    results: list = []
    try:
        _hammer(server.url, 5000, 8, results)
    finally:
        server.stop()  # graceful: the log is flushed on shutdown
    assert len(results) == 5000
    assert {status for _, status, _ in results} == {200}
    frame = read_predictions(champion_workdir / "predictions.db")
    assert len(frame) == 5000
    assert set(frame["request_id"]) == {request_id for _, _, request_id in results}
    assert (frame["model_version"] == FilesystemModelStore(champion_workdir / "models").champion().fingerprint).all()  # type: ignore[union-attr]
    assert frame["age"].eq(EXAMPLE_CUSTOMER["age"]).all()

    out = champion_workdir / "export.csv"
    exported = run_cli("predictions", "export", "--out", str(out), "--workdir", str(champion_workdir))
    assert exported.code == 0, exported.err
    assert len(pd.read_csv(out)) == 5000


def test_a_kill_9_mid_load_leaves_an_intact_database_missing_only_the_last_answers(champion_workdir):
    """Four clients, each sending one request after another (flush 1 s), the server killed
    mid-load: the file is intact, and per client what is missing is only the tail of what was
    answered (the log is written in order, a flush at a time)."""
    server = ApiServer(champion_workdir, env={"PREDICTION_LOG_FLUSH_SECONDS": "1"}).start()
    results: list[Answer] = []
    stop = threading.Event()
    clients = [f"c{n}" for n in range(4)]
    loaders = [threading.Thread(target=load, args=(server.url, stop, results, tag)) for tag in clients]
    for loader in loaders:
        loader.start()
    try:
        wait_until(
            lambda: len(results) >= 2000, "2,000 answers", lambda: all(t.is_alive() for t in loaders)
        )  # well past the first flushes
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
    finally:
        stop.set()
        for loader in loaders:
            loader.join()
    server.process.wait(timeout=10)
    connection = sqlite3.connect(champion_workdir / "predictions.db")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    logged = {row[0] for row in connection.execute("SELECT request_id FROM predictions")}
    connection.close()
    answered = [r for r in results if r[1] == 200]
    assert logged <= {r[0] for r in answered}
    assert logged, "nothing was flushed in the seconds before the kill"
    lost_only_a_tail(logged, answered, clients)


def test_a_log_in_the_original_layout_is_moved_to_the_schema_tagged_one_with_every_row(tmp_path):
    path = tmp_path / "old.db"
    fields = ORIGINAL_SCHEMA.raw_fields
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE predictions (id INTEGER PRIMARY KEY, timestamp REAL NOT NULL, request_id TEXT NOT NULL,"
        f" model_version TEXT NOT NULL, {', '.join(f'{name} REAL NOT NULL' for name in fields)},"
        " probability REAL NOT NULL, prediction INTEGER NOT NULL)"
    )
    customer = [float(EXAMPLE_CUSTOMER[name]) for name in fields]
    connection.executemany(
        f"INSERT INTO predictions (timestamp, request_id, model_version, {', '.join(fields)}, probability, prediction)"
        f" VALUES ({', '.join('?' * (len(fields) + 5))})",
        [(time.time() - 100 + i, f"old-{i}", "v0", *customer, 0.25, 0) for i in range(5)],
    )
    connection.commit()
    connection.close()
    frame = read_predictions(path)
    assert frame["request_id"].tolist() == [f"old-{i}" for i in range(5)]
    assert frame[list(fields)].iloc[0].tolist() == customer
    log = SqlitePredictionLog(path, flush_interval=0.1)  # new rows go in beside the moved ones
    log.record([_record(7)])
    log.close()
    assert len(read_predictions(path)) == 6


def test_rows_of_another_schema_are_kept_apart_and_exported_with_labels(tmp_path):
    from churnguard.adapters.yaml_schema import load_schema
    from tests.conftest import SCHEMAS

    telco = load_schema(SCHEMAS / "telco.yaml")
    row = telco.check_record(
        {"gender": "Male", "SeniorCitizen": 0, "Partner": "No", "Dependents": "No", "tenure": 3, "PhoneService": "Yes",
         "MultipleLines": "No", "InternetService": "DSL", "OnlineSecurity": "No", "OnlineBackup": "No",
         "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "No", "StreamingMovies": "No",
         "Contract": "One year", "PaperlessBilling": "Yes", "PaymentMethod": "Mailed check", "MonthlyCharges": 20.5}
    )  # fmt: skip
    log = SqlitePredictionLog(tmp_path / "log.db", flush_interval=0.1)
    log.record([_record(1), PredictionRecord(time.time(), "t-1", "v9", tuple(row), 0.7, 1, telco.hash)])
    log.close()
    assert read_predictions(tmp_path / "log.db")["request_id"].tolist() == ["req-1"]
    labelled = read_predictions(tmp_path / "log.db", telco, labels=True)
    assert labelled["request_id"].tolist() == ["t-1"]
    assert labelled["Contract"].tolist() == ["One year"]
    assert labelled["TotalCharges"].isna().all()  # blank: imputed by the model, logged as missing


@pytest.mark.parametrize(("location", "engine"), [("postgresql://u@h/db", "postgresql"), ("/var/p.db", "sqlite")])
def test_each_log_engine_offers_every_function_the_registry_promises(location, engine):
    import inspect

    from churnguard.adapters.log_location import ENGINES, LogEngine, engine_name, log_engine

    assert engine_name(location) == engine
    module = log_engine(location)
    assert module.__name__ == ENGINES[engine]  # type: ignore[attr-defined]
    promised = {name: inspect.signature(member) for name, member in vars(LogEngine).items() if callable(member)}
    promised = {name: signature for name, signature in promised.items() if not name.startswith("_")}
    assert set(promised) == {"open_log", "history", "archive", "ledger", "read_log", "shown"}
    for name, signature in promised.items():
        offered = inspect.signature(getattr(module, name))
        assert len(offered.parameters) == len(signature.parameters) - 1, name  # the protocol's self
