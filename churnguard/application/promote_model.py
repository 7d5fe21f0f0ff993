"""Use-case: let the quality gate decide whether a trained model becomes the champion."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from churnguard.application.errors import ModelNotFound, require_schema
from churnguard.application.ports import Dataset, ExperimentTracker, ModelEvaluator, ModelStore
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import Baselines, ChampionComparison, GateDecision, QualityGate, no_skill_f1
from churnguard.domain.uncertainty import DEFAULT_ROUNDS, f1_interval, f1_score, paired_f1_difference

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromotionOutcome:
    candidate: ModelVersion
    previous_champion: ModelVersion | None
    decision: GateDecision


class PromoteModel:
    def __init__(
        self,
        store: ModelStore,
        evaluator: ModelEvaluator,
        gate: QualityGate,
        tracker: ExperimentTracker,
        bootstrap_rounds: int = DEFAULT_ROUNDS,
        validate: ValidateDataset | None = None,
    ) -> None:
        self._validate = validate
        self._store = store
        self._evaluator = evaluator
        self._gate = gate
        self._tracker = tracker
        self._rounds = bootstrap_rounds

    def file(self, location: str, model_ref: str | None = None) -> PromotionOutcome:
        """Validate the table at `location` by the candidate's own schema, then decide on it."""
        if self._validate is None:
            raise TypeError("PromoteModel.file needs a ValidateDataset")
        return self(self._validate.for_model(location, self._store, model_ref), model_ref)

    def __call__(self, dataset: Dataset, model_ref: str | None = None) -> PromotionOutcome:
        """Decide on `model_ref` (default: the latest trained model) and switch the champion if allowed.

        Both models are scored on the candidate's holdout rows of `dataset`, so the champion
        comparison is paired: the bootstrap resamples the same rows for both. Reading the
        champion and switching it happen under the store's lock, so concurrent promotions
        are judged one after the other, each against the real champion.
        """
        candidate = self._store.get(model_ref) if model_ref else self._store.latest()
        if candidate is None:
            raise ModelNotFound("no trained model in the store; run `churnguard train` first")
        require_schema(candidate, dataset.schema, dataset.location)
        test_size = float(candidate.settings["test_size"])
        random_state = int(candidate.settings["random_state"])
        candidate_model = self._store.load(candidate.fingerprint)
        holdout = self._evaluator.holdout_predictions(candidate_model, dataset.table, candidate)
        candidate_f1 = f1_interval(
            holdout.target, holdout.probability >= candidate.threshold, self._rounds, seed=random_state
        )
        baselines = Baselines(
            no_skill_f1=no_skill_f1(float(np.mean(holdout.target))), plain_f1=candidate.baselines.get("plain_f1")
        )
        floor = self._gate.floor(candidate.schema.quality.min_f1, candidate.schema.name, baselines)
        with self._store.lock():
            champion = self._store.champion()
            if champion is not None and champion.fingerprint == candidate.fingerprint:
                decision = self._gate.decide(candidate_f1, None, floor, baselines)
                decision = replace(
                    decision,
                    reasons=(*decision.reasons[:-1], "already the champion"),
                    champion_f1=decision.candidate_f1,
                )
            else:
                versus = None
                survival = None
                comparable = champion is not None and champion.schema.hash == candidate.schema.hash
                if champion is not None and comparable:
                    champion_model = self._store.load(champion.fingerprint)
                    champion_probability = self._evaluator.holdout_predictions(
                        champion_model, dataset.table, champion, (test_size, random_state)
                    ).probability
                    versus = self._compare(
                        holdout.target, holdout.probability, candidate, champion_probability, champion
                    )
                    survival = self._evaluator.survival_comparison(
                        candidate_model, candidate, champion_model, dataset.table
                    )
                decision = self._gate.decide(candidate_f1, versus, floor, baselines, survival)
                if champion is not None and not comparable:
                    # Another table's model cannot score these rows: the floor alone decides.
                    decision = replace(
                        decision,
                        reasons=(
                            *decision.reasons,
                            f"champion {champion.short_id} reads another schema ({champion.schema.name!r}, "
                            f"{champion.schema.short_hash}): not compared",
                        ),
                    )
                if decision.promote:
                    self._store.set_champion(candidate.fingerprint, decision.floor)
        self._tracker.record_promotion(candidate, decision)
        logger.info(decision.summary(), extra={"model_version": candidate.short_id})
        return PromotionOutcome(candidate=candidate, previous_champion=champion, decision=decision)

    def _compare(
        self,
        target: np.ndarray,
        candidate_probability: np.ndarray,
        candidate: ModelVersion,
        champion_probability: np.ndarray,
        champion: ModelVersion,
    ) -> ChampionComparison:
        candidate_predicted = candidate_probability >= candidate.threshold
        champion_predicted = champion_probability >= champion.threshold
        difference = paired_f1_difference(
            target, candidate_predicted, champion_predicted, self._rounds, seed=int(candidate.settings["random_state"])
        )
        return ChampionComparison(champion_f1=f1_score(target, champion_predicted), difference=difference)
