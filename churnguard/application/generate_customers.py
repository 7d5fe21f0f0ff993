"""Use-cases: generated customers, written to a file or sent to a running API as traffic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from churnguard.application.ports import (
    CustomerGenerator,
    GeneratedTable,
    ModelStore,
    NoProgress,
    PredictionArchive,
    Progress,
    TableWriter,
    TrafficSender,
)
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import TableSchema


class GenerateData:
    def __init__(
        self,
        generator: CustomerGenerator,
        writer: TableWriter,
        validate: ValidateDataset,
        progress: Progress | None = None,
    ) -> None:
        self._generator = generator
        self._writer = writer
        self._validate = validate
        self._progress = progress or NoProgress()

    def __call__(
        self, rows: int, seed: int, drifts: Sequence[str], out: str, source: str | None = None
    ) -> GeneratedTable:
        """`source`: a table to draw from (validated by the schema first)."""
        table = self._validate(source).table if source is not None else None
        generated = self._generator.generate(self._validate.schema, rows, seed, drifts, table)
        self._writer.write(generated.table, out, self._progress)
        return generated


@dataclass(frozen=True)
class SentTraffic:
    """What `simulate-traffic` sent and how the API answered (apart from the log's TrafficSummary)."""

    sent: int
    scored: int
    rejected: int


class SimulateTraffic:
    def __init__(self, generator: CustomerGenerator, sender: TrafficSender, validate: ValidateDataset) -> None:
        self._generator = generator
        self._sender = sender
        self._validate = validate

    def __call__(
        self, url: str, rows: int, seed: int, drifts: Sequence[str], batch_size: int, source: str | None = None
    ) -> SentTraffic:
        """Customers of the named schema (synthetic for the original, else drawn from `source`)."""
        schema = self._validate.schema
        table = self._validate(source).table if source is not None else None
        generated = self._generator.generate(schema, rows, seed, drifts, table)
        customers = self._generator.records(generated, schema)
        scored, rejected = self._sender.send(url, customers, batch_size)
        return SentTraffic(len(customers), scored, rejected)


class ManagePredictions:
    """The prediction log's upkeep: export it (by the champion's schema) or prune it."""

    def __init__(
        self,
        archive: PredictionArchive,
        store: ModelStore,
        declared: TableSchema | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._archive = archive
        self._store = store
        self._declared = declared
        self._progress = progress or NoProgress()

    def export(self, location: str, since: datetime | None = None) -> int:
        champion = self._store.champion()
        schema = champion.schema if champion is not None else (self._declared or ORIGINAL_SCHEMA)
        return self._archive.export(schema, since, location, self._progress)

    def prune(self, older_than: datetime) -> int:
        return self._archive.prune(older_than)
