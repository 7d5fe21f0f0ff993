"""What every prediction-log engine shares: the queue in front of the database, the writer
thread, the drop count, the retention schedule, and the rows' shape on the way in and out.

`record` appends to a bounded in-memory deque and returns (no lock, no thread wake-up per
record); the writer thread wakes once per flush interval, drains the deque and hands the batch
to the engine in one transaction. A full queue drops records and counts them. When the
database cannot be reached the batch goes back to the front of the queue, so an outage shorter
than the queue lasts costs nothing; any other write error drops the batch and counts it. After
a kill -9 at most the last unflushed interval is lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnguard.application.ports import PredictionRecord, TrafficBucket, TrafficSummary
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)

COLUMNS = (
    "timestamp", "request_id", "model_version", "schema_hash", "inputs", "probability", "prediction", "customer_id",
)  # fmt: skip
READ_COLUMNS = ("timestamp", "request_id", "customer_id", "model_version", "inputs", "probability", "prediction")
PRUNE_EVERY_SECONDS = 3600.0
WARNING_INTERVAL_SECONDS = 60.0


class DatabaseUnreachable(Exception):
    """The engine could not reach its database; the batch is worth retrying."""


def inputs_json(inputs: Sequence[float]) -> str:
    return json.dumps([None if value != value else value for value in inputs])  # NaN (imputed) -> null


def record_row(record: PredictionRecord) -> tuple[Any, ...]:
    """A record as the COLUMNS of an insert."""
    return (
        record.timestamp,
        record.request_id,
        record.model_version,
        record.schema_hash,
        inputs_json(record.inputs),
        record.probability,
        record.prediction,
        record.customer_id,
    )


def predictions_frame(rows: pd.DataFrame, schema: TableSchema, labels: bool) -> pd.DataFrame:
    """Logged rows (READ_COLUMNS, oldest first) as one column per field: encoded as the model
    reads them (NaN where imputed), or with `labels` as a table of the schema holds them."""
    fields = list(schema.raw_fields)
    header = ["time", "timestamp", "request_id", "customer_id", "model_version", *fields, "probability", "prediction"]
    if rows.empty:
        return pd.DataFrame(columns=header)
    rows = rows.reset_index(drop=True)
    raw = np.array(
        [
            [np.nan if value is None else value for value in (json.loads(text) if isinstance(text, str) else text)]
            for text in rows["inputs"]
        ],
        dtype=np.float64,
    ).reshape(len(rows), len(fields))
    columns: dict[str, Any] = schema.decode(raw) if labels else {name: raw[:, i] for i, name in enumerate(fields)}
    out = pd.DataFrame(columns, index=rows.index)
    out.insert(0, "model_version", rows["model_version"])
    out.insert(0, "customer_id", rows["customer_id"])
    out.insert(0, "request_id", rows["request_id"])
    out.insert(0, "timestamp", rows["timestamp"].astype("float64"))
    out.insert(0, "time", pd.to_datetime(rows["timestamp"].astype("float64"), unit="s", utc=True))
    out["probability"] = rows["probability"].astype("float64")
    out["prediction"] = rows["prediction"].astype("int64")
    return out[header]


def traffic_summary(
    since: float,
    bucket_seconds: float,
    bins: int,
    buckets: Sequence[Sequence[Any]],
    histogram: Mapping[Any, Any],
) -> TrafficSummary:
    """The UI's traffic from an engine's two aggregates: (bucket index, predictions, churn
    predictions, mean probability) rows, and predictions per probability bin."""
    return TrafficSummary(
        since,
        bucket_seconds,
        tuple(
            TrafficBucket(since + index * bucket_seconds, int(count), int(churn), float(mean))
            for index, count, churn, mean in buckets
        ),
        tuple(int(histogram.get(index, 0)) for index in range(bins)),
    )


class QueuedPredictionLog(ABC):
    """The PredictionLog port in front of one database engine (see the module docstring)."""

    def __init__(self, flush_interval: float, queue_size: int, retention_days: float, name: str) -> None:
        self._flush_interval = flush_interval
        self._queue_size = queue_size
        self._retention_seconds = retention_days * 86400.0
        self._buffer: deque[PredictionRecord] = deque()
        self._dropped = 0
        self._stopping = False
        self._wake = threading.Event()
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        self._worker.start()

    @abstractmethod
    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert the rows (COLUMNS) in one transaction; raise DatabaseUnreachable to retry."""

    @abstractmethod
    def prune(self, older_than: float) -> int:
        """Delete predictions logged before `older_than` (unix time); rows deleted."""

    @abstractmethod
    def _disconnect(self) -> None: ...

    def _available(self) -> bool:
        """Whether the database can take a batch now; while it cannot, the queue is left as it
        is (draining and re-queueing thousands of records per flush would cost requests time)."""
        return True

    @property
    def dropped_records(self) -> int:
        return self._dropped

    @property
    def queued_records(self) -> int:
        return len(self._buffer)

    def record(self, records: Sequence[PredictionRecord]) -> None:
        room = self._queue_size - len(self._buffer)
        if room >= len(records):
            self._buffer.extend(records)
            return
        if room > 0:
            self._buffer.extend(records[:room])
        self._count_dropped(len(records) - max(room, 0), "prediction log queue full: dropping records")

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued (one last try), then stop."""
        self._stopping = True
        self._wake.set()
        self._worker.join(timeout)
        self._disconnect()

    def _count_dropped(self, count: int, message: str) -> None:
        with self._lock:
            self._dropped += count
        self._warn(message, dropped=self._dropped)

    def _warn(self, message: str, **context: int) -> None:
        """At most one warning a minute: a dropping or disconnected log must not flood the logs."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_warning < WARNING_INTERVAL_SECONDS:
                return
            self._last_warning = now
        logger.warning(message, extra=context)

    def _run(self) -> None:
        next_prune = time.monotonic()
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            stopping = self._stopping
            if self._buffer and not self._available():
                if stopping:
                    self._count_dropped(len(self._buffer), "prediction log unreachable at shutdown: records dropped")
                    return
                self._warn_unreachable()
                continue
            batch = [self._buffer.popleft() for _ in range(len(self._buffer))]
            if batch:
                self._write(batch, final=stopping)
            if time.monotonic() >= next_prune and self._retention_seconds > 0:
                try:
                    self.prune(time.time() - self._retention_seconds)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                except DatabaseUnreachable:
                    pass  # tried again at the next flush
                except Exception:
                    logger.exception("prediction log prune failed")
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            if stopping:
                return

    def _write(self, records: list[PredictionRecord], final: bool) -> None:
        try:
            self._insert([record_row(record) for record in records])
        except DatabaseUnreachable:
            if final:
                self._count_dropped(len(records), "prediction log unreachable at shutdown: records dropped")
                return
            room = self._queue_size - len(self._buffer)
            kept = records[: max(room, 0)]
            self._buffer.extendleft(reversed(kept))
            if len(kept) < len(records):
                self._count_dropped(len(records) - len(kept), "prediction log unreachable and queue full: dropping")
            self._warn_unreachable()
        except Exception:
            self._count_dropped(len(records), "prediction log write failed; records dropped")
            logger.exception("prediction log write failed; records dropped", extra={"records": len(records)})

    def _warn_unreachable(self) -> None:
        self._warn("prediction log database unreachable: keeping records queued", queued=len(self._buffer))


class NoPredictionLog:
    """The PredictionLog port when logging is switched off (PREDICTION_LOG_ENABLED=false)."""

    dropped_records = 0

    def record(self, records: Sequence[PredictionRecord]) -> None:
        return None

    def close(self) -> None:
        return None
