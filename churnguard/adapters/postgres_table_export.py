"""A PostgreSQL table as a file an engine reads: `postgresql://user@host:port/db?table=events`
(a `schema.table` name is fine) streamed with `COPY ... TO STDOUT` into a temporary CSV, so the
event builders (DuckDB, Spark) read a table exactly as they read an exported file, in flat
memory; the file is removed when the build is done."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from churnguard.application.errors import DatasetUnreadable

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_SECONDS = 10


def is_postgres(location: str) -> bool:
    return location.startswith(SCHEMES)


def split_table(location: str) -> tuple[str, str]:
    """(the connection URL, the table) of `postgresql://.../db?table=name`."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query)
    tables = [value for key, value in query if key == "table"]
    if len(tables) != 1 or not tables[0]:
        raise DatasetUnreadable(location, "a PostgreSQL source names its table: postgresql://user@host/db?table=events")
    rest = urlencode([(key, value) for key, value in query if key != "table"])
    return urlunsplit(parts._replace(query=rest)), tables[0]


def shown(location: str) -> str:
    """The location without its password, for messages."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def readable(location: str) -> Iterator[str]:
    """`location` itself, or for a PostgreSQL table a temporary CSV of it (header, every row)."""
    if not is_postgres(location):
        yield location
        return
    import psycopg
    from psycopg import sql

    url, table = split_table(location)
    name = sql.Identifier(*table.split("."))
    with tempfile.TemporaryDirectory(prefix="churnguard-pg-") as folder:
        path = Path(folder) / "table.csv"
        try:
            with (
                psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection,
                connection.cursor() as cursor,
                path.open("wb") as out,
                cursor.copy(
                    sql.SQL("COPY (SELECT * FROM {}) TO STDOUT WITH (FORMAT csv, HEADER)").format(name)
                ) as copy,
            ):
                for block in copy:
                    out.write(block)
        except psycopg.errors.UndefinedTable:
            raise DatasetUnreadable(shown(location), f"no table {table!r} in that database") from None
        except psycopg.OperationalError as error:
            raise DatasetUnreadable(shown(location), f"cannot read it: {str(error).strip()}") from None
        yield str(path)
