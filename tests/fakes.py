"""Hand-written fakes for every port, so use-cases run from plain Python with no I/O."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from churnguard.adapters.in_memory import InMemoryModelStore, InMemoryReportWriter
from churnguard.application.errors import (
    DatasetUnreadable,
    InvalidDataset,
    TrackingUnavailable,
    Violation,
)
from churnguard.application.ports import (
    Dataset,
    DriftReport,
    Evaluation,
    EvaluationReport,
    HoldoutPredictions,
    InferenceTrace,
    OutcomesReport,
    PyfuncModel,
    Table,
    TrackedRun,
    TrainedModel,
    TrainingPlan,
)
from churnguard.domain.attribution import Reference
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import F1Floor, GateDecision, SurvivalComparison
from churnguard.domain.schema import TableSchema
from churnguard.domain.uncertainty import Interval


def reference_of(schema: TableSchema) -> Reference:
    """Several values per field, unevenly weighted: every label, or three points of a range."""
    values, weights = [], []
    for spec in schema.fields:
        if spec.has_labels:
            count = len(spec.labels)
            values.append(tuple(float(code) for code in range(count)))
            raw = np.arange(count, 0, -1, dtype=np.float64)
        else:
            low = float(spec.minimum if spec.minimum is not None else 0.0)
            high = float(spec.maximum if spec.maximum is not None else low + 100.0)
            span = high - low
            values.append((round(low + 0.2 * span + 1), round(low + 0.5 * span), round(low + 0.8 * span - 1)))
            raw = np.array([3.0, 2.0, 1.0])
        weights.append(tuple((raw / raw.sum()).tolist()))
    return Reference(schema.raw_fields, tuple(values), tuple(weights))


ORIGINAL_REFERENCE = reference_of(ORIGINAL_SCHEMA)
"""The unit tests' champion's training distribution."""

HOLDOUT_METRICS = {"f1": 0.8, "accuracy": 0.85, "precision": 0.8, "recall": 0.8, "roc_auc": 0.9}


class FakeTable(list[dict[str, Any]]):
    """Rows as dicts: enough of a Table for use-cases, which never look inside."""


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


class FakeDatasetSource:
    def __init__(self, datasets: Mapping[str, Dataset] | None = None) -> None:
        self.datasets = dict(datasets or {})

    def load(self, location: str) -> Dataset:
        if location not in self.datasets:
            raise DatasetUnreadable(location, "no such file")
        return self.datasets[location]


class FakeDatasetValidator:
    def __init__(self, violations: list[Violation] | None = None) -> None:
        self.violations = violations or []
        self.validated: list[str] = []

    def validate(self, dataset: Dataset, schema: TableSchema = ORIGINAL_SCHEMA) -> Dataset:
        self.validated.append(dataset.location)
        if self.violations:
            raise InvalidDataset(dataset.location, self.violations)
        return dataset if dataset.schema == schema else replace(dataset, schema=schema)


class FakeModelTrainer:
    def __init__(self, holdout_metrics: Mapping[str, float] | None = None, params: Mapping[str, Any] | None = None):
        self.holdout_metrics = dict(holdout_metrics or HOLDOUT_METRICS)
        self.params = dict(params or {"max_depth": 3})
        self.calls: list[TrainingPlan] = []

    def train(self, table: Table, plan: TrainingPlan, schema: TableSchema = ORIGINAL_SCHEMA) -> TrainedModel:
        self.calls.append(plan)
        return TrainedModel(
            model=LinearChurnModel([1.0, 2.0]),
            family="fake",
            params=self.params,
            holdout_metrics=self.holdout_metrics,
            train_metrics=self.holdout_metrics,
            cv_summary={"cv_best_log_loss": 0.4, "cv_candidates": 1.0},
            cv_results=[{"params": self.params, "cv_log_loss": 0.4}],
            family_table=[{"family": "fake", "cv_log_loss": 0.4}],
            search_space={"fake": {"max_depth": [3]}},
            calibration={"method": "none"},
            threshold=0.4,
            threshold_strategy="f1",
            attribution=reference_of(schema),
            churn_rate=0.35,
            train_rows=len(table) * 4 // 5,
            holdout_rows=len(table) // 5,
            search_seconds=0.01,
        )


class FakeModelEvaluator:
    """Metrics as given; holdout predictions from a per-model table of probabilities."""

    def __init__(
        self,
        metrics: Mapping[str, float] | None = None,
        target: Sequence[int] = (1, 1, 0, 0),
        probabilities: Mapping[int, Sequence[float]] | None = None,
    ) -> None:
        self.metrics = dict(metrics or HOLDOUT_METRICS)
        self.target = np.asarray(target, dtype=np.int64)
        self.probabilities = dict(probabilities or {})
        self.default_probability: Sequence[float] | None = None
        self.calls: list[tuple[object, float, int, float]] = []
        self.survival: SurvivalComparison | None = None
        """What survival_comparison answers (None: the schema declares no time to churn)."""

    def holdout_predictions(
        self, model: object, table: Table, version: ModelVersion, split: tuple[float, int] | None = None
    ) -> HoldoutPredictions:
        default = self.default_probability or [0.9 if label else 0.1 for label in self.target]
        probability = self.probabilities.get(id(model), default)
        return HoldoutPredictions(self.target, np.asarray(probability, dtype=np.float64))

    def survival_comparison(
        self, candidate: object, candidate_version: ModelVersion, champion: object, table: Table
    ) -> SurvivalComparison | None:
        return self.survival

    def evaluate(self, model: object, table: Table, version: ModelVersion) -> Evaluation:
        test_size, random_state = float(version.settings["test_size"]), int(version.settings["random_state"])
        threshold = version.threshold
        self.calls.append((model, test_size, random_state, threshold))
        return Evaluation(
            metrics=self.metrics,
            intervals={"f1": Interval.exact(self.metrics["f1"])},
            classification_report={},
            confusion_matrix=[[1, 0], [0, 1]],
            holdout_rows=2,
            threshold=threshold,
        )


@dataclass
class FakeModelStore(InMemoryModelStore):
    """The shipped in-memory store, plus what the tests look at: whether the champion was
    switched under the lock, and `add` for a version without training."""

    lock_held: bool = False
    champion_switched_under_lock: list[bool] = field(default_factory=list)

    def pyfunc_model(self, fingerprint: str) -> PyfuncModel:
        return PyfuncModel(f"fake:/{self.get(fingerprint).fingerprint}")

    def add(self, fingerprint: str, f1: float, created_second: int = 0, model: object | None = None) -> ModelVersion:
        version = ModelVersion(
            fingerprint=fingerprint,
            created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=created_second),
            data_hash="d" * 64,
            params={},
            metrics={**HOLDOUT_METRICS, "f1": f1},
            threshold=0.5,
            settings={"test_size": 0.2, "random_state": 42},
        )
        return self.save(model if model is not None else object(), version)

    def crown(
        self,
        model: object,
        reference: Reference | None = None,
        threshold: float = 0.5,
        churn_rate: float = 0.0,
        fingerprint: str = "f" * 64,
    ) -> ModelVersion:
        """Store `model` as a version of the original schema and make it the champion."""
        version = ModelVersion(
            fingerprint=fingerprint,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            data_hash="d" * 64,
            params={},
            metrics={"f1": 0.8},
            attribution=reference or ORIGINAL_REFERENCE,
            churn_rate=churn_rate,
            threshold=threshold,
        )
        self.save(model, version)
        self.champion_fingerprint = fingerprint
        return version

    def set_champion(self, fingerprint: str, floor: F1Floor | None = None) -> None:
        self.champion_switched_under_lock.append(self.lock_held)
        super().set_champion(fingerprint, floor)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with super().lock():
            self.lock_held = True
            try:
                yield
            finally:
                self.lock_held = False


FakeReportWriter = InMemoryReportWriter


class FakeExperimentTracker:
    def __init__(self, available: bool = True) -> None:
        self.events: list[tuple[str, Any]] = []
        self.available = available

    def check_available(self) -> None:
        self.events.append(("check", None))
        if not self.available:
            raise TrackingUnavailable("fake tracker is down")

    def record_training(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> TrackedRun:
        self.events.append(("training", version.fingerprint))
        return TrackedRun("run-1", "7")

    def record_evaluation(self, report: EvaluationReport) -> None:
        self.events.append(("evaluation", (report.fingerprint, report.run_id)))

    def record_promotion(self, version: ModelVersion, decision: GateDecision) -> None:
        self.events.append(("promotion", (version.fingerprint, decision.promote)))

    def record_drift(self, report: DriftReport, files: Sequence[str]) -> None:
        self.events.append(("drift", report.verdict.drifted))

    def record_outcomes(self, report: OutcomesReport, files: Sequence[str]) -> None:
        self.events.append(("outcomes", report.matched))


def fake_dataset(location: str = "data.csv", rows: int = 100, data_hash: str = "d" * 64) -> Dataset:
    return Dataset(table=FakeTable([{}] * rows), location=location, data_hash=data_hash, rows=rows)


def with_hash(dataset: Dataset, data_hash: str) -> Dataset:
    return replace(dataset, data_hash=data_hash)


class FakeInferenceTracer:
    enabled = True

    def __init__(self) -> None:
        self.traces: list[InferenceTrace] = []

    def record(self, trace: InferenceTrace) -> None:
        self.traces.append(trace)

    @property
    def dropped_traces(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class LinearChurnModel:
    """A logistic model over the 16 features that counts its calls."""

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        self.weights = np.asarray(weights if weights is not None else np.linspace(-0.05, 0.05, 16))
        self.calls: list[tuple[int, ...]] = []

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        self.calls.append(features.shape)
        churn = 1.0 / (1.0 + np.exp(-(features @ self.weights) / 10.0))
        return np.column_stack([1.0 - churn, churn])
