"""Errors the use-cases raise; entrypoints map them to exit codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from churnguard.domain.errors import ChurnGuardError, SchemaMismatch

if TYPE_CHECKING:
    from churnguard.domain.model_version import ModelVersion
    from churnguard.domain.schema import TableSchema


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule in a dataset: which column, which rule, a sample of values and rows.

    `rows` are 1-based data row numbers (the header is line 1 of a CSV, so row r is line r + 1).
    """

    column: str
    rule: str
    failing_values: tuple[str, ...]
    rows: tuple[int, ...]
    count: int


VALUE_WIDTH = 40
"""Longest failing value shown in full; a longer one (a 1 MB line) is cut and its length named."""


def shown_value(value: object) -> str:
    """A failing cell as every violation and reject reason shows it."""
    if value is None or (isinstance(value, float) and value != value):
        return "<empty>"
    text = str(value)
    if len(text) <= VALUE_WIDTH:
        return text
    return f"{text[: VALUE_WIDTH - 10]}... ({len(text):,} characters)"


class DatasetUnreadable(ChurnGuardError):
    """The dataset could not be read at all (missing, empty, not a CSV)."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"cannot read dataset {location}: {reason}")
        self.location = location
        self.reason = reason


class InvalidDataset(ChurnGuardError):
    """The dataset was read but breaks the schema; carries every violation found."""

    def __init__(self, location: str, violations: list[Violation]) -> None:
        noun = "violation" if len(violations) == 1 else "violations"
        super().__init__(f"dataset {location} failed validation with {len(violations)} {noun}")
        self.location = location
        self.violations = violations


class InvalidOptions(ChurnGuardError):
    """A command's options do not make sense together, or one is malformed (named in the message)."""


class InsufficientData(ChurnGuardError):
    """The table is valid but too small (or too one-sided) to train and hold out a split."""


class ModelNotFound(ChurnGuardError):
    """No stored model matches the request (or none is stored yet)."""


class ModelIntegrityError(ChurnGuardError):
    """A stored model failed its integrity check (hash, metadata or allowed types)."""


class EvaluationMismatch(ChurnGuardError):
    """Re-evaluating on the training data gave metrics different from the training run's."""


class TrackingUnavailable(ChurnGuardError):
    """The configured experiment tracker does not answer; raised before any training starts."""


class TooManyRejected(ChurnGuardError):
    """A scoring or drift run rejected more of its rows than its limit allows (the share, the
    limit and where the rejects went are in the message)."""


class EventsUnavailable(ChurnGuardError):
    """Predicting from posted events needs the event schema the champion's table was built with."""


class ExplanationUnavailable(ChurnGuardError):
    """The requested kind of explanation cannot be computed for this model."""


def require_schema(version: ModelVersion, schema: TableSchema | None, source: str) -> None:
    """A stored model reads tables only by the schema it was trained with: `schema` (what
    `source` was read with, or the schema the user named; None: nothing named) must be it."""
    if schema is not None and schema.hash != version.schema.hash:
        raise SchemaMismatch(
            f"model {version.short_id} was trained with schema {version.schema.name!r} "
            f"({version.schema.short_hash}); {source} is schema {schema.name!r} ({schema.short_hash})"
        )
