"""Where to cut churn probabilities into "contact" / "leave alone".

Both policies scan every distinct cut of the (out-of-fold) probabilities at once with
cumulative sums, and place the threshold halfway between the last probability kept and the
next lower one, so it does not sit on a training point.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt


class ThresholdStrategy(Enum):
    F1 = "f1"
    EXPECTED_VALUE = "expected_value"


@dataclass(frozen=True, slots=True)
class RetentionCampaign:
    """The economics of contacting a customer the model flags.

    Each contact costs `contact_cost`; a contacted customer who would have churned stays with
    probability `success_rate`, which is worth `retained_value`.
    """

    contact_cost: float = 10.0
    retained_value: float = 200.0
    success_rate: float = 0.3

    def __post_init__(self) -> None:
        if self.contact_cost < 0 or self.retained_value < 0:
            raise ValueError("contact_cost and retained_value must be >= 0")
        if not 0.0 <= self.success_rate <= 1.0:
            raise ValueError("success_rate must be within [0, 1]")

    def expected_value(self, churned: int, contacted: int) -> float:
        """Value of contacting `contacted` customers of whom `churned` would have left."""
        return churned * self.success_rate * self.retained_value - contacted * self.contact_cost


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    threshold: float
    strategy: ThresholdStrategy
    score: float
    """F1, or expected value per customer, reached at the threshold on the data it was chosen on."""


def _cuts(
    target: npt.ArrayLike, probability: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For each distinct probability (descending): threshold, positives flagged, rows flagged, positives."""
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError("target and probability must be non-empty 1-D arrays of the same length")
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    true_positives = np.cumsum(y_sorted)
    flagged = np.arange(1, len(p) + 1, dtype=np.float64)
    last_of_tie = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    next_lower = np.r_[p_sorted[1:], 0.0]
    thresholds = ((p_sorted + next_lower) / 2.0)[last_of_tie]
    return thresholds, true_positives[last_of_tie], flagged[last_of_tie], np.array(y.sum())


def f1_optimal_threshold(target: npt.ArrayLike, probability: npt.ArrayLike) -> ThresholdChoice:
    thresholds, true_positives, flagged, positives = _cuts(target, probability)
    f1 = 2.0 * true_positives / (flagged + positives)
    best = int(np.argmax(f1))
    return ThresholdChoice(float(thresholds[best]), ThresholdStrategy.F1, float(f1[best]))


def value_optimal_threshold(
    target: npt.ArrayLike, probability: npt.ArrayLike, campaign: RetentionCampaign
) -> ThresholdChoice:
    """Threshold maximizing the campaign's expected value; above every score if no contact pays."""
    thresholds, true_positives, flagged, _ = _cuts(target, probability)
    value = true_positives * campaign.success_rate * campaign.retained_value - flagged * campaign.contact_cost
    best = int(np.argmax(value))
    rows = len(np.asarray(target))
    if value[best] <= 0.0:
        return ThresholdChoice(1.0, ThresholdStrategy.EXPECTED_VALUE, 0.0)
    return ThresholdChoice(float(thresholds[best]), ThresholdStrategy.EXPECTED_VALUE, float(value[best]) / rows)


def choose_threshold(
    target: npt.ArrayLike,
    probability: npt.ArrayLike,
    strategy: ThresholdStrategy,
    campaign: RetentionCampaign | None = None,
) -> ThresholdChoice:
    if strategy is ThresholdStrategy.F1:
        return f1_optimal_threshold(target, probability)
    return value_optimal_threshold(target, probability, campaign or RetentionCampaign())
