"""Models: training plans and results, evaluation, the typed model handle, the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from churnguard.application.ports.data import Table
from churnguard.domain.attribution import Reference
from churnguard.domain.decision_threshold import RetentionCampaign, ThresholdStrategy
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.model_family import FAMILY_SETS, FamilySet
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import F1Floor, SurvivalComparison
from churnguard.domain.schema import TableSchema
from churnguard.domain.uncertainty import Interval


class SurvivalModel(Protocol):
    def curves(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, periods + 1) S(t | x) at t = 0 .. periods for an (n, model features) matrix."""
        ...


class WarehouseExporter(Protocol):
    def export(self, survival: SurvivalModel, version: ModelVersion, customers: str, out: str) -> list[str]:
        """Write what a warehouse needs to score `customers` with the survival model into `out`
        (InvalidOptions where the model has no closed form); the files written."""
        ...


class ProbabilisticModel(Protocol):
    def predict_proba(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, 2) probabilities of stays / churns for an (n, 16) model matrix."""
        ...


@dataclass(frozen=True)
class TrainingPlan:
    """How to train: which model families and grids, how to select, calibrate and threshold."""

    families: tuple[str, ...] = FAMILY_SETS[FamilySet.DEFAULT]
    family_set: str = FamilySet.DEFAULT
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

    model: ProbabilisticModel
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
    attribution: Reference
    """Each field's training distribution, which contributions are measured against."""
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
    baselines: Mapping[str, float] = field(default_factory=dict)
    periods: Mapping[str, str] = field(default_factory=dict)
    """For rows observed over time: the first and last dates trained on and held out (ISO)."""
    survival_params: Mapping[str, Any] = field(default_factory=dict)
    """The chosen survival family and params (`survival_family`, `survival_<param>`), when the
    schema declares time to churn."""
    survival_cv: Sequence[Mapping[str, Any]] = ()
    """Every survival candidate's cross-validated concordance, best first."""
    """Holdout F1 of no skill and of a plain model (`no_skill_f1`, `plain_f1`), for the gate."""


@dataclass(frozen=True)
class HoldoutPredictions:
    """A model's churn probabilities on the holdout rows of a split, with the true labels."""

    target: npt.NDArray[np.int64]
    probability: npt.NDArray[np.float64]
    periods: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a model on the holdout split, recomputed from scratch."""

    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    classification_report: Mapping[str, Any]
    confusion_matrix: Sequence[Sequence[int]]
    holdout_rows: int
    threshold: float
    periods: Mapping[str, str] = field(default_factory=dict)
    """For rows observed over time: the first and last dates trained on and held out (ISO)."""


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


class ModelTrainer(Protocol):
    def train(self, table: Table, plan: TrainingPlan, schema: TableSchema) -> TrainedModel: ...


class ModelEvaluator(Protocol):
    def evaluate(self, model: ProbabilisticModel, table: Table, version: ModelVersion) -> Evaluation:
        """Score the model on the holdout split its version was trained with (the version's
        schema, imputation, split settings and threshold)."""
        ...

    def holdout_predictions(
        self, model: ProbabilisticModel, table: Table, version: ModelVersion, split: tuple[float, int] | None = None
    ) -> HoldoutPredictions:
        """The model's probabilities on that holdout split, for paired comparisons."""
        ...

    def survival_comparison(
        self, candidate: ProbabilisticModel, candidate_version: ModelVersion, champion: ProbabilisticModel, table: Table
    ) -> SurvivalComparison | None:
        """Both models' survival forecasts on the candidate's holdout rows, paired (None unless
        the schema declares time to churn and both models forecast it)."""
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
        model: ProbabilisticModel,
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

    def set_champion(self, fingerprint: str, floor: F1Floor | None = None) -> None:
        """Make the version the champion, with the F1 floor the gate judged it against."""
        ...

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


@dataclass(frozen=True)
class ShapExplanation:
    """SHAP values of the uncalibrated log-odds: expected_value + sum(values) == log_odds."""

    explainer: str
    expected_value: float
    log_odds: float
    values: Mapping[str, float]


class ModelExplainer(Protocol):
    def explain(self, model: ProbabilisticModel, features: npt.NDArray[np.float64]) -> list[ShapExplanation]:
        """Exact SHAP values for each row; raise ExplanationUnavailable if the family has none."""
        ...
