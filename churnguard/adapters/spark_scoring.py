"""Offline scoring on Spark (`churnguard score --engine spark`): the champion's MLflow pyfunc
model applied with `mlflow.pyfunc.spark_udf`, local[*] by default or any cluster (SPARK_MASTER).

Rows are checked where they are, by the same function the single-process `score` uses
(`check_chunk`, the schema's one vectorized check), on each partition's rows parsed as that
reader parses them; a row that breaks a rule goes to the rejects with its reasons and its row
number in the file, the rest go through the pyfunc model, which checks, encodes, imputes and
scores them as the API and `score` do. The output has the single-process output's columns;
Spark writes it as a dataset directory (part files), made to appear whole: written beside the
target and renamed into place, or (a remote URI) committed by Spark's own protocol.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from churnguard.adapters.file_scoring import check_chunk, survival_column_names
from churnguard.application.errors import DatasetUnreadable
from churnguard.application.ports import NoProgress, Progress, ScoringJob, ScoringSummary
from churnguard.domain.schema import TableSchema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

ROW, REASONS = "row", "reasons"
PREDICTED = "_churnguard_predicted"
"""The pyfunc model's answer, before it is spread into the output columns."""
JOB_GROUP = "churnguard-score"
POLL_SECONDS = 0.5
SIGNATURE_TYPES = {"long": "long", "integer": "int", "double": "double", "float": "float", "string": "string",
                   "boolean": "boolean"}  # fmt: skip


def _is_local(location: str) -> bool:
    return urlparse(location).scheme in ("", "file")


def _local_path(location: str) -> Path:
    return Path(urlparse(location).path if location.startswith("file:") else location)


def _format(location: str) -> str:
    name = location.rstrip("/").lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise DatasetUnreadable(location, "unsupported file type; use .csv, .csv.gz or .parquet")


def model_inputs(schema: TableSchema, raw: np.ndarray, original: pd.DataFrame) -> dict[str, Any]:
    """Valid rows in the form the pyfunc model reads (a table of raw customers): text labels as
    their label, numbers and numeric codes as numbers (a code outside the labels, which the
    schema counts as "other", as the row had it), NaN where the model imputes."""
    columns: dict[str, Any] = {}
    for index, field in enumerate(schema.fields):
        encoded = raw[:, index]
        if field.has_labels and not field.numeric_labels:
            columns[field.name] = field.decode(encoded)
        elif field.has_labels:
            codes = np.asarray([float(label) for label in field.labels])
            missing = np.isnan(encoded)
            index_of = np.where(missing, 0, encoded).astype(np.int64)
            inside = index_of < len(codes)
            given = pd.to_numeric(original[field.name], errors="coerce").to_numpy(dtype=np.float64)
            outside = np.where(np.isnan(given), codes.max(initial=0.0) + 1.0, given)  # still "other"
            value = np.where(inside, codes[np.minimum(index_of, len(codes) - 1)], outside)
            columns[field.name] = np.where(missing, np.nan, value)
        else:
            columns[field.name] = encoded
    return columns


def checker(
    schema: TableSchema, offsets: dict[int, int], parse_csv: bool, location: str
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The mapInPandas function: each partition's rows checked, numbered and put in model form."""

    passthrough = schema.passthrough_columns

    def check(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import TaskContext

        context = TaskContext.get()
        next_row = offsets.get(context.partitionId() if context else 0, 0) + 1
        for batch in batches:
            count = len(batch)
            rows = np.arange(next_row, next_row + count, dtype=np.int64)
            next_row += count
            if parse_csv:  # the cells as the single-process reader types them (pandas, per chunk)
                batch = pd.read_csv(io.StringIO(batch.to_csv(index=False)), skipinitialspace=True, dtype=None)
            checked = check_chunk(batch, schema, rows, location)
            good_index = np.searchsorted(rows, checked.rows)
            good = pd.DataFrame(model_inputs(schema, checked.raw, batch.iloc[good_index].reset_index(drop=True)))
            good.insert(0, REASONS, None)
            good.insert(0, ROW, checked.rows)
            if schema.id_column:
                ids = checked.ids if checked.ids is not None else np.full(len(checked.rows), None)
                good.insert(2, schema.id_column, [None if _blank(v) else str(v) for v in ids])
            for offset, name in enumerate(passthrough, start=3 if schema.id_column else 2):
                good.insert(offset, name, checked.passthrough.get(name, [None] * len(checked.rows)))
            rejected = pd.DataFrame(
                {
                    ROW: [r.row for r in checked.rejected],
                    REASONS: [r.reasons for r in checked.rejected],
                    **({schema.id_column: [r.id for r in checked.rejected]} if schema.id_column else {}),
                    **{name: [None] * len(checked.rejected) for name in passthrough},
                }
            )
            yield pd.concat([good, rejected], ignore_index=True) if len(rejected) else good

    return check


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def spark_session(master: str, driver_memory: str, name: str) -> SparkSession:
    """The Spark session of a ChurnGuard job: UTC, Arrow transfers, quiet logs."""
    from pyspark.sql import SparkSession

    # Spark's Python workers must be this interpreter (its packages); a cluster sets its own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.showConsoleProgress", str(sys.stderr.isatty()).lower())
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkScoringEngine:
    """The ScoringEngine port on Spark; one session per run."""

    def __init__(self, master: str = "local[*]", driver_memory: str = "2g", progress: Progress | None = None) -> None:
        self.master = master
        self.driver_memory = driver_memory
        self._progress = progress or NoProgress()

    def _session(self) -> SparkSession:
        return spark_session(self.master, self.driver_memory, "churnguard-score")

    def run(self, job: ScoringJob) -> ScoringSummary:
        started = time.perf_counter()
        output_format = _format(job.out)
        if _is_local(job.source) and not _local_path(job.source).exists():
            raise DatasetUnreadable(job.source, "no such file")
        spark = self._session()
        try:
            scored, rejected = self._score(spark, job, output_format)
        finally:
            spark.catalog.clearCache()
        return ScoringSummary(scored, rejected, time.perf_counter() - started, job.model_version, rejects_path(job.out))

    def _read(self, spark: SparkSession, location: str) -> DataFrame:
        if _format(location) == "parquet":
            return spark.read.parquet(location)
        return spark.read.option("header", True).option("inferSchema", False).option("mode", "PERMISSIVE").csv(location)

    def _score(self, spark: SparkSession, job: ScoringJob, output_format: str) -> tuple[int, int]:
        import mlflow
        from pyspark import StorageLevel
        from pyspark.sql import functions as F  # noqa: N812 - Spark's own idiom
        from pyspark.sql import types as T  # noqa: N812

        schema = job.schema
        frame = self._read(spark, job.source)
        # wrong or missing columns: refused before any task runs, as the single-process reader does
        check_chunk(pd.DataFrame(columns=frame.columns), schema, np.empty(0, np.int64), job.source)
        counts = frame.groupBy(F.spark_partition_id().alias("p")).count().collect()
        offsets, total = {}, 0
        for partition, count in sorted((int(r["p"]), int(r["count"])) for r in counts):
            offsets[partition] = total
            total += count

        fields = [
            T.StructField(f.name, T.StringType() if f.has_labels and not f.numeric_labels else T.DoubleType())
            for f in schema.fields
        ]
        identity = [T.StructField(schema.id_column, T.StringType())] if schema.id_column else []
        carried = [c for c in schema.passthrough_columns if c in frame.columns]
        passthrough = [T.StructField(name, T.StringType()) for name in schema.passthrough_columns]
        checked_schema = T.StructType(
            [T.StructField(ROW, T.LongType()), T.StructField(REASONS, T.StringType()), *identity, *passthrough, *fields]
        )
        checked = frame.mapInPandas(
            checker(schema, offsets, _format(job.source) == "csv", job.source), checked_schema
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            if job.model.tracking_uri:
                mlflow.set_tracking_uri(job.model.tracking_uri)
                mlflow.set_registry_uri(job.model.tracking_uri)
            signature = mlflow.models.get_model_info(job.model.uri).signature
            wanted = {spec.name: spec.type.name for spec in signature.inputs.inputs} if signature else {}
            inputs = [self._as_signature(F.col(f.name), wanted.get(f.name)).alias(f.name) for f in schema.fields]
            # a model forecasting time to churn answers a frame: probability and the survival columns
            forecasts = survival_column_names(schema)
            result_type = (
                ", ".join(f"{name} double" for name in ["churn_probability", *forecasts]) if forecasts else "double"
            )
            predict = mlflow.pyfunc.spark_udf(spark, job.model.uri, result_type=result_type, env_manager="local")
            good = checked.filter(F.col(REASONS).isNull()).select(
                ROW, *([schema.id_column] if schema.id_column else []), *carried, *inputs
            )
            answer = predict(*[F.col(f.name) for f in schema.fields])
            scored = good.withColumn(PREDICTED, answer)
            probability = F.col(f"{PREDICTED}.churn_probability") if forecasts else F.col(PREDICTED)
            scored = (
                scored.withColumn("churn_probability", probability)
                # the champion's decide() as a column; test_spark holds it equal to the single process's
                .withColumn("churn_prediction", (F.col("churn_probability") >= F.lit(job.threshold)).cast("long"))
            )
            for name in forecasts:
                scored = scored.withColumn(name, F.col(f"{PREDICTED}.{name}"))
            scored = scored.drop(PREDICTED).withColumn("model_version", F.lit(job.model_version[:12]))
            self._progress.start("scoring on Spark", total)
            with self._watching(spark, total):
                self._write(scored, job.out, output_format)
            self._progress.finish()
            rejects = checked.filter(F.col(REASONS).isNotNull()).select(
                ROW, (F.col(schema.id_column) if schema.id_column else F.lit(None).cast("string")).alias("id"), REASONS
            )
            rejected = rejects.count()
            rejects_location = rejects_path(job.out)
            if rejected:
                self._write(rejects.orderBy(ROW).coalesce(1), rejects_location, "csv")
            elif _is_local(rejects_location):
                _remove(_local_path(rejects_location))  # a previous run's rejects are not this run's
            return total - rejected, rejected
        finally:
            checked.unpersist()

    @contextlib.contextmanager
    def _watching(self, spark: SparkSession, total: int) -> Iterator[None]:
        """Rows done, estimated from the scoring job's finished tasks (Spark knows tasks, not
        rows), polled from Spark's status tracker while the job runs."""
        context = spark.sparkContext
        context.setJobGroup(JOB_GROUP, "churnguard score")
        stop = threading.Event()
        reported = 0

        def poll() -> None:
            nonlocal reported
            tracker = context.statusTracker()
            while not stop.wait(POLL_SECONDS):
                done = tasks = 0
                for job_id in tracker.getJobIdsForGroup(JOB_GROUP):
                    job = tracker.getJobInfo(job_id)
                    for stage_id in job.stageIds if job else ():
                        stage = tracker.getStageInfo(stage_id)
                        if stage:
                            done, tasks = done + stage.numCompletedTasks, tasks + stage.numTasks
                estimate = total * done // tasks if tasks else 0
                if estimate > reported:
                    self._progress.advance(estimate - reported)
                    reported = estimate

        watcher = threading.Thread(target=poll, name="spark-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        if total > reported:
            self._progress.advance(total - reported)

    @staticmethod
    def _as_signature(column: Any, wanted: str | None) -> Any:
        """A column cast to the type the model's signature declares (MLflow enforces it)."""
        from pyspark.sql import functions as F  # noqa: N812

        spark_type = SIGNATURE_TYPES.get(wanted or "")
        if spark_type in ("long", "int"):  # NaN is not a whole number: it stays missing
            return F.when(F.isnan(column), F.lit(None)).otherwise(column.cast(spark_type))
        return column.cast(spark_type) if spark_type else column

    @staticmethod
    def _write(frame: DataFrame, location: str, output_format: str) -> None:
        writer = frame.write.mode("overwrite")
        if output_format == "csv":
            writer = writer.option("header", True)
        if not _is_local(location):
            writer.format(output_format).save(location)
            return
        target = _local_path(location)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            writer.format(output_format).save(str(staging))
            for marker in staging.glob(".*.crc"):
                marker.unlink()
            _remove(target)
            os.replace(staging, target)
        finally:
            _remove(staging)


def rejects_path(out: str) -> str:
    """`<out stem>.rejects.csv` beside the output, as the single-process writer names it."""
    name = out.rstrip("/")
    head, _, tail = name.rpartition("/")
    stem = tail.split(".")[0] if tail.lower().endswith(".csv.gz") else tail.rsplit(".", 1)[0]
    return f"{head}/{stem}.rejects.csv" if head else f"{stem}.rejects.csv"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
