"""Errors the use-cases raise; entrypoints map them to exit codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from churnguard.domain.errors import ChurnGuardError, SchemaMismatch

if TYPE_CHECKING:
    from churnguard.application.ports import Dataset
    from churnguard.domain.model_version import ModelVersion


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


class ExplanationUnavailable(ChurnGuardError):
    """The requested kind of explanation cannot be computed for this model."""


def require_same_schema(version: ModelVersion, dataset: Dataset) -> None:
    """A stored model reads tables only by the schema it was trained with."""
    if dataset.schema.hash != version.schema.hash:
        raise SchemaMismatch(
            f"model {version.short_id} was trained with schema {version.schema.name!r} "
            f"({version.schema.short_hash}); {dataset.location} was read with schema "
            f"{dataset.schema.name!r} ({dataset.schema.short_hash})"
        )
