"""Use-case: let the quality gate decide whether a trained model becomes the champion."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import ExperimentTracker, ModelStore
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import GateDecision, QualityGate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromotionOutcome:
    candidate: ModelVersion
    previous_champion: ModelVersion | None
    decision: GateDecision


class PromoteModel:
    def __init__(self, store: ModelStore, gate: QualityGate, tracker: ExperimentTracker) -> None:
        self._store = store
        self._gate = gate
        self._tracker = tracker

    def __call__(self, model_ref: str | None = None) -> PromotionOutcome:
        """Decide on `model_ref` (default: the latest trained model) and switch the champion if allowed.

        Reading the champion and switching it happen under the store's lock, so two
        concurrent promotions are judged one after the other, each against the real champion.
        """
        candidate = self._store.get(model_ref) if model_ref else self._store.latest()
        if candidate is None:
            raise ModelNotFound("no trained model in the store; run `churnguard train` first")
        with self._store.lock():
            champion = self._store.champion()
            if champion is not None and champion.fingerprint == candidate.fingerprint:
                decision = self._gate.decide(candidate.f1, None)
                decision = GateDecision(
                    promote=decision.promote,
                    reasons=(*decision.reasons[:1], "already the champion"),
                    candidate_f1=candidate.f1,
                    champion_f1=champion.f1,
                )
            else:
                decision = self._gate.decide(candidate.f1, champion.f1 if champion else None)
                if decision.promote:
                    self._store.set_champion(candidate.fingerprint)
        self._tracker.record_promotion(candidate, decision)
        logger.info(decision.summary(), extra={"model_version": candidate.short_id})
        return PromotionOutcome(candidate=candidate, previous_champion=champion, decision=decision)
