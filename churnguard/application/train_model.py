"""Use-case: search hyper-parameters, fit the model, store it as a new version, track the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from churnguard.application.ports import (
    Clock,
    Dataset,
    ExperimentTracker,
    ModelStore,
    ModelTrainer,
    TrainedModel,
    TrainingPlan,
)
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.model_version import ModelVersion, fingerprint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOutcome:
    version: ModelVersion
    trained: TrainedModel
    run_id: str | None
    dataset: Dataset | None = None
    """The validated table it was trained on."""


class TrainModel:
    def __init__(
        self,
        trainer: ModelTrainer,
        store: ModelStore,
        tracker: ExperimentTracker,
        clock: Clock,
        plan: TrainingPlan,
        validate: ValidateDataset | None = None,
    ) -> None:
        self._validate = validate
        self._trainer = trainer
        self._store = store
        self._tracker = tracker
        self._clock = clock
        self._plan = plan

    def file(self, location: str) -> TrainingOutcome:
        """Validate the table at `location` by the named schema, then train on it."""
        if self._validate is None:
            raise TypeError("TrainModel.file needs a ValidateDataset")
        return self(self._validate(location))

    def __call__(self, dataset: Dataset) -> TrainingOutcome:
        plan = self._plan
        self._tracker.check_available()
        logger.info(
            "training started",
            extra={"families": ",".join(plan.families), "grid": plan.grid_size, "folds": plan.cv_folds},
        )
        trained = self._trainer.train(dataset.table, plan, dataset.schema)
        settings = {**plan.fingerprint_settings(), "search_space": dict(trained.search_space)}
        params = {
            "family": trained.family,
            **trained.params,
            "calibration": trained.calibration.get("method", "none"),
            **trained.survival_params,
        }
        version = ModelVersion(
            fingerprint=fingerprint(dataset.data_hash, params, settings, dataset.schema),
            created_at=self._clock.now(),
            data_hash=dataset.data_hash,
            params=params,
            metrics=dict(trained.holdout_metrics),
            attribution=trained.attribution,
            baselines=dict(trained.baselines),
            churn_rate=trained.churn_rate,
            threshold=trained.threshold,
            settings={**settings, "family_set": plan.family_set, "data_location": dataset.location, **trained.periods},
            schema=dataset.schema,
            imputation=dict(trained.imputation),
        )
        tracked = self._tracker.record_training(version, trained, dataset)
        version = replace(version, run_id=tracked.run_id, registry_version=tracked.registry_version)
        stored = self._store.save(trained.model, version, trained.reference, trained.diagnostics)
        logger.info(
            "model stored",
            extra={"model_version": stored.short_id, "f1": round(stored.f1, 4), "run_id": stored.run_id},
        )
        return TrainingOutcome(version=stored, trained=trained, run_id=stored.run_id, dataset=dataset)
