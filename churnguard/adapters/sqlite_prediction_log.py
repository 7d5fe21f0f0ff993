"""The prediction log in SQLite (WAL): the embedded default, one file per API process host.

The queue, writer thread and drop count are `QueuedPredictionLog`'s; this module holds the
SQLite side: the layout (and its migration from the original's 13 columns), inserts, pruning,
and the read side (export, the UI's traffic, the outcome ledger). WAL keeps the file consistent
through a kill -9. SQLite's WAL needs a local disk: for replicas on several hosts use the
PostgreSQL log (`PREDICTION_LOG_URL`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from churnguard.adapters.prediction_log_queue import (
    COLUMNS,
    READ_COLUMNS,
    QueuedPredictionLog,
    predictions_frame,
    traffic_summary,
)
from churnguard.application.ports import OutcomesJoined, Progress, TableWriter, TrafficSummary
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.outcomes import MatchedOutcome, Outcome
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    request_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    inputs TEXT NOT NULL,
    probability REAL NOT NULL,
    prediction INTEGER NOT NULL,
    customer_id TEXT
);
CREATE INDEX IF NOT EXISTS predictions_timestamp ON predictions (timestamp);
CREATE INDEX IF NOT EXISTS predictions_customer ON predictions (customer_id, timestamp);
CREATE TABLE IF NOT EXISTS outcomes (
    customer_id TEXT PRIMARY KEY,
    churned INTEGER NOT NULL,
    observed_at REAL NOT NULL,
    recorded_at REAL NOT NULL
);
"""
INSERT = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # nosec B608


def _migrate(connection: sqlite3.Connection) -> None:
    """A log written before any schema could be served has the original's 13 columns: move its
    rows into the schema-tagged layout, once, under SQLite's write lock (workers race here)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(predictions)")}
        if "inputs" in columns and "customer_id" not in columns:  # logged before outcomes were joined
            connection.execute("ALTER TABLE predictions ADD COLUMN customer_id TEXT")
        if columns and "inputs" not in columns:
            fields = ", ".join(ORIGINAL_SCHEMA.raw_fields)  # module constants, no user input
            connection.execute("ALTER TABLE predictions RENAME TO predictions_original")
            for statement in SCHEMA.strip().split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO predictions (id, timestamp, request_id, model_version, schema_hash, inputs,"  # nosec B608
                f" probability, prediction) SELECT id, timestamp, request_id, model_version, ?, json_array({fields}),"
                " probability, prediction FROM predictions_original",
                (ORIGINAL_SCHEMA.hash,),
            )
            connection.execute("DROP TABLE predictions_original")
            logger.info("prediction log moved to the schema-tagged layout", extra={"path": "predictions"})
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    _migrate(connection)
    connection.executescript(SCHEMA)
    return connection


class SqlitePredictionLog(QueuedPredictionLog):
    """The PredictionLog port on a SQLite file (see QueuedPredictionLog for the queue)."""

    def __init__(
        self,
        path: Path,
        flush_interval: float = 1.0,
        queue_size: int = 100_000,
        retention_days: float = 90.0,
    ) -> None:
        super().__init__(flush_interval, queue_size, retention_days, name="prediction-log-writer")
        self.path = Path(path)
        self._connection = connect(self.path)
        self._start()

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        self._connection.execute("BEGIN")
        try:
            self._connection.executemany(INSERT, rows)
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise

    def prune(self, older_than: float) -> int:
        return self._connection.execute("DELETE FROM predictions WHERE timestamp < ?", (older_than,)).rowcount

    def _disconnect(self) -> None:
        self._connection.close()


def _read_only(path: Path) -> sqlite3.Connection:
    if path.exists():
        connect(path).close()  # an older layout is moved first
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)


def read_predictions(
    path: Path,
    schema: TableSchema = ORIGINAL_SCHEMA,
    since: datetime | None = None,
    last: int | None = None,
    labels: bool = False,
) -> pd.DataFrame:
    """Logged predictions of `schema` (oldest first): those since `since`, or the `last` N.

    One column per field: encoded as the model reads them (NaN where imputed), or with
    `labels` as a table of the schema holds them (text labels, codes).
    """
    if not path.exists():
        return predictions_frame(pd.DataFrame(columns=list(READ_COLUMNS)), schema, labels)
    connection = _read_only(path)
    try:
        query = f"SELECT {', '.join(READ_COLUMNS)} FROM predictions WHERE schema_hash = ?"  # nosec B608 - constants
        params: list[float | int | str] = [schema.hash]
        if since is not None:
            query += " AND timestamp >= ?"
            params.append(since.timestamp())
        query += " ORDER BY id DESC" if last is not None else " ORDER BY id"
        if last is not None:
            query += " LIMIT ?"
            params.append(last)
        frame = pd.read_sql_query(query, connection, params=params)
    finally:
        connection.close()
    if last is not None:
        frame = frame.iloc[::-1]
    return predictions_frame(frame, schema, labels)


class SqlitePredictionHistory:
    """The read side of the log for the UI: traffic per time bucket and the probability mix,
    aggregated by SQLite (an index range scan), never loaded into memory row by row."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def traffic(self, since: float, bucket_seconds: float, bins: int, schema_hash: str) -> TrafficSummary:
        if not self.path.exists():
            return TrafficSummary(since, bucket_seconds, (), (0,) * bins)
        connection = _read_only(self.path)
        try:
            buckets = connection.execute(
                "SELECT CAST((timestamp - ?) / ? AS INTEGER) AS bucket, COUNT(*), SUM(prediction), AVG(probability)"
                " FROM predictions WHERE timestamp >= ? AND schema_hash = ? GROUP BY bucket ORDER BY bucket",
                (since, bucket_seconds, since, schema_hash),
            ).fetchall()
            histogram = dict(
                connection.execute(
                    "SELECT MIN(CAST(probability * ? AS INTEGER), ? - 1) AS bin, COUNT(*) FROM predictions"
                    " WHERE timestamp >= ? AND schema_hash = ? GROUP BY bin",
                    (bins, bins, since, schema_hash),
                ).fetchall()
            )
        finally:
            connection.close()
        return traffic_summary(since, bucket_seconds, bins, buckets, histogram)


class SqlitePredictionArchive:
    """The PredictionArchive port: export the log to a file, prune it by age."""

    def __init__(self, path: Path, writer: TableWriter) -> None:
        self.path = Path(path)
        self._writer = writer

    def export(
        self, schema: TableSchema, since: datetime | None, location: str, progress: Progress | None = None
    ) -> int:
        frame = read_predictions(self.path, schema, since=since, labels=True)
        self._writer.write(frame, location, progress)
        return len(frame)

    def prune(self, older_than: datetime) -> int:
        log = SqlitePredictionLog(self.path, retention_days=0)
        try:
            return log.prune(older_than.timestamp())
        finally:
            log.close()


class SqliteOutcomeLedger:
    """The OutcomeLedger port over the prediction log's database: outcomes are kept beside the
    predictions they are joined with (one file per replica log, as the log itself)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, outcomes: Sequence[Outcome], schema_hash: str, threshold: float) -> OutcomesJoined:
        connection = connect(self.path)
        matched: list[MatchedOutcome] = []
        unknown: list[str] = []
        already: list[str] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for outcome in outcomes:
                    if connection.execute(
                        "SELECT 1 FROM outcomes WHERE customer_id = ?", (outcome.customer_id,)
                    ).fetchone():
                        already.append(outcome.customer_id)
                        continue
                    found = connection.execute(
                        "SELECT probability, prediction, timestamp FROM predictions WHERE customer_id = ?"
                        " AND schema_hash = ? AND timestamp <= ? ORDER BY timestamp DESC LIMIT 1",
                        (outcome.customer_id, schema_hash, outcome.observed_at),
                    ).fetchone()
                    if found is None:
                        unknown.append(outcome.customer_id)
                        continue
                    connection.execute(
                        "INSERT INTO outcomes (customer_id, churned, observed_at, recorded_at) VALUES (?, ?, ?, ?)",
                        (outcome.customer_id, int(outcome.churned), outcome.observed_at, time.time()),
                    )
                    probability, prediction, predicted_at = found
                    matched.append(
                        MatchedOutcome(
                            outcome.customer_id, outcome.churned, probability, bool(prediction), predicted_at, threshold
                        )
                    )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        finally:
            connection.close()
        return OutcomesJoined(matched, unknown, already)

    def matched(self, schema_hash: str, threshold: float) -> list[MatchedOutcome]:
        if not self.path.exists():
            return []
        connection = _read_only(self.path)
        try:
            rows = connection.execute(
                "SELECT o.customer_id, o.churned, p.probability, p.prediction, p.timestamp FROM outcomes o"
                " JOIN predictions p ON p.id = (SELECT id FROM predictions WHERE customer_id = o.customer_id"
                " AND schema_hash = ? AND timestamp <= o.observed_at ORDER BY timestamp DESC LIMIT 1)"
                " ORDER BY p.timestamp",
                (schema_hash,),
            ).fetchall()
        finally:
            connection.close()
        return [MatchedOutcome(cid, bool(c), prob, bool(pred), at, threshold) for cid, c, prob, pred, at in rows]


# The engine's functions (churnguard.adapters.log_location.LogEngine), by location as configured.
def open_log(location: str, flush_interval: float, queue_size: int, retention_days: float) -> SqlitePredictionLog:
    return SqlitePredictionLog(Path(location), flush_interval, queue_size, retention_days)


def history(location: str) -> SqlitePredictionHistory:
    return SqlitePredictionHistory(Path(location))


def archive(location: str, writer: TableWriter) -> SqlitePredictionArchive:
    return SqlitePredictionArchive(Path(location), writer)


def ledger(location: str) -> SqliteOutcomeLedger:
    return SqliteOutcomeLedger(Path(location))


def read_log(location: str, schema: TableSchema, since: datetime | None, last: int | None) -> pd.DataFrame:
    return read_predictions(Path(location), schema, since=since, last=last)


def shown(location: str) -> str:
    return location
