"""The prediction log in PostgreSQL: one table for every API replica and every schema.

Selected by `PREDICTION_LOG_URL=postgresql://user@host:port/db` (the password from the URL or
libpq's PGPASSWORD / ~/.pgpass). The queue and writer thread are `QueuedPredictionLog`'s: a
batch is one pipelined `executemany` in one transaction, off the request path.
While the server is unreachable the writer keeps records queued and reconnects at each flush;
records are dropped (and counted) only when the queue is full. The read side (export, drift,
the UI's traffic, outcomes) queries the same table, so a drift job reads what every replica
logged without sharing a file system.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg.conninfo import conninfo_to_dict

from churnguard.adapters.prediction_log_queue import (
    COLUMNS,
    READ_COLUMNS,
    DatabaseUnreachable,
    QueuedPredictionLog,
    predictions_frame,
    traffic_summary,
)
from churnguard.application.errors import DatasetUnreadable
from churnguard.application.ports import OutcomesJoined, Progress, TableWriter, TrafficSummary
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.outcomes import MatchedOutcome, Outcome
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# Replicas starting together race to create the tables; one advisory lock serialises them.
LAYOUT_LOCK = 0x6368_7572_6E67_64  # "churngd"
LAYOUT = """
CREATE TABLE IF NOT EXISTS predictions (
    id BIGSERIAL PRIMARY KEY,
    timestamp DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    inputs JSONB NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    prediction SMALLINT NOT NULL,
    customer_id TEXT
);
CREATE INDEX IF NOT EXISTS predictions_schema_timestamp ON predictions (schema_hash, timestamp);
CREATE INDEX IF NOT EXISTS predictions_timestamp ON predictions (timestamp);
CREATE INDEX IF NOT EXISTS predictions_customer ON predictions (customer_id, timestamp);
CREATE TABLE IF NOT EXISTS outcomes (
    customer_id TEXT PRIMARY KEY,
    churned BOOLEAN NOT NULL,
    observed_at DOUBLE PRECISION NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL
);
"""
INSERT = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # nosec B608


def shown(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = conninfo_to_dict(url)
    user = f"{parsed['user']}@" if "user" in parsed else ""
    port = f":{parsed['port']}" if "port" in parsed else ""
    return f"postgresql://{user}{parsed.get('host', '')}{port}/{parsed.get('dbname', '')}"


def connect(url: str, application: str = "churnguard") -> psycopg.Connection[Any]:
    """An autocommit connection (transactions are explicit) with the log's tables in place
    (created once, under an advisory lock)."""
    try:
        connection = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=application
        )
    except psycopg.OperationalError as error:
        raise DatabaseUnreachable(f"{shown(url)}: {str(error).strip()}") from error
    try:
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LAYOUT_LOCK,))
            for statement in LAYOUT.split(";"):
                if statement.strip():
                    cursor.execute(statement)  # nosec B608 - module constant
    except psycopg.OperationalError as error:
        connection.close()
        raise DatabaseUnreachable(f"{shown(url)}: {str(error).strip()}") from error
    return connection


@contextmanager
def _session(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A short-lived connection for the read side; an unreachable server is the caller's error."""
    try:
        connection = connect(url, "churnguard-reader")
    except DatabaseUnreachable as error:
        raise DatasetUnreadable(shown(url), f"the prediction log's database is unreachable ({error})") from None
    try:
        yield connection
    finally:
        connection.close()


class PostgresPredictionLog(QueuedPredictionLog):
    """The PredictionLog port on PostgreSQL (see QueuedPredictionLog for the queue)."""

    def __init__(
        self,
        url: str,
        flush_interval: float = 1.0,
        queue_size: int = 100_000,
        retention_days: float = 90.0,
    ) -> None:
        super().__init__(flush_interval, queue_size, retention_days, name="prediction-log-writer")
        self.url = url
        self._connection: psycopg.Connection[Any] | None = None
        try:
            self._connection = connect(url, "churnguard-api")
        except DatabaseUnreachable as error:
            # The API serves without its log database; the writer reconnects at each flush.
            logger.warning("prediction log database unreachable at start: %s", error)
        self._start()

    def _connected(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.url, "churnguard-api")
        return self._connection

    def _available(self) -> bool:
        try:
            self._connected()
        except DatabaseUnreachable:
            return False
        return True

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        connection = self._connected()
        try:
            with connection.transaction(), connection.cursor() as cursor:
                yield cursor
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._disconnect()
            raise DatabaseUnreachable(f"{shown(self.url)}: {str(error).strip()}") from error

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        with self._transaction() as cursor:
            cursor.executemany(INSERT, rows)

    def prune(self, older_than: float) -> int:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM predictions WHERE timestamp < %s", (older_than,))
            return int(cursor.rowcount)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def read_predictions(
    url: str,
    schema: TableSchema = ORIGINAL_SCHEMA,
    since: datetime | None = None,
    last: int | None = None,
    labels: bool = False,
) -> pd.DataFrame:
    """Logged predictions of `schema` (oldest first): those since `since`, or the `last` N."""
    query = f"SELECT {', '.join(READ_COLUMNS)} FROM predictions WHERE schema_hash = %s"  # nosec B608 - constants
    params: list[Any] = [schema.hash]
    if since is not None:
        query += " AND timestamp >= %s"
        params.append(since.timestamp())
    query += " ORDER BY id DESC LIMIT %s" if last is not None else " ORDER BY id"
    if last is not None:
        params.append(last)
    with _session(url) as connection, connection.cursor() as cursor:
        cursor.execute(query, params)
        frame = pd.DataFrame(cursor.fetchall(), columns=list(READ_COLUMNS))
    if last is not None:
        frame = frame.iloc[::-1]
    return predictions_frame(frame, schema, labels)


class PostgresPredictionHistory:
    """The read side for the UI: per-bucket traffic and the probability mix, aggregated by
    PostgreSQL over the (schema_hash, timestamp) index."""

    def __init__(self, url: str) -> None:
        self.url = url

    def traffic(self, since: float, bucket_seconds: float, bins: int, schema_hash: str) -> TrafficSummary:
        with _session(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT FLOOR((timestamp - %s) / %s)::BIGINT AS bucket, COUNT(*), SUM(prediction), AVG(probability)"
                " FROM predictions WHERE schema_hash = %s AND timestamp >= %s GROUP BY bucket ORDER BY bucket",
                (since, bucket_seconds, schema_hash, since),
            )
            buckets = cursor.fetchall()
            cursor.execute(
                "SELECT LEAST(FLOOR(probability * %s)::INTEGER, %s - 1) AS bin, COUNT(*) FROM predictions"
                " WHERE schema_hash = %s AND timestamp >= %s GROUP BY bin",
                (bins, bins, schema_hash, since),
            )
            histogram = dict(cursor.fetchall())
        return traffic_summary(since, bucket_seconds, bins, buckets, histogram)


class PostgresPredictionArchive:
    """The PredictionArchive port: export the log to a file, prune it by age."""

    def __init__(self, url: str, writer: TableWriter) -> None:
        self.url = url
        self._writer = writer

    def export(
        self, schema: TableSchema, since: datetime | None, location: str, progress: Progress | None = None
    ) -> int:
        frame = read_predictions(self.url, schema, since=since, labels=True)
        self._writer.write(frame, location, progress)
        return len(frame)

    def prune(self, older_than: datetime) -> int:
        with _session(self.url) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM predictions WHERE timestamp < %s", (older_than.timestamp(),))
            return int(cursor.rowcount)


class PostgresOutcomeLedger:
    """The OutcomeLedger port beside the predictions, in one transaction per file of outcomes;
    an outcome already recorded (by this run or a concurrent one) keeps its first value."""

    def __init__(self, url: str) -> None:
        self.url = url

    def record(self, outcomes: Sequence[Outcome], schema_hash: str, threshold: float) -> OutcomesJoined:
        matched: list[MatchedOutcome] = []
        unknown: list[str] = []
        already: list[str] = []
        with _session(self.url) as connection, connection.transaction(), connection.cursor() as cursor:
            for outcome in outcomes:
                cursor.execute("SELECT 1 FROM outcomes WHERE customer_id = %s", (outcome.customer_id,))
                if cursor.fetchone() is not None:
                    already.append(outcome.customer_id)
                    continue
                cursor.execute(
                    "SELECT probability, prediction, timestamp FROM predictions WHERE customer_id = %s"
                    " AND schema_hash = %s AND timestamp <= %s ORDER BY timestamp DESC LIMIT 1",
                    (outcome.customer_id, schema_hash, outcome.observed_at),
                )
                found = cursor.fetchone()
                if found is None:
                    unknown.append(outcome.customer_id)
                    continue
                cursor.execute(
                    "INSERT INTO outcomes (customer_id, churned, observed_at, recorded_at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (customer_id) DO NOTHING",
                    (outcome.customer_id, bool(outcome.churned), outcome.observed_at, time.time()),
                )
                if cursor.rowcount == 0:  # recorded meanwhile by a concurrent run
                    already.append(outcome.customer_id)
                    continue
                probability, prediction, predicted_at = found
                matched.append(
                    MatchedOutcome(
                        outcome.customer_id, outcome.churned, probability, bool(prediction), predicted_at, threshold
                    )
                )
        return OutcomesJoined(matched, unknown, already)

    def matched(self, schema_hash: str, threshold: float) -> list[MatchedOutcome]:
        with _session(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.customer_id, o.churned, p.probability, p.prediction, p.timestamp FROM outcomes o"
                " CROSS JOIN LATERAL (SELECT probability, prediction, timestamp FROM predictions"
                " WHERE customer_id = o.customer_id AND schema_hash = %s AND timestamp <= o.observed_at"
                " ORDER BY timestamp DESC LIMIT 1) p ORDER BY p.timestamp",
                (schema_hash,),
            )
            rows = cursor.fetchall()
        return [MatchedOutcome(cid, bool(c), prob, bool(pred), at, threshold) for cid, c, prob, pred, at in rows]


# The engine's functions (churnguard.adapters.log_location.LogEngine), by location as configured.
def open_log(location: str, flush_interval: float, queue_size: int, retention_days: float) -> PostgresPredictionLog:
    return PostgresPredictionLog(location, flush_interval, queue_size, retention_days)


def history(location: str) -> PostgresPredictionHistory:
    return PostgresPredictionHistory(location)


def archive(location: str, writer: TableWriter) -> PostgresPredictionArchive:
    return PostgresPredictionArchive(location, writer)


def ledger(location: str) -> PostgresOutcomeLedger:
    return PostgresOutcomeLedger(location)


def read_log(location: str, schema: TableSchema, since: datetime | None, last: int | None) -> pd.DataFrame:
    return read_predictions(location, schema, since=since, last=last)
