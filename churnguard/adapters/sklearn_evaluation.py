"""What the sklearn trainer and evaluator share: table -> matrix, the holdout split, the metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from churnguard.adapters.observation_time import iso_days
from churnguard.adapters.survival_model import SurvivalTimes, paired_comparison, survival_metrics
from churnguard.adapters.survival_model import metric_intervals as survival_intervals
from churnguard.application.champion import Scoring, probability_of
from churnguard.application.errors import InsufficientData
from churnguard.application.ports import Evaluation, HoldoutPredictions, Table
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.events import date_of
from churnguard.domain.model_version import ModelVersion, decide
from churnguard.domain.quality_gate import SurvivalComparison
from churnguard.domain.schema import FloatArray, TableSchema
from churnguard.domain.time_split import NotEnoughTime, out_of_time
from churnguard.domain.uncertainty import DEFAULT_ROUNDS, Interval, metric_intervals

IntArray = npt.NDArray[np.int64]


def encoded_table(table: Table, schema: TableSchema) -> tuple[FloatArray, IntArray]:
    """A validated table's encoded fields (NaN where a cell will be imputed) and 0/1 labels."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
    columns = {name: table[name].to_numpy() for name in (*schema.raw_fields, schema.label.column)}
    checked = schema.check(columns, with_label=True)
    if not checked.ok.all():
        raise ValueError(f"table breaks its schema: {checked.violations[:3]}")
    assert checked.target is not None
    return checked.raw, checked.target.astype(np.int64)


def features_and_target(table: Table, schema: TableSchema = ORIGINAL_SCHEMA) -> tuple[FloatArray, IntArray]:
    """The model matrix and the 0/1 churn labels of a validated table with nothing to impute."""
    raw, target = encoded_table(table, schema)
    return schema.model_matrix(raw), target


def observation_times(table: Table, schema: TableSchema) -> FloatArray | None:
    """Each row's observation time in days since 1970-01-01 (the schema's `split` column, ISO
    dates), or None when the schema's rows are not observed over time."""
    if schema.split is None:
        return None
    assert isinstance(table, pd.DataFrame)
    days = iso_days(table[schema.split.column].to_numpy())
    if np.isnan(days).any():
        raise InsufficientData(
            f"{schema.split.column}: {int(np.isnan(days).sum())} rows have no ISO date: rows are split by it"
        )
    return days


def split_rows(
    target: IntArray, test_size: float, random_state: int, times: FloatArray | None = None, embargo_days: int = 0
) -> tuple[IntArray, IntArray]:
    """(training rows, holdout rows) as indices: out of time when the rows have observation
    times (`churnguard.domain.time_split`), else stratified at random with the seed. The
    trainer, the evaluator and the training report all split with it."""
    if times is not None:
        try:
            split = out_of_time(times, test_size, embargo_days)
        except NotEnoughTime as error:
            raise InsufficientData(str(error)) from None
        return split.train.astype(np.int64), split.holdout.astype(np.int64)
    train, test = train_test_split(
        np.arange(len(target)), test_size=test_size, random_state=random_state, stratify=target
    )
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


def observed_periods(times: FloatArray | None, train: IntArray, test: IntArray) -> dict[str, str]:
    """The observation dates trained on and held out (ISO), for a table observed over time."""
    if times is None:
        return {}

    return {
        "train_from": date_of(times[train].min()).isoformat(),
        "train_to": date_of(times[train].max()).isoformat(),
        "holdout_from": date_of(times[test].min()).isoformat(),
        "holdout_to": date_of(times[test].max()).isoformat(),
    }


def holdout_split(
    features: FloatArray,
    target: IntArray,
    test_size: float,
    random_state: int,
    times: FloatArray | None = None,
    embargo_days: int = 0,
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """The train/holdout split of rows (encoded fields or model matrix alike: the split depends
    only on the labels, the seed and the observation times); see `split_rows`."""
    train, test = split_rows(target, test_size, random_state, times, embargo_days)
    return features[train], features[test], target[train], target[test]


def embargo_days(schema: TableSchema) -> int:
    """How long a row's label reads after its observation time (0 for a table of one time)."""
    return schema.split.embargo_days if schema.split is not None else 0


def classification_metrics(target: IntArray, probability: FloatArray, threshold: float) -> dict[str, float]:
    """Threshold metrics at `threshold` plus ranking and probability metrics."""
    predicted = decide(probability, threshold).astype(np.int64)
    both_classes = len(np.unique(target)) == 2
    return {
        "f1": float(f1_score(target, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(target, predicted)),
        "precision": float(precision_score(target, predicted, zero_division=0)),
        "recall": float(recall_score(target, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(target, probability)) if both_classes else float("nan"),
        "balanced_accuracy": float(balanced_accuracy_score(target, predicted)),
        "mcc": float(matthews_corrcoef(target, predicted)),
        "cohen_kappa": float(cohen_kappa_score(target, predicted)),
        "brier": float(brier_score_loss(target, probability)),
        "log_loss": float(log_loss(target, probability, labels=[0, 1])),
        "average_precision": float(average_precision_score(target, probability)) if both_classes else float("nan"),
    }


class SklearnModelEvaluator:
    """Recomputes holdout metrics, with bootstrap intervals, for any model with predict_proba."""

    def __init__(self, bootstrap_rounds: int = DEFAULT_ROUNDS) -> None:
        self._rounds = bootstrap_rounds

    def holdout_predictions(
        self, model: object, table: Table, version: ModelVersion, split: tuple[float, int] | None = None
    ) -> HoldoutPredictions:
        """`version`'s model on the holdout rows of its own split, or of `split` (test size, seed:
        another version's, for a paired comparison on the same rows)."""
        test_size, random_state = split or (float(version.settings["test_size"]), int(version.settings["random_state"]))
        raw, target = encoded_table(table, version.schema)
        times = observation_times(table, version.schema)
        train, test = split_rows(target, test_size, random_state, times, embargo_days(version.schema))
        scoring = Scoring(version.schema, version.imputation, model)  # type: ignore[arg-type]
        return HoldoutPredictions(
            target=target[test],
            probability=scoring.probability(raw[test]),
            periods=observed_periods(times, train, test),
        )

    def evaluate(self, model: object, table: Table, version: ModelVersion) -> Evaluation:
        holdout = self.holdout_predictions(model, table, version)
        y_test, probability = holdout.target, holdout.probability
        threshold = version.threshold
        predicted = decide(probability, threshold).astype(np.int64)
        report: Mapping[str, Any] = classification_report(
            y_test, predicted, labels=[0, 1], target_names=["stays", "churns"], output_dict=True, zero_division=0
        )
        seed = int(version.settings["random_state"])
        survival, survival_intervals = self._survival(model, table, version, seed)
        return Evaluation(
            metrics={**classification_metrics(y_test, probability, threshold), **survival},
            intervals={
                **metric_intervals(y_test, probability, threshold, self._rounds, seed=seed),
                **survival_intervals,
            },
            classification_report=report,
            confusion_matrix=confusion_matrix(y_test, predicted, labels=[0, 1]).tolist(),
            holdout_rows=len(y_test),
            threshold=threshold,
            periods=holdout.periods,
        )

    def _survival(
        self, model: object, table: Table, version: ModelVersion, seed: int
    ) -> tuple[dict[str, float], dict[str, Interval]]:
        """The survival metrics training reported, recomputed on the version's own split, and
        the bootstrap intervals of its concordance and integrated Brier score."""
        fitted = getattr(model, "survival", None)
        split = self._survival_split(model, table, version)
        if fitted is None or split is None:
            return {}, {}
        assert version.schema.survival is not None
        horizon = version.schema.survival.horizon
        return survival_metrics(fitted, *split, horizon), survival_intervals(fitted, *split, horizon, seed=seed)

    def survival_comparison(
        self, candidate: object, candidate_version: ModelVersion, champion: object, table: Table
    ) -> SurvivalComparison | None:
        """Candidate and champion survival models on the candidate's holdout rows (the same
        schema, so the same rows and matrix), None unless both carry one."""
        ours, theirs = getattr(candidate, "survival", None), getattr(champion, "survival", None)
        split = self._survival_split(candidate, table, candidate_version)
        if ours is None or theirs is None or split is None:
            return None
        assert candidate_version.schema.survival is not None
        horizon = candidate_version.schema.survival.horizon
        return paired_comparison(ours, theirs, *split, horizon, seed=int(candidate_version.settings["random_state"]))

    @staticmethod
    def _survival_split(
        model: object, table: Table, version: ModelVersion
    ) -> tuple[FloatArray, SurvivalTimes, SurvivalTimes] | None:
        """(holdout model matrix, training times, holdout times) of the version's split."""
        schema = version.schema
        if schema.survival is None:
            return None
        raw, target = encoded_table(table, schema)
        times = observation_times(table, schema)
        train, test = split_rows(
            target,
            float(version.settings["test_size"]),
            int(version.settings["random_state"]),
            times,
            embargo_days(schema),
        )
        scoring = Scoring(schema, version.imputation, model)  # type: ignore[arg-type]
        filled_train, filled_test = scoring.filled(raw[train]), scoring.filled(raw[test])
        return (
            schema.model_matrix(filled_test),
            SurvivalTimes.of(schema, filled_train, target[train]),
            SurvivalTimes.of(schema, filled_test, target[test]),
        )


def permutation_drops(model: Any, features: Any, target: Any, repeats: int, random_state: int) -> Any:
    """(features, repeats) drops in holdout ROC-AUC when one column is shuffled."""
    rng = np.random.default_rng(random_state)
    baseline = roc_auc_score(target, probability_of(model, features))
    drops = np.empty((features.shape[1], repeats))
    for column in range(features.shape[1]):
        for repeat in range(repeats):
            shuffled = features.copy()
            shuffled[:, column] = rng.permutation(shuffled[:, column])
            drops[column, repeat] = baseline - roc_auc_score(target, probability_of(model, shuffled))
    return drops
