"""Offline scoring: batches of customers in, scored batches out, or a whole job on an engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from churnguard.application.ports.models import PyfuncModel
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import TableSchema
from churnguard.domain.survival import SurvivalTable

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RejectedRow:
    row: int
    """1-based data row number in the input file."""
    reasons: str
    id: str | None = None
    """The row's id, when the schema has an id column and the row carries one."""


@dataclass(frozen=True)
class CustomerBatch:
    """The valid rows of one chunk and the rows of that chunk that were rejected."""

    rows: npt.NDArray[np.int64]
    raw: FloatArray
    """(rows, fields) encoded by the schema; NaN where a cell will be imputed."""
    rejected: Sequence[RejectedRow]
    ids: npt.NDArray[Any] | None = None
    """The id column's values, when the schema has one and the file carries it."""
    passthrough: Mapping[str, list[str | None]] = field(default_factory=dict)
    """The pass-through columns the file carries, as text (None where blank), valid rows only."""


@dataclass(frozen=True)
class ScoredBatch:
    batch: CustomerBatch
    probability: FloatArray
    churns: npt.NDArray[np.bool_]
    contributions: FloatArray | None
    """(rows, fields) contributions in the schema's field order, when explained."""
    schema: TableSchema = ORIGINAL_SCHEMA
    survival: SurvivalTable | None = None
    """Time to churn, where the champion has a survival model."""


class CustomerBatchSource(Protocol):
    def batches(self, schema: TableSchema) -> Iterable[CustomerBatch]:
        """The customers, checked against `schema`, a chunk at a time."""
        ...

    def total_rows(self) -> int | None:
        """How many rows there are, when that is cheap to know (for progress)."""
        ...


class ScoredBatchWriter(Protocol):
    def write(self, scored: ScoredBatch, model_version: str, threshold: float) -> None: ...

    def reject(self, rows: Sequence[RejectedRow]) -> None: ...

    def commit(self) -> None:
        """Make the output appear, whole, at its final path."""
        ...

    def abort(self) -> None:
        """Leave nothing behind: no partial output, no temporary files."""
        ...

    @property
    def rejects_location(self) -> str:
        """Where the rejected rows, with their reasons, are written."""
        ...


@dataclass(frozen=True)
class ScoringSummary:
    scored: int
    rejected: int
    seconds: float
    model_version: str
    rejects_location: str | None = None
    """Where the rejected rows went, when an engine chose it."""
    revenue_at_risk: float | None = None
    """The scored customers' total revenue at risk, where the champion forecasts it."""


@dataclass(frozen=True)
class ScoringJob:
    """A whole file scored by an engine that loads the model by URI (Spark)."""

    model: PyfuncModel
    schema: TableSchema
    threshold: float
    model_version: str
    source: str
    out: str


class ScoringEngine(Protocol):
    def run(self, job: ScoringJob) -> ScoringSummary:
        """Score `job.source` into `job.out` with the same columns, rejects and reasons as
        ScoreCustomers; the output appears whole, or not at all."""
        ...
