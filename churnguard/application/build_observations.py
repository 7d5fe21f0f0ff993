"""Use-case: an event history to a point-in-time training table (`churnguard events build`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from churnguard.application.ports import (
    EventSchemaReader,
    ObservationBuilder,
    ObservationSummary,
    TableSchemaWriter,
)
from churnguard.domain.events import EventSchema
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltObservations:
    events: EventSchema
    table: TableSchema
    """The observation table's own schema: what `train` and `pipeline` read it with."""
    table_schema_location: str
    summary: ObservationSummary


def table_schema_location(out: str) -> str:
    """Where the observation table's schema goes: beside it, `obs.csv` -> `obs.schema.yaml`."""
    stem = out.rsplit(".", 1)[0] if "." in out.replace("\\", "/").rsplit("/", 1)[-1] else out
    return f"{stem}.schema.yaml"


class BuildObservations:
    def __init__(self, reader: EventSchemaReader, builder: ObservationBuilder, writer: TableSchemaWriter) -> None:
        self._reader = reader
        self._builder = builder
        self._writer = writer

    def __call__(
        self,
        schema_location: str,
        events: str,
        out: str,
        cutoffs: Sequence[date] = (),
        until: date | None = None,
    ) -> BuiltObservations:
        """The labelled rows of every cutoff (the schema's, or `cutoffs`) to `out`, and the
        table's schema beside it, so `pipeline --schema <that> --data <out>` trains on it with
        an out-of-time holdout."""
        schema = self._reader.load(schema_location)
        dates = tuple(sorted(cutoffs)) or schema.cutoffs.dates()
        summary = self._builder.build(schema, events, out, dates, until)
        table = schema.observation_schema()
        location = table_schema_location(out)
        self._writer.write(
            table,
            location,
            f"Written by `churnguard events build` from {schema_location} and {events}: the schema of\n"
            f"{out}, one row per customer and cutoff. Train with: churnguard pipeline --schema {location} "
            f"--data {out}",
        )
        logger.info("observation table built", extra={"rows": summary.rows, "out": out, "schema": location})
        return BuiltObservations(schema, table, location, summary)
