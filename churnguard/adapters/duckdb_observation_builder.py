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
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from churnguard.adapters.atomic_files import atomic_path
from churnguard.adapters.observation_sql import event_columns, observation_query, quote_name, sql_text
from churnguard.application.errors import DatasetUnreadable, InvalidOptions
from churnguard.application.ports import CutoffCount, ObservationSummary
from churnguard.domain.events import CUTOFF_COLUMN, LABEL_COLUMN, EventSchema, date_of, day_number
from churnguard.domain.schema import Kind

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


class DuckdbObservationBuilder:
    def __init__(self, threads: int | None = None, memory_limit: str = "2GB") -> None:
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
    ) -> ObservationSummary:
        with self._connection() as con:
            self._read(con, schema, source)
            counts = con.execute(
                "SELECT COUNT(*), COUNT(DISTINCT id), MIN(t), MAX(t) FROM events"
            ).fetchone()  # fmt: skip
            assert counts is not None
            events, customers, first, last = counts
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
            customers=int(customers),
            first_event=date_of(first),
            until=end,
            cutoffs=tuple(CutoffCount(cutoff, *found.get(day_number(cutoff), (0, 0, 0))) for cutoff in sorted(cutoffs)),
        )
        logger.info("observations built", extra={"rows": summary.rows, "events": summary.events, "out": out})
        return summary

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        import duckdb

        con = duckdb.connect(config={"threads": self._threads, "memory_limit": self._memory_limit})
        try:
            yield con
        finally:
            con.close()

    def _read(self, con: duckdb.DuckDBPyConnection, schema: EventSchema, source: str) -> None:
        """The source as the `events` relation: id, t (days since 1970-01-01), type, values."""
        path = Path(source)
        if not path.is_file():
            raise DatasetUnreadable(source, "no such file")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            con.execute(f"CREATE TEMP VIEW source AS SELECT * FROM read_parquet({sql_text(source)})")  # nosec B608
        elif suffix == ".csv":
            reader = f"read_csv({sql_text(source)}, header = true, all_varchar = true)"
            con.execute(f"CREATE TEMP VIEW source AS SELECT * FROM {reader}")  # nosec B608
        else:  # whitespace-separated text with a header (CDNOW): runs of blanks are one separator
            import pandas as pd

            frame = pd.read_csv(path, sep=r"\s+", dtype=str)
            con.register("source", frame)
        present = {row[0] for row in con.execute("DESCRIBE source").fetchall()}
        wanted = [schema.source.id_column, schema.source.time_column, *schema.source.value_columns]
        wanted += [schema.source.type_column] if schema.source.type_column else []
        missing = [column for column in wanted if column not in present]
        if missing:
            raise DatasetUnreadable(
                source, f"no column {', '.join(map(repr, missing))} (it has {', '.join(sorted(present))})"
            )
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

    def _write(self, con: duckdb.DuckDBPyConnection, schema: EventSchema, out: Path, labelled_only: bool) -> None:
        """The table for today's schema machinery: the id under its own name, the cutoff as an
        ISO date, the features, the label (rows whose label is unknown yet left out when
        `labelled_only`: a training table); whole or not at all. The SQL names every column
        quoted and every value a literal (B608 below)."""
        observed = schema.observation_schema()
        features = ", ".join(
            f"CAST({quote_name(f.name)} AS BIGINT) AS {quote_name(f.name)}"
            if f.kind is Kind.INTEGER
            else quote_name(f.name)
            for f in observed.fields
        )
        select = (
            f"SELECT id AS {quote_name(schema.source.id_column)}, "  # nosec B608
            f"CAST(DATE '1970-01-01' + CAST(cutoff_day AS INTEGER) AS VARCHAR) AS {CUTOFF_COLUMN}, "
            f"{features}, churn AS {LABEL_COLUMN} FROM observations "
            f"{'WHERE churn IS NOT NULL ' if labelled_only else ''}ORDER BY cutoff_day, id"
        )
        options = "FORMAT PARQUET" if out.suffix.lower() == ".parquet" else "FORMAT CSV, HEADER true"
        with atomic_path(out) as temp:
            con.execute(f"COPY ({select}) TO {sql_text(str(temp))} ({options})")  # nosec B608
