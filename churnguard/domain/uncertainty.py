"""Bootstrap confidence intervals for holdout metrics, and for paired model comparisons.

A holdout of a few hundred rows moves F1 by a few points from sample to sample; these
intervals let reports and the quality gate tell a real difference from that noise.
Percentile intervals over `rounds` resamples of the holdout rows, vectorized over rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

DEFAULT_ROUNDS = 1000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate and its confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL

    def __str__(self) -> str:
        return f"{self.estimate:.4f} ({self.level:.0%} CI {self.low:.4f} to {self.high:.4f})"

    @classmethod
    def exact(cls, value: float) -> Interval:
        return cls(value, value, value)


def resample_indices(rows: int, rounds: int = DEFAULT_ROUNDS, seed: int = 0) -> IndexArray:
    """(rounds, rows) row indices drawn with replacement; the same seed gives the same draws."""
    return np.random.Generator(np.random.PCG64(seed)).integers(0, rows, size=(rounds, rows))


def f1_per_round(target: FloatArray, predicted: FloatArray, indices: IndexArray) -> FloatArray:
    y, yhat = target[indices], predicted[indices]
    true_positives = (y * yhat).sum(axis=1)
    denominator = y.sum(axis=1) + yhat.sum(axis=1)
    f1: FloatArray = np.divide(2.0 * true_positives, denominator, out=np.zeros(len(indices)), where=denominator > 0)
    return f1


def brier_per_round(target: FloatArray, probability: FloatArray, indices: IndexArray) -> FloatArray:
    return np.asarray(((probability[indices] - target[indices]) ** 2).mean(axis=1), dtype=np.float64)


def roc_auc(target: FloatArray, probability: FloatArray) -> float:
    """Mann-Whitney ROC-AUC with average ranks for ties; nan when one class is absent."""
    positives = float(target.sum())
    negatives = len(target) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(probability, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    return float((ranks[target == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def roc_auc_per_round(target: FloatArray, probability: FloatArray, indices: IndexArray) -> FloatArray:
    return np.array([roc_auc(target[row], probability[row]) for row in indices])


def _interval(estimate: float, samples: FloatArray, level: float) -> Interval:
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return Interval(estimate, float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(estimate, float(low), float(high), level)


def f1_score(target: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """F1 of 0/1 predictions; 0 when there is nothing to find and nothing flagged."""
    y = np.asarray(target, dtype=np.float64)
    return float(f1_per_round(y, np.asarray(predicted, dtype=np.float64), np.arange(len(y))[None, :])[0])


def f1_interval(
    target: npt.ArrayLike,
    predicted: npt.ArrayLike,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> Interval:
    y = np.asarray(target, dtype=np.float64)
    yhat = np.asarray(predicted, dtype=np.float64)
    return _interval(f1_score(y, yhat), f1_per_round(y, yhat, resample_indices(len(y), rounds, seed)), level)


def metric_intervals(
    target: npt.ArrayLike,
    probability: npt.ArrayLike,
    threshold: float,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Interval]:
    """F1 (at `threshold`), ROC-AUC and Brier score with bootstrap intervals."""
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    predicted = (p >= threshold).astype(np.float64)
    indices = resample_indices(len(y), rounds, seed)
    everything = np.arange(len(y))[None, :]
    return {
        "f1": _interval(f1_score(y, predicted), f1_per_round(y, predicted, indices), level),
        "roc_auc": _interval(roc_auc(y, p), roc_auc_per_round(y, p, indices), level),
        "brier": _interval(float(brier_per_round(y, p, everything)[0]), brier_per_round(y, p, indices), level),
    }


def paired_f1_difference(
    target: npt.ArrayLike,
    candidate_predicted: npt.ArrayLike,
    champion_predicted: npt.ArrayLike,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> Interval:
    """F1(candidate) - F1(champion) on the same rows, resampling rows jointly for both models."""
    y = np.asarray(target, dtype=np.float64)
    a = np.asarray(candidate_predicted, dtype=np.float64)
    b = np.asarray(champion_predicted, dtype=np.float64)
    indices = resample_indices(len(y), rounds, seed)
    estimate = f1_score(y, a) - f1_score(y, b)
    return _interval(estimate, f1_per_round(y, a, indices) - f1_per_round(y, b, indices), level)
