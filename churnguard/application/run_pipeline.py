"""Use-case: validate -> train -> evaluate -> promote, stopping at the first failure."""

from __future__ import annotations

from dataclasses import dataclass

from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.ports import Dataset, EvaluationReport
from churnguard.application.promote_model import PromoteModel, PromotionOutcome
from churnguard.application.train_model import TrainingOutcome, TrainModel
from churnguard.application.validate_dataset import ValidateDataset


@dataclass(frozen=True)
class PipelineOutcome:
    dataset: Dataset
    training: TrainingOutcome
    report: EvaluationReport
    report_location: str
    promotion: PromotionOutcome


class RunPipeline:
    def __init__(
        self,
        validate: ValidateDataset,
        train: TrainModel,
        evaluate: EvaluateModel,
        promote: PromoteModel,
    ) -> None:
        self._validate = validate
        self._train = train
        self._evaluate = evaluate
        self._promote = promote

    def __call__(self, location: str) -> PipelineOutcome:
        dataset = self._validate(location)
        training = self._train(dataset)
        fingerprint = training.version.fingerprint
        report, report_location = self._evaluate(dataset, fingerprint)
        promotion = self._promote(dataset, fingerprint)
        return PipelineOutcome(dataset, training, report, report_location, promotion)
