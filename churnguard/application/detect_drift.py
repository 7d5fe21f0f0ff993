"""Use-case: compare what the service receives with what the champion was trained on."""

from __future__ import annotations

from dataclasses import dataclass

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import (
    Clock,
    DriftDetector,
    DriftReport,
    DriftReportWriter,
    ExperimentTracker,
    ModelStore,
    Table,
)
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.drift_policy import DriftPolicy


@dataclass(frozen=True)
class DriftOutcome:
    report: DriftReport
    files: list[str]


class DetectDrift:
    def __init__(
        self,
        detector: DriftDetector,
        store: ModelStore,
        writer: DriftReportWriter,
        tracker: ExperimentTracker,
        clock: Clock,
        policy: DriftPolicy,
    ) -> None:
        self._detector = detector
        self._store = store
        self._writer = writer
        self._tracker = tracker
        self._clock = clock
        self._policy = policy

    def __call__(self, current: Table, current_source: str, reference: Table | None = None) -> DriftOutcome:
        """Drift of `current` against `reference` (default: the champion's training snapshot).

        Raises NotEnoughRows before computing anything when `current` is too small to judge.
        """
        self._policy.check_rows(len(current))
        champion = self._store.champion()
        if reference is None:
            if champion is None:
                raise ModelNotFound("no champion to compare against; run `churnguard pipeline` first")
            reference = self._store.reference(champion.fingerprint)
        schema = champion.schema if champion is not None else ORIGINAL_SCHEMA
        analysis = self._detector.compare(reference, current, schema)
        report = DriftReport(
            model_version=champion.fingerprint if champion else "",
            checked_at=self._clock.now(),
            reference_rows=len(reference),
            current_rows=len(current),
            current_source=current_source,
            features=list(analysis.features),
            verdict=self._policy.verdict(analysis.features),
        )
        files = self._writer.write(report, analysis.html)
        self._tracker.record_drift(report, files)
        return DriftOutcome(report, files)
