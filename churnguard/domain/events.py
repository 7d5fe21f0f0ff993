"""Event histories as training tables: one row per (customer, cutoff), point-in-time correct.

A row at cutoff `c` is built from the customer's events strictly before `c` (its window
features) and labelled from the events in `[c, c + horizon)` (did the customer churn?). Only a
customer active at `c` gets a row: one with an event before `c` (and, for a contractual churn
definition, no cancellation before it). Nothing at or after `c` can reach a feature, and nothing
before `c` reaches the label but who is active: the leakage that sinks most hand-built churn
tables is ruled out by construction, and a property test holds it.

This module is the definition, for one customer at a time (`observe`, `churned`). The builders
that run it over millions of events (DuckDB, Spark) generate their SQL from the same
declarations, and a test holds them equal to it on random histories.

Time is counted in days since 1970-01-01 (fractional for timestamps); windows are whole days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum

import numpy as np
import numpy.typing as npt

from churnguard.domain.schema import (
    Field,
    Kind,
    LabelColumn,
    Missing,
    MissingPolicy,
    PassThrough,
    Quality,
    TableSchema,
    TimeSplit,
    field_problems,
)

FloatArray = npt.NDArray[np.float64]
EPOCH = date(1970, 1, 1)
CUTOFF_COLUMN = "cutoff"
"""The observation table's column holding each row's cutoff date (ISO): the time it is split by."""
LABEL_COLUMN = "churn"


class WindowOperation(Enum):
    """The closed set of window features: data files declare them, code never comes with them."""

    COUNT = "count"  # events in the window
    SUM = "sum"  # sum of a value column over the window's events
    MEAN = "mean"  # mean of a value column over the window's events (0 with no event)
    DISTINCT = "distinct"  # distinct values of a column in the window (no column: distinct days)
    DAYS_SINCE_LAST = "days_since_last"  # recency: days from the last event to the cutoff
    DAYS_SINCE_FIRST = "days_since_first"  # tenure: days from the first event to the cutoff
    TREND = "trend"  # (last window - the one before) / (both): -1 (stopped) .. +1 (started); 0 if neither


WINDOWED = frozenset(
    {WindowOperation.COUNT, WindowOperation.SUM, WindowOperation.MEAN, WindowOperation.DISTINCT, WindowOperation.TREND}
)
NEEDS_VALUE = frozenset({WindowOperation.SUM, WindowOperation.MEAN})


@dataclass(frozen=True, slots=True)
class WindowFeature:
    """One declared feature: an operation over the events of the last `days` before the cutoff
    (all of them for the days-since operations), optionally of one event type only. `value`:
    the value column summed or averaged (a trend of its sum when given, of the count if not)."""

    name: str
    operation: WindowOperation
    days: int | None = None
    value: str | None = None
    event_type: str | None = None

    @property
    def whole(self) -> bool:
        """Counts are whole numbers: the observation table declares them integer fields."""
        return self.operation in (WindowOperation.COUNT, WindowOperation.DISTINCT)

    @property
    def description(self) -> str:
        what = {
            WindowOperation.COUNT: "events",
            WindowOperation.SUM: f"total {self.value}",
            WindowOperation.MEAN: f"mean {self.value} per event",
            WindowOperation.DISTINCT: f"distinct {self.value}" if self.value else "active days",
            WindowOperation.DAYS_SINCE_LAST: "days since the last event",
            WindowOperation.DAYS_SINCE_FIRST: "days since the first event",
            WindowOperation.TREND: f"trend of {'total ' + self.value if self.value else 'events'}",
        }[self.operation]
        kind = f" of type {self.event_type}" if self.event_type else ""
        if self.operation is WindowOperation.TREND:
            return f"{what}{kind}: the last {self.days} days against the {self.days} before (-1 to +1)"
        return f"{what}{kind}" + (f" in the last {self.days} days" if self.days else "")


class ChurnKind(Enum):
    INACTIVITY = "inactivity"  # non-contractual (CDNOW): no event within the horizon
    CANCEL = "cancel"  # contractual: a declared cancellation event within the horizon


@dataclass(frozen=True, slots=True)
class ChurnDefinition:
    kind: ChurnKind
    horizon_days: int
    cancel_type: str | None = None

    @property
    def description(self) -> str:
        if self.kind is ChurnKind.CANCEL:
            return f"a '{self.cancel_type}' event within {self.horizon_days} days after the cutoff"
        return f"no event within {self.horizon_days} days after the cutoff"


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Observation dates: `first`, then every `every_days`, `count` of them."""

    first: date
    every_days: int
    count: int

    def dates(self) -> tuple[date, ...]:
        return tuple(self.first + timedelta(days=self.every_days * i) for i in range(self.count))


@dataclass(frozen=True, slots=True)
class EventSource:
    """The columns of an event file: whose, when, what kind (optional), and values."""

    id_column: str
    time_column: str
    type_column: str | None = None
    value_columns: tuple[str, ...] = ()
    time_format: str | None = None
    """strptime format of a time written as text or digits (CDNOW: %Y%m%d); None: ISO dates."""


@dataclass(frozen=True)
class EventSchema:
    """An event history's declaration: the source's columns, the window features, the churn
    definition and the cutoffs. `observation_schema()` is the ordinary table schema of what the
    builder writes, so training, the gate, serving and drift read it as any other table."""

    name: str
    source: EventSource
    features: tuple[WindowFeature, ...]
    churn: ChurnDefinition
    cutoffs: Cutoffs
    description: str = ""
    quality: Quality = field(default_factory=Quality)
    attributes: tuple[Field, ...] = ()
    """Static customer attributes (as of sign-up, so no cutoff can leak through them), read from a
    customer table joined by id: fields of the observation table beside the window features."""

    def __post_init__(self) -> None:
        problems = event_schema_problems(self)
        if problems:
            from churnguard.domain.errors import InvalidSchema

            raise InvalidSchema(self.name, problems)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def observation_schema(self) -> TableSchema:
        """The table the builder writes: the customer id, the cutoff (passed through: rows are
        split by it, never learnt from), one number field per window feature, the 0/1 label."""
        fields = tuple(
            Field(
                feature.name,
                Kind.INTEGER if feature.whole else Kind.NUMBER,
                minimum=-1.0 if feature.operation is WindowOperation.TREND else 0.0,
                maximum=1.0 if feature.operation is WindowOperation.TREND else None,
                unit="days" if feature.operation in (WindowOperation.DAYS_SINCE_LAST, WindowOperation.DAYS_SINCE_FIRST)
                else "",
                help=feature.description,
                missing=_missing(feature),
            )
            for feature in self.features
        )  # fmt: skip
        return TableSchema(
            name=self.name,
            label=LabelColumn(LABEL_COLUMN, positive=(1,), negative=(0,)),
            fields=fields + self.attributes,
            id_column=self.source.id_column,
            description=(self.description + " " if self.description else "")
            + f"One row per customer and cutoff; churn: {self.churn.description}.",
            passthrough=(PassThrough(CUTOFF_COLUMN, "the observation date: rows are split by it, never a feature"),),
            quality=self.quality,
            split=TimeSplit(CUTOFF_COLUMN, self.churn.horizon_days),
        )


def _missing(feature: WindowFeature) -> Missing:
    """A days-since of one event type the customer never had has no value: imputed (median)."""
    return Missing(MissingPolicy.MEDIAN) if feature.event_type and feature.operation in _DAYS else Missing()


def event_schema_problems(schema: EventSchema) -> list[tuple[str, str]]:
    """Every problem of the declaration, by key path, as TableSchema's checks name them."""
    problems: list[tuple[str, str]] = []
    source = schema.source
    names = [f.name for f in schema.features]
    if not names:
        problems.append(("features", "declare at least one window feature"))
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append((f"features.{duplicate}", "declared twice"))
    reserved = {source.id_column, CUTOFF_COLUMN, LABEL_COLUMN}
    for attribute in schema.attributes:
        where = f"customers.fields.{attribute.name}"
        if attribute.name in reserved:
            problems.append((where, f"the name is the observation table's {attribute.name} column"))
        if attribute.name in names:
            problems.append((where, "the name is also a window feature's"))
        problems += field_problems(attribute, where)
    for feature in schema.features:
        where = f"features.{feature.name}"
        if feature.name in reserved:
            problems.append((where, f"the name is the observation table's {feature.name} column"))
        if feature.operation in WINDOWED and (feature.days is None or feature.days <= 0):
            problems.append((where, f"{feature.operation.value} needs a window of days > 0"))
        if feature.operation not in WINDOWED and feature.days is not None:
            problems.append((where, f"{feature.operation.value} reads the whole history before the cutoff: no days"))
        if feature.operation in NEEDS_VALUE and feature.value is None:
            problems.append((where, f"{feature.operation.value} needs a value column"))
        if feature.value is not None and feature.value not in (*source.value_columns, source.type_column):
            problems.append((where, f"value {feature.value!r} is not a declared value column"))
        if feature.value is not None and feature.operation in (WindowOperation.COUNT, *_DAYS):
            problems.append((where, f"{feature.operation.value} takes no value column"))
        if feature.event_type is not None and source.type_column is None:
            problems.append((where, "an event type needs the source's type column"))
    churn = schema.churn
    if churn.horizon_days <= 0:
        problems.append(("churn.horizon_days", "must be > 0"))
    if churn.kind is ChurnKind.CANCEL and (churn.cancel_type is None or source.type_column is None):
        problems.append(("churn", "a cancel definition needs cancel_type and the source's type column"))
    if schema.cutoffs.every_days <= 0 or schema.cutoffs.count <= 0:
        problems.append(("cutoffs", "every_days and count must be > 0"))
    return problems


_DAYS = (WindowOperation.DAYS_SINCE_LAST, WindowOperation.DAYS_SINCE_FIRST)


def day_number(day: date) -> int:
    """Days since 1970-01-01: the time axis every builder counts in."""
    return (day - EPOCH).days


def days_since(moment: datetime | date) -> float:
    """A moment on the builders' time axis: days since 1970-01-01 in UTC, fractional for a time of
    day (a time without a zone is read as UTC, as the builders read it)."""
    if not isinstance(moment, datetime):
        return float(day_number(moment))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - datetime(EPOCH.year, EPOCH.month, EPOCH.day)).total_seconds() / 86_400.0


def date_of(days: float) -> date:
    """The day a time on that axis falls on (`day_number`'s inverse for whole days)."""
    return EPOCH + timedelta(days=math.floor(days))


@dataclass(frozen=True)
class History:
    """One customer's events: `days` since 1970-01-01, `types` (None without a type column) and
    each value column, aligned; any order."""

    days: FloatArray
    types: tuple[str | None, ...]
    values: Mapping[str, FloatArray]


def active(schema: EventSchema, history: History, cutoff: float) -> bool:
    """A customer is observed at `cutoff` if they have an event before it, and (contractual) no
    cancellation before it."""
    before = history.days < cutoff
    if not before.any():
        return False
    if schema.churn.kind is ChurnKind.CANCEL:
        return not any(b and t == schema.churn.cancel_type for b, t in zip(before, history.types, strict=True))
    return True


def observe(schema: EventSchema, history: History, cutoff: float) -> tuple[float, ...] | None:
    """The window features at `cutoff`, from the events strictly before it; None if the
    customer is not active then."""
    if not active(schema, history, cutoff):
        return None
    return tuple(_feature(feature, history, cutoff) for feature in schema.features)


def churned(schema: EventSchema, history: History, cutoff: float) -> bool:
    """The label at `cutoff`, from the events in [cutoff, cutoff + horizon) alone."""
    churn = schema.churn
    after = (history.days >= cutoff) & (history.days < cutoff + churn.horizon_days)
    if churn.kind is ChurnKind.CANCEL:
        return any(a and t == churn.cancel_type for a, t in zip(after, history.types, strict=True))
    return not after.any()


def _feature(feature: WindowFeature, history: History, cutoff: float) -> float:
    days = history.days
    of_type = (
        np.fromiter((t == feature.event_type for t in history.types), dtype=bool, count=len(days))
        if feature.event_type is not None
        else np.ones(len(days), dtype=bool)
    )
    before = of_type & (days < cutoff)
    operation = feature.operation
    if operation is WindowOperation.DAYS_SINCE_LAST:
        return float(cutoff - days[before].max()) if before.any() else math.nan
    if operation is WindowOperation.DAYS_SINCE_FIRST:
        return float(cutoff - days[before].min()) if before.any() else math.nan
    assert feature.days is not None
    window = before & (days >= cutoff - feature.days)
    if operation is WindowOperation.TREND:
        earlier = of_type & (days >= cutoff - 2 * feature.days) & (days < cutoff - feature.days)
        last, previous = _amount(feature, history, window), _amount(feature, history, earlier)
        return 0.0 if last + previous == 0 else (last - previous) / (last + previous)
    if operation is WindowOperation.COUNT:
        return float(window.sum())
    if operation is WindowOperation.DISTINCT:
        if feature.value is None:
            return float(len(np.unique(np.floor(days[window]))))
        column = _column(history, feature.value)
        return float(len({v for v, w in zip(column, window, strict=True) if w and v is not None and v == v}))
    values = history.values[str(feature.value)][window]
    if operation is WindowOperation.SUM:
        return float(values.sum())
    return float(values.mean()) if values.size else 0.0  # MEAN


def _amount(feature: WindowFeature, history: History, rows: npt.NDArray[np.bool_]) -> float:
    return float(history.values[feature.value][rows].sum()) if feature.value else float(rows.sum())


def _column(history: History, name: str) -> list[object]:
    return list(history.types) if name not in history.values else history.values[name].tolist()
