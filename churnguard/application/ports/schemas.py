"""Schema files: reading them, and drafting one from a table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from churnguard.application.ports.data import Table
from churnguard.domain.schema import TableSchema


@dataclass(frozen=True)
class SchemaDraft:
    """A schema drafted from a table, with what was decided per column and why."""

    schema: TableSchema
    notes: Mapping[str, str]
    """Per column (and "label"): the decision, e.g. "id column (unique on every row)"."""
    left_out: Mapping[str, str]
    """Columns that are not features, with the reason."""


class SchemaProfiler(Protocol):
    def profile(self, table: Table, label: str, positive: str | None, name: str) -> SchemaDraft:
        """Draft a schema from a table; raise a ChurnGuardError when the label cannot be read."""
        ...

    def render(self, draft: SchemaDraft, source: str) -> str:
        """The draft as a schema file, each decision a comment beside its key."""
        ...


class SchemaReader(Protocol):
    def load(self, location: str) -> TableSchema:
        """Read and validate a schema file; raise SchemaFileError listing every problem."""
        ...

    def parse(self, text: str, location: str) -> TableSchema:
        """The same, from a file's text."""
        ...
