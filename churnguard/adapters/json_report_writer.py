"""Evaluation reports as JSON files under reports/, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.application.ports import EvaluationReport, SurvivalOutcomesReport

EVAL_REPORT = "eval_report.json"


def json_safe(value: Any) -> Any:
    """NaN is not JSON; write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def evaluation_report_json(report: EvaluationReport) -> dict[str, Any]:
    evaluation = report.evaluation
    document: dict[str, Any] = json_safe(
        {
            "model_fingerprint": report.fingerprint,
            "evaluated_at": report.evaluated_at.isoformat(),
            "data": {"location": report.data_location, "sha256": report.data_hash},
            "holdout_rows": evaluation.holdout_rows,
            **({"periods": dict(evaluation.periods)} if evaluation.periods else {}),
            "threshold": evaluation.threshold,
            "metrics": dict(evaluation.metrics),
            "intervals": {
                name: {"estimate": i.estimate, "low": i.low, "high": i.high, "level": i.level}
                for name, i in evaluation.intervals.items()
            },
            "confusion_matrix": {
                "labels": ["stays", "churns"],
                "rows_true_columns_predicted": evaluation.confusion_matrix,
            },
            "classification_report": dict(evaluation.classification_report),
            "same_data_as_training": report.same_data_as_training,
            "matches_training_metrics": report.matches_training_metrics,
            "training_metrics": dict(report.training_metrics),
        }
    )
    return document


SURVIVAL_OUTCOMES_REPORT = "survival_outcomes_report.json"


class JsonReportWriter:
    def __init__(self, reports_dir: Path) -> None:
        self._dir = Path(reports_dir)

    def write_evaluation(self, report: EvaluationReport) -> str:
        path = self._dir / EVAL_REPORT
        atomic_write_text(path, json.dumps(evaluation_report_json(report), indent=2, sort_keys=True) + "\n")
        return str(path)

    def write_survival_outcomes(self, report: SurvivalOutcomesReport) -> list[str]:
        path = self._dir / SURVIVAL_OUTCOMES_REPORT
        document = {
            "checked_at": report.checked_at.isoformat(),
            "model_version": report.model_version,
            "scored": report.scored,
            "outcomes": report.outcomes,
            "scored_on": report.scored_on.isoformat(),
            "unit": report.unit,
            "period_days": report.period_days,
            "matched": report.matched,
            "unknown": list(report.unknown),
            "horizons": [
                {
                    "periods": h.periods,
                    "predicted": h.predicted,
                    "observed": h.observed,
                    "difference": h.observed - h.predicted,
                    "churned": h.churned,
                    "censored": h.censored,
                    "customers": h.customers,
                }
                for h in report.horizons
            ],
        }
        atomic_write_text(path, json.dumps(json_safe(document), indent=2, sort_keys=True) + "\n")
        return [str(path)]
