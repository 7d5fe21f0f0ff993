"""The prediction log and what is read back from it: history, archive, outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from churnguard.application.ports.data import Progress
from churnguard.domain.outcomes import MatchedOutcome, Outcome, PeriodPerformance
from churnguard.domain.schema import TableSchema
from churnguard.domain.survival import HorizonOutcome


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction, as the prediction log keeps it."""

    timestamp: float
    """Unix time (seconds, UTC)."""
    request_id: str
    model_version: str
    inputs: tuple[float, ...]
    probability: float
    prediction: int
    schema_hash: str
    """The hash of the schema whose fields `inputs` holds (encoded, NaN where imputed)."""
    customer_id: str | None = None
    """The schema's id column, when the request carried one: what outcomes are joined on."""


class PredictionLog(Protocol):
    def record(self, records: Sequence[PredictionRecord]) -> None:
        """Queue records for writing; must return at once (full queue: drop and count)."""
        ...

    @property
    def dropped_records(self) -> int: ...

    def close(self) -> None:
        """Write what is queued, then stop."""
        ...


@dataclass(frozen=True)
class TrafficBucket:
    start: float
    """Unix time the bucket starts."""
    predictions: int
    churn_predictions: int
    mean_probability: float


@dataclass(frozen=True)
class TrafficSummary:
    """Served predictions over a window: per time bucket, and how their probabilities spread."""

    since: float
    bucket_seconds: float
    buckets: tuple[TrafficBucket, ...]
    """Only buckets with predictions, oldest first."""
    probability_counts: tuple[int, ...]
    """Predictions per probability bin of equal width over [0, 1]."""


class PredictionHistory(Protocol):
    def traffic(self, since: float, bucket_seconds: float, bins: int, schema_hash: str) -> TrafficSummary:
        """Predictions of one schema since `since` (unix time), bucketed."""
        ...


class PredictionArchive(Protocol):
    def export(
        self, schema: TableSchema, since: datetime | None, location: str, progress: Progress | None = None
    ) -> int:
        """Write the logged predictions of `schema` (labels, not codes) to a file; rows written."""
        ...

    def prune(self, older_than: datetime) -> int:
        """Delete predictions older than `older_than`; rows deleted."""
        ...


@dataclass(frozen=True)
class OutcomesRead:
    outcomes: Sequence[Outcome]
    duplicates: Sequence[str]
    """Ids given more than once in the file (the first one counts)."""


class OutcomeReader(Protocol):
    def read(self, location: str, schema: TableSchema, default_time: float) -> OutcomesRead:
        """The id column and the label column of a file of outcomes (an `observed_at` column,
        ISO time, is optional: `default_time` otherwise). Raises InvalidDataset naming the rows."""
        ...


@dataclass(frozen=True)
class OutcomesJoined:
    matched: Sequence[MatchedOutcome]
    unknown: Sequence[str]
    """Ids with no logged prediction (of the served schema) before their outcome."""
    already_recorded: Sequence[str]
    """Ids whose outcome was recorded before: kept as first recorded."""


class OutcomeLedger(Protocol):
    def record(self, outcomes: Sequence[Outcome], schema_hash: str, threshold: float) -> OutcomesJoined:
        """Join each outcome with its customer's latest prediction before it, and keep the joined ones."""
        ...

    def matched(self, schema_hash: str, threshold: float) -> list[MatchedOutcome]:
        """Every recorded outcome of the schema with its prediction."""
        ...


@dataclass(frozen=True)
class OutcomesReport:
    checked_at: datetime
    model_version: str
    source: str
    received: int
    matched: int
    unknown: Sequence[str]
    duplicates: Sequence[str]
    periods: Sequence[PeriodPerformance]
    period_seconds: float


class OutcomesReportWriter(Protocol):
    def write(self, report: OutcomesReport) -> list[str]: ...


@dataclass(frozen=True)
class SurvivalOutcomesReport:
    checked_at: datetime
    model_version: str
    scored: str
    outcomes: str
    scored_on: date
    unit: str
    period_days: float
    horizons: tuple[HorizonOutcome, ...]
    matched: int
    unknown: list[str] = field(default_factory=list)
    """Ids with an outcome but no forecast in the scored file."""


class SurvivalOutcomesWriter(Protocol):
    def write_survival_outcomes(self, report: SurvivalOutcomesReport) -> list[str]:
        """Write the report (whole or not at all); the files written."""
        ...
