"""Outcomes that arrive after the prediction: did the customer churn? Joined with what the
champion predicted, they give the realized F1 and ROC-AUC per period, beside the estimate the
drift check made from the probabilities alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from churnguard.domain.performance_estimate import EstimatedPerformance, estimate_performance


@dataclass(frozen=True)
class Outcome:
    customer_id: str
    churned: bool
    observed_at: float
    """Unix time the outcome was known; it is joined with the latest prediction before it."""


@dataclass(frozen=True)
class MatchedOutcome:
    customer_id: str
    churned: bool
    probability: float
    predicted_churn: bool
    predicted_at: float
    threshold: float


@dataclass(frozen=True)
class PeriodPerformance:
    start: float
    """Unix time the period starts (periods are of the predictions' time)."""
    rows: int
    churn_rate: float
    realized_f1: float
    realized_roc_auc: float
    """NaN when the period's outcomes are all one class."""
    estimated: EstimatedPerformance


def realized_f1(churned: np.ndarray, predicted: np.ndarray) -> float:
    tp = int((churned & predicted).sum())
    wrong = int((churned ^ predicted).sum())
    return 2 * tp / (2 * tp + wrong) if tp + wrong else math.nan


def realized_roc_auc(churned: np.ndarray, probability: np.ndarray) -> float:
    positives, negatives = int(churned.sum()), int((~churned).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(probability, kind="mergesort")
    ranks = np.empty(probability.size)
    ranks[order] = np.arange(1, probability.size + 1)
    _, inverse, counts = np.unique(probability, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]  # ties share their mean rank
    return float((ranks[churned].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def by_period(matches: Sequence[MatchedOutcome], period_seconds: float) -> list[PeriodPerformance]:
    """Realized and estimated performance per period of prediction time, oldest first."""
    if period_seconds <= 0:
        raise ValueError(f"a period must be positive, got {period_seconds}")
    groups: dict[int, list[MatchedOutcome]] = {}
    for match in matches:
        groups.setdefault(int(match.predicted_at // period_seconds), []).append(match)
    periods = []
    for key in sorted(groups):
        rows = groups[key]
        churned = np.array([m.churned for m in rows])
        predicted = np.array([m.predicted_churn for m in rows])
        probability = np.array([m.probability for m in rows])
        periods.append(
            PeriodPerformance(
                start=key * period_seconds,
                rows=len(rows),
                churn_rate=float(churned.mean()),
                realized_f1=realized_f1(churned, predicted),
                realized_roc_auc=realized_roc_auc(churned, probability),
                estimated=estimate_performance(probability, rows[0].threshold),
            )
        )
    return periods
