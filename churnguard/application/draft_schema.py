"""Use-case: draft a schema for a table ChurnGuard has never seen (`churnguard schema init`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from churnguard.application.ports import (
    DatasetSource,
    EventDraft,
    EventProfiler,
    EventSchemaReader,
    SchemaDraft,
    SchemaProfiler,
    SchemaReader,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DraftedSchema:
    draft: SchemaDraft
    text: str
    """The schema file's text; it reads back as `draft.schema`."""


class DraftSchema:
    def __init__(self, source: DatasetSource, profiler: SchemaProfiler, reader: SchemaReader) -> None:
        self._source = source
        self._profiler = profiler
        self._reader = reader

    def __call__(
        self, location: str, label: str, positive: str | None = None, name: str | None = None
    ) -> DraftedSchema:
        """Profile the table at `location` with `label` as the churn column.

        The rendered file is read back before it is returned, so a draft that would not load
        (or would load as another schema) is a bug found here, not by the user.
        """
        dataset = self._source.load(location)
        draft = self._profiler.profile(dataset.table, label, positive, name or _stem(location))
        text = self._profiler.render(draft, location)
        again = self._reader.parse(text, "the draft")
        if again.hash != draft.schema.hash:
            raise AssertionError("the drafted schema file does not read back as the drafted schema")
        logger.info("schema drafted", extra={"location": location, "fields": len(draft.schema.fields)})
        return DraftedSchema(draft, text)


@dataclass(frozen=True)
class DraftedEventSchema:
    draft: EventDraft
    text: str
    """The event schema file's text; it reads back as `draft.schema`."""


class DraftEventSchema:
    """`schema init --events`: an event file ChurnGuard has never seen to a draft event schema."""

    def __init__(self, profiler: EventProfiler, reader: EventSchemaReader) -> None:
        self._profiler = profiler
        self._reader = reader

    def __call__(
        self,
        location: str,
        id_column: str,
        time_column: str,
        type_column: str | None = None,
        time_format: str | None = None,
        name: str | None = None,
    ) -> DraftedEventSchema:
        draft = self._profiler.profile(
            location, id_column, time_column, type_column, time_format, name or _stem(location)
        )
        text = self._profiler.render(draft, location)
        if self._reader.parse(text, "the draft") != draft.schema:
            raise AssertionError("the drafted event schema file does not read back as the drafted schema")
        logger.info("event schema drafted", extra={"location": location, "features": len(draft.schema.features)})
        return DraftedEventSchema(draft, text)


def _stem(location: str) -> str:
    name = location.replace("\\", "/").rsplit("/", 1)[-1]
    return name.split(".", 1)[0] or "my-table"
