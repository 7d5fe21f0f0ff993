"""In-memory adapters: the ports kept in Python objects, for programs that embed ChurnGuard
(a notebook, a job, a test) and want no files and no servers. `ChurnGuard.in_memory()` wires
them; each can also be handed to a use-case directly. Nothing here survives the process."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import (
    Dataset,
    DriftReport,
    EvaluationReport,
    OutcomesReport,
    PredictionRecord,
    ProbabilisticModel,
    PyfuncModel,
    Table,
    TrackedRun,
    TrainedModel,
)
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import F1Floor, GateDecision


@dataclass
class InMemoryModelStore:
    """The ModelStore port in a dict; the champion switch is guarded by a re-entrant lock."""

    models: dict[str, object] = field(default_factory=dict)
    versions: dict[str, ModelVersion] = field(default_factory=dict)
    references: dict[str, Table] = field(default_factory=dict)
    kept_diagnostics: dict[str, ModelDiagnostics] = field(default_factory=dict)
    champion_fingerprint: str | None = None
    champion_floor: F1Floor | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def save(
        self,
        model: object,
        version: ModelVersion,
        reference: Table | None = None,
        diagnostics: ModelDiagnostics | None = None,
    ) -> ModelVersion:
        self.models[version.fingerprint] = model
        if reference is not None:
            self.references[version.fingerprint] = reference
        if diagnostics is not None:
            self.kept_diagnostics[version.fingerprint] = diagnostics
        self.versions[version.fingerprint] = version
        return version

    def diagnostics(self, fingerprint: str) -> ModelDiagnostics | None:
        return self.kept_diagnostics.get(self.get(fingerprint).fingerprint)

    def load(self, fingerprint: str) -> ProbabilisticModel:
        model: Any = self.models[self.get(fingerprint).fingerprint]
        return model  # type: ignore[no-any-return]

    def get(self, fingerprint: str) -> ModelVersion:
        matches = [fp for fp in self.versions if fp.startswith(fingerprint)]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise ModelNotFound(f"{found} model version matches {fingerprint!r} in memory")
        return self.versions[matches[0]]

    def latest(self) -> ModelVersion | None:
        return max(self.versions.values(), key=lambda v: v.created_at, default=None)

    def champion(self) -> ModelVersion | None:
        if not self.champion_fingerprint:
            return None
        version = self.versions[self.champion_fingerprint]
        return replace(version, f1_floor=self.champion_floor) if self.champion_floor else version

    def set_champion(self, fingerprint: str, floor: F1Floor | None = None) -> None:
        self.champion_fingerprint = self.get(fingerprint).fingerprint
        self.champion_floor = floor

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    def reference(self, fingerprint: str) -> Table:
        version = self.get(fingerprint)
        if version.fingerprint not in self.references:
            raise ModelNotFound(f"model {version.short_id} was stored without a training snapshot")
        return self.references[version.fingerprint]

    def pyfunc_model(self, fingerprint: str) -> PyfuncModel:
        raise ModelNotFound(
            f"model {self.get(fingerprint).short_id} lives in memory only; an MLflow model needs the filesystem or"
            " MLflow store"
        )


class InMemoryReportWriter:
    """The ReportWriter port: evaluation reports kept in a list."""

    def __init__(self) -> None:
        self.reports: list[EvaluationReport] = []

    def write_evaluation(self, report: EvaluationReport) -> str:
        self.reports.append(report)
        return f"memory://evaluation/{len(self.reports)}"


class InMemoryDriftReportWriter:
    """The DriftReportWriter port: drift reports and their HTML kept in a list."""

    def __init__(self) -> None:
        self.reports: list[tuple[DriftReport, str]] = []

    def write(self, report: DriftReport, html: str) -> list[str]:
        self.reports.append((report, html))
        return [f"memory://drift/{len(self.reports)}"]

    def latest(self) -> DriftReport | None:
        return self.reports[-1][0] if self.reports else None


class InMemoryExperimentTracker:
    """The ExperimentTracker port: what would be tracked, as (event, subject) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def check_available(self) -> None:
        return None

    def record_training(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> TrackedRun:
        self.events.append(("training", version.fingerprint))
        return TrackedRun(None, None)

    def record_evaluation(self, report: EvaluationReport) -> None:
        self.events.append(("evaluation", report.fingerprint))

    def record_promotion(self, version: ModelVersion, decision: GateDecision) -> None:
        self.events.append(("promotion", (version.fingerprint, decision.promote)))

    def record_drift(self, report: DriftReport, files: Sequence[str]) -> None:
        self.events.append(("drift", report.verdict.drifted))

    def record_outcomes(self, report: OutcomesReport, files: Sequence[str]) -> None:
        self.events.append(("outcomes", report.matched))


class InMemoryPredictionLog:
    """The PredictionLog port: served predictions kept in a list (bounded: the oldest go first)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.records: list[PredictionRecord] = []
        self._limit = limit
        self._lock = threading.Lock()

    @property
    def dropped_records(self) -> int:
        return 0

    def record(self, records: Sequence[PredictionRecord]) -> None:
        with self._lock:
            self.records.extend(records)
            del self.records[: max(0, len(self.records) - self._limit)]

    def close(self) -> None:
        return None
