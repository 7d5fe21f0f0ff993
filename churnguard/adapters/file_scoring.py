"""Offline scoring files: customers in (CSV or Parquet, read in chunks), scores and rejects out.

Every chunk is checked by the schema's own vectorized check (`TableSchema.check`, the one the
table validator and the API use), so one bad cell rejects its row, not its column; rows that
break a rule are rejected with the reasons, the rest are scored. The output is written
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
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnguard.adapters.atomic_files import fsync_directory
from churnguard.application.errors import DatasetUnreadable, InvalidDataset, InvalidOptions, Violation, shown_value
from churnguard.application.ports import CustomerBatch, RejectedRow, ScoredBatch
from churnguard.domain.schema import FloatArray, TableSchema
from churnguard.domain.survival import SurvivalTable, asked_horizons

DEFAULT_CHUNK_ROWS = 100_000
UNEXPECTED_COLUMN_RULE = "is not an expected column (declare it under `passthrough:` to carry it)"


def _chunks(path: Path, chunk_rows: int, id_column: str | None = None) -> Iterator[pd.DataFrame]:
    """`id_column`, if any, read as text from a CSV: customer 00042 stays 00042, not 42."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DatasetUnreadable(str(path), "no such file")
    try:
        if suffix == ".parquet":
            for record_batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield record_batch.to_pandas()
        elif suffix == ".csv" or path.name.lower().endswith(".csv.gz"):
            text = {id_column: str} if id_column else None
            yield from pd.read_csv(path, chunksize=chunk_rows, skipinitialspace=True, compression="infer", dtype=text)
        else:
            raise DatasetUnreadable(str(path), f"unsupported file type {suffix!r}; use .csv, .csv.gz or .parquet")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, pa.ArrowInvalid, OSError) as error:
        raise DatasetUnreadable(str(path), f"not a readable file: {str(error).splitlines()[0]}") from None


class CustomerFile:
    """A CSV or Parquet file of customers, read in chunks and checked against a schema."""

    def __init__(self, path: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.path = path
        self.chunk_rows = chunk_rows

    def total_rows(self) -> int | None:
        """Parquet: from its metadata; plain CSV: its lines (read in 1 MiB blocks, no parsing);
        gzip: unknown."""
        suffix = self.path.suffix.lower()
        try:
            if suffix == ".parquet":
                return int(pq.ParquetFile(self.path).metadata.num_rows)
            if suffix == ".csv":
                with self.path.open("rb") as handle:
                    lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
                    handle.seek(-1, os.SEEK_END)
                    unterminated = handle.read(1) != b"\n"
                return max(lines + int(unterminated) - 1, 0)  # less the header
        except (OSError, pa.ArrowInvalid):
            return None
        return None

    def batches(self, schema: TableSchema) -> Iterator[CustomerBatch]:
        """Each chunk's valid rows (encoded) and rejected rows (with every rule they break).

        The label column, if present, is ignored; the id column is optional and carried through.
        """
        first_row = 1
        for chunk in _chunks(self.path, self.chunk_rows, schema.id_column):
            rows = np.arange(first_row, first_row + len(chunk), dtype=np.int64)
            yield check_chunk(chunk, schema, rows, str(self.path))
            first_row += len(chunk)


def check_chunk(chunk: pd.DataFrame, schema: TableSchema, rows: npt.NDArray[np.int64], location: str) -> CustomerBatch:
    """One chunk of a customer table checked by the schema: its valid rows encoded, its
    rejected rows with every rule they break. `rows` numbers the chunk's rows (1-based, as in
    the file). Both scoring engines call this, so a row is rejected for the same reasons."""
    columns = [c for c in chunk.columns if c != schema.label.column]
    missing = [name for name in schema.raw_fields if name not in columns]
    extra = [name for name in columns if name not in schema.known_columns]
    if missing or extra:
        violations = [Violation(name, "is a required column but is missing", (), (), 0) for name in missing]
        violations += [Violation(name, UNEXPECTED_COLUMN_RULE, (), (), 0) for name in extra]
        raise InvalidDataset(location, violations)
    chunk = chunk.reset_index(drop=True)
    values = {name: chunk[name].to_numpy() for name in schema.raw_fields}
    checked = schema.check(values)
    reasons: dict[int, list[str]] = defaultdict(list)
    for violation in checked.violations:
        column = values[violation.field]
        for index in violation.rows:
            reasons[index].append(f"{violation.field}: {violation.rule} (got {shown_value(column[index])})")
    good = checked.ok
    all_ids = chunk[schema.id_column].to_numpy() if schema.id_column in chunk else None
    passthrough = {name: as_text(chunk[name].to_numpy()[good]) for name in schema.passthrough_columns if name in chunk}
    return CustomerBatch(
        rows=rows[good],
        raw=checked.raw[good],
        rejected=[
            RejectedRow(
                int(rows[index]),
                "; ".join(sorted(set(r))),
                None if all_ids is None else as_text(all_ids[index : index + 1])[0],
            )
            for index, r in sorted(reasons.items())
        ],
        ids=None if all_ids is None else all_ids[good],
        passthrough=passthrough,
    )


def as_text(values: npt.NDArray[Any]) -> list[str | None]:
    """Cells as the text a file would show (None where blank): a pass-through column is carried,
    never interpreted, so both scoring engines write it the same way."""
    out: list[str | None] = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and value != value):
            out.append(None)
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


def survival_column_names(schema: TableSchema) -> list[str]:
    """The time-to-churn output columns of a schema declaring `survival`: churn_within_<h> per
    asked horizon, expected_remaining, and revenue_at_risk where it declares a value per period."""
    spec = schema.survival
    if spec is None:
        return []
    names = [f"churn_within_{h}" for h in asked_horizons(spec.horizon)] + ["expected_remaining"]
    return names + (["revenue_at_risk"] if spec.value is not None else [])


def survival_columns(table: SurvivalTable, schema: TableSchema) -> dict[str, FloatArray]:
    """The `survival_column_names` columns of a SurvivalTable."""
    values = [*table.churn_within.T, table.expected_remaining]
    if table.revenue_at_risk is not None:
        values.append(table.revenue_at_risk)
    return dict(zip(survival_column_names(schema), values, strict=True))


def scored_frame(scored: ScoredBatch, model_version: str) -> pd.DataFrame:
    """The output columns of scoring: row, [id], [the pass-through columns the input carries],
    the fields as the table holds them, the probability, the decision, [contributions], the
    model version."""
    batch, schema = scored.batch, scored.schema
    frame: dict[str, Any] = {"row": batch.rows}
    if schema.id_column:
        frame[schema.id_column] = batch.ids if batch.ids is not None else np.full(len(batch.rows), None)
    for name in schema.passthrough_columns:
        if name in batch.passthrough:
            frame[name] = batch.passthrough[name]
    frame.update(schema.decode(batch.raw))
    frame["churn_probability"] = scored.probability
    frame["churn_prediction"] = scored.churns.astype(np.int64)
    if scored.contributions is not None:
        for index, name in enumerate(schema.raw_fields):
            frame[f"contribution_{name}"] = scored.contributions[:, index]
    if scored.survival is not None:
        frame.update(survival_columns(scored.survival, schema))
    frame["model_version"] = model_version[:12]
    return pd.DataFrame(frame)


class FrameCustomers:
    """The CustomerBatchSource port over a DataFrame (an embedding program's customers), checked
    chunk by chunk exactly as a file of the same rows is."""

    def __init__(self, frame: pd.DataFrame, chunk_rows: int = DEFAULT_CHUNK_ROWS, name: str = "dataframe") -> None:
        self.frame = frame
        self.chunk_rows = chunk_rows
        self.name = name

    def total_rows(self) -> int | None:
        return len(self.frame)

    def batches(self, schema: TableSchema) -> Iterator[CustomerBatch]:
        for start in range(0, max(len(self.frame), 1), self.chunk_rows):
            chunk = self.frame.iloc[start : start + self.chunk_rows]
            rows = np.arange(start + 1, start + 1 + len(chunk), dtype=np.int64)
            yield check_chunk(chunk, schema, rows, self.name)


class FrameScoredWriter:
    """The ScoredBatchWriter port into DataFrames: `scored` and `rejected` once committed."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._rejected: list[RejectedRow] = []
        self.scored: pd.DataFrame | None = None
        self.rejected: pd.DataFrame | None = None

    def write(self, scored: ScoredBatch, model_version: str, threshold: float) -> None:
        self._parts.append(scored_frame(scored, model_version))

    def reject(self, rows: Sequence[RejectedRow]) -> None:
        self._rejected.extend(rows)

    def commit(self) -> None:
        self.scored = pd.concat(self._parts, ignore_index=True) if self._parts else pd.DataFrame()
        self.rejected = pd.DataFrame(reject_columns(self._rejected))

    def abort(self) -> None:
        self._parts.clear()
        self._rejected.clear()

    @property
    def rejects_location(self) -> str:
        return "memory://rejected"


def reject_columns(rows: Sequence[RejectedRow]) -> dict[str, list[Any]]:
    """The rejects' columns in every engine: row, id (empty without an id column), reasons."""
    return {"row": [r.row for r in rows], "id": [r.id for r in rows], "reasons": [r.reasons for r in rows]}


class FileScoredWriter:
    """Scores to `out` (.csv or .parquet), rejects to `<out stem>.rejects.csv` beside it.

    `rank_by`: an output column to order the whole file by, largest first (ties in row order),
    sorted by DuckDB before the file appears (it spills to disk past its memory limit, so a
    table of any size ranks in flat memory)."""

    def __init__(self, out: Path, rank_by: str | None = None) -> None:
        self.out = out
        self.rank_by = rank_by
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
        self._reject_writer.writerow(["row", "id", "reasons"])
        self._rejected = 0

    def write(self, scored: ScoredBatch, model_version: str, threshold: float) -> None:
        table = scored_frame(scored, model_version)
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
            self._reject_writer.writerow([row.row, row.id, row.reasons])
        self._rejected += len(rows)

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self._rejects.close()
        if self.rank_by is not None:
            self._rank(self.rank_by)
        for temp in (self._temp, self._temp_rejects):
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(self._temp, self.out)
        if self._rejected:
            os.replace(self._temp_rejects, self.rejects_path)
        else:
            self._temp_rejects.unlink()
        fsync_directory(self.out.parent)

    def _rank(self, column: str) -> None:
        """Rewrite the temporary output ordered by `column`, largest first; cells of a CSV are
        carried as the text they were written as (an id keeps its leading zeros)."""
        import duckdb

        def literal(path: Path) -> str:
            return "'" + str(path).replace("'", "''") + "'"

        parquet = self.out.suffix.lower() == ".parquet"
        source = literal(self._temp)
        read = f"read_parquet({source})" if parquet else f"read_csv({source}, all_varchar = true, header = true)"
        ranked = Path(tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".ranked", dir=self.out.parent)[1])
        try:
            with duckdb.connect() as session:
                names = [row[0] for row in session.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()]  # nosec B608
                if column not in names:
                    shown = ", ".join(n for n in names if n.startswith(("churn_", "expected_", "revenue_")))
                    raise InvalidOptions(f"--rank-by {column}: the scored output has no such column (it has {shown})")
                quoted = '"' + column.replace('"', '""') + '"'
                order = f'TRY_CAST({quoted} AS DOUBLE) DESC NULLS LAST, TRY_CAST("row" AS BIGINT)'
                options = "(FORMAT PARQUET)" if parquet else "(FORMAT CSV, HEADER)"
                session.execute(
                    f"COPY (SELECT * FROM {read} ORDER BY {order}) TO {literal(ranked)} {options}"  # nosec B608
                )
            os.replace(ranked, self._temp)
        finally:
            ranked.unlink(missing_ok=True)

    @property
    def rejects_location(self) -> str:
        return str(self.rejects_path)

    def abort(self) -> None:
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
        self._rejects.close()
        for temp in (self._temp, self._temp_rejects):
            temp.unlink(missing_ok=True)
