"""Offline scoring files: customers in (CSV or Parquet, read in chunks), scores and rejects out.

Every chunk is checked row by row against the same domain field rules the training schema is
built from (vectorized per column, so one bad cell rejects its row, not its column); rows
that break a rule are rejected with the reasons, the rest are scored. The output is written
to a temp file beside the target and renamed into place on commit, so a failed run leaves
no half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnguard.adapters.atomic_files import fsync_directory
from churnguard.application.errors import DatasetUnreadable, InvalidDataset, Violation
from churnguard.application.score_customers import CustomerBatch, RejectedRow, ScoredBatch
from churnguard.domain.customer import RAW_FIELDS, RULES_BY_FIELD, TARGET

DEFAULT_CHUNK_ROWS = 100_000


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DatasetUnreadable(str(path), "no such file")
    try:
        if suffix == ".parquet":
            for record_batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield record_batch.to_pandas()
        elif suffix == ".csv":
            yield from pd.read_csv(path, chunksize=chunk_rows, skipinitialspace=True)
        else:
            raise DatasetUnreadable(str(path), f"unsupported file type {suffix!r}; use .csv or .parquet")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, pa.ArrowInvalid) as error:
        raise DatasetUnreadable(str(path), f"not a readable file: {str(error).splitlines()[0]}") from None


def read_customer_batches(path: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[CustomerBatch]:
    first_row = 1
    for chunk in _chunks(path, chunk_rows):
        columns = [c for c in chunk.columns if c != TARGET]
        missing = [name for name in RAW_FIELDS if name not in columns]
        extra = [name for name in columns if name not in RAW_FIELDS]
        if missing or extra:
            violations = [Violation(name, "is a required column but is missing", (), (), 0) for name in missing]
            violations += [Violation(name, "is not an expected column", (), (), 0) for name in extra]
            raise InvalidDataset(str(path), violations)
        chunk = chunk[list(RAW_FIELDS)].reset_index(drop=True)
        values, reasons = _check_rows(chunk)
        bad = np.zeros(len(chunk), dtype=bool)
        bad[list(reasons)] = True
        yield CustomerBatch(
            rows=np.flatnonzero(~bad).astype(np.int64) + first_row,
            columns={name: values[name][~bad] for name in RAW_FIELDS},
            rejected=[
                RejectedRow(first_row + index, "; ".join(sorted(set(r)))) for index, r in sorted(reasons.items())
            ],
        )
        first_row += len(chunk)


def _check_rows(chunk: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[int, list[str]]]:
    """Numeric values per field and, per failing row index, the rules it breaks."""
    values: dict[str, np.ndarray] = {}
    reasons: dict[int, list[str]] = defaultdict(list)
    for name in RAW_FIELDS:
        rule = RULES_BY_FIELD[name]
        raw = chunk[name]
        numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(numeric)
        if pd.api.types.is_bool_dtype(raw):
            ok &= False  # True/False: pandas reads them as bool, equal to 1/0; the API refuses them too
        if rule.is_integer:
            ok &= np.floor(np.nan_to_num(numeric)) == np.nan_to_num(numeric)
        if rule.allowed is not None:
            ok &= np.isin(numeric, rule.allowed)
        else:
            if rule.minimum is not None:
                ok &= (numeric >= rule.minimum) if rule.minimum_inclusive else (numeric > rule.minimum)
            if rule.maximum is not None:
                ok &= (numeric <= rule.maximum) if rule.maximum_inclusive else (numeric < rule.maximum)
        for index in np.flatnonzero(~ok):
            shown = "<empty>" if pd.isna(raw.iloc[index]) else raw.iloc[index]
            reasons[int(index)].append(f"{name}: {rule.rule} (got {shown})")
        values[name] = numeric
    return values, reasons


class FileScoredWriter:
    """Scores to `out` (.csv or .parquet), rejects to `<out stem>.rejects.csv` beside it."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rejects_path = out.with_name(out.stem + ".rejects.csv")
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise DatasetUnreadable(str(out), "output must end in .csv or .parquet")
        out.parent.mkdir(parents=True, exist_ok=True)
        self._temp = Path(tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)[1])
        self._temp_rejects = Path(
            tempfile.mkstemp(prefix=f".{self.rejects_path.name}.", suffix=".tmp", dir=out.parent)[1]
        )
        self._parquet: pq.ParquetWriter | None = None
        self._wrote_header = False
        self._rejects = self._temp_rejects.open("w", newline="", encoding="utf-8")
        self._reject_writer = csv.writer(self._rejects)
        self._reject_writer.writerow(["row", "reasons"])
        self._rejected = 0

    def write(self, scored: ScoredBatch, model_version: str, threshold: float) -> None:
        batch = scored.batch
        frame: dict[str, Any] = {"row": batch.rows}
        frame.update(
            {
                name: batch.columns[name].astype(np.int64) if RULES_BY_FIELD[name].is_integer else batch.columns[name]
                for name in RAW_FIELDS
            }
        )
        frame["churn_probability"] = scored.probability
        frame["churn_prediction"] = scored.churns.astype(np.int64)
        if scored.contributions is not None:
            for index, name in enumerate(RAW_FIELDS):
                frame[f"contribution_{name}"] = scored.contributions[:, index]
        frame["model_version"] = model_version[:12]
        table = pd.DataFrame(frame)
        if self.out.suffix.lower() == ".parquet":
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._temp, arrow.schema)
            self._parquet.write_table(arrow)
        else:
            table.to_csv(self._temp, mode="a", header=not self._wrote_header, index=False)
            self._wrote_header = True

    def reject(self, rows: Sequence[RejectedRow]) -> None:
        for row in rows:
            self._reject_writer.writerow([row.row, row.reasons])
        self._rejected += len(rows)

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self._rejects.close()
        for temp in (self._temp, self._temp_rejects):
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(self._temp, self.out)
        if self._rejected:
            os.replace(self._temp_rejects, self.rejects_path)
        else:
            self._temp_rejects.unlink()
        fsync_directory(self.out.parent)

    def abort(self) -> None:
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
        self._rejects.close()
        for temp in (self._temp, self._temp_rejects):
            temp.unlink(missing_ok=True)
