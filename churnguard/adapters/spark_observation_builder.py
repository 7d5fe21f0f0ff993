"""The ObservationBuilder port on Spark (`churnguard events build --engine spark`), for histories
larger than one machine: the same SQL as the DuckDB builder (`observation_sql`), run by Spark SQL
in local mode (SPARK_MASTER, default local[*]) or on a cluster.

The observation table is written as one file, as the DuckDB builder writes it, so `pipeline`
trains on either alike: one row per customer and cutoff is far smaller than the events it is
built from. Spark's ANSI mode is on (a cell that does not cast is an error, not a silent NULL),
and names are in double quotes, as the generated SQL writes them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnguard.adapters.observation_sql import sql_text
from churnguard.adapters.spark_scoring import spark_session
from churnguard.adapters.sql_observation_builder import SqlObservationBuilder, whitespace_text
from churnguard.application.errors import DatasetUnreadable, InvalidOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# strptime directives as Java DateTimeFormatter patterns; any other letter is quoted as a literal
_JAVA_PATTERN = {"%Y": "yyyy", "%y": "yy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%j": "DDD"}


def java_time_pattern(time_format: str) -> str:
    """`%Y%m%d` -> `yyyyMMdd`: the Spark pattern that reads what the strptime format reads."""
    parts = []
    for piece in re.findall(r"%.|[^%]+", time_format):
        if piece.startswith("%"):
            if piece == "%%":
                parts.append("%")
            elif piece in _JAVA_PATTERN:
                parts.append(_JAVA_PATTERN[piece])
            else:
                raise InvalidOptions(
                    f"time_format {time_format!r}: {piece} has no Spark form (use {', '.join(_JAVA_PATTERN)})"
                )
        else:
            parts.append("".join(f"'{c}'" if c.isalpha() else ("''" if c == "'" else c) for c in piece))
    return "".join(parts)


class SparkSqlSession:
    """The SqlSession of one Spark session: each table kept (memory and disk) until the build ends."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self._kept: list[DataFrame] = []

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._spark.sql(sql).collect()]

    def create(self, name: str, sql: str) -> None:
        from pyspark import StorageLevel

        frame = self._spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
        self._kept.append(frame)
        frame.createOrReplaceTempView(name)

    def view(self, name: str, location: str) -> set[str]:
        if not Path(location).is_file():
            raise DatasetUnreadable(location, "no such file")
        suffix = Path(location).suffix.lower()
        if suffix == ".parquet":
            frame = self._spark.read.parquet(location)
        elif suffix == ".csv":
            frame = self._spark.read.option("header", True).option("inferSchema", False).csv(location)
        else:
            frame = self._spark.createDataFrame(whitespace_text(location))
        frame.createOrReplaceTempView(name)
        return set(frame.columns)

    def time_expression(self, column: str, time_format: str | None) -> str:
        parsed = (
            f"try_to_timestamp(CAST({column} AS STRING), {sql_text(java_time_pattern(time_format))})"
            if time_format
            else f"try_cast({column} AS TIMESTAMP)"
        )
        return f"CAST(unix_micros({parsed}) AS DOUBLE) / 86400000000.0"

    def write(self, sql: str, out: str) -> None:
        """One file, whole or not at all: Spark writes a one-partition dataset beside `out`, and
        its part file is renamed into place."""
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.spark")
        parquet = target.suffix.lower() == ".parquet"
        try:
            writer = self._spark.sql(sql).coalesce(1).write.mode("overwrite")
            if parquet:
                writer.parquet(str(staging))
            else:
                writer.option("header", True).csv(str(staging))
            (part,) = staging.glob("part-*")
            os.replace(part, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def release(self) -> None:
        for frame in self._kept:
            frame.unpersist()


class SparkObservationBuilder(SqlObservationBuilder):
    def __init__(self, master: str = "local[*]", driver_memory: str = "2g") -> None:
        self.master = master
        self.driver_memory = driver_memory

    @contextlib.contextmanager
    def session(self) -> Iterator[SparkSqlSession]:
        spark = spark_session(self.master, self.driver_memory, "churnguard-events")
        settings = {"spark.sql.ansi.enabled": "true", "spark.sql.ansi.doubleQuotedIdentifiers": "true"}
        before = {key: spark.conf.get(key, None) for key in settings}
        for key, value in settings.items():
            spark.conf.set(key, value)
        session = SparkSqlSession(spark)
        try:
            yield session
        finally:
            session.release()
            for key, previous in before.items():  # the session may be shared: leave it as it was
                if previous is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, previous)
