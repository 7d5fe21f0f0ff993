"""Leave-one-out attribution: how much each raw field moves one customer's churn probability."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from churnguard.domain.customer import RAW_FIELDS, CustomerProfile
from churnguard.domain.features import FloatArray, raw_model_matrix

BatchScorer = Callable[[FloatArray], npt.NDArray[np.floating]]
"""Maps an (n, 16) model matrix to n churn probabilities."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """p(profile) - p(profile with `feature` set to its baseline); positive raises churn risk."""

    feature: str
    value: float
    contribution: float


def leave_one_out_rows(profile: CustomerProfile, baselines: Mapping[str, float]) -> FloatArray:
    """The 14 model rows: the profile, then one row per raw field set to its baseline.

    Derived features are recomputed from the substituted raw values, so replacing tenure
    also moves total_charges and ticket_rate, as it would for a real customer.
    """
    raw = np.empty((1 + len(RAW_FIELDS), len(RAW_FIELDS)), dtype=np.float64)
    raw[:] = [getattr(profile, name) for name in RAW_FIELDS]
    raw[_SUBSTITUTED] = [baselines[name] for name in RAW_FIELDS]
    return raw_model_matrix(raw)


_SUBSTITUTED = (np.arange(1, 1 + len(RAW_FIELDS)), np.arange(len(RAW_FIELDS)))
"""Row i + 1 holds field i at its baseline."""


def contributions_from_scores(
    profile: CustomerProfile, baselines: Mapping[str, float], probabilities: npt.ArrayLike
) -> tuple[Contribution, ...]:
    """Contributions from the 14 scores of `leave_one_out_rows`, sorted by |size|."""
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.shape != (1 + len(RAW_FIELDS),):
        raise ValueError(f"expected {1 + len(RAW_FIELDS)} scores, got shape {scores.shape}")
    base, *substituted = scores.tolist()  # Python floats: no numpy scalar per field
    # A field already at its baseline yields an identical row; its contribution is zero by
    # definition, not whatever last-bit noise a vectorized scorer gives for a repeated row.
    contributions = []
    for name, score in zip(RAW_FIELDS, substituted, strict=True):
        value = float(getattr(profile, name))
        contributions.append(Contribution(name, value, 0.0 if value == float(baselines[name]) else base - score))
    contributions.sort(key=lambda item: abs(item.contribution), reverse=True)
    return tuple(contributions)


def leave_one_out(
    score_batch: BatchScorer, profile: CustomerProfile, baselines: Mapping[str, float]
) -> tuple[float, tuple[Contribution, ...]]:
    """Score all 14 rows in one call; return p(profile) and contributions sorted by |size|."""
    probabilities = np.asarray(score_batch(leave_one_out_rows(profile, baselines)), dtype=np.float64)
    return float(probabilities[0]), contributions_from_scores(profile, baselines, probabilities)
