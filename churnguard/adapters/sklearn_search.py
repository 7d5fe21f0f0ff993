"""A parallel, observable cross-validated search over several model families.

Work is split into (fit group, fold) tasks run by joblib; a fit group is one setting of a
family's non-stage params, fitted once at its largest stage, whose staged predictions give
the out-of-fold probabilities of every stage value (exactly those of separate fits: tested).
Each candidate keeps its full out-of-fold probability vector, so selection by a proper
scoring rule, calibration and the threshold all come from the same CV without refits.

`halving` mode runs successive halving over fit groups: each round fits the surviving groups
on a growing share of every fold's training rows and keeps the best third, until the last
round uses all of them. It trades exactness for speed on large grids.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from joblib import Parallel, delayed
from sklearn.metrics import log_loss, roc_auc_score

from churnguard.adapters.model_families import FAMILIES, ModelFamily
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import TableSchema
from churnguard.domain.uncertainty import f1_score

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Folds = list[tuple[IntArray, IntArray]]


@dataclass
class Candidate:
    """One point of the search space and its out-of-fold results."""

    family: str
    params: dict[str, Any]
    group: int
    oof_probability: FloatArray
    fold_log_loss: FloatArray = field(default_factory=lambda: np.empty(0))
    fold_roc_auc: FloatArray = field(default_factory=lambda: np.empty(0))
    fold_f1: FloatArray = field(default_factory=lambda: np.empty(0))
    """Per-fold scores, indexed by fold."""
    fit_seconds: float = 0.0
    rows_per_fold: int = 0

    @property
    def cv_log_loss(self) -> float:
        return float(np.mean(self.fold_log_loss))

    @property
    def cv_roc_auc(self) -> float:
        return float(np.mean(self.fold_roc_auc))

    @property
    def cv_f1(self) -> float:
        return float(np.mean(self.fold_f1))

    def score(self, metric: str) -> float:
        """Higher is better, whatever the metric."""
        return -self.cv_log_loss if metric == "log_loss" else self.cv_roc_auc


@dataclass(frozen=True)
class FitGroup:
    family: ModelFamily
    params: dict[str, Any]
    stages: tuple[Any, ...]
    schema: TableSchema = ORIGINAL_SCHEMA

    def stage_params(self, stage: Any) -> dict[str, Any]:
        if self.family.stage_param is None:
            return dict(self.params)
        return {**self.params, self.family.stage_param: stage}


def _fit_group_on_fold(
    group_index: int,
    fold_index: int,
    group: FitGroup,
    features: FloatArray,
    target: IntArray,
    train_rows: IntArray,
    test_rows: IntArray,
    random_state: int,
) -> tuple[int, int, list[FloatArray], float]:
    started = time.perf_counter()
    pipeline = group.family.build(group.params, random_state, group.schema).fit(
        features[train_rows], target[train_rows]
    )
    fit_seconds = time.perf_counter() - started
    if group.family.stage_param is None:
        return group_index, fold_index, [pipeline.predict_proba(features[test_rows])[:, 1]], fit_seconds
    transformed = pipeline[:-1].transform(features[test_rows]) if len(pipeline) > 1 else features[test_rows]
    wanted = set(group.stages)
    staged = [
        stage_probability[:, 1]
        for stage, stage_probability in enumerate(pipeline[-1].staged_predict_proba(transformed), start=1)
        if stage in wanted
    ]
    return group_index, fold_index, staged, fit_seconds


class _Progress:
    def __init__(self, total: int, interval: float, label: str) -> None:
        self.total, self.interval, self.label = total, interval, label
        self.done = 0
        self.started = self.last = time.monotonic()
        self.best: tuple[float, str] | None = None

    def tick(self, best: tuple[float, str] | None) -> None:
        self.done += 1
        if best is not None and (self.best is None or best[0] > self.best[0]):
            self.best = best
        now = time.monotonic()
        if now - self.last >= self.interval or self.done == self.total:
            self.last = now
            shown = f"{self.best[1]}" if self.best else "n/a"
            logger.info(
                "%s: %d/%d fits, %.0fs elapsed, best so far: %s",
                self.label,
                self.done,
                self.total,
                now - self.started,
                shown,
            )


class CrossValidatedSearch:
    def __init__(self, metric: str, n_jobs: int, random_state: int, progress_interval: float = 5.0) -> None:
        if metric not in ("log_loss", "roc_auc"):
            raise ValueError(f"selection metric must be log_loss or roc_auc, got {metric!r}")
        self.metric = metric
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress_interval = progress_interval

    def groups(self, families: Sequence[str], size: str, schema: TableSchema = ORIGINAL_SCHEMA) -> list[FitGroup]:
        return [
            FitGroup(FAMILIES[name], params, stages, schema)
            for name in families
            for params, stages in FAMILIES[name].fit_groups(size)
        ]

    def run(
        self, groups: list[FitGroup], features: FloatArray, target: IntArray, folds: Folds, halving: bool = False
    ) -> list[Candidate]:
        if not halving:
            return self._evaluate(groups, features, target, folds, "search")
        survivors = list(range(len(groups)))
        rounds = max(1, math.ceil(math.log(max(len(groups), 1), 3)))
        for round_index in range(rounds):
            share = 3.0 ** (round_index - rounds + 1)
            round_folds = _shrink_folds(folds, target, share, self.random_state + round_index)
            label = f"halving round {round_index + 1}/{rounds} ({len(survivors)} groups, {share:.0%} of rows)"
            candidates = self._evaluate([groups[i] for i in survivors], features, target, round_folds, label)
            if round_index == rounds - 1:
                return candidates
            best_by_group: dict[int, float] = {}
            for candidate in candidates:
                best_by_group[candidate.group] = max(
                    best_by_group.get(candidate.group, -math.inf), candidate.score(self.metric)
                )
            keep = max(1, math.ceil(len(survivors) / 3))
            ranked = sorted(best_by_group, key=lambda g: -best_by_group[g])[:keep]
            survivors = [survivors[g] for g in sorted(ranked)]
        raise AssertionError("unreachable")

    def _evaluate(
        self, groups: list[FitGroup], features: FloatArray, target: IntArray, folds: Folds, label: str
    ) -> list[Candidate]:
        n = len(target)
        candidates: list[Candidate] = []
        first_candidate: list[int] = []
        for group_index, group in enumerate(groups):
            first_candidate.append(len(candidates))
            for stage in group.stages:
                candidates.append(
                    Candidate(
                        family=group.family.name,
                        params=group.stage_params(stage),
                        group=group_index,
                        oof_probability=np.full(n, np.nan),
                        fold_log_loss=np.full(len(folds), np.nan),
                        fold_roc_auc=np.full(len(folds), np.nan),
                        fold_f1=np.full(len(folds), np.nan),
                        rows_per_fold=int(np.mean([len(train) for train, _ in folds])),
                    )
                )
        folds_done = np.zeros(len(groups), dtype=np.int64)
        progress = _Progress(len(groups) * len(folds), self.progress_interval, label)
        tasks = (
            delayed(_fit_group_on_fold)(g, f, group, features, target, train_rows, test_rows, self.random_state)
            for g, group in enumerate(groups)
            for f, (train_rows, test_rows) in enumerate(folds)
        )
        for group_index, fold_index, staged, fit_seconds in Parallel(
            n_jobs=self.n_jobs, return_as="generator_unordered"
        )(tasks):
            _, test_rows = folds[fold_index]
            y = target[test_rows].astype(np.float64)
            for offset, probability in enumerate(staged):
                candidate = candidates[first_candidate[group_index] + offset]
                candidate.oof_probability[test_rows] = probability
                candidate.fold_log_loss[fold_index] = log_loss(y, probability, labels=[0, 1])
                candidate.fold_roc_auc[fold_index] = roc_auc_score(y, probability)
                # predict() of a binary sklearn classifier is P(churn) > 0.5 (argmax, ties to class 0)
                predicted = (probability > 0.5).astype(np.float64)
                candidate.fold_f1[fold_index] = f1_score(y, predicted)
                candidate.fit_seconds += fit_seconds / len(staged)
            folds_done[group_index] += 1
            best = None
            if folds_done[group_index] == len(folds):
                group_candidates = candidates[first_candidate[group_index] : first_candidate[group_index] + len(staged)]
                top = max(group_candidates, key=lambda c: c.score(self.metric))
                best = (top.score(self.metric), f"{top.family} {top.params} CV {self._describe(top)}")
            progress.tick(best)
        return candidates

    def _describe(self, candidate: Candidate) -> str:
        return f"log loss {candidate.cv_log_loss:.4f}, ROC-AUC {candidate.cv_roc_auc:.4f}"

    def select(self, candidates: list[Candidate]) -> Candidate:
        """Best by the selection metric; the first in search order on ties."""
        return max(candidates, key=lambda c: c.score(self.metric))


def _shrink_folds(folds: Folds, target: IntArray, share: float, seed: int) -> Folds:
    """Each fold's training rows cut to `share` (stratified, seeded); validation rows unchanged."""
    if share >= 1.0:
        return folds
    rng = np.random.Generator(np.random.PCG64(seed))
    shrunk: Folds = []
    for train_rows, test_rows in folds:
        kept = []
        for label in (0, 1):
            rows = train_rows[target[train_rows] == label]
            kept.append(rng.choice(rows, size=max(2, round(len(rows) * share)), replace=False))
        shrunk.append((np.sort(np.concatenate(kept)), test_rows))
    return shrunk
