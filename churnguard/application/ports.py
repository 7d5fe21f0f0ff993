"""Ports: what the use-cases need from the world, as typing.Protocols, and the values that cross them.

Tables (DataFrames in the adapters) cross these ports as opaque `Table` values: the
application passes them between adapters and never looks inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.decision_threshold import RetentionCampaign, ThresholdStrategy
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.drift_policy import DriftVerdict, FeatureDrift
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.outcomes import MatchedOutcome, Outcome, PeriodPerformance
from churnguard.domain.performance_estimate import EstimatedPerformance
from churnguard.domain.quality_gate import GateDecision
from churnguard.domain.schema import TableSchema
from churnguard.domain.uncertainty import Interval


class Table(Protocol):
    """A tabular dataset, opaque to the application."""

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset and its identity: `data_hash` is the SHA-256 of the source bytes."""

    table: Table
    location: str
    data_hash: str
    rows: int
    schema: TableSchema = ORIGINAL_SCHEMA
    """The declaration the table was validated against."""
    duplicates: int = 0
    """Rows that repeated an earlier row in every column (dropped by validation unless kept)."""


@dataclass(frozen=True)
class TrainingPlan:
    """How to train: which model families and grids, how to select, calibrate and threshold."""

    families: tuple[str, ...] = ("logistic", "hgb")
    family_set: str = "default"
    grid_size: str = "full"
    search: str = "grid"
    selection_metric: str = "log_loss"
    calibration: str = "auto"
    threshold_strategy: ThresholdStrategy = ThresholdStrategy.F1
    campaign: RetentionCampaign = field(default_factory=RetentionCampaign)
    test_size: float = 0.2
    random_state: int = 42
    cv_folds: int = 5
    n_jobs: int = -1

    def fingerprint_settings(self) -> dict[str, Any]:
        """The settings that shape the trained model (n_jobs does not)."""
        settings: dict[str, Any] = {
            "families": list(self.families),
            "grid_size": self.grid_size,
            "search": self.search,
            "selection_metric": self.selection_metric,
            "calibration": self.calibration,
            "threshold_strategy": self.threshold_strategy.value,
            "test_size": self.test_size,
            "random_state": self.random_state,
            "cv_folds": self.cv_folds,
        }
        if self.threshold_strategy is ThresholdStrategy.EXPECTED_VALUE:
            settings["campaign"] = asdict(self.campaign)
        return settings


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model and what the search learned on the way."""

    model: object
    family: str
    params: Mapping[str, Any]
    holdout_metrics: Mapping[str, float]
    train_metrics: Mapping[str, float]
    cv_summary: Mapping[str, float]
    cv_results: Sequence[Mapping[str, Any]]
    family_table: Sequence[Mapping[str, Any]]
    search_space: Mapping[str, Any]
    calibration: Mapping[str, Any]
    threshold: float
    threshold_strategy: str
    feature_means: Mapping[str, float]
    """Attribution baselines: the training mean per field (a category's most frequent code)."""
    churn_rate: float
    train_rows: int
    holdout_rows: int
    search_seconds: float
    reference: Table | None = None
    """The training split's raw features: the drift reference stored with the version."""
    imputation: Mapping[str, float] = field(default_factory=dict)
    """Encoded fill value per imputed field, fitted on the training split."""
    diagnostics: ModelDiagnostics | None = None
    """ROC, calibration, confusion matrix and importance on the holdout, stored with the version."""


@dataclass(frozen=True)
class HoldoutPredictions:
    """A model's churn probabilities on the holdout rows of a split, with the true labels."""

    target: npt.NDArray[np.int64]
    probability: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a model on the holdout split, recomputed from scratch."""

    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    classification_report: Mapping[str, Any]
    confusion_matrix: Sequence[Sequence[int]]
    holdout_rows: int
    threshold: float


@dataclass(frozen=True)
class EvaluationReport:
    """What `evaluate` publishes: the evaluation plus which model and data it concerns."""

    fingerprint: str
    data_location: str
    data_hash: str
    evaluated_at: datetime
    evaluation: Evaluation
    same_data_as_training: bool
    matches_training_metrics: bool
    training_metrics: Mapping[str, float] = field(default_factory=dict)
    run_id: str | None = None
    """The tracker's run of the training, which the evaluation is added to."""


@dataclass(frozen=True)
class TrackedRun:
    run_id: str | None
    registry_version: str | None = None


class Clock(Protocol):
    def now(self) -> datetime: ...


class DatasetSource(Protocol):
    def load(self, location: str) -> Dataset:
        """Read a dataset; raise DatasetUnreadable if it cannot be parsed at all."""
        ...


class DatasetValidator(Protocol):
    def validate(self, dataset: Dataset, schema: TableSchema) -> Dataset:
        """The dataset checked against `schema` (columns in declared order, rows duplicated in every
        column dropped unless kept), or raise InvalidDataset listing every violation."""
        ...


class ModelTrainer(Protocol):
    def train(self, table: Table, plan: TrainingPlan, schema: TableSchema) -> TrainedModel: ...


class ModelEvaluator(Protocol):
    def evaluate(self, model: object, table: Table, version: ModelVersion) -> Evaluation:
        """Score the model on the holdout split its version was trained with (the version's
        schema, imputation, split settings and threshold)."""
        ...

    def holdout_predictions(
        self, model: object, table: Table, version: ModelVersion, split: tuple[float, int] | None = None
    ) -> HoldoutPredictions:
        """The model's probabilities on that holdout split, for paired comparisons."""
        ...


class ProbabilisticModel(Protocol):
    def predict_proba(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, 2) probabilities of stays / churns for an (n, 16) model matrix."""
        ...


@dataclass(frozen=True)
class PyfuncModel:
    """Where an engine that loads MLflow models by URI (Spark's spark_udf) finds a version."""

    uri: str
    """`models:/<name>@champion`, `models:/<name>/<version>`, or a local MLflow model directory."""
    tracking_uri: str | None = None
    """The tracking server a `models:/` URI is resolved against."""


class ModelStore(Protocol):
    def save(
        self,
        model: object,
        version: ModelVersion,
        reference: Table | None = None,
        diagnostics: ModelDiagnostics | None = None,
    ) -> ModelVersion:
        """Store the model, its record, (for drift) its training snapshot and its diagnostics."""
        ...

    def diagnostics(self, fingerprint: str) -> ModelDiagnostics | None:
        """The holdout diagnostics made at training; None for a version stored without them."""
        ...

    def load(self, fingerprint: str) -> ProbabilisticModel:
        """The fitted model, after verifying its integrity; raise ModelIntegrityError otherwise."""
        ...

    def get(self, fingerprint: str) -> ModelVersion:
        """A version by full fingerprint or unique prefix; raise ModelNotFound otherwise."""
        ...

    def latest(self) -> ModelVersion | None: ...

    def champion(self) -> ModelVersion | None: ...

    def set_champion(self, fingerprint: str) -> None: ...

    def lock(self) -> AbstractContextManager[None]:
        """Exclusive across processes: hold it to read the champion and switch it as one step."""
        ...

    def reference(self, fingerprint: str) -> Table:
        """The version's training snapshot (raw features), the reference for drift."""
        ...

    def pyfunc_model(self, fingerprint: str) -> PyfuncModel:
        """The version as an MLflow pyfunc model (checks, encodes, imputes and scores a table
        of raw customers), for engines that load models by URI."""
        ...


class ReportWriter(Protocol):
    def write_evaluation(self, report: EvaluationReport) -> str:
        """Persist the report atomically; return where it went."""
        ...


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


@dataclass(frozen=True)
class ShapExplanation:
    """SHAP values of the uncalibrated log-odds: expected_value + sum(values) == log_odds."""

    explainer: str
    expected_value: float
    log_odds: float
    values: Mapping[str, float]


class ModelExplainer(Protocol):
    def explain(self, model: object, features: npt.NDArray[np.float64]) -> list[ShapExplanation]:
        """Exact SHAP values for each row; raise ExplanationUnavailable if the family has none."""
        ...


@dataclass(frozen=True)
class PredictionRecord:
    """One served prediction, as the prediction log keeps it."""

    timestamp: float
    """Unix time (seconds, UTC)."""
    request_id: str
    model_version: str
    inputs: tuple[float, ...]
    probability: float
    prediction: int
    schema_hash: str
    """The hash of the schema whose fields `inputs` holds (encoded, NaN where imputed)."""
    customer_id: str | None = None
    """The schema's id column, when the request carried one: what outcomes are joined on."""


@dataclass(frozen=True)
class TrafficBucket:
    start: float
    """Unix time the bucket starts."""
    predictions: int
    churn_predictions: int
    mean_probability: float


@dataclass(frozen=True)
class TrafficSummary:
    """Served predictions over a window: per time bucket, and how their probabilities spread."""

    since: float
    bucket_seconds: float
    buckets: tuple[TrafficBucket, ...]
    """Only buckets with predictions, oldest first."""
    probability_counts: tuple[int, ...]
    """Predictions per probability bin of equal width over [0, 1]."""


class PredictionHistory(Protocol):
    def traffic(self, since: float, bucket_seconds: float, bins: int, schema_hash: str) -> TrafficSummary:
        """Predictions of one schema since `since` (unix time), bucketed."""
        ...


class PredictionLog(Protocol):
    def record(self, records: Sequence[PredictionRecord]) -> None:
        """Queue records for writing; must return at once (full queue: drop and count)."""
        ...

    @property
    def dropped_records(self) -> int: ...

    def close(self) -> None:
        """Write what is queued, then stop."""
        ...


@dataclass(frozen=True)
class DriftAnalysis:
    """What a drift detector measured, and its own rendering of it."""

    features: Sequence[FeatureDrift]
    html: str
    prediction: FeatureDrift | None = None
    """The drift of the model's predicted probabilities, when a model was given."""
    current_probability: npt.NDArray[np.float64] | None = None
    """The model's churn probability for each current row, when a model was given."""


@dataclass(frozen=True)
class DriftSample:
    """The current customers of a drift check, encoded and imputed as the reference is."""

    current: Table
    source: str
    """Where they came from, in words (for the report)."""
    reference: Table | None = None
    """A reference of its own (a split); None: the champion's training snapshot."""


class DriftSamples(Protocol):
    def prediction_log(
        self,
        schema: TableSchema,
        imputation: dict[str, float],
        patterns: list[str] | None = None,
        last: int | None = None,
        since: datetime | None = None,
    ) -> DriftSample:
        """Logged predictions of `schema`: the `last` N, or those `since`."""
        ...

    def file(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample: ...

    def split(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample:
        """The last quarter of a shuffled labelled table against its first three quarters."""
        ...


@dataclass(frozen=True)
class GeneratedTable:
    table: Table
    rows: int
    how: str
    """synthetic (the original's process) or bootstrap (drawn from a stored table)."""
    churn_rate: float
    shifts: tuple[str, ...]


class CustomerGenerator(Protocol):
    def generate(
        self, schema: TableSchema, rows: int, seed: int, drifts: Sequence[str], source: Table | None = None
    ) -> GeneratedTable: ...

    def records(self, generated: GeneratedTable, schema: TableSchema) -> list[dict[str, Any]]:
        """The generated customers as the API takes them."""
        ...


class Progress(Protocol):
    """How far a long run is (rows done, rate, time left), for whoever watches it."""

    def start(self, what: str, total: int | None = None) -> None:
        """A new stage of `total` rows (None: unknown) begins."""
        ...

    def advance(self, rows: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Progress nobody watches (not on a terminal, or an embedding program's default)."""

    def start(self, what: str, total: int | None = None) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None

    def finish(self) -> None:
        return None


class TableWriter(Protocol):
    def write(self, table: Table, location: str, progress: Progress | None = None) -> None:
        """Write the table atomically (CSV or Parquet by the location's suffix), in chunks
        whose rows `progress` is told about."""
        ...


class TrafficSender(Protocol):
    def send(self, url: str, customers: Sequence[Mapping[str, Any]], batch_size: int) -> tuple[int, int]:
        """POST the customers to a running API's /predict/batch; (scored, rejected)."""
        ...


class PredictionArchive(Protocol):
    def export(
        self, schema: TableSchema, since: datetime | None, location: str, progress: Progress | None = None
    ) -> int:
        """Write the logged predictions of `schema` (labels, not codes) to a file; rows written."""
        ...

    def prune(self, older_than: datetime) -> int:
        """Delete predictions older than `older_than`; rows deleted."""
        ...


@dataclass(frozen=True)
class OutcomesRead:
    outcomes: Sequence[Outcome]
    duplicates: Sequence[str]
    """Ids given more than once in the file (the first one counts)."""


class OutcomeReader(Protocol):
    def read(self, location: str, schema: TableSchema, default_time: float) -> OutcomesRead:
        """The id column and the label column of a file of outcomes (an `observed_at` column,
        ISO time, is optional: `default_time` otherwise). Raises InvalidDataset naming the rows."""
        ...


@dataclass(frozen=True)
class OutcomesJoined:
    matched: Sequence[MatchedOutcome]
    unknown: Sequence[str]
    """Ids with no logged prediction (of the served schema) before their outcome."""
    already_recorded: Sequence[str]
    """Ids whose outcome was recorded before: kept as first recorded."""


class OutcomeLedger(Protocol):
    def record(self, outcomes: Sequence[Outcome], schema_hash: str, threshold: float) -> OutcomesJoined:
        """Join each outcome with its customer's latest prediction before it, and keep the joined ones."""
        ...

    def matched(self, schema_hash: str, threshold: float) -> list[MatchedOutcome]:
        """Every recorded outcome of the schema with its prediction."""
        ...


@dataclass(frozen=True)
class OutcomesReport:
    checked_at: datetime
    model_version: str
    source: str
    received: int
    matched: int
    unknown: Sequence[str]
    duplicates: Sequence[str]
    periods: Sequence[PeriodPerformance]
    period_seconds: float


class DriftDetector(Protocol):
    def compare(
        self, reference: Table, current: Table, schema: TableSchema, model: ProbabilisticModel | None = None
    ) -> DriftAnalysis:
        """Per-field drift of `current` against `reference`, both with the schema's fields encoded
        (and imputed); with a `model`, the drift of its predicted probabilities too."""
        ...


@dataclass(frozen=True)
class DriftReport:
    model_version: str
    checked_at: datetime
    reference_rows: int
    current_rows: int
    current_source: str
    features: Sequence[FeatureDrift]
    verdict: DriftVerdict
    prediction: FeatureDrift | None = None
    estimated: EstimatedPerformance | None = None
    """The champion's performance estimated from its probabilities on the current rows."""
    f1_floor: float | None = None
    """The gate's F1 floor: an estimate under it is a warning."""


class DriftReportWriter(Protocol):
    def write(self, report: DriftReport, html: str) -> list[str]:
        """Write the report files atomically; return their paths."""
        ...


@dataclass(frozen=True)
class SchemaDraft:
    """A schema drafted from a table, with what was decided per column and why."""

    schema: TableSchema
    notes: Mapping[str, str]
    """Per column (and "label"): the decision, e.g. "id column (unique on every row)"."""
    left_out: Mapping[str, str]
    """Columns that are not features, with the reason."""


class SchemaProfiler(Protocol):
    def profile(self, table: Table, label: str, positive: str | None, name: str) -> SchemaDraft:
        """Draft a schema from a table; raise a ChurnGuardError when the label cannot be read."""
        ...

    def render(self, draft: SchemaDraft, source: str) -> str:
        """The draft as a schema file, each decision a comment beside its key."""
        ...


class SchemaReader(Protocol):
    def load(self, location: str) -> TableSchema:
        """Read and validate a schema file; raise SchemaFileError listing every problem."""
        ...

    def parse(self, text: str, location: str) -> TableSchema:
        """The same, from a file's text."""
        ...
