"""Training: search the model families, calibrate, choose the threshold, refit once.

1. Cross-validated search (see sklearn_search) on the training split; the candidate with the
   best CV log loss (or ROC-AUC) wins; F1 at 0.5 is reported, never used to select.
2. Calibration on the winner's out-of-fold probabilities: none, sigmoid or isotonic, each
   judged by the Brier score of cross-fitted calibrators on the same folds; a calibrator is
   kept only if it lowers the Brier score.
3. Threshold on the calibrated out-of-fold probabilities: max F1, or max expected value of a
   retention campaign.
4. One refit of the winner on the whole training split; the calibrator is fitted on all
   out-of-fold probabilities (as CalibratedClassifierCV(ensemble=False) does).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from churnguard.adapters.churn_model import ChurnModel, logit
from churnguard.adapters.model_families import FAMILIES
from churnguard.adapters.sklearn_evaluation import (
    IntArray,
    classification_metrics,
    embargo_days,
    encoded_table,
    observation_times,
    observed_periods,
    permutation_drops,
    split_rows,
)
from churnguard.adapters.sklearn_search import Candidate, CrossValidatedSearch, Folds
from churnguard.adapters.survival_model import SurvivalTimes, fit_survival, survival_metrics
from churnguard.application.champion import Scoring
from churnguard.application.errors import InsufficientData
from churnguard.application.ports import Table, TrainedModel, TrainingPlan
from churnguard.domain.attribution import Reference
from churnguard.domain.decision_threshold import choose_threshold
from churnguard.domain.diagnostics import diagnose
from churnguard.domain.quality_gate import no_skill_f1
from churnguard.domain.schema import FloatArray, Imputation, TableSchema, schema_to_mapping
from churnguard.domain.time_split import purged_folds

logger = logging.getLogger(__name__)

CALIBRATION_METHODS = ("sigmoid", "isotonic")
SHAP_BACKGROUND_ROWS = 100
IMPORTANCE_REPEATS = 3


def fit_calibrator(method: str, probability: FloatArray, target: IntArray) -> Any:
    if method == "sigmoid":
        return LogisticRegression(C=1e6, max_iter=1000).fit(logit(probability)[:, None], target)
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(probability, target)
    raise ValueError(f"unknown calibration method {method!r}")


def _apply(method: str, calibrator: Any, probability: FloatArray) -> FloatArray:
    return ChurnModel(None, "", method, calibrator).calibrate(probability)


@dataclass(frozen=True)
class CalibrationChoice:
    method: str
    calibrator: Any
    oof_probability: FloatArray
    brier_by_method: dict[str, float]

    def report(self, target: IntArray, raw: FloatArray) -> dict[str, Any]:
        curve: dict[str, Any] = {}
        for name, probability in (("uncalibrated", raw), ("calibrated", self.oof_probability)):
            observed, predicted = calibration_curve(target, probability, n_bins=10, strategy="quantile")
            curve[name] = {"predicted": predicted.tolist(), "observed": observed.tolist()}
        return {
            "method": self.method,
            "brier_before": self.brier_by_method["none"],
            "brier_after": self.brier_by_method[self.method],
            "brier_by_method": self.brier_by_method,
            "curve_out_of_fold": curve,
        }


def choose_calibration(raw: FloatArray, target: IntArray, folds: Folds, mode: str) -> CalibrationChoice:
    """Cross-fit each calibrator over the CV folds and keep the one with the lowest Brier score."""
    brier = {"none": float(brier_score_loss(target, raw))}
    calibrated_oof = {"none": raw}
    if mode != "none":
        for method in CALIBRATION_METHODS:
            oof = np.empty_like(raw)
            for train_rows, test_rows in folds:
                calibrator = fit_calibrator(method, raw[train_rows], target[train_rows])
                oof[test_rows] = _apply(method, calibrator, raw[test_rows])
            calibrated_oof[method] = oof
            brier[method] = float(brier_score_loss(target, oof))
    method = min(brier, key=lambda name: (brier[name], name != "none"))
    calibrator = None if method == "none" else fit_calibrator(method, raw, target)
    return CalibrationChoice(method, calibrator, calibrated_oof[method], brier)


def family_table(candidates: Sequence[Candidate], metric: str) -> list[dict[str, Any]]:
    """One row per family: its best candidate's CV scores, how many it tried, its fit time."""
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(c.family for c in candidates):
        own = [c for c in candidates if c.family == name]
        best = max(own, key=lambda c: c.score(metric))
        rows.append(
            {
                "family": name,
                "candidates": len(own),
                "best_params": best.params,
                "cv_log_loss": best.cv_log_loss,
                "cv_roc_auc": best.cv_roc_auc,
                "cv_f1_at_0_5": best.cv_f1,
                "fit_seconds": float(sum(c.fit_seconds for c in own)),
            }
        )
    rows.sort(key=lambda row: float(row["cv_log_loss"]) if metric == "log_loss" else -float(row["cv_roc_auc"]))
    return rows


def cv_results(candidates: Sequence[Candidate], metric: str) -> list[dict[str, Any]]:
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score(metric))
    ranks = {index: rank for rank, index in enumerate(order, start=1)}
    return [
        {
            "family": c.family,
            "params": c.params,
            "rank": ranks[i],
            "cv_log_loss": c.cv_log_loss,
            "cv_roc_auc": c.cv_roc_auc,
            "cv_f1_at_0_5": c.cv_f1,
            "std_log_loss": float(np.std(c.fold_log_loss)),
            "split_log_loss": c.fold_log_loss.tolist(),
            "split_f1_at_0_5": c.fold_f1.tolist(),
            "fit_seconds": c.fit_seconds,
            "rows_per_fold": c.rows_per_fold,
        }
        for i, c in enumerate(candidates)
    ]


def _folds(
    plan: TrainingPlan,
    y_train: IntArray,
    times: FloatArray | None,
    embargo: int,
    table: Table,
    schema: TableSchema,
    train_rows: IntArray,
) -> Folds:
    """Cross-validation folds of the training split: by blocks of time, purged, for rows observed
    over time (when their times allow it and every fold holds both classes); else stratified,
    keeping a customer's rows in one fold when an id repeats across observation times."""
    if times is not None:
        folds = purged_folds(times, plan.cv_folds, embargo)
        if folds and all(len(np.unique(y_train[rows])) == 2 for fold in folds for rows in fold):
            logger.info("cross-validation by time: %d purged blocks", len(folds))
            return [(train.astype(np.int64), validate.astype(np.int64)) for train, validate in folds]
        if schema.id_column is not None and isinstance(table, pd.DataFrame):
            ids = table[schema.id_column].to_numpy()[train_rows]
            if len(pd.unique(ids)) < len(ids):
                logger.info("cross-validation by customer: too few observation times for %d blocks", plan.cv_folds)
                splitter = StratifiedGroupKFold(n_splits=plan.cv_folds, shuffle=True, random_state=plan.random_state)
                return list(splitter.split(np.zeros(len(y_train)), y_train, groups=ids))
    return list(StratifiedKFold(n_splits=plan.cv_folds).split(np.zeros(len(y_train)), y_train))


def _require_enough_rows(target: IntArray, plan: TrainingPlan) -> None:
    """Every CV fold of the training split, and the holdout, need both classes."""
    counts = np.bincount(target, minlength=2)
    needed = math.ceil((plan.cv_folds + 1) / (1.0 - plan.test_size))
    if counts.min() < needed:
        raise InsufficientData(
            f"the table has {counts[1]} churned and {counts[0]} staying customers (after dropping rows repeated "
            f"in every column); training needs at least {needed} of each ({plan.cv_folds} folds on the "
            f"{1 - plan.test_size:.0%} training split, and a holdout)"
        )


def plain_baselines(
    schema: TableSchema, x_train: FloatArray, y_train: IntArray, x_test: FloatArray, y_test: IntArray, seed: int
) -> dict[str, float]:
    """The holdout F1 of no skill (flag everyone) and of the plain model a user writes first: a
    logistic regression with sklearn's defaults, classes balanced, decided at 0.5. A gate with
    no declared floor asks the candidate to beat the one and not lose to the other."""
    plain = FAMILIES["logistic"].build({"class_weight": "balanced"}, seed, schema).fit(x_train, y_train)
    predicted = plain.predict_proba(x_test)[:, 1] >= 0.5
    return {
        "no_skill_f1": no_skill_f1(float(np.mean(y_test))),
        "plain_f1": float(f1_score(y_test, predicted, zero_division=0.0)),
    }


class SklearnModelTrainer:
    def __init__(self, progress_interval_seconds: float = 5.0) -> None:
        self._progress_interval = progress_interval_seconds

    def train(self, table: Table, plan: TrainingPlan, schema: TableSchema) -> TrainedModel:
        started = time.perf_counter()
        raw, target = encoded_table(table, schema)
        _require_enough_rows(target, plan)
        times, embargo = observation_times(table, schema), embargo_days(schema)
        train_rows, test_rows = split_rows(target, plan.test_size, plan.random_state, times, embargo)
        raw_train, raw_test, y_train, y_test = raw[train_rows], raw[test_rows], target[train_rows], target[test_rows]
        imputation = Imputation.fit(schema, raw_train)  # the training split only
        raw_train = imputation.apply(schema, raw_train)
        x_train = schema.model_matrix(raw_train)
        folds = _folds(plan, y_train, None if times is None else times[train_rows], embargo, table, schema, train_rows)
        periods = observed_periods(times, train_rows, test_rows)
        search = CrossValidatedSearch(plan.selection_metric, plan.n_jobs, plan.random_state, self._progress_interval)
        groups = search.groups(plan.families, plan.grid_size, schema)
        candidates = search.run(groups, x_train, y_train, folds, halving=plan.search == "halving")
        best = search.select(candidates)
        logger.info("selected %s %s", best.family, best.params, extra={"cv_log_loss": round(best.cv_log_loss, 4)})

        calibration = choose_calibration(best.oof_probability, y_train, folds, plan.calibration)
        threshold = choose_threshold(y_train, calibration.oof_probability, plan.threshold_strategy, plan.campaign)
        pipeline = FAMILIES[best.family].build(best.params, plan.random_state, schema).fit(x_train, y_train)
        background_rows = np.random.default_rng(plan.random_state).choice(
            len(x_train), size=min(SHAP_BACKGROUND_ROWS, len(x_train)), replace=False
        )
        model = ChurnModel(
            pipeline,
            best.family,
            calibration.method,
            calibration.calibrator,
            x_train[np.sort(background_rows)],
            schema=schema_to_mapping(schema),
            imputation=dict(imputation.values),
        )

        scoring = Scoring(schema, imputation.values, model)
        x_test = scoring.matrix(raw_test)
        survival_metrics_: dict[str, float] = {}
        survival_params: dict[str, Any] = {}
        survival_cv: list[dict[str, Any]] = []
        if schema.survival is not None:
            train_times = SurvivalTimes.of(schema, raw_train, y_train)
            fitted = fit_survival(schema, x_train, train_times, folds, plan.grid_size, plan.random_state, plan.n_jobs)
            model.survival = fitted.model
            test_times = SurvivalTimes.of(schema, scoring.filled(raw_test), y_test)
            survival_metrics_ = survival_metrics(fitted.model, x_test, train_times, test_times, schema.survival.horizon)
            survival_params = {
                "survival_family": fitted.best.family,
                **{f"survival_{name}": value for name, value in fitted.best.params.items()},
            }
            survival_cv = fitted.cv_rows()
            survival_metrics_["survival_cv_concordance"] = fitted.best.concordance
            survival_metrics_["survival_search_seconds"] = fitted.seconds
        holdout_probability = scoring.score(x_test)
        drops = permutation_drops(model, x_test, y_test, IMPORTANCE_REPEATS, plan.random_state)
        importance = dict(zip(schema.model_features, drops.mean(axis=1), strict=True))
        reference = Reference.fit(schema, raw_train)
        influence = scoring.influence(scoring.filled(raw_test), reference)
        diagnostics = diagnose(y_test, holdout_probability, threshold.threshold, importance, influence)
        train_probability = scoring.score(x_train)
        scores = np.array([c.score(plan.selection_metric) for c in candidates])
        return TrainedModel(
            model=model,
            family=best.family,
            params=best.params,
            holdout_metrics={
                **classification_metrics(y_test, holdout_probability, threshold.threshold),
                **{k: v for k, v in survival_metrics_.items() if not k.startswith(("survival_cv", "survival_search"))},
            },
            train_metrics=classification_metrics(y_train, train_probability, threshold.threshold),
            cv_summary={
                "cv_best_log_loss": best.cv_log_loss,
                "cv_best_roc_auc": best.cv_roc_auc,
                "cv_best_f1_at_0_5": best.cv_f1,
                "cv_best_log_loss_std": float(np.std(best.fold_log_loss)),
                "cv_oof_f1_at_threshold": threshold.score if plan.threshold_strategy.value == "f1" else float("nan"),
                "cv_candidates": float(len(candidates)),
                "cv_fit_groups": float(len(groups)),
                "cv_mean_fit_seconds": float(np.mean([c.fit_seconds for c in candidates])),
                "cv_score_spread": float(scores.max() - scores.min()),
                **{k: v for k, v in survival_metrics_.items() if k.startswith(("survival_cv", "survival_search"))},
            },
            survival_params=survival_params,
            survival_cv=survival_cv,
            cv_results=cv_results(candidates, plan.selection_metric),
            family_table=family_table(candidates, plan.selection_metric),
            search_space={
                name: {key: list(values) for key, values in FAMILIES[name].grid(plan.grid_size).items()}
                for name in plan.families
            },
            calibration=calibration.report(y_train, best.oof_probability),
            threshold=threshold.threshold,
            threshold_strategy=threshold.strategy.value,
            attribution=reference,
            baselines=plain_baselines(schema, x_train, y_train, x_test, y_test, plan.random_state),
            churn_rate=float(y_train.mean()),
            train_rows=len(y_train),
            holdout_rows=len(y_test),
            reference=pd.DataFrame(raw_train, columns=list(schema.raw_fields)),
            search_seconds=time.perf_counter() - started,
            imputation=dict(imputation.values),
            diagnostics=diagnostics,
            periods=periods,
        )
