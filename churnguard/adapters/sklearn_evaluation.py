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

from churnguard.application.ports import Evaluation, HoldoutPredictions, Table
from churnguard.domain.customer import RAW_FIELDS, TARGET
from churnguard.domain.features import FloatArray, model_matrix
from churnguard.domain.uncertainty import DEFAULT_ROUNDS, metric_intervals

IntArray = npt.NDArray[np.int64]


def features_and_target(table: Table) -> tuple[FloatArray, IntArray]:
    """The (n, 16) model matrix and the 0/1 churn labels of a validated table."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
    matrix = model_matrix({name: table[name].to_numpy() for name in RAW_FIELDS})
    return matrix, table[TARGET].to_numpy(dtype=np.int64)


def holdout_split(
    features: FloatArray, target: IntArray, test_size: float, random_state: int
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """The stratified train/holdout split; trainer and evaluator must both come through here."""
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=test_size, random_state=random_state, stratify=target
    )
    return x_train, x_test, y_train, y_test


def classification_metrics(target: IntArray, probability: FloatArray, threshold: float) -> dict[str, float]:
    """Threshold metrics at `threshold` plus ranking and probability metrics."""
    predicted = (probability >= threshold).astype(np.int64)
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


def churn_probability(model: Any, features: FloatArray) -> FloatArray:
    """P(churn) for each row: the model's positive-class column."""
    return np.asarray(model.predict_proba(features)[:, 1], dtype=np.float64)


class SklearnModelEvaluator:
    """Recomputes holdout metrics, with bootstrap intervals, for any model with predict_proba."""

    def __init__(self, bootstrap_rounds: int = DEFAULT_ROUNDS) -> None:
        self._rounds = bootstrap_rounds

    def holdout_predictions(
        self, model: object, table: Table, test_size: float, random_state: int
    ) -> HoldoutPredictions:
        features, target = features_and_target(table)
        _, x_test, _, y_test = holdout_split(features, target, test_size, random_state)
        return HoldoutPredictions(target=y_test, probability=churn_probability(model, x_test))

    def evaluate(
        self, model: object, table: Table, test_size: float, random_state: int, threshold: float
    ) -> Evaluation:
        holdout = self.holdout_predictions(model, table, test_size, random_state)
        y_test, probability = holdout.target, holdout.probability
        predicted = (probability >= threshold).astype(np.int64)
        report: Mapping[str, Any] = classification_report(
            y_test, predicted, labels=[0, 1], target_names=["stays", "churns"], output_dict=True, zero_division=0
        )
        return Evaluation(
            metrics=classification_metrics(y_test, probability, threshold),
            intervals=metric_intervals(y_test, probability, threshold, self._rounds, seed=random_state),
            classification_report=report,
            confusion_matrix=confusion_matrix(y_test, predicted, labels=[0, 1]).tolist(),
            holdout_rows=len(y_test),
            threshold=threshold,
        )
