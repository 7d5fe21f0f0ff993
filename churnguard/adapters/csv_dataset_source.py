"""Reads a customer table from a CSV file, hashing the exact bytes it parsed."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import threading
import zlib
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnguard.adapters.atomic_files import atomic_file
from churnguard.application.errors import DatasetUnreadable
from churnguard.application.ports import Dataset, NoProgress, Progress, Table

GZIP_MAGIC = b"\x1f\x8b"
_BOMS = {
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}


def decode_csv_bytes(raw: bytes, location: str) -> str:
    """The text of a CSV file: gzip-compressed or not, UTF-8 (a BOM is tolerated).

    Anything else is refused with what was found and how to convert it.
    """
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetUnreadable(location, f"a gzip file that does not decompress: {error}") from None
        if not raw.strip():
            raise DatasetUnreadable(location, "the file is empty (after gzip decompression)")
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise DatasetUnreadable(
                location,
                f"the text is {name}, expected UTF-8; convert it, e.g. "
                f"`iconv -f UTF-16 -t UTF-8 {location} > converted.csv`",
            )
    if raw.startswith(b"PK\x03\x04"):
        raise DatasetUnreadable(location, "a ZIP archive (or an Excel .xlsx file), expected CSV text; export it as CSV")
    if b"\x00" in raw:
        raise DatasetUnreadable(location, "binary content (NUL bytes); expected a UTF-8 CSV text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        sample = raw[max(0, error.start - 20) : error.start + 20]
        guess = "Latin-1 / Windows-1252" if all(byte < 0xFF for byte in sample) else "an 8-bit encoding"
        raise DatasetUnreadable(
            location,
            f"not UTF-8 text (byte {error.start}: {raw[error.start : error.start + 1]!r}); it looks like {guess}. "
            f"Convert it, e.g. `iconv -f WINDOWS-1252 -t UTF-8 {location} > converted.csv`",
        ) from None


class CsvDatasetSource:
    """Comma-separated, UTF-8 (a BOM is tolerated), gzip-compressed or not, a header naming the columns."""

    def load(self, location: str, text_columns: tuple[str, ...] = ()) -> Dataset:
        """`text_columns`: read as text, as written (an id 00042 stays 00042)."""
        path = Path(location)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DatasetUnreadable(location, "no such file") from None
        except IsADirectoryError:
            raise DatasetUnreadable(location, "is a directory, not a CSV file") from None
        except OSError as error:
            raise DatasetUnreadable(location, error.strerror or str(error)) from None
        return self.load_bytes(raw, location, text_columns)

    def load_bytes(self, raw: bytes, location: str, text_columns: tuple[str, ...] = ()) -> Dataset:
        """A CSV file's content, read as `load` reads the file at `location`."""
        if not raw.strip():
            raise DatasetUnreadable(location, "the file is empty")
        text = decode_csv_bytes(raw, location)
        if not text.strip():  # e.g. a BOM and nothing else (found by the CSV fuzz test)
            raise DatasetUnreadable(location, "the file is empty")
        header = text.splitlines()[0]
        if "," not in header:
            try:
                delimiter = csv.Sniffer().sniff(header, delimiters=";\t|").delimiter
                hint = f"; the header looks {delimiter!r}-separated, expected ','"
            except csv.Error:
                hint = ""
            if hint:
                raise DatasetUnreadable(location, f"the header has no comma{hint}")
        try:
            table = pd.read_csv(
                io.StringIO(text), skipinitialspace=True, dtype=dict.fromkeys(text_columns, str) or None
            )
        except pd.errors.EmptyDataError:
            raise DatasetUnreadable(location, "no columns to read") from None
        except (pd.errors.ParserError, ValueError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DatasetUnreadable(location, f"not a valid CSV: {message}") from None
        return Dataset(
            table=table,
            location=location,
            data_hash=hashlib.sha256(raw).hexdigest(),
            rows=len(table),
        )


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV atomically (temp file, fsync, rename)."""
    FileTableWriter().write(table, str(path))


class FileTableWriter:
    """The TableWriter port: CSV, or Parquet for a `.parquet` location; atomic either way, written
    in chunks of `chunk_rows` (one Parquet row group each) so progress can be told."""

    def __init__(self, chunk_rows: int = 100_000) -> None:
        self.chunk_rows = chunk_rows

    def write(self, table: Table, location: str, progress: Progress | None = None) -> None:
        assert isinstance(table, pd.DataFrame)
        path = Path(location)
        progress = progress or NoProgress()
        progress.start(f"writing {path.name}", len(table))
        starts = range(0, max(len(table), 1), self.chunk_rows)
        with atomic_file(path) as handle:
            if path.suffix.lower() == ".parquet":
                schema = pa.Schema.from_pandas(table, preserve_index=False)
                with pq.ParquetWriter(handle, schema) as writer:
                    for start in starts:
                        part = table.iloc[start : start + self.chunk_rows]
                        writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
                        progress.advance(len(part))
            else:
                for start in starts:
                    part = table.iloc[start : start + self.chunk_rows]
                    handle.write(part.to_csv(index=False, header=start == 0, lineterminator="\n").encode("utf-8"))
                    progress.advance(len(part))
        progress.finish()


class FrameDatasetSource:
    """The DatasetSource port over named DataFrames, read exactly as a CSV file with the same
    content would be (the frame is written to CSV in memory and parsed by the CSV source, so
    types, hashing and refusals are the file's); any other name is a CSV path."""

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None) -> None:
        self.frames: dict[str, pd.DataFrame] = dict(frames or {})
        self._csv = CsvDatasetSource()
        self._lock = threading.Lock()

    def add(self, frame: pd.DataFrame, name: str | None = None) -> str:
        """Keep `frame` under `name` (default: `dataframe-<n>`); the name to load it by."""
        with self._lock:
            name = name or f"dataframe-{len(self.frames) + 1}"
            self.frames[name] = frame
        return name

    def load(self, location: str) -> Dataset:
        frame = self.frames.get(location)
        if frame is None:
            return self._csv.load(location)
        return self._csv.load_bytes(frame.to_csv(index=False).encode("utf-8"), location)
