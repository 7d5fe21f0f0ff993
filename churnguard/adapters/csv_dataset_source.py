"""Reads a customer table from a CSV file, hashing the exact bytes it parsed."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.application.errors import DatasetUnreadable
from churnguard.application.ports import Dataset


class CsvDatasetSource:
    """Comma-separated, UTF-8 (a BOM is tolerated), a header row naming the columns."""

    def load(self, location: str) -> Dataset:
        path = Path(location)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DatasetUnreadable(location, "no such file") from None
        except IsADirectoryError:
            raise DatasetUnreadable(location, "is a directory, not a CSV file") from None
        except OSError as error:
            raise DatasetUnreadable(location, error.strerror or str(error)) from None
        if not raw.strip():
            raise DatasetUnreadable(location, "the file is empty")
        if b"\x00" in raw:
            raise DatasetUnreadable(location, "binary content (NUL bytes); expected a UTF-8 CSV text file")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DatasetUnreadable(location, f"not UTF-8 text (byte {error.start}); expected a CSV file") from None
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
            table = pd.read_csv(io.StringIO(text), skipinitialspace=True)
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
    atomic_write_text(path, table.to_csv(index=False, lineterminator="\n"))
