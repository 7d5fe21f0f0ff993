"""Leave-one-out attribution: how much each raw field moves one customer's churn probability."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from churnguard.domain.customer import ORIGINAL_SCHEMA, CustomerProfile
from churnguard.domain.schema import FloatArray, TableSchema

BatchScorer = Callable[[FloatArray], npt.NDArray[np.floating]]
"""Maps an (n, model features) matrix to n churn probabilities."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """p(profile) - p(profile with `feature` set to its baseline); positive raises churn risk."""

    feature: str
    value: float
    contribution: float


def substituted_rows(schema: TableSchema, raw: Sequence[float], baselines: Mapping[str, float]) -> FloatArray:
    """The 1 + fields model rows: the customer's encoded fields, then one row per field set to
    its baseline (the training mean, or a category's most frequent code).

    Engineered features are recomputed from the substituted values, so replacing tenure also
    moves total_charges and ticket_rate, as it would for a real customer.
    """
    width = len(schema.fields)
    rows = np.empty((1 + width, width), dtype=np.float64)
    rows[:] = raw
    rows[schema.substitution] = [baselines[name] for name in schema.raw_fields]
    return schema.model_matrix(rows)


def substituted_batch(schema: TableSchema, raw: FloatArray, baselines: Mapping[str, float]) -> FloatArray:
    """`substituted_rows` of n customers ((n, fields) encoded) at once: n blocks of 1 + fields
    model rows, customer by customer (the batch form offline scoring uses; a property test
    holds it equal to `substituted_rows`)."""
    count, width = raw.shape
    rows = np.repeat(np.asarray(raw, dtype=np.float64), width + 1, axis=0).reshape(count, width + 1, width)
    at, field = schema.substitution
    rows[:, at, field] = [baselines[name] for name in schema.raw_fields]
    return schema.model_matrix(rows.reshape(-1, width))


def contribution_matrix(
    schema: TableSchema, raw: FloatArray, baselines: Mapping[str, float], scores: FloatArray
) -> FloatArray:
    """(n, fields) contributions from the scores of `substituted_batch` ((n, 1 + fields)), in
    field order; a field at its baseline contributes exactly zero, as in `contributions_of`."""
    base = np.array([baselines[name] for name in schema.raw_fields], dtype=np.float64)
    contributions = scores[:, :1] - scores[:, 1:]
    contributions[raw == base[None, :]] = 0.0
    return np.asarray(contributions, dtype=np.float64)


def contributions_of(
    schema: TableSchema, raw: Sequence[float], baselines: Mapping[str, float], probabilities: npt.ArrayLike
) -> tuple[Contribution, ...]:
    """Contributions from the scores of `substituted_rows`, sorted by |size|."""
    names = schema.raw_fields
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.shape != (1 + len(names),):
        raise ValueError(f"expected {1 + len(names)} scores, got shape {scores.shape}")
    base, *substituted = scores.tolist()  # Python floats: no numpy scalar per field
    # A field already at its baseline yields an identical row; its contribution is zero by
    # definition, not whatever last-bit noise a vectorized scorer gives for a repeated row.
    contributions = []
    for name, value, score in zip(names, raw, substituted, strict=True):
        value = float(value)
        contributions.append(Contribution(name, value, 0.0 if value == float(baselines[name]) else base - score))
    contributions.sort(key=lambda item: abs(item.contribution), reverse=True)
    return tuple(contributions)


def _values(profile: CustomerProfile) -> list[float]:
    return [getattr(profile, name) for name in ORIGINAL_SCHEMA.raw_fields]


def leave_one_out_rows(profile: CustomerProfile, baselines: Mapping[str, float]) -> FloatArray:
    """`substituted_rows` of an original-schema profile (14 rows)."""
    return substituted_rows(ORIGINAL_SCHEMA, _values(profile), baselines)


def contributions_from_scores(
    profile: CustomerProfile, baselines: Mapping[str, float], probabilities: npt.ArrayLike
) -> tuple[Contribution, ...]:
    """`contributions_of` an original-schema profile."""
    return contributions_of(ORIGINAL_SCHEMA, _values(profile), baselines, probabilities)


def leave_one_out(
    score_batch: BatchScorer, profile: CustomerProfile, baselines: Mapping[str, float]
) -> tuple[float, tuple[Contribution, ...]]:
    """Score all 14 rows in one call; return p(profile) and contributions sorted by |size|."""
    probabilities = np.asarray(score_batch(leave_one_out_rows(profile, baselines)), dtype=np.float64)
    return float(probabilities[0]), contributions_from_scores(profile, baselines, probabilities)
