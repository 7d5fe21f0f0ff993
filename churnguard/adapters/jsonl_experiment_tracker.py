"""The embedded experiment log until MLflow is wired in: one JSON line per event.

Each event is a single O_APPEND write of one line, so concurrent runs never interleave
half-lines. Training events also write the full CV table beside the log.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.adapters.json_report_writer import json_safe
from churnguard.application.ports import (
    Dataset,
    DriftReport,
    EvaluationReport,
    OutcomesReport,
    TrackedRun,
    TrainedModel,
)
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import GateDecision


class JsonlExperimentTracker:
    def __init__(self, runs_dir: Path) -> None:
        self._dir = Path(runs_dir)

    @property
    def log_path(self) -> Path:
        return self._dir / "runs.jsonl"

    def _append(self, event: dict[str, Any]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(json_safe(event), sort_keys=True, default=str) + "\n").encode("utf-8")
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def check_available(self) -> None:
        """A local directory is always available; it is created on first write."""

    def record_training(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> TrackedRun:
        run_id = uuid.uuid4().hex
        atomic_write_text(
            self._dir / f"cv_results_{run_id}.json", json.dumps(json_safe(list(trained.cv_results)), indent=1)
        )
        atomic_write_text(
            self._dir / f"family_table_{run_id}.json", json.dumps(json_safe(list(trained.family_table)), indent=1)
        )
        self._append(
            {
                "event": "training",
                "run_id": run_id,
                "fingerprint": version.fingerprint,
                "created_at": version.created_at.isoformat(),
                "data": {"location": dataset.location, "sha256": dataset.data_hash, "rows": dataset.rows},
                "params": dict(version.params),
                "settings": dict(version.settings),
                "holdout_metrics": dict(trained.holdout_metrics),
                "train_metrics": dict(trained.train_metrics),
                "cv": dict(trained.cv_summary),
                "family": trained.family,
                "threshold": trained.threshold,
                "threshold_strategy": trained.threshold_strategy,
                "calibration": {k: v for k, v in trained.calibration.items() if k != "curve_out_of_fold"},
                "search_seconds": trained.search_seconds,
            }
        )
        return TrackedRun(run_id)

    def record_evaluation(self, report: EvaluationReport) -> None:
        self._append(
            {
                "event": "evaluation",
                "fingerprint": report.fingerprint,
                "evaluated_at": report.evaluated_at.isoformat(),
                "metrics": dict(report.evaluation.metrics),
                "matches_training_metrics": report.matches_training_metrics,
                "run_id": report.run_id,
            }
        )

    def record_promotion(self, version: ModelVersion, decision: GateDecision) -> None:
        self._append(
            {
                "event": "promotion",
                "fingerprint": version.fingerprint,
                "promoted": decision.promote,
                "reasons": list(decision.reasons),
            }
        )

    def record_outcomes(self, report: OutcomesReport, files: Sequence[str]) -> None:
        latest = report.periods[-1] if report.periods else None
        self._append(
            {
                "event": "outcomes",
                "fingerprint": report.model_version,
                "checked_at": report.checked_at.isoformat(),
                "matched": report.matched,
                "unknown": len(report.unknown),
                "duplicates": len(report.duplicates),
                "latest_realized_f1": None if latest is None else latest.realized_f1,
                "latest_estimated_f1": None if latest is None else latest.estimated.f1,
                "files": list(files),
            }
        )

    def record_drift(self, report: DriftReport, files: Sequence[str]) -> None:
        self._append(
            {
                "event": "drift",
                "fingerprint": report.model_version,
                "checked_at": report.checked_at.isoformat(),
                "dataset_drift": report.verdict.drifted,
                "drift_share": report.verdict.drift_share,
                "drifted_features": list(report.verdict.drifted_features),
                "files": list(files),
            }
        )
