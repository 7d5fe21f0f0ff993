"""MLflow 3 tracking: one run per training (params, 30+ metrics, artifacts, dataset lineage, the
model registered as a new version), evaluation metrics added to the same run, and the gate's
decision recorded on the registered version (aliases `champion` / `challenger` and tags).
"""

from __future__ import annotations

import logging
import platform
import subprocess  # nosec B404
import tempfile
from collections.abc import Sequence
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import pandas as pd
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnguard.adapters.mlflow_pyfunc import PACKAGE_DIR, pyfunc_options
from churnguard.adapters.yaml_schema import dump_schema
from churnguard.application.errors import TrackingUnavailable
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

logger = logging.getLogger(__name__)

PREFLIGHT_TIMEOUT_SECONDS = 10.0


def _git_commit() -> str | None:
    try:
        # bandit B603/B607: a fixed argv that no input reaches; git is whichever the PATH names
        result = subprocess.run(  # nosec B603, B607
            ["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _version_of(package: str) -> str:
    try:
        return package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
        return "unknown"


def is_absent(error: MlflowException) -> bool:
    """MLflow's way of saying "no such model or alias", as opposed to a failure."""
    return error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def is_remote(tracking_uri: str) -> bool:
    return urlparse(tracking_uri).scheme in ("http", "https")


def check_tracking_server(tracking_uri: str, timeout: float = PREFLIGHT_TIMEOUT_SECONDS) -> None:
    """Fail fast (before any training) if a remote tracking server does not answer."""
    if not is_remote(tracking_uri):
        return
    try:
        response = requests.get(tracking_uri.rstrip("/") + "/health", timeout=timeout)
    except requests.RequestException as error:
        raise TrackingUnavailable(f"MLflow tracking server {tracking_uri} does not answer: {error}") from None
    if response.status_code != 200:
        raise TrackingUnavailable(f"MLflow tracking server {tracking_uri} answered /health with {response.status_code}")


class MlflowExperimentTracker:
    def __init__(
        self, tracking_uri: str, experiment_name: str, model_name: str, artifact_location: str | None = None
    ) -> None:
        self._uri = tracking_uri
        self._experiment_name = experiment_name
        self._model_name = model_name
        self._artifact_location = artifact_location

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self._uri)

    def check_available(self) -> None:
        check_tracking_server(self._uri)

    def _experiment_id(self) -> str:
        client = self.client
        experiment = client.get_experiment_by_name(self._experiment_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(client.create_experiment(self._experiment_name, artifact_location=self._artifact_location))

    def record_training(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> TrackedRun:
        mlflow.set_tracking_uri(self._uri)
        table = dataset.table
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
        settings = version.settings
        with mlflow.start_run(experiment_id=self._experiment_id(), run_name=f"train-{version.short_id}") as run:
            mlflow.set_tags(
                {
                    "churnguard.fingerprint": version.fingerprint,
                    "churnguard.family": trained.family,
                    "python_version": platform.python_version(),
                    "sklearn_version": _version_of("scikit-learn"),
                    "mlflow_version": _version_of("mlflow"),
                    "os": platform.platform(),
                    **({"git_commit": commit} if (commit := _git_commit()) else {}),
                }
            )
            mlflow.log_params(self._params(version, trained, dataset))
            mlflow.log_metrics(self._metrics(trained))
            source = mlflow.data.from_pandas(  # type: ignore[attr-defined]
                table, source=dataset.location, name="churn-training", targets=version.schema.label.column
            )
            mlflow.log_input(source, context="training", tags={"sha256": dataset.data_hash})
            mlflow.log_text(dump_schema(version.schema), "schema/schema.yaml")
            # matplotlib and SHAP only for a training run: a drift or outcomes run never draws
            from churnguard.adapters.training_report import write_training_artifacts

            with tempfile.TemporaryDirectory(prefix="churnguard-artifacts-") as directory:
                write_training_artifacts(
                    Path(directory), trained, table, float(settings["test_size"]), int(settings["random_state"])
                )
                mlflow.log_artifacts(directory, artifact_path="training")
            example = table[list(version.schema.raw_fields)].head(5)
            info = mlflow.sklearn.log_model(
                trained.model,
                name="model",
                **pyfunc_options(trained.model, example),
                registered_model_name=self._model_name,
                metadata={"churnguard_fingerprint": version.fingerprint, "threshold": trained.threshold},
            )
            registry_version = None if info.registered_model_version is None else str(info.registered_model_version)
            if registry_version is not None:
                client = self.client
                client.set_model_version_tag(self._model_name, registry_version, "fingerprint", version.fingerprint)
                client.set_model_version_tag(self._model_name, registry_version, "threshold", str(trained.threshold))
                client.set_model_version_tag(self._model_name, registry_version, "holdout_f1", str(version.f1))
            return TrackedRun(run.info.run_id, registry_version)

    def _params(self, version: ModelVersion, trained: TrainedModel, dataset: Dataset) -> dict[str, Any]:
        settings = version.settings
        params: dict[str, Any] = {
            "fingerprint": version.fingerprint,
            "family": trained.family,
            "family_set": settings.get("family_set"),
            "grid_size": settings.get("grid_size"),
            "search": settings.get("search"),
            "selection_metric": settings.get("selection_metric"),
            "candidates": len(trained.cv_results),
            "data_hash": dataset.data_hash,
            "data_location": dataset.location,
            "dataset_rows": dataset.rows,
            "train_rows": trained.train_rows,
            "holdout_rows": trained.holdout_rows,
            "test_size": settings.get("test_size"),
            "random_state": settings.get("random_state"),
            "cv_folds": settings.get("cv_folds"),
            "feature_count": len(version.schema.model_features),
            "schema_name": version.schema.name,
            "schema_hash": version.schema.hash,
            "duplicates_dropped": dataset.duplicates if len(dataset.table) < dataset.rows else 0,
            "imputation": str(dict(version.imputation)) if version.imputation else "none",
            "calibration": trained.calibration.get("method"),
            "threshold": trained.threshold,
            "threshold_strategy": trained.threshold_strategy,
        }
        params.update({f"chosen.{name}": value for name, value in trained.params.items()})
        for family, grid in trained.search_space.items():
            params.update({f"search.{family}.{name}": str(values) for name, values in grid.items()})
        return params

    def _metrics(self, trained: TrainedModel) -> dict[str, float]:
        holdout, train = trained.holdout_metrics, trained.train_metrics
        metrics = {name: float(value) for name, value in holdout.items()}
        metrics.update({f"train_{name}": float(value) for name, value in train.items()})
        metrics.update({f"gap_{name}": float(train[name] - holdout[name]) for name in ("f1", "accuracy", "roc_auc")})
        metrics.update({name: float(value) for name, value in trained.cv_summary.items()})
        metrics.update({f"baseline_{name}": float(value) for name, value in trained.baselines.items()})
        f1s = pd.Series([row["cv_f1_at_0_5"] for row in trained.cv_results], dtype=float)
        metrics.update(
            {
                "cv_mean_f1": float(f1s.mean()),
                "cv_std_f1": float(f1s.std(ddof=0)),
                "cv_best_f1": float(f1s.max()),
                "cv_worst_f1": float(f1s.min()),
                "calibration_brier_before": float(trained.calibration["brier_before"]),
                "calibration_brier_after": float(trained.calibration["brier_after"]),
                "threshold": float(trained.threshold),
                "search_seconds": float(trained.search_seconds),
            }
        )
        return {name: value for name, value in metrics.items() if value == value}  # MLflow refuses NaN

    def record_evaluation(self, report: EvaluationReport) -> None:
        run_id = report.run_id
        if run_id is None:
            return
        client = self.client
        for name, value in report.evaluation.metrics.items():
            if value == value:
                client.log_metric(run_id, f"eval_{name}", float(value))
        for name, interval in report.evaluation.intervals.items():
            client.log_metric(run_id, f"eval_{name}_ci_low", interval.low)
            client.log_metric(run_id, f"eval_{name}_ci_high", interval.high)
        client.set_tag(run_id, "eval.matches_training_metrics", str(report.matches_training_metrics))

    def record_promotion(self, version: ModelVersion, decision: GateDecision) -> None:
        if version.registry_version is None:
            return
        client = self.client
        name, number = self._model_name, version.registry_version
        client.set_model_version_tag(name, number, "gate.decision", "promote" if decision.promote else "refuse")
        client.set_model_version_tag(name, number, "gate.reasons", "; ".join(decision.reasons))
        if decision.promote:
            client.set_registered_model_alias(name, "champion", number)
            try:
                challenger = client.get_model_version_by_alias(name, "challenger")
                if challenger.version == number:
                    client.delete_registered_model_alias(name, "challenger")
            except MlflowException as error:
                if not is_absent(error):
                    raise  # only "no challenger alias" means there is nothing to clear
        else:
            client.set_registered_model_alias(name, "challenger", number)
        if version.run_id:
            client.set_tag(version.run_id, "gate.decision", "promote" if decision.promote else "refuse")

    def record_outcomes(self, report: OutcomesReport, files: Sequence[str]) -> None:
        """An `outcomes` run: realized and estimated F1 / ROC-AUC per period (step = period index)."""
        mlflow.set_tracking_uri(self._uri)
        with mlflow.start_run(experiment_id=self._experiment_id(), run_name="outcomes") as run:
            mlflow.set_tags(
                {
                    "churnguard.run_type": "outcomes",
                    "churnguard.fingerprint": report.model_version,
                    "outcomes.source": report.source,
                }
            )
            mlflow.log_metrics(
                {"matched": float(report.matched), "unknown": float(len(report.unknown)),
                 "duplicates": float(len(report.duplicates))}
            )  # fmt: skip
            for step, period in enumerate(report.periods):
                values = {
                    "realized_f1": period.realized_f1,
                    "realized_roc_auc": period.realized_roc_auc,
                    "estimated_f1": period.estimated.f1,
                    "estimated_roc_auc": period.estimated.roc_auc,
                    "period_rows": float(period.rows),
                }
                mlflow.log_metrics({k: v for k, v in values.items() if v == v}, step=step)
            for path in files:
                mlflow.log_artifact(path, artifact_path="outcomes")
            logger.info("outcomes run logged", extra={"run_id": run.info.run_id})

    def record_drift(self, report: DriftReport, files: Sequence[str]) -> None:
        """A `drift` run: share, verdict and per-feature statistics as metrics, the reports as artifacts."""
        mlflow.set_tracking_uri(self._uri)
        with mlflow.start_run(experiment_id=self._experiment_id(), run_name="drift") as run:
            mlflow.set_tags(
                {
                    "churnguard.run_type": "drift",
                    "churnguard.fingerprint": report.model_version,
                    "drift.current_source": report.current_source,
                    "drift.drifted_features": ",".join(report.verdict.drifted_features),
                    "drift.rules_fired": ",".join(report.verdict.rules) or "none",
                }
            )
            metrics = {
                "drift_share": report.verdict.drift_share,
                "dataset_drift": float(report.verdict.drifted),
                "drifted_features": float(len(report.verdict.drifted_features)),
                "current_rows": float(report.current_rows),
                "reference_rows": float(report.reference_rows),
            }
            metrics.update({f"drift_{f.feature}": f.statistic for f in report.features if f.statistic == f.statistic})
            metrics["weighted_drift_share"] = report.verdict.weighted_share
            if report.prediction is not None:
                metrics["prediction_drift"] = report.prediction.statistic
                metrics["prediction_drifted"] = float(report.prediction.drifted)
            if report.estimated is not None:
                estimated = report.estimated
                for name in ("f1", "precision", "recall", "roc_auc"):
                    metrics[f"estimated_{name}"] = getattr(estimated, name)
                metrics["estimated_f1_low"], metrics["estimated_f1_high"] = estimated.f1_interval
            metrics = {name: value for name, value in metrics.items() if value == value}  # MLflow refuses NaN
            mlflow.log_metrics(metrics)
            for path in files:
                mlflow.log_artifact(path, artifact_path="drift")
            logger.info("drift run logged", extra={"run_id": run.info.run_id})
