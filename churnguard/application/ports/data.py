"""Tables and how they come and go: sources, validation, writing, progress, the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import TableSchema


class Table(Protocol):
    """A tabular dataset, opaque to the application."""

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset and its identity: `data_hash` is the SHA-256 of the source bytes."""

    table: Table
    location: str
    data_hash: str
    rows: int
    schema: TableSchema = ORIGINAL_SCHEMA
    """The declaration the table was validated against."""
    duplicates: int = 0
    """Rows that repeated an earlier row in every column (dropped by validation unless kept)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class DatasetSource(Protocol):
    def load(self, location: str) -> Dataset:
        """Read a dataset; raise DatasetUnreadable if it cannot be parsed at all."""
        ...


class DatasetValidator(Protocol):
    def validate(self, dataset: Dataset, schema: TableSchema) -> Dataset:
        """The dataset checked against `schema` (columns in declared order, rows duplicated in every
        column dropped unless kept), or raise InvalidDataset listing every violation."""
        ...


class Progress(Protocol):
    """How far a long run is (rows done, rate, time left), for whoever watches it."""

    def start(self, what: str, total: int | None = None) -> None:
        """A new stage of `total` rows (None: unknown) begins."""
        ...

    def advance(self, rows: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Progress nobody watches (not on a terminal, or an embedding program's default)."""

    def start(self, what: str, total: int | None = None) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None

    def finish(self) -> None:
        return None


class TableWriter(Protocol):
    def write(self, table: Table, location: str, progress: Progress | None = None) -> None:
        """Write the table atomically (CSV or Parquet by the location's suffix), in chunks
        whose rows `progress` is told about."""
        ...
