"""The ObservationBuilder port on any SQL engine: one algorithm, the engines differ only in how
they read a file, write a table and parse a time.

`DuckdbObservationBuilder` (in this process) and `SparkObservationBuilder` (histories larger
than one machine) are this class with their `SqlEngine`; both run the SQL `observation_sql`
generates from the declarations, and a test holds them equal on the same history.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Protocol

from churnguard.adapters.observation_sql import (
    attribute_type,
    customer_columns,
    event_columns,
    observation_query,
    output_query,
    quote_name,
)
from churnguard.adapters.postgres_table_export import readable, shown
from churnguard.application.errors import DatasetUnreadable, InvalidOptions
from churnguard.application.ports import CutoffCount, ObservationSummary
from churnguard.domain.events import EventSchema, date_of, day_number

logger = logging.getLogger(__name__)


class SqlSession(Protocol):
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of a query."""
        ...

    def create(self, name: str, sql: str) -> None:
        """Keep the query's result as the table `name` for the queries after it."""
        ...

    def view(self, name: str, location: str) -> set[str]:
        """The file (CSV as text, Parquet, or whitespace-separated text) as the view `name`; its columns."""
        ...

    def time_expression(self, column: str, time_format: str | None) -> str:
        """The engine's expression for a source time in days since 1970-01-01 (NULL if it does not read)."""
        ...

    def write(self, sql: str, out: str) -> None:
        """The query's rows to `out` (.csv with a header, or .parquet), whole or not at all."""
        ...


class SqlObservationBuilder:
    """The build, for an engine whose sessions `session()` opens."""

    def session(self) -> AbstractContextManager[SqlSession]:
        raise NotImplementedError

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
        _require_customers(schema, customers)
        with contextlib.ExitStack() as files, self.session() as sql:
            _read_events(sql, schema, files.enter_context(readable(source)), shown(source))
            if customers is not None:
                _read_customers(sql, schema, files.enter_context(readable(customers)), shown(customers))
            ((events, customer_count, first, last),) = sql.rows(
                "SELECT COUNT(*), COUNT(DISTINCT id), MIN(t), MAX(t) FROM events"
            )
            if not events:
                raise DatasetUnreadable(source, "it holds no event")
            end = until or date_of(last + 1)
            query = observation_query(schema, tuple(day_number(c) for c in cutoffs), str(day_number(end)))
            sql.create("observations", query)
            sql.write(output_query(schema, labelled_only), out)
            rows = sql.rows(
                "SELECT cutoff_day, COUNT(*), COUNT(churn), COALESCE(SUM(churn), 0) FROM observations "
                "GROUP BY cutoff_day ORDER BY cutoff_day"
            )
        found = {int(day): (int(n), int(labelled), int(churned)) for day, n, labelled, churned in rows}
        summary = ObservationSummary(
            location=out,
            events=int(events),
            customers=int(customer_count),
            first_event=date_of(first),
            until=end,
            cutoffs=tuple(CutoffCount(cutoff, *found.get(day_number(cutoff), (0, 0, 0))) for cutoff in sorted(cutoffs)),
        )
        logger.info("observations built", extra={"rows": summary.rows, "events": summary.events, "out": out})
        return summary


def _require_columns(location: str, present: set[str], wanted: Sequence[str]) -> None:
    missing = [column for column in wanted if column not in present]
    if missing:
        raise DatasetUnreadable(
            location, f"no column {', '.join(map(repr, missing))} (it has {', '.join(sorted(present))})"
        )


def _read_events(sql: SqlSession, schema: EventSchema, path: str, location: str) -> None:
    """The source as the `events` relation: id, t (days since 1970-01-01), type, values.
    `path`: the file the engine reads; `location`: what the user named (a table's URL)."""
    source = schema.source
    wanted = [source.id_column, source.time_column, *source.value_columns]
    _require_columns(location, sql.view("source", path), wanted + ([source.type_column] if source.type_column else []))
    time = sql.time_expression(quote_name(source.time_column), source.time_format)
    sql.create("events", f"SELECT {event_columns(schema, time)} FROM source")  # nosec B608
    ((bad,),) = sql.rows("SELECT COUNT(*) FROM events WHERE t IS NULL OR id IS NULL")
    if bad:
        fmt = source.time_format
        raise InvalidOptions(
            f"{location}: {bad:,} events have no id or a time that does not read as "
            f"{fmt or 'an ISO date or timestamp'} (column {source.time_column!r}"
            f"{'; time_format ' + repr(fmt) if fmt else ''})"
        )


def _read_customers(sql: SqlSession, schema: EventSchema, path: str, location: str) -> None:
    """The customer table as the `customers` relation: id and the declared attributes, each
    number read as a number (a cell that is not one is named here, not lost), one row per id."""
    id_column = schema.source.id_column
    _require_columns(location, sql.view("customer_source", path), [id_column, *(a.name for a in schema.attributes)])
    for attribute in schema.attributes:
        name, target = quote_name(attribute.name), attribute_type(attribute)
        if target == "STRING":
            continue
        bad = sql.rows(
            f"SELECT CAST({name} AS STRING) FROM customer_source "  # nosec B608
            f"WHERE {name} IS NOT NULL AND TRY_CAST({name} AS {target}) IS NULL LIMIT 1"
        )
        if bad:
            what = "a whole number" if target == "BIGINT" else "a number"
            raise InvalidOptions(
                f"{location}: column {attribute.name!r} must hold {what} "
                f"({attribute.kind.value} field customers.fields.{attribute.name}), got {bad[0][0]!r}"
            )
    sql.create("customers", f"SELECT {customer_columns(schema)} FROM customer_source")  # nosec B608
    twice = sql.rows("SELECT id FROM customers GROUP BY id HAVING COUNT(*) > 1 LIMIT 1")
    if twice:
        raise InvalidOptions(f"{location}: customer {twice[0][0]!r} appears twice ({id_column} must be unique)")


def _require_customers(schema: EventSchema, customers: str | None) -> None:
    if schema.attributes and customers is None:
        names = ", ".join(a.name for a in schema.attributes)
        raise InvalidOptions(
            f"event schema {schema.name!r} declares customer attributes ({names}): give --customers FILE"
        )
    if customers is not None and not schema.attributes:
        raise InvalidOptions(f"--customers: event schema {schema.name!r} declares no customers.fields to read from it")


def whitespace_text(location: str) -> Any:
    """A whitespace-separated text file with a header (CDNOW's form: runs of blanks are one
    separator) as a DataFrame of text, for engines whose readers take one fixed delimiter."""
    import pandas as pd

    return pd.read_csv(location, sep=r"\s+", dtype=str)
