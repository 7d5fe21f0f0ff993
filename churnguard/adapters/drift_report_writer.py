"""reports/drift_report.html (Evidently's report) and reports/drift_report.json, written atomically."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.adapters.json_report_writer import json_safe
from churnguard.application.ports import DriftReport, OutcomesReport
from churnguard.domain.drift_policy import DriftVerdict, FeatureDrift
from churnguard.domain.performance_estimate import EstimatedPerformance

logger = logging.getLogger(__name__)
HTML_FILE = "drift_report.html"
JSON_FILE = "drift_report.json"


def _estimate_json(report: DriftReport) -> dict[str, Any] | None:
    estimated = report.estimated
    if estimated is None:
        return None
    floor = report.f1_floor
    return {
        "f1": estimated.f1,
        "precision": estimated.precision,
        "recall": estimated.recall,
        "roc_auc": estimated.roc_auc,
        "f1_interval": list(estimated.f1_interval),
        "roc_auc_interval": list(estimated.roc_auc_interval),
        "threshold": estimated.threshold,
        "rows": estimated.rows,
        "method": "confidence-based: the expected confusion matrix of the calibrated probabilities",
        "f1_floor": floor,
        "below_f1_floor": report.below_f1_floor,
    }


def drift_report_json(report: DriftReport) -> dict[str, Any]:
    verdict = report.verdict
    prediction = report.prediction
    document: dict[str, Any] = json_safe(
        {
            "checked_at": report.checked_at.isoformat(),
            "model_version": report.model_version,
            "reference_rows": report.reference_rows,
            "current_rows": report.current_rows,
            "current_source": report.current_source,
            "dataset_drift": report.verdict.drifted,
            "drift_share": report.verdict.drift_share,
            "drifted_features": list(report.verdict.drifted_features),
            "reasons": list(report.verdict.reasons),
            "rules_fired": list(verdict.rules),
            "weighted_drift_share": verdict.weighted_share,
            "field_weights": dict(verdict.weights),
            "prediction_drift": None
            if prediction is None
            else {
                "test": prediction.test,
                "statistic": prediction.statistic,
                "threshold": prediction.threshold,
                "drifted": prediction.drifted,
            },
            "horizon_prediction_drift": None
            if report.horizon_prediction is None
            else {
                "feature": report.horizon_prediction.feature,
                "test": report.horizon_prediction.test,
                "statistic": report.horizon_prediction.statistic,
                "threshold": report.horizon_prediction.threshold,
                "drifted": report.horizon_prediction.drifted,
            },
            "estimated_performance": _estimate_json(report),
            "features": [
                {
                    "feature": f.feature,
                    "test": f.test,
                    "statistic": f.statistic,
                    "threshold": f.threshold,
                    "drifted": f.drifted,
                }
                for f in report.features
            ],
        }
    )
    return document


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _feature(item: Mapping[str, Any]) -> FeatureDrift:
    return FeatureDrift(
        str(item["feature"]),
        str(item["test"]),
        _number(item["statistic"]),
        _number(item["threshold"]),
        bool(item["drifted"]),
    )


def drift_report_from_json(document: Mapping[str, Any]) -> DriftReport:
    """The report `drift_report_json` wrote (KeyError, TypeError or ValueError if it is not one)."""
    estimated = document.get("estimated_performance")
    prediction = document.get("prediction_drift")
    return DriftReport(
        model_version=str(document["model_version"]),
        checked_at=datetime.fromisoformat(document["checked_at"]),
        reference_rows=int(document["reference_rows"]),
        current_rows=int(document["current_rows"]),
        current_source=str(document["current_source"]),
        features=tuple(_feature(item) for item in document["features"]),
        verdict=DriftVerdict(
            drifted=bool(document["dataset_drift"]),
            drift_share=_number(document["drift_share"]),
            drifted_features=tuple(document["drifted_features"]),
            reasons=tuple(document["reasons"]),
            weighted_share=_number(document.get("weighted_drift_share", document["drift_share"])),
            prediction_drifted=bool(prediction is not None and prediction["drifted"]),
            rules=tuple(document.get("rules_fired", ())),
            weights={str(k): float(v) for k, v in (document.get("field_weights") or {}).items()},
        ),
        prediction=None if prediction is None else _feature({"feature": "churn_probability", **prediction}),
        horizon_prediction=None
        if document.get("horizon_prediction_drift") is None
        else _feature(document["horizon_prediction_drift"]),
        estimated=None
        if estimated is None
        else EstimatedPerformance(
            f1=_number(estimated["f1"]),
            precision=_number(estimated["precision"]),
            recall=_number(estimated["recall"]),
            roc_auc=_number(estimated["roc_auc"]),
            f1_interval=(_number(estimated["f1_interval"][0]), _number(estimated["f1_interval"][1])),
            roc_auc_interval=(_number(estimated["roc_auc_interval"][0]), _number(estimated["roc_auc_interval"][1])),
            rows=int(estimated["rows"]),
            threshold=_number(estimated["threshold"]),
        ),
        f1_floor=None if estimated is None or estimated.get("f1_floor") is None else float(estimated["f1_floor"]),
    )


class FileDriftReportWriter:
    def __init__(self, reports_dir: Path) -> None:
        self._dir = Path(reports_dir)
        self._latest: tuple[float, DriftReport] | None = None
        """The last report read, by its file's modification time: a scrape re-reads only a new one."""

    def write(self, report: DriftReport, html: str) -> list[str]:
        html_path, json_path = self._dir / HTML_FILE, self._dir / JSON_FILE
        atomic_write_text(html_path, html)
        atomic_write_text(json_path, json.dumps(drift_report_json(report), indent=2) + "\n")
        return [str(html_path), str(json_path)]

    def latest(self) -> DriftReport | None:
        """The latest report, or None if no check ran yet (or its file is unreadable: logged)."""
        path = self._dir / JSON_FILE
        try:
            modified = path.stat().st_mtime
            cached = self._latest
            if cached is not None and cached[0] == modified:
                return cached[1]
            report = drift_report_from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            logger.warning("drift report %s unreadable: %s", path, error)
            return None
        self._latest = (modified, report)
        return report


OUTCOMES_FILE = "outcomes_report.json"


def outcomes_report_json(report: OutcomesReport) -> dict[str, Any]:
    document: dict[str, Any] = json_safe(
        {
            "checked_at": report.checked_at.isoformat(),
            "model_version": report.model_version,
            "source": report.source,
            "received": report.received,
            "matched": report.matched,
            "unknown_ids": {"count": len(report.unknown), "first": list(report.unknown[:50])},
            "duplicate_ids": {"count": len(report.duplicates), "first": list(report.duplicates[:50])},
            "period_seconds": report.period_seconds,
            "periods": [
                {
                    "start": datetime.fromtimestamp(p.start, UTC).isoformat(),
                    "rows": p.rows,
                    "churn_rate": p.churn_rate,
                    "realized": {"f1": p.realized_f1, "roc_auc": p.realized_roc_auc},
                    "estimated": {
                        "f1": p.estimated.f1,
                        "f1_interval": list(p.estimated.f1_interval),
                        "roc_auc": p.estimated.roc_auc,
                        "roc_auc_interval": list(p.estimated.roc_auc_interval),
                    },
                    "realized_f1_within_estimate": bool(
                        p.estimated.f1_interval[0] <= p.realized_f1 <= p.estimated.f1_interval[1]
                    ),
                }
                for p in report.periods
            ],
        }
    )
    return document


class FileOutcomesReportWriter:
    def __init__(self, reports_dir: Path) -> None:
        self._dir = Path(reports_dir)

    def write(self, report: OutcomesReport) -> list[str]:
        path = self._dir / OUTCOMES_FILE
        atomic_write_text(path, json.dumps(outcomes_report_json(report), indent=2) + "\n")
        return [str(path)]

    def latest(self) -> dict[str, Any] | None:
        try:
            document: dict[str, Any] = json.loads((self._dir / OUTCOMES_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.warning("outcomes report unreadable: %s", error)
            return None
        return document
