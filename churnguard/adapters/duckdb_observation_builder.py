"""The ObservationBuilder port on DuckDB, in this process: events from CSV, Parquet or a
whitespace-separated text file (CDNOW's form) to the observation table, as CSV or Parquet.

DuckDB rather than Polars: the builder is one SQL query generated from the declarations
(`observation_sql`), and the same query runs on Spark SQL for histories larger than one machine,
so the two builders share one form of each rule; DuckDB also reads and writes the files itself,
streaming, on every core, and spills to disk past its memory limit.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnguard.adapters.atomic_files import atomic_path
from churnguard.adapters.observation_sql import sql_text
from churnguard.adapters.sql_observation_builder import SqlObservationBuilder, whitespace_text
from churnguard.application.errors import DatasetUnreadable, InvalidOptions

if TYPE_CHECKING:
    import duckdb


class DuckdbSession:
    """The SqlSession of one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self._con.execute(sql).fetchall()

    def create(self, name: str, sql: str) -> None:
        self._con.execute(f"CREATE TEMP TABLE {name} AS {sql}")  # nosec B608

    def view(self, name: str, location: str) -> set[str]:
        path = Path(location)
        if not path.is_file():
            raise DatasetUnreadable(location, "no such file")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            self._con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet({sql_text(location)})")  # nosec B608
        elif suffix == ".csv":
            reader = f"read_csv({sql_text(location)}, header = true, all_varchar = true)"
            self._con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {reader}")  # nosec B608
        else:
            self._con.register(name, whitespace_text(location))
        return {row[0] for row in self._con.execute(f"DESCRIBE {name}").fetchall()}  # nosec B608

    def time_expression(self, column: str, time_format: str | None) -> str:
        if time_format:
            return f"epoch(try_strptime(CAST({column} AS STRING), {sql_text(time_format)})) / 86400.0"
        return f"epoch(TRY_CAST({column} AS TIMESTAMP)) / 86400.0"

    def write(self, sql: str, out: str) -> None:
        options = "FORMAT PARQUET" if out.lower().endswith(".parquet") else "FORMAT CSV, HEADER true"
        with atomic_path(Path(out)) as temp:
            self._con.execute(f"COPY ({sql}) TO {sql_text(str(temp))} ({options})")  # nosec B608


class DuckdbObservationBuilder(SqlObservationBuilder):
    def __init__(self, threads: int | None = None, memory_limit: str = "1GB") -> None:
        """`memory_limit`: DuckDB's own (it spills past it); 10,000,000 events build in about 1 GB."""
        self._threads = threads or os.cpu_count() or 1
        self._memory_limit = memory_limit

    @contextlib.contextmanager
    def session(self) -> Iterator[DuckdbSession]:
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
                yield DuckdbSession(con)
            except duckdb.OutOfMemoryException:
                raise InvalidOptions(
                    f"the event history needs more than the builder's memory limit of {self._memory_limit} "
                    "(EVENTS_MEMORY_LIMIT): raise it, or build fewer cutoffs at once"
                ) from None
            finally:
                con.close()
