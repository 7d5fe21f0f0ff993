"""How well is the champion doing on traffic whose outcomes are not known yet?

Confidence-based performance estimation: if the calibrated probability p of a customer is
right, the customer churns with probability p. So among the customers the model flags
(p >= threshold) it expects sum(p) true positives and sum(1 - p) false positives, among the
others sum(p) missed churners; the expected confusion matrix gives F1, precision and recall,
and the expected ROC curve (cumulative p and 1 - p down the scores) gives ROC-AUC.

The interval is the spread of the F1 (and ROC-AUC) that outcomes drawn from those same
probabilities would realize (the error if the model were perfectly calibrated on this traffic),
widened by the estimator's own error measured on the holdout at training (`margins`: how far the
estimate there was from the realized value, the model's calibration error in these terms). A
model that drift has miscalibrated further can still be off by more; realized outcomes check
the estimate in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DRAWS = 200
MAX_INTERVAL_ROWS = 20_000


@dataclass(frozen=True)
class EstimatedPerformance:
    f1: float
    precision: float
    recall: float
    roc_auc: float
    f1_interval: tuple[float, float]
    roc_auc_interval: tuple[float, float]
    rows: int
    threshold: float


def _expected_auc(probability: FloatArray) -> float:
    order = np.argsort(-probability, kind="mergesort")
    p = probability[order]
    positives, negatives = p.sum(), (1.0 - p).sum()
    if positives <= 0.0 or negatives <= 0.0:
        return float("nan")
    tpr = np.r_[0.0, np.cumsum(p) / positives]
    fpr = np.r_[0.0, np.cumsum(1.0 - p) / negatives]
    return float(np.trapezoid(tpr, fpr))


def _realized(
    labels: npt.NDArray[np.bool_], flagged: npt.NDArray[np.bool_], ranks: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """F1 and ROC-AUC of each row of `labels` (draws x customers) for fixed decisions and ranks."""
    tp = (labels & flagged).sum(axis=1)
    fp = (~labels & flagged).sum(axis=1)
    fn = (labels & ~flagged).sum(axis=1)
    denominator = 2 * tp + fp + fn
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan)
    n1 = labels.sum(axis=1).astype(np.float64)
    n0 = labels.shape[1] - n1
    rank_sum = labels.astype(np.float64) @ ranks
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)
    return f1, auc


def estimate_performance(
    probability: npt.ArrayLike, threshold: float, margins: Mapping[str, float] | None = None, seed: int = 0
) -> EstimatedPerformance:
    p = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    if p.size == 0:
        raise ValueError("no probabilities to estimate from")
    flagged = p >= threshold
    tp, fp = p[flagged].sum(), (1.0 - p[flagged]).sum()
    fn = p[~flagged].sum()
    precision = tp / (tp + fp) if tp + fp > 0 else float("nan")
    recall = tp / (tp + fn) if tp + fn > 0 else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan")

    rng = np.random.default_rng(seed)
    sample = p if p.size <= MAX_INTERVAL_ROWS else p[rng.choice(p.size, MAX_INTERVAL_ROWS, replace=False)]
    order = np.argsort(sample, kind="mergesort")
    ranks = np.empty(sample.size)
    ranks[order] = np.arange(1, sample.size + 1)
    # ties share their mean rank, as ROC-AUC counts a tie as half
    _, inverse, counts = np.unique(sample, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    labels = rng.random((DRAWS, sample.size)) < sample
    f1_draws, auc_draws = _realized(labels, sample >= threshold, ranks)
    # the draws' spread, scaled from the sample to all rows (a share's error shrinks as 1/sqrt(n))
    scale = np.sqrt(sample.size / p.size)

    def interval(point: float, draws: FloatArray, margin: float) -> tuple[float, float]:
        low, high = np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any() else (np.nan, np.nan)
        center = float(np.nanmean(draws)) if np.isfinite(draws).any() else point
        return (
            max(0.0, point - (center - low) * scale - margin),
            min(1.0, point + (high - center) * scale + margin),
        )

    margins = margins or {}

    auc = _expected_auc(p)
    return EstimatedPerformance(
        f1=float(f1),
        precision=float(precision),
        recall=float(recall),
        roc_auc=auc,
        f1_interval=interval(float(f1), f1_draws, abs(margins.get("f1", 0.0))),
        roc_auc_interval=interval(auc, auc_draws, abs(margins.get("roc_auc", 0.0))),
        rows=int(p.size),
        threshold=float(threshold),
    )
