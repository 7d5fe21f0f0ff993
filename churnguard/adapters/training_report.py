"""The plots and tables a training run publishes: real matplotlib PNGs (Agg) and CSVs.

Written into a directory by `write_training_artifacts`, which the MLflow tracker uploads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
    classification_report,
)
from sklearn.model_selection import StratifiedKFold, learning_curve

from churnguard.adapters.churn_model import ChurnModel
from churnguard.adapters.model_families import FAMILIES
from churnguard.adapters.sklearn_evaluation import (
    embargo_days,
    encoded_table,
    holdout_split,
    observation_times,
    permutation_drops,
    split_rows,
)
from churnguard.adapters.survival_model import SurvivalTimes, calibration_deciles
from churnguard.application.champion import Scoring, probability_of
from churnguard.application.errors import ExplanationUnavailable
from churnguard.application.ports import Table, TrainedModel
from churnguard.domain.model_version import decide
from churnguard.domain.schema import TableSchema
from churnguard.domain.survival import kaplan_meier

logger = logging.getLogger(__name__)

SHAP_SAMPLE = 300


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_training_artifacts(
    directory: Path, trained: TrainedModel, table: Table, test_size: float, random_state: int
) -> list[Path]:
    """Every artifact of a training run; returns the files written."""
    model = trained.model
    if not isinstance(model, ChurnModel):
        raise TypeError(f"expected a ChurnModel, got {type(model).__name__}")
    schema = model.table_schema()
    names = list(schema.model_features)
    raw, target = encoded_table(table, schema)
    features = Scoring(schema, model.imputation, model).matrix(raw)
    x_train, x_test, y_train, y_test = holdout_split(
        features, target, test_size, random_state, observation_times(table, schema), embargo_days(schema)
    )
    probability = probability_of(model, x_test)
    predicted = decide(probability, trained.threshold).astype(int)
    written: list[Path] = []

    figure, axis = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay.from_predictions(
        y_test, predicted, display_labels=["stays", "churns"], ax=axis, colorbar=False
    )
    axis.set_title(f"Confusion matrix (threshold {trained.threshold:.3f})")
    written.append(_save(figure, directory / "confusion_matrix.png"))

    figure, axis = plt.subplots(figsize=(5, 4.5))
    RocCurveDisplay.from_predictions(y_test, probability, ax=axis, name=model.family)
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set_title("ROC curve (holdout)")
    written.append(_save(figure, directory / "roc_curve.png"))

    figure, axis = plt.subplots(figsize=(5, 4.5))
    PrecisionRecallDisplay.from_predictions(y_test, probability, ax=axis, name=model.family)
    axis.set_title("Precision-recall (holdout)")
    written.append(_save(figure, directory / "precision_recall.png"))

    written.append(_calibration_plot(directory, trained, y_test, probability))

    figure, axis = plt.subplots(figsize=(6, 4))
    axis.hist([probability[y_test == 0], probability[y_test == 1]], bins=25, stacked=True, label=["stays", "churns"])
    axis.axvline(trained.threshold, color="k", linestyle="--", label=f"threshold {trained.threshold:.3f}")
    axis.set_xlabel("predicted churn probability")
    axis.set_ylabel("customers")
    axis.legend()
    axis.set_title("Predicted probabilities (holdout)")
    written.append(_save(figure, directory / "probability_histogram.png"))

    drops = permutation_drops(model, x_test, y_test, repeats=5, random_state=random_state)
    titles = [f.title for f in schema.fields] + [f.title for f in schema.features]
    importances = pd.DataFrame(
        {
            "feature": names,
            "display_name": titles,
            "importance_mean": drops.mean(axis=1),
            "importance_std": drops.std(axis=1),
        }
    ).sort_values("importance_mean", ascending=False)
    importances.to_csv(directory / "feature_importances.csv", index=False)
    written.append(directory / "feature_importances.csv")
    figure, axis = plt.subplots(figsize=(6, max(5.0, 0.22 * len(names))))
    ordered = importances.iloc[::-1]
    axis.barh(ordered["display_name"], ordered["importance_mean"], xerr=ordered["importance_std"])
    axis.set_xlabel("drop in holdout ROC-AUC when shuffled")
    axis.set_title("Permutation feature importance")
    written.append(_save(figure, directory / "feature_importances.png"))

    written.append(_learning_curve(directory, trained, x_train, y_train, random_state, schema))
    written.extend(_shap_plots(directory, model, x_train, random_state, names))

    frame = pd.DataFrame(features, columns=names).assign(churn=target)
    figure, axis = plt.subplots(figsize=(8, 7))
    correlation = frame.corr()
    image = axis.imshow(correlation, cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_xticks(range(len(correlation)), correlation.columns, rotation=90, fontsize=7)
    axis.set_yticks(range(len(correlation)), correlation.columns, fontsize=7)
    figure.colorbar(image, ax=axis)
    axis.set_title("Correlation matrix")
    written.append(_save(figure, directory / "correlation_matrix.png"))

    frame.describe().T.to_csv(directory / "feature_statistics.csv")
    written.append(directory / "feature_statistics.csv")
    pd.DataFrame(
        [
            {**{k: v for k, v in row.items() if k != "params"}, **{f"param_{k}": v for k, v in row["params"].items()}}
            for row in trained.cv_results
        ]
    ).to_csv(directory / "cv_results.csv", index=False)
    written.append(directory / "cv_results.csv")
    pd.DataFrame(
        [
            {**{k: v for k, v in row.items() if k != "best_params"}, "best_params": json.dumps(row["best_params"])}
            for row in trained.family_table
        ]
    ).to_csv(directory / "family_comparison.csv", index=False)
    written.append(directory / "family_comparison.csv")
    report = classification_report(y_test, predicted, target_names=["stays", "churns"], digits=4, zero_division=0)
    (directory / "classification_report.txt").write_text(report)
    written.append(directory / "classification_report.txt")
    (directory / "calibration.json").write_text(json.dumps(dict(trained.calibration), indent=2))
    written.append(directory / "calibration.json")
    if model.survival is not None and schema.survival is not None:
        written.extend(_survival_artifacts(directory, trained, model, schema, table, test_size, random_state))
    return written


def _survival_artifacts(
    directory: Path,
    trained: TrainedModel,
    model: ChurnModel,
    schema: TableSchema,
    table: Table,
    test_size: float,
    random_state: int,
) -> list[Path]:
    """The survival search's candidates, and on the holdout: the mean predicted curve against
    Kaplan-Meier's, and calibration of churn within the horizon per decile of predicted risk."""
    assert schema.survival is not None
    horizon, unit = schema.survival.horizon, schema.survival.unit
    raw, target = encoded_table(table, schema)
    train_rows, test_rows = split_rows(
        target, test_size, random_state, observation_times(table, schema), embargo_days(schema)
    )
    scoring = Scoring(schema, model.imputation, model)
    filled = scoring.filled(raw[test_rows])
    test = SurvivalTimes.of(schema, filled, target[test_rows])
    train = SurvivalTimes.of(schema, scoring.filled(raw[train_rows]), target[train_rows])
    curves = model.survival.curves(schema.model_matrix(filled))
    written: list[Path] = []

    pd.DataFrame(
        [
            {**{k: v for k, v in row.items() if k != "params"}, "params": json.dumps(row["params"])}
            for row in trained.survival_cv
        ]
    ).to_csv(directory / "survival_cv_results.csv", index=False)
    written.append(directory / "survival_cv_results.csv")

    last = int(min(curves.shape[1] - 1, np.quantile(train.periods, 0.95)))
    periods = np.arange(last + 1)
    figure, axis = plt.subplots(figsize=(6, 4.5))
    axis.step(
        periods, kaplan_meier(test.periods, test.churned, last).values, where="post", label="Kaplan-Meier (holdout)"
    )
    axis.step(
        periods, curves[:, : last + 1].mean(axis=0), where="post", label=f"{model.survival.family}: mean predicted"
    )
    axis.step(
        periods,
        kaplan_meier(train.periods, train.churned, last).values,
        where="post",
        linestyle=":",
        label="Kaplan-Meier (training)",
    )
    axis.set_xlabel(f"{unit}s since sign-up")
    axis.set_ylabel("share still a customer")
    axis.set_ylim(0, 1.02)
    axis.legend(fontsize=8)
    axis.set_title("Survival curve, holdout")
    written.append(_save(figure, directory / "survival_curve.png"))

    deciles = calibration_deciles(1.0 - curves[:, min(horizon, curves.shape[1] - 1)], test, horizon)
    figure, axis = plt.subplots(figsize=(5, 4.5))
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect")
    axis.plot(
        [d["predicted"] for d in deciles], [d["observed"] for d in deciles], "o-", label="deciles of predicted risk"
    )
    axis.set_xlabel(f"predicted churn within {horizon} {unit}s")
    axis.set_ylabel("Kaplan-Meier observed")
    gap = max(d["gap"] for d in deciles)
    axis.set_title(f"Calibration at {horizon} {unit}s (largest gap {gap:.3f})", fontsize=9)
    axis.legend(fontsize=8)
    written.append(_save(figure, directory / "survival_calibration.png"))
    (directory / "survival_calibration.json").write_text(json.dumps(deciles, indent=2))
    written.append(directory / "survival_calibration.json")
    return written


def _calibration_plot(directory: Path, trained: TrainedModel, y_test: Any, probability: Any) -> Path:
    from sklearn.calibration import calibration_curve

    figure, axis = plt.subplots(figsize=(5, 4.5))
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect")
    curve = trained.calibration.get("curve_out_of_fold", {})
    for name, style in (("uncalibrated", "o-"), ("calibrated", "s-")):
        if name in curve:
            axis.plot(curve[name]["predicted"], curve[name]["observed"], style, label=f"CV {name}")
    observed, predicted = calibration_curve(y_test, probability, n_bins=10, strategy="quantile")
    axis.plot(predicted, observed, "^-", label="holdout (final)")
    axis.set_xlabel("predicted probability")
    axis.set_ylabel("observed churn rate")
    method = trained.calibration.get("method", "none")
    before, after = trained.calibration.get("brier_before"), trained.calibration.get("brier_after")
    axis.set_title(f"Calibration ({method}); CV Brier {before:.4f} -> {after:.4f}", fontsize=9)
    axis.legend(fontsize=8)
    return _save(figure, directory / "calibration_curve.png")


def _learning_curve(
    directory: Path, trained: TrainedModel, x_train: Any, y_train: Any, random_state: int, schema: TableSchema
) -> Path:
    estimator = FAMILIES[trained.family].build(trained.params, random_state, schema)
    sizes, train_scores, test_scores = learning_curve(
        estimator,
        x_train,
        y_train,
        train_sizes=np.linspace(0.2, 1.0, 4),
        cv=StratifiedKFold(3),
        scoring="neg_log_loss",
        n_jobs=-1,
    )
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for scores, label in ((train_scores, "training"), (test_scores, "cross-validation")):
        mean, std = -scores.mean(axis=1), scores.std(axis=1)
        axis.plot(sizes, mean, "o-", label=label)
        axis.fill_between(sizes, mean - std, mean + std, alpha=0.2)
    axis.set_xlabel("training rows")
    axis.set_ylabel("log loss")
    axis.set_title(f"Learning curve ({trained.family}, uncalibrated)")
    axis.legend()
    return _save(figure, directory / "learning_curve.png")


def _shap_plots(directory: Path, model: ChurnModel, x_train: Any, random_state: int, features: list[str]) -> list[Path]:
    """SHAP of the uncalibrated model's log-odds, by the family's own explainer (the one serving's
    explain=shap uses); none for a family without one, said in the log."""
    import shap

    sample = x_train[
        np.random.default_rng(random_state).choice(len(x_train), min(SHAP_SAMPLE, len(x_train)), replace=False)
    ]
    pipeline = model.pipeline
    try:
        explainer, transformed = FAMILIES[model.family].shap_explainer(pipeline, sample)
    except ExplanationUnavailable as error:
        logger.info("no SHAP plots: %s", error)
        return []
    names = _transformed_names(pipeline, features)
    values = explainer(transformed)
    values.feature_names = names
    written = []
    for kind, plot in (("bar", shap.plots.bar), ("beeswarm", shap.plots.beeswarm)):
        plt.figure()
        plot(values, max_display=min(len(names), 20), show=False)
        figure = plt.gcf()
        figure.suptitle(f"SHAP ({type(explainer).__name__}, log-odds)", fontsize=9)
        written.append(_save(figure, directory / f"shap_summary_{kind}.png"))
    return written


def _transformed_names(pipeline: Any, features: list[str]) -> list[str]:
    if len(pipeline) == 1:
        return list(features)
    names = pipeline[:-1].get_feature_names_out(features)
    return [str(name).split("__", 1)[-1] for name in names]
