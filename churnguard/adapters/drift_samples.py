"""The tables a drift check compares, encoded and imputed as the champion's stored reference is.

Three sources: the prediction log (a window by time or the last N, over one or more replica
files), a file of customers, or a shuffled 75/25 split of a training table (the original's mode).
"""

from __future__ import annotations

import glob
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from churnguard.adapters.csv_dataset_source import CsvDatasetSource
from churnguard.adapters.file_scoring import check_chunk
from churnguard.adapters.log_location import is_postgres, log_engine
from churnguard.adapters.pandera_dataset_validator import PanderaDatasetValidator
from churnguard.application.errors import DatasetUnreadable, InvalidDataset, TooManyRejected, Violation
from churnguard.application.ports import DatasetSource, DriftSample
from churnguard.domain.quality_gate import RejectLimit
from churnguard.domain.schema import Imputation, TableSchema

SPLIT_REFERENCE_SHARE = 0.75


def prediction_logs(patterns: list[str]) -> list[str]:
    """PostgreSQL URLs, files or glob patterns (a SQLite log per API replica, e.g.
    /data/predictions/*.db)."""
    urls = [pattern for pattern in patterns if is_postgres(pattern)]
    files = [pattern for pattern in patterns if pattern not in urls]
    paths = sorted(
        {Path(match) for pattern in files for match in glob.glob(pattern)}
        | {Path(pattern) for pattern in files if not glob.has_magic(pattern) and Path(pattern).exists()}
    )
    if not paths and not urls:
        raise DatasetUnreadable(" ".join(patterns), "no prediction log matches")
    return urls + [str(path) for path in paths]


def _encoded(table: pd.DataFrame, schema: TableSchema, fill: Imputation) -> pd.DataFrame:
    checked = schema.check({name: table[name].to_numpy() for name in schema.raw_fields})
    return pd.DataFrame(fill.apply(schema, checked.raw), columns=list(schema.raw_fields))


class PandasDriftSamples:
    def __init__(
        self,
        default_log: str,
        random_state: int,
        source: DatasetSource | None = None,
        max_rejected_share: float | None = None,
    ) -> None:
        self._default_log = default_log
        self._random_state = random_state
        self._source = source or CsvDatasetSource()
        self._max_rejected_share = max_rejected_share

    def prediction_log(
        self,
        schema: TableSchema,
        imputation: dict[str, float],
        patterns: list[str] | None = None,
        last: int | None = None,
        since: datetime | None = None,
    ) -> DriftSample:
        logs = prediction_logs(patterns) if patterns else [self._default_log]
        frames = [log_engine(location).read_log(location, schema, since, last) for location in logs]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True).sort_values("timestamp")
        if last is not None:
            frame = frame.tail(last)
        shown = ", ".join(log_engine(location).shown(location) for location in logs)
        window = f"last {last}" if last is not None else f"since {since:%Y-%m-%d %H:%M}" if since else "all"
        raw = frame[list(schema.raw_fields)].to_numpy(dtype="float64")
        filled = Imputation(imputation).apply(schema, raw)
        return DriftSample(pd.DataFrame(filled, columns=list(schema.raw_fields)), f"prediction log {shown}, {window}")

    def file(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample:
        """The file's customers, each row checked by the schema as scoring checks it: a row that
        breaks a rule is left out and counted; past the reject limit the check fails."""
        dataset = self._source.load(location)
        table = dataset.table
        assert isinstance(table, pd.DataFrame)
        if len(table) == 0:
            raise InvalidDataset(location, [Violation("(table)", "must have at least one data row", (), (), 0)])
        batch = check_chunk(table, schema, np.arange(1, len(table) + 1, dtype=np.int64), location)
        limit = RejectLimit.resolve(self._max_rejected_share, schema.quality.max_rejected_share, schema.name)
        problem = limit.problem(len(batch.rejected), len(table))
        if problem is not None:
            first = "; ".join(f"row {r.row}: {r.reasons}" for r in batch.rejected[:3])
            raise TooManyRejected(f"{location}: {problem} (first: {first})")
        filled = Imputation(imputation).apply(schema, batch.raw)
        shown = f"{location} ({len(batch.rejected):,} rejected rows left out)" if batch.rejected else location
        return DriftSample(pd.DataFrame(filled, columns=list(schema.raw_fields)), shown)

    def split(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample:
        dataset = self._source.load(location)
        checked = PanderaDatasetValidator().validate(dataset, schema)
        assert isinstance(checked.table, pd.DataFrame)
        shuffled = _encoded(checked.table, schema, Imputation(imputation)).sample(
            frac=1.0, random_state=self._random_state
        )
        cut = int(len(shuffled) * SPLIT_REFERENCE_SHARE)
        return DriftSample(shuffled.iloc[cut:], f"{location} (last 25 % of a shuffled split)", shuffled.iloc[:cut])
