"""The prediction-log engines, chosen by the location: a `postgresql://` URL, else a SQLite file.

Each engine is a module with the same functions (`LogEngine`); it is imported only when a
location names it, so choosing one imports neither driver, and adding an engine is one module
and one line here.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    import pandas as pd

    from churnguard.application.ports import (
        OutcomeLedger,
        PredictionArchive,
        PredictionHistory,
        PredictionLog,
        TableWriter,
    )
    from churnguard.domain.schema import TableSchema

URL_SCHEMES = ("postgresql://", "postgres://")
ENGINES = {
    "postgresql": "churnguard.adapters.postgres_prediction_log",
    "sqlite": "churnguard.adapters.sqlite_prediction_log",
}


class LogEngine(Protocol):
    """What every engine module offers, each function taking the location as configured."""

    def open_log(
        self, location: str, flush_interval: float, queue_size: int, retention_days: float
    ) -> PredictionLog: ...
    def history(self, location: str) -> PredictionHistory: ...
    def archive(self, location: str, writer: TableWriter) -> PredictionArchive: ...
    def ledger(self, location: str) -> OutcomeLedger: ...
    def read_log(
        self, location: str, schema: TableSchema, since: datetime | None, last: int | None
    ) -> pd.DataFrame: ...
    def shown(self, location: str) -> str:
        """The location as messages show it (a password masked)."""
        ...


def is_postgres(location: str | None) -> bool:
    return location is not None and location.startswith(URL_SCHEMES)


def engine_name(location: str) -> str:
    return "postgresql" if is_postgres(location) else "sqlite"


def log_engine(location: str) -> LogEngine:
    """The engine module a location names, imported now."""
    return cast(LogEngine, importlib.import_module(ENGINES[engine_name(location)]))
