"""The ObservationBuilder port on DuckDB, in this process: events from CSV, Parquet or a
whitespace-separated text file (CDNOW's form) to the observation table, as CSV or Parquet.

DuckDB rather than Polars: the builder is one SQL query generated from the declarations
(`observation_sql`), and the same query runs on Spark SQL for histories larger than one machine,
so the two builders share one form of each rule; DuckDB also reads and writes the files itself,
streaming, on every core.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from churnguard.adapters.atomic_files import atomic_path
from churnguard.adapters.observation_sql import event_columns, observation_query, quote_name, sql_text
from churnguard.application.errors import DatasetUnreadable, InvalidOptions
from churnguard.application.ports import CutoffCount, ObservationSummary
from churnguard.domain.events import CUTOFF_COLUMN, LABEL_COLUMN, EventSchema, date_of, day_number
from churnguard.domain.schema import Field, Kind

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


class DuckdbObservationBuilder:
    def __init__(self, threads: int | None = None, memory_limit: str = "1GB") -> None:
        """`memory_limit`: DuckDB's own (it spills past it); 10,000,000 events build in about 1 GB."""
        self._threads = threads or os.cpu_count() or 1
        self._memory_limit = memory_limit

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
        with self._connection() as con:
            self._read(con, schema, source)
            if customers is not None:
                self._read_customers(con, schema, customers)
            counts = con.execute(
                "SELECT COUNT(*), COUNT(DISTINCT id), MIN(t), MAX(t) FROM events"
            ).fetchone()  # fmt: skip
            assert counts is not None
            events, customer_count, first, last = counts
            if not events:
                raise DatasetUnreadable(source, "it holds no event")
            end = until or date_of(last + 1)
            query = observation_query(schema, tuple(day_number(c) for c in cutoffs), str(day_number(end)))
            con.execute(f"CREATE TEMP TABLE observations AS {query}")  # nosec B608
            self._write(con, schema, Path(out), labelled_only)
            rows = con.execute(
                "SELECT cutoff_day, COUNT(*), COUNT(churn), COALESCE(SUM(churn), 0) FROM observations "
                "GROUP BY cutoff_day ORDER BY cutoff_day"
            ).fetchall()
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

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        import duckdb

        # past the memory limit DuckDB spills to disk rather than fail: a history larger than memory builds
        with tempfile.TemporaryDirectory(prefix="churnguard-duckdb-") as spill:
            config: dict[str, str | bool | int | float | list[str]] = {
                "threads": self._threads,
                "memory_limit": self._memory_limit,
                "temp_directory": spill,
                "preserve_insertion_order": False,  # the output is ordered by its own ORDER BY
            }
            con = duckdb.connect(config=config)
            try:
                yield con
            except duckdb.OutOfMemoryException:
                raise InvalidOptions(
                    f"the event history needs more than the builder's memory limit of {self._memory_limit} "
                    "(EVENTS_MEMORY_LIMIT): raise it, or build fewer cutoffs at once"
                ) from None
            finally:
                con.close()

    def _read(self, con: duckdb.DuckDBPyConnection, schema: EventSchema, source: str) -> None:
        """The source as the `events` relation: id, t (days since 1970-01-01), type, values."""
        wanted = [schema.source.id_column, schema.source.time_column, *schema.source.value_columns]
        wanted += [schema.source.type_column] if schema.source.type_column else []
        _view(con, "source", source, wanted)
        time = quote_name(schema.source.time_column)
        fmt = schema.source.time_format
        parsed = f"try_strptime(CAST({time} AS VARCHAR), {sql_text(fmt)})" if fmt else f"TRY_CAST({time} AS TIMESTAMP)"
        con.execute(
            f"CREATE TEMP TABLE events AS SELECT {event_columns(schema, f'epoch({parsed}) / 86400.0')} "  # nosec B608
            "FROM source"
        )
        bad = con.execute("SELECT COUNT(*) FROM events WHERE t IS NULL OR id IS NULL").fetchone()
        if bad and bad[0]:
            shown = fmt or "an ISO date or timestamp"
            raise InvalidOptions(
                f"{source}: {bad[0]:,} events have no id or a time that does not read as {shown} "
                f"(column {schema.source.time_column!r}{'; time_format ' + repr(fmt) if fmt else ''})"
            )

    def _read_customers(self, con: duckdb.DuckDBPyConnection, schema: EventSchema, location: str) -> None:
        """The customer table as the `customers` relation: id and the declared attributes, each
        number read as a number (a cell that is not one is named here, not lost), one row per id."""
        id_column = schema.source.id_column
        _view(con, "customer_source", location, [id_column, *(a.name for a in schema.attributes)])
        columns = [f"CAST({quote_name(id_column)} AS VARCHAR) AS id"]
        for attribute in schema.attributes:
            name, target = quote_name(attribute.name), _sql_type(attribute)
            if target != "VARCHAR":
                bad = con.execute(
                    f"SELECT CAST({name} AS VARCHAR) FROM customer_source "  # nosec B608
                    f"WHERE {name} IS NOT NULL AND TRY_CAST({name} AS {target}) IS NULL LIMIT 1"
                ).fetchone()
                if bad is not None:
                    what = "a whole number" if target == "BIGINT" else "a number"
                    raise InvalidOptions(
                        f"{location}: column {attribute.name!r} must hold {what} "
                        f"({attribute.kind.value} field customers.fields.{attribute.name}), got {bad[0]!r}"
                    )
            columns.append(f"CAST({name} AS {target}) AS {name}" if target != "VARCHAR" else name)
        con.execute(f"CREATE TEMP TABLE customers AS SELECT {', '.join(columns)} FROM customer_source")  # nosec B608
        twice = con.execute("SELECT id FROM customers GROUP BY id HAVING COUNT(*) > 1 LIMIT 1").fetchone()
        if twice is not None:
            raise InvalidOptions(f"{location}: customer {twice[0]!r} appears twice ({id_column} must be unique)")

    def _write(self, con: duckdb.DuckDBPyConnection, schema: EventSchema, out: Path, labelled_only: bool) -> None:
        """The table for today's schema machinery: the id under its own name, the cutoff as an
        ISO date, the features, the label (rows whose label is unknown yet left out when
        `labelled_only`: a training table); whole or not at all. The SQL names every column
        quoted and every value a literal (B608 below)."""
        features = ", ".join(
            f"CAST(o.{quote_name(f.name)} AS BIGINT) AS {quote_name(f.name)}" if f.whole else f"o.{quote_name(f.name)}"
            for f in schema.features
        )
        features += "".join(f", c.{quote_name(a.name)}" for a in schema.attributes)
        joined = "observations o LEFT JOIN customers c ON c.id = o.id" if schema.attributes else "observations o"
        select = (
            f"SELECT o.id AS {quote_name(schema.source.id_column)}, "  # nosec B608
            f"CAST(DATE '1970-01-01' + CAST(o.cutoff_day AS INTEGER) AS VARCHAR) AS {CUTOFF_COLUMN}, "
            f"{features}, o.churn AS {LABEL_COLUMN} FROM {joined} "
            f"{'WHERE o.churn IS NOT NULL ' if labelled_only else ''}ORDER BY o.cutoff_day, o.id"
        )
        options = "FORMAT PARQUET" if out.suffix.lower() == ".parquet" else "FORMAT CSV, HEADER true"
        with atomic_path(out) as temp:
            con.execute(f"COPY ({select}) TO {sql_text(str(temp))} ({options})")  # nosec B608


def _require_customers(schema: EventSchema, customers: str | None) -> None:
    if schema.attributes and customers is None:
        names = ", ".join(a.name for a in schema.attributes)
        raise InvalidOptions(
            f"event schema {schema.name!r} declares customer attributes ({names}): give --customers FILE"
        )
    if customers is not None and not schema.attributes:
        raise InvalidOptions(f"--customers: event schema {schema.name!r} declares no customers.fields to read from it")


def _sql_type(attribute: Field) -> str:
    """A number field as a number; labels as text unless every label is a whole number (0/1)."""
    if attribute.kind is Kind.INTEGER:
        return "BIGINT"
    if attribute.kind is Kind.NUMBER:
        return "DOUBLE"
    whole = attribute.labels and all(
        isinstance(label, int) and not isinstance(label, bool) for label in attribute.labels
    )
    return "BIGINT" if whole else "VARCHAR"


def _view(con: duckdb.DuckDBPyConnection, name: str, location: str, wanted: Sequence[str]) -> None:
    """A CSV (every cell as text), Parquet or whitespace-separated text file (runs of blanks are
    one separator: CDNOW's form) as the view `name`, which must have the `wanted` columns."""
    path = Path(location)
    if not path.is_file():
        raise DatasetUnreadable(location, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet({sql_text(location)})")  # nosec B608
    elif suffix == ".csv":
        reader = f"read_csv({sql_text(location)}, header = true, all_varchar = true)"
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {reader}")  # nosec B608
    else:
        import pandas as pd

        con.register(name, pd.read_csv(path, sep=r"\s+", dtype=str))
    present = {row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()}  # nosec B608
    missing = [column for column in wanted if column not in present]
    if missing:
        raise DatasetUnreadable(
            location, f"no column {', '.join(map(repr, missing))} (it has {', '.join(sorted(present))})"
        )
