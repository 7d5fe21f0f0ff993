"""Experiment tracking and inference tracing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from churnguard.application.ports.data import Dataset
from churnguard.application.ports.drift import DriftReport
from churnguard.application.ports.models import EvaluationReport, TrainedModel
from churnguard.application.ports.predictions import OutcomesReport
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import GateDecision


@dataclass(frozen=True)
class TrackedRun:
    run_id: str | None
    registry_version: str | None = None


class ExperimentTracker(Protocol):
    def check_available(self) -> None:
        """Raise TrackingUnavailable now, before a long training, if records could not be written."""
        ...

    def record_training(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> TrackedRun:
        """Record a training run (and register the model, if the tracker has a registry)."""
        ...

    def record_evaluation(self, report: EvaluationReport) -> None:
        """Add the evaluation to the training's run (`report.run_id`)."""
        ...

    def record_promotion(self, version: ModelVersion, decision: GateDecision) -> None:
        """Record the gate's decision (in a registry: the champion / challenger alias)."""
        ...

    def record_drift(self, report: DriftReport, files: Sequence[str]) -> None:
        """Record a drift check, its metrics and its report files."""
        ...

    def record_outcomes(self, report: OutcomesReport, files: Sequence[str]) -> None:
        """Record realized performance per period beside the estimate."""
        ...


@dataclass(frozen=True)
class TraceSpan:
    """One timed step of a prediction, with what went in and what came out."""

    name: str
    start_ns: int
    end_ns: int
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InferenceTrace:
    """A whole prediction call: its root timing, inputs, outputs and child spans."""

    name: str
    start_ns: int
    end_ns: int
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    spans: Sequence[TraceSpan]
    model_version: str


class InferenceTracer(Protocol):
    enabled: bool
    """False when traces are not kept, so callers can skip assembling them."""

    def record(self, trace: InferenceTrace) -> None:
        """Hand a finished trace over for export; must return at once and never raise."""
        ...

    @property
    def dropped_traces(self) -> int:
        """Traces that could not be exported (queue full or tracking server down)."""
        ...

    def close(self) -> None:
        """Export what is queued, then stop."""
        ...
