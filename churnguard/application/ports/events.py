"""Event histories: reading an event schema, and building the observation table from events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from churnguard.domain.events import EventSchema
from churnguard.domain.schema import TableSchema


@dataclass(frozen=True)
class CutoffCount:
    """What one cutoff contributed: active customers, and of those with a known label, churners."""

    cutoff: date
    rows: int
    labelled: int
    churned: int


@dataclass(frozen=True)
class ObservationSummary:
    location: str
    events: int
    customers: int
    first_event: date
    until: date
    """The first day the events do not cover: a label whose horizon ends after it is unknown."""
    cutoffs: tuple[CutoffCount, ...]

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.cutoffs)

    @property
    def labelled(self) -> int:
        return sum(c.labelled for c in self.cutoffs)


@dataclass(frozen=True)
class GeneratedHistory:
    events_location: str
    customers_location: str
    customers: int
    events: int
    churned: int
    """Customers whose history ends in a cancellation."""
    first_day: date
    until: date
    """The first day the history does not cover."""


class EventHistoryGenerator(Protocol):
    def generate(self, customers: int, seed: int, events_out: str, customers_out: str) -> GeneratedHistory:
        """Write a seeded customer table and their event history (CSV or Parquet by suffix),
        each whole or not at all, in memory that does not grow with `customers`."""
        ...


@dataclass(frozen=True)
class EventDraft:
    """An event schema drafted from an event file, with what was decided and why."""

    schema: EventSchema
    notes: Mapping[str, str]
    """Per column (and "churn", "cutoffs", "history"): the decision, e.g. "a value column: ..."."""


class EventProfiler(Protocol):
    def profile(
        self,
        location: str,
        id_column: str,
        time_column: str,
        type_column: str | None,
        time_format: str | None,
        name: str,
    ) -> EventDraft:
        """Draft an event schema from the events at `location`; raise a ChurnGuardError naming
        the column or the option when it cannot."""
        ...

    def render(self, draft: EventDraft, source: str) -> str:
        """The draft as a commented event schema file."""
        ...


@dataclass(frozen=True)
class ScoredRows:
    """What an offline scoring wrote for each customer."""

    ids: Sequence[str]
    probabilities: Sequence[float]
    predictions: Sequence[bool]
    model_versions: frozenset[str]
    """The (short) model versions that scored the rows."""


@dataclass(frozen=True)
class ScoredForecasts:
    """Columns of forecasts an offline scoring wrote, by customer."""

    ids: Sequence[str]
    values: Sequence[Sequence[float]]
    """One row per id, one value per column asked for."""


@dataclass(frozen=True)
class OutcomeDate:
    """A customer's outcome after a scoring: churned on a date, or still a customer on it."""

    customer_id: str
    churned: bool
    on: date


class ScoredFileReader(Protocol):
    def read(self, location: str, id_column: str) -> ScoredRows:
        """The id, probability and prediction columns of a file `churnguard score` wrote."""
        ...

    def read_forecasts(self, location: str, id_column: str, columns: Sequence[str]) -> ScoredForecasts:
        """The id and the named forecast columns of such a file (DatasetUnreadable naming the
        columns it lacks)."""
        ...


class OutcomeDateReader(Protocol):
    def read_dates(self, location: str, id_column: str, scored_on: date) -> Sequence[OutcomeDate]:
        """A file of outcomes with dates: the id column, `churned_on` (a date, or blank) and
        `active_on` (the date a customer who has not churned was last known active). Raises
        InvalidDataset naming the rows: a date unreadable, both or neither given, one before
        `scored_on`, an id twice."""
        ...


class TableSchemaWriter(Protocol):
    def write(self, schema: TableSchema, location: str, note: str) -> None:
        """Write `schema` as a schema file at `location` (whole or not at all), `note` on top."""
        ...


class EventSchemaReader(Protocol):
    def load(self, location: str) -> EventSchema:
        """Read and validate an event schema file; raise SchemaFileError naming every problem."""
        ...

    def parse(self, text: str, location: str) -> EventSchema:
        """Read and validate an event schema file's text."""
        ...


class ObservationBuilder(Protocol):
    def build(
        self,
        schema: EventSchema,
        source: str,
        out: str,
        cutoffs: Sequence[date],
        until: date | None = None,
        labelled_only: bool = True,
        customers: str | None = None,
    ) -> ObservationSummary:
        """Write one row per customer active at each cutoff (features from the events before it,
        the label from the horizon after it) to `out`, whole or not at all. `until`: the first
        day the events do not cover (default: the day after the last event); `labelled_only`:
        leave out the rows whose horizon is not over by then (a training table); `customers`:
        the customer table the schema's static attributes are joined from, by id (required
        exactly when the schema declares attributes)."""
        ...
