"""The prediction log in SQLite (WAL), written by a background thread so requests never wait.

`record` puts records on a bounded queue; the writer thread inserts them in one transaction
per batch, at least every `flush_interval` seconds. A full queue drops records and counts
them. `close` flushes what is queued. After a kill -9 at most the last unflushed interval is
lost; WAL keeps the database itself consistent. The writer also prunes rows older than the
retention period, once an hour.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from churnguard.application.ports import PredictionRecord
from churnguard.domain.customer import RAW_FIELDS

logger = logging.getLogger(__name__)

COLUMNS = ("timestamp", "request_id", "model_version", *RAW_FIELDS, "probability", "prediction")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    request_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    {", ".join(f"{name} REAL NOT NULL" for name in RAW_FIELDS)},
    probability REAL NOT NULL,
    prediction INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_timestamp ON predictions (timestamp);
"""
INSERT = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
PRUNE_EVERY_SECONDS = 3600.0
WARNING_INTERVAL_SECONDS = 60.0


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    return connection


class SqlitePredictionLog:
    def __init__(
        self,
        path: Path,
        flush_interval: float = 1.0,
        queue_size: int = 100_000,
        retention_days: float = 90.0,
    ) -> None:
        self.path = Path(path)
        self._flush_interval = flush_interval
        self._retention_seconds = retention_days * 86400.0
        self._queue: queue.Queue[PredictionRecord | None] = queue.Queue(maxsize=queue_size)
        self._dropped = 0
        self._written = 0
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._lock = threading.Lock()
        self._connection = connect(self.path)
        self._worker = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._worker.start()

    @property
    def dropped_records(self) -> int:
        return self._dropped

    @property
    def written_records(self) -> int:
        return self._written

    def record(self, records: Sequence[PredictionRecord]) -> None:
        for item in records:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                with self._lock:
                    self._dropped += 1
                    now = time.monotonic()
                    if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
                        self._last_warning = now
                        logger.warning("prediction log queue full: dropping records", extra={"dropped": self._dropped})

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._worker.join(timeout)
        self._connection.close()

    def _run(self) -> None:
        pending: list[PredictionRecord] = []
        deadline = time.monotonic() + self._flush_interval
        next_prune = time.monotonic()
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                if item is None:
                    stop = True
                else:
                    pending.append(item)
                # drain what is already queued without waiting
                while len(pending) < 10_000 and not stop:
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                    else:
                        pending.append(item)
            except queue.Empty:
                pass
            if pending and (stop or time.monotonic() >= deadline or len(pending) >= 10_000):
                self._write(pending)
                for _ in pending:
                    self._queue.task_done()
                pending = []
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self._flush_interval
            if time.monotonic() >= next_prune and self._retention_seconds > 0:
                self.prune(time.time() - self._retention_seconds)
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        self._queue.task_done()  # the stop marker

    def _write(self, records: list[PredictionRecord]) -> None:
        rows = [(r.timestamp, r.request_id, r.model_version, *r.inputs, r.probability, r.prediction) for r in records]
        try:
            with self._connection:
                self._connection.executemany(INSERT, rows)
            self._written += len(rows)
        except sqlite3.Error:
            with self._lock:
                self._dropped += len(rows)
            logger.exception("prediction log write failed; records dropped", extra={"records": len(rows)})

    def prune(self, older_than: float) -> int:
        with self._connection:
            return self._connection.execute("DELETE FROM predictions WHERE timestamp < ?", (older_than,)).rowcount


def read_predictions(path: Path, since: datetime | None = None, last: int | None = None) -> pd.DataFrame:
    """Logged predictions (oldest first): those since `since`, or the `last` N."""
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        query = f"SELECT {', '.join(COLUMNS)} FROM predictions"
        params: list[float | int] = []
        if since is not None:
            query += " WHERE timestamp >= ?"
            params.append(since.timestamp())
        query += " ORDER BY id DESC" if last is not None else " ORDER BY id"
        if last is not None:
            query += " LIMIT ?"
            params.append(last)
        frame = pd.read_sql_query(query, connection, params=params)
    finally:
        connection.close()
    if last is not None:
        frame = frame.iloc[::-1].reset_index(drop=True)
    frame.insert(0, "time", pd.to_datetime(frame["timestamp"], unit="s", utc=True))
    return frame
