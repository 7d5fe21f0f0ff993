"""The pictures a data scientist checks a churn model by, as numbers: the ROC curve, the
calibration curve, the confusion matrix at the decision threshold and feature importance.

Computed once on the holdout split at training, stored with the model version, served by the
API and drawn by the UI (no image library, no CDN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.performance_estimate import estimate_performance

ROC_POINTS = 101
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class CalibrationBin:
    predicted: float
    """Mean predicted churn probability of the bin's customers."""
    observed: float
    """Share of them who churned."""
    customers: int


@dataclass(frozen=True)
class ModelDiagnostics:
    roc_fpr: tuple[float, ...]
    roc_tpr: tuple[float, ...]
    roc_auc: float
    calibration: tuple[CalibrationBin, ...]
    threshold: float
    confusion: Mapping[str, int]
    """tn, fp, fn, tp on the holdout at `threshold`."""
    importance: Mapping[str, float]
    """Mean drop in holdout ROC-AUC when the model input is shuffled, largest first."""
    holdout_rows: int
    estimate_error: Mapping[str, float] = field(default_factory=dict)
    """How far the label-free performance estimate was from the realized value on the holdout
    (f1, roc_auc): the estimator's own error for this model, added to its intervals later."""
    influence: Mapping[str, float] = field(default_factory=dict)
    """Per raw field: mean |change in churn probability| when it is set to its baseline (the
    served attribution over the holdout): how far the field moves this model's output."""

    def as_json(self) -> dict[str, Any]:
        return {
            "roc": {"fpr": list(self.roc_fpr), "tpr": list(self.roc_tpr), "auc": self.roc_auc},
            "calibration": [
                {"predicted": b.predicted, "observed": b.observed, "customers": b.customers} for b in self.calibration
            ],
            "threshold": self.threshold,
            "confusion": dict(self.confusion),
            "importance": [{"feature": name, "drop_in_roc_auc": value} for name, value in self.importance.items()],
            "holdout_rows": self.holdout_rows,
            "influence": dict(self.influence),
            "estimate_error": dict(self.estimate_error),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDiagnostics:
        return cls(
            roc_fpr=tuple(data["roc"]["fpr"]),
            roc_tpr=tuple(data["roc"]["tpr"]),
            roc_auc=float(data["roc"]["auc"]),
            calibration=tuple(
                CalibrationBin(b["predicted"], b["observed"], b["customers"]) for b in data["calibration"]
            ),
            threshold=float(data["threshold"]),
            confusion={key: int(value) for key, value in data["confusion"].items()},
            importance={item["feature"]: float(item["drop_in_roc_auc"]) for item in data["importance"]},
            holdout_rows=int(data["holdout_rows"]),
            influence={name: float(value) for name, value in data.get("influence", {}).items()},
            estimate_error={name: float(value) for name, value in data.get("estimate_error", {}).items()},
        )


def roc_curve(target: npt.NDArray[Any], probability: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, float]:
    """(fpr, tpr, auc), one point per distinct score from (0, 0) to (1, 1); AUC by trapezoids,
    which is the Mann-Whitney statistic with ties counted half."""
    order = np.argsort(-probability, kind="mergesort")
    scores, positives = probability[order], target[order].astype(np.float64)
    distinct = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(positives)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(tps[-1], 1.0)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1.0)]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def diagnose(
    target: npt.NDArray[Any],
    probability: npt.NDArray[np.float64],
    threshold: float,
    importance: Mapping[str, float],
    influence: Mapping[str, float] | None = None,
) -> ModelDiagnostics:
    target = np.asarray(target).astype(np.int64)
    probability = np.asarray(probability, dtype=np.float64)
    fpr, tpr, auc = roc_curve(target, probability)
    keep = np.unique(np.linspace(0, fpr.size - 1, min(ROC_POINTS, fpr.size)).round().astype(int))
    edges = np.unique(np.quantile(probability, np.linspace(0, 1, CALIBRATION_BINS + 1)))
    bins = np.clip(np.searchsorted(edges, probability, side="right") - 1, 0, max(edges.size - 2, 0))
    calibration = tuple(
        CalibrationBin(float(probability[bins == b].mean()), float(target[bins == b].mean()), int((bins == b).sum()))
        for b in np.unique(bins)
    )
    predicted = probability >= threshold
    estimated = estimate_performance(probability, threshold)
    tp, fp, fn = (
        (predicted & (target == 1)).sum(),
        (predicted & (target == 0)).sum(),
        ((~predicted) & (target == 1)).sum(),
    )
    realized_f1 = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")
    confusion = {
        "tn": int(((~predicted) & (target == 0)).sum()),
        "fp": int((predicted & (target == 0)).sum()),
        "fn": int(((~predicted) & (target == 1)).sum()),
        "tp": int((predicted & (target == 1)).sum()),
    }
    ordered = dict(sorted(((k, float(v)) for k, v in importance.items()), key=lambda item: -item[1]))
    return ModelDiagnostics(
        roc_fpr=tuple(float(v) for v in fpr[keep]),
        roc_tpr=tuple(float(v) for v in tpr[keep]),
        roc_auc=auc,
        calibration=calibration,
        threshold=threshold,
        confusion=confusion,
        importance=ordered,
        holdout_rows=int(target.size),
        influence=dict(influence or {}),
        estimate_error={"f1": abs(estimated.f1 - realized_f1), "roc_auc": abs(estimated.roc_auc - auc)},
    )
