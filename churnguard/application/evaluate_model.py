"""Use-case: recompute a stored model's holdout metrics from scratch and publish the report."""

from __future__ import annotations

import logging

from churnguard.application.errors import EvaluationMismatch, ModelNotFound, require_schema
from churnguard.application.ports import (
    Clock,
    Dataset,
    EvaluationReport,
    ExperimentTracker,
    ModelEvaluator,
    ModelStore,
    ReportWriter,
)
from churnguard.application.validate_dataset import ValidateDataset

logger = logging.getLogger(__name__)


class EvaluateModel:
    def __init__(
        self,
        evaluator: ModelEvaluator,
        store: ModelStore,
        writer: ReportWriter,
        tracker: ExperimentTracker,
        clock: Clock,
        validate: ValidateDataset | None = None,
    ) -> None:
        self._validate = validate
        self._evaluator = evaluator
        self._store = store
        self._writer = writer
        self._tracker = tracker
        self._clock = clock

    def file(self, location: str, model_ref: str | None = None) -> tuple[EvaluationReport, str]:
        """Validate the table at `location` by the model's own schema, then evaluate on it."""
        if self._validate is None:
            raise TypeError("EvaluateModel.file needs a ValidateDataset")
        return self(self._validate.for_model(location, self._store, model_ref), model_ref)

    def __call__(self, dataset: Dataset, model_ref: str | None = None) -> tuple[EvaluationReport, str]:
        """Evaluate `model_ref` (a fingerprint or prefix; default the latest trained model).

        On the model's own training data the split is the training run's, so the metrics must
        equal the stored ones exactly; a difference raises EvaluationMismatch.
        """
        version = self._store.get(model_ref) if model_ref else self._store.latest()
        if version is None:
            raise ModelNotFound("no trained model in the store; run `churnguard train` first")
        model = self._store.load(version.fingerprint)
        require_schema(version, dataset.schema, dataset.location)
        evaluation = self._evaluator.evaluate(model, dataset.table, version)
        same_data = dataset.data_hash == version.data_hash
        matches = same_data and all(evaluation.metrics.get(name) == value for name, value in version.metrics.items())
        if same_data and not matches:
            differing = {
                name: (value, evaluation.metrics.get(name))
                for name, value in version.metrics.items()
                if evaluation.metrics.get(name) != value
            }
            raise EvaluationMismatch(f"model {version.short_id}: holdout metrics differ from training: {differing}")
        report = EvaluationReport(
            fingerprint=version.fingerprint,
            data_location=dataset.location,
            data_hash=dataset.data_hash,
            evaluated_at=self._clock.now(),
            evaluation=evaluation,
            same_data_as_training=same_data,
            matches_training_metrics=matches,
            training_metrics=dict(version.metrics),
            run_id=version.run_id,
        )
        location = self._writer.write_evaluation(report)
        self._tracker.record_evaluation(report)
        logger.info("evaluation written", extra={"model_version": version.short_id, "report": location})
        return report, location
