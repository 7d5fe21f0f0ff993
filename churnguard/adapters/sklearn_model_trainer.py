"""Gradient boosting with a parallel, observable grid search over (candidate, fold) fits.

The search is GridSearchCV's: candidates in ParameterGrid order, StratifiedKFold without
shuffling, F1 on each validation fold, best = highest mean (first on ties), refit on the whole
training split. It is run through joblib directly so the parent sees each fit finish and can
report progress (fits done, elapsed, best-so-far F1), which GridSearchCV cannot; a test
proves both give the same CV scores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import ParameterGrid, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from churnguard.adapters.sklearn_evaluation import (
    IntArray,
    churn_probability,
    classification_metrics,
    features_and_target,
    holdout_split,
)
from churnguard.application.ports import Table, TrainedModel, TrainingPlan
from churnguard.domain.customer import RAW_FIELDS, FieldKind
from churnguard.domain.features import FloatArray, feature_index, features_of_kind

logger = logging.getLogger(__name__)

GRIDS: Mapping[str, Mapping[str, Sequence[Any]]] = {
    "full": {
        "n_estimators": [200, 300, 500],
        "max_depth": [3, 5, 7],
        "learning_rate": [0.05, 0.1],
        "subsample": [0.8, 1.0],
        "min_samples_leaf": [5, 10],
    },
    "fast": {
        "n_estimators": [50, 100],
        "max_depth": [3],
        "learning_rate": [0.1],
        "subsample": [1.0],
        "min_samples_leaf": [10],
    },
}
"""`full` is the original ChurnGuard's 72-candidate grid; `fast` is for tests and smoke runs."""

DECISION_THRESHOLD = 0.5


def build_pipeline(params: Mapping[str, Any], random_state: int) -> Pipeline:
    """Scale the numeric features, pass the rest through, then gradient boosting."""
    scaled = feature_index(features_of_kind(FieldKind.NUMERIC))
    preprocess = ColumnTransformer([("scale", StandardScaler(), scaled)], remainder="passthrough")
    model = GradientBoostingClassifier(random_state=random_state, **params)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def _fit_and_score(
    candidate: int,
    fold: int,
    params: Mapping[str, Any],
    features: FloatArray,
    target: IntArray,
    train_rows: IntArray,
    test_rows: IntArray,
    random_state: int,
) -> tuple[int, int, float, float]:
    started = time.perf_counter()
    pipeline = build_pipeline(params, random_state).fit(features[train_rows], target[train_rows])
    fit_seconds = time.perf_counter() - started
    score = f1_score(target[test_rows], pipeline.predict(features[test_rows]), zero_division=0)
    return candidate, fold, float(score), fit_seconds


class _SearchProgress:
    """Logs fits done / total, elapsed time and the best complete candidate so far."""

    def __init__(self, candidates: list[dict[str, Any]], folds: int, interval_seconds: float) -> None:
        self._candidates = candidates
        self._folds = folds
        self._interval = interval_seconds
        self._started = time.monotonic()
        self._last_report = self._started
        self.scores = np.full((len(candidates), folds), np.nan)
        self.fit_seconds = np.full((len(candidates), folds), np.nan)
        self._done = 0

    def record(self, candidate: int, fold: int, score: float, fit_seconds: float) -> None:
        self.scores[candidate, fold] = score
        self.fit_seconds[candidate, fold] = fit_seconds
        self._done += 1
        now = time.monotonic()
        if now - self._last_report >= self._interval or self._done == self.scores.size:
            self._last_report = now
            self._report(now - self._started)

    def _report(self, elapsed: float) -> None:
        complete = ~np.isnan(self.scores).any(axis=1)
        best = "n/a"
        if complete.any():
            means = np.where(complete, np.nan_to_num(self.scores.mean(axis=1), nan=-1.0), -1.0)
            index = int(np.argmax(means))
            best = f"{means[index]:.4f} {self._candidates[index]}"
        logger.info(
            "search %d/%d fits, %d/%d candidates, %.0fs elapsed, best-so-far CV F1 %s",
            self._done,
            self.scores.size,
            int(complete.sum()),
            len(self._candidates),
            elapsed,
            best,
        )


class SklearnModelTrainer:
    def __init__(self, progress_interval_seconds: float = 5.0) -> None:
        self._progress_interval = progress_interval_seconds

    def train(self, table: Table, plan: TrainingPlan) -> TrainedModel:
        started = time.perf_counter()
        features, target = features_and_target(table)
        x_train, x_test, y_train, y_test = holdout_split(features, target, plan.test_size, plan.random_state)
        candidates = [dict(params) for params in ParameterGrid(dict(plan.param_grid))]
        folds = list(StratifiedKFold(n_splits=plan.cv_folds).split(x_train, y_train))
        progress = _SearchProgress(candidates, len(folds), self._progress_interval)
        tasks = (
            delayed(_fit_and_score)(c, f, params, x_train, y_train, train_rows, test_rows, plan.random_state)
            for c, params in enumerate(candidates)
            for f, (train_rows, test_rows) in enumerate(folds)
        )
        for result in Parallel(n_jobs=plan.n_jobs, return_as="generator_unordered")(tasks):
            progress.record(*result)

        mean_scores = progress.scores.mean(axis=1)
        best = int(np.argmax(mean_scores))
        model = build_pipeline(candidates[best], plan.random_state).fit(x_train, y_train)
        holdout_probability = churn_probability(model, x_test)
        train_probability = churn_probability(model, x_train)
        raw_means = x_train[:, : len(RAW_FIELDS)].mean(axis=0)
        return TrainedModel(
            model=model,
            family="gradient_boosting",
            params=candidates[best],
            holdout_metrics=classification_metrics(y_test, holdout_probability, DECISION_THRESHOLD),
            train_metrics=classification_metrics(y_train, train_probability, DECISION_THRESHOLD),
            cv_summary=_cv_summary(mean_scores, progress.scores[best], progress.fit_seconds),
            cv_results=_cv_results(candidates, progress.scores, progress.fit_seconds),
            feature_means={name: float(value) for name, value in zip(RAW_FIELDS, raw_means, strict=True)},
            churn_rate=float(y_train.mean()),
            threshold=DECISION_THRESHOLD,
            train_rows=len(y_train),
            holdout_rows=len(y_test),
            search_seconds=time.perf_counter() - started,
        )


def _cv_summary(mean_scores: FloatArray, best_scores: FloatArray, fit_seconds: FloatArray) -> dict[str, float]:
    return {
        "cv_best_f1": float(mean_scores.max()),
        "cv_best_f1_std": float(best_scores.std()),
        "cv_mean_f1": float(mean_scores.mean()),
        "cv_std_f1": float(mean_scores.std()),
        "cv_worst_f1": float(mean_scores.min()),
        "cv_candidates": float(len(mean_scores)),
        "cv_mean_fit_seconds": float(fit_seconds.mean()),
    }


def _cv_results(candidates: list[dict[str, Any]], scores: FloatArray, fit_seconds: FloatArray) -> list[dict[str, Any]]:
    means = scores.mean(axis=1)
    order = np.argsort(-means, kind="stable")
    ranks = np.empty(len(means), dtype=np.int64)
    ranks[order] = np.arange(1, len(means) + 1)
    return [
        {
            "params": params,
            "mean_test_f1": float(means[i]),
            "std_test_f1": float(scores[i].std()),
            "split_test_f1": [float(value) for value in scores[i]],
            "mean_fit_seconds": float(fit_seconds[i].mean()),
            "rank": int(ranks[i]),
        }
        for i, params in enumerate(candidates)
    ]
