"""Generated customers, and traffic sent to a running API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from churnguard.application.ports.data import Table
from churnguard.domain.schema import TableSchema


@dataclass(frozen=True)
class GeneratedTable:
    table: Table
    rows: int
    how: str
    """synthetic (the original's process) or bootstrap (drawn from a stored table)."""
    churn_rate: float
    shifts: tuple[str, ...]


class CustomerGenerator(Protocol):
    def generate(
        self, schema: TableSchema, rows: int, seed: int, drifts: Sequence[str], source: Table | None = None
    ) -> GeneratedTable: ...

    def records(self, generated: GeneratedTable, schema: TableSchema) -> list[dict[str, Any]]:
        """The generated customers as the API takes them."""
        ...


class TrafficSender(Protocol):
    def send(self, url: str, customers: Sequence[Mapping[str, Any]], batch_size: int) -> tuple[int, int]:
        """POST the customers to a running API's /predict/batch; (scored, rejected)."""
        ...
