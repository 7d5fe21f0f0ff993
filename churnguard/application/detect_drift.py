"""Use-case: compare what the service receives with what the champion was trained on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import (
    Clock,
    DriftDetector,
    DriftReport,
    DriftReportWriter,
    DriftSamples,
    ExperimentTracker,
    ModelStore,
    Table,
)
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.drift_policy import DriftPolicy, NotEnoughRows, field_weights
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.performance_estimate import estimate_performance
from churnguard.domain.schema import TableSchema


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
        f1_floor: float | None = None,
    ) -> None:
        self._detector = detector
        self._store = store
        self._writer = writer
        self._tracker = tracker
        self._clock = clock
        self._policy = policy
        self._f1_floor = f1_floor

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
        model = self._store.load(champion.fingerprint) if champion is not None else None
        analysis = self._detector.compare(reference, current, schema, model)
        weights = None
        diagnostics = self._store.diagnostics(champion.fingerprint) if champion is not None else None
        if diagnostics is not None and diagnostics.influence:
            weights = field_weights(schema.raw_fields, diagnostics.influence)
        estimated = None
        if champion is not None and analysis.current_probability is not None:
            margins = diagnostics.estimate_error if diagnostics is not None else None
            estimated = estimate_performance(analysis.current_probability, champion.threshold, margins)
        report = DriftReport(
            model_version=champion.fingerprint if champion else "",
            checked_at=self._clock.now(),
            reference_rows=len(reference),
            current_rows=len(current),
            current_source=current_source,
            features=list(analysis.features),
            verdict=self._policy.verdict(analysis.features, weights, analysis.prediction),
            prediction=analysis.prediction,
            estimated=estimated,
            f1_floor=_floor(champion, self._f1_floor),
            horizon_prediction=analysis.horizon_prediction,
        )
        files = self._writer.write(report, analysis.html)
        self._tracker.record_drift(report, files)
        return DriftOutcome(report, files)


def _floor(champion: ModelVersion | None, setting: float | None) -> float | None:
    """The floor an estimate is held to: the one the champion was promoted against, else the
    MIN_F1 setting, else the floor its schema declares."""
    if champion is None:
        return setting
    if champion.f1_floor is not None:
        return champion.f1_floor.value
    return setting if setting is not None else champion.schema.quality.min_f1


@dataclass(frozen=True)
class DriftSource:
    """Where a check's current customers come from: a file, a split of a table, or (neither)
    the prediction log, by its `last` N rows or those `since`."""

    file: str | None = None
    split_of: str | None = None
    logs: tuple[str, ...] = ()
    last: int | None = None
    since: datetime | None = None


class CheckDrift:
    """Take the current customers from `source`, read by the champion's schema, and run DetectDrift."""

    def __init__(
        self, samples: DriftSamples, store: ModelStore, detect: DetectDrift, declared: TableSchema | None = None
    ) -> None:
        self._samples = samples
        self._store = store
        self._detect = detect
        self._declared = declared

    def __call__(self, source: DriftSource) -> DriftOutcome:
        champion = self._store.champion()
        schema = champion.schema if champion is not None else (self._declared or ORIGINAL_SCHEMA)
        imputation = dict(champion.imputation) if champion is not None else {}
        if source.split_of is not None:
            sample = self._samples.split(source.split_of, schema, imputation)
        elif source.file is not None:
            sample = self._samples.file(source.file, schema, imputation)
        else:
            sample = self._samples.prediction_log(schema, imputation, list(source.logs), source.last, source.since)
        try:
            return self._detect(sample.current, sample.source, sample.reference)
        except NotEnoughRows as error:
            raise NotEnoughRows(f"{error} (current data: {sample.source})") from None
