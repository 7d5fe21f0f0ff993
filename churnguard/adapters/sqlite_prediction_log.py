"""The prediction log in SQLite (WAL), written by a background thread so requests never wait.

`record` appends records to a bounded in-memory queue; the writer thread inserts them in one
transaction per batch, every `flush_interval` seconds. A full queue drops records and counts
them. `close` flushes what is queued. After a kill -9 at most the last unflushed interval is
lost; WAL keeps the database itself consistent. The writer also prunes rows older than the
retention period, once an hour.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
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
# column names are module constants and every value is a bound parameter
INSERT = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # nosec B608
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
    """Requests append to an in-memory deque (no lock, no thread wake-up per record); the
    writer thread wakes once per flush interval, drains it and writes one transaction."""

    def __init__(
        self,
        path: Path,
        flush_interval: float = 1.0,
        queue_size: int = 100_000,
        retention_days: float = 90.0,
    ) -> None:
        self.path = Path(path)
        self._flush_interval = flush_interval
        self._queue_size = queue_size
        self._retention_seconds = retention_days * 86400.0
        self._buffer: deque[PredictionRecord] = deque()
        self._dropped = 0
        self._stopping = False
        self._wake = threading.Event()
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._lock = threading.Lock()
        self._connection = connect(self.path)
        self._worker = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._worker.start()

    @property
    def dropped_records(self) -> int:
        return self._dropped

    def record(self, records: Sequence[PredictionRecord]) -> None:
        room = self._queue_size - len(self._buffer)
        if room >= len(records):
            self._buffer.extend(records)
            return
        if room > 0:
            self._buffer.extend(records[:room])
        with self._lock:
            self._dropped += len(records) - max(room, 0)
            now = time.monotonic()
            if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
                self._last_warning = now
                logger.warning("prediction log queue full: dropping records", extra={"dropped": self._dropped})

    def close(self, timeout: float = 30.0) -> None:
        self._stopping = True
        self._wake.set()
        self._worker.join(timeout)
        self._connection.close()

    def _run(self) -> None:
        next_prune = time.monotonic()
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            stopping = self._stopping
            batch = [self._buffer.popleft() for _ in range(len(self._buffer))]
            if batch:
                self._write(batch)
            if time.monotonic() >= next_prune and self._retention_seconds > 0:
                self.prune(time.time() - self._retention_seconds)
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            if stopping:
                return

    def _write(self, records: list[PredictionRecord]) -> None:
        rows = [(r.timestamp, r.request_id, r.model_version, *r.inputs, r.probability, r.prediction) for r in records]
        try:
            with self._connection:
                self._connection.executemany(INSERT, rows)
        except sqlite3.Error:
            with self._lock:
                self._dropped += len(records)
            logger.exception("prediction log write failed; records dropped", extra={"records": len(records)})

    def prune(self, older_than: float) -> int:
        with self._connection:
            return self._connection.execute("DELETE FROM predictions WHERE timestamp < ?", (older_than,)).rowcount


def read_predictions(path: Path, since: datetime | None = None, last: int | None = None) -> pd.DataFrame:
    """Logged predictions (oldest first): those since `since`, or the `last` N."""
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        # bandit B608: the column names are module constants; every value is a bound parameter
        query = f"SELECT {', '.join(COLUMNS)} FROM predictions"  # nosec B608
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
