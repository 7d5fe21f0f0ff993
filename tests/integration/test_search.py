from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict

from churnguard.adapters.model_families import FAMILIES, ModelFamily, gradient_boosting, hist_gradient_boosting
from churnguard.adapters.sklearn_evaluation import features_and_target, holdout_split
from churnguard.adapters.sklearn_model_trainer import choose_calibration
from churnguard.adapters.sklearn_search import CrossValidatedSearch, FitGroup
from tests.conftest import BUNDLED_DATA

GBM_GRID: dict[str, list[Any]] = {
    "n_estimators": [10, 25, 40],
    "max_depth": [2, 3],
    "learning_rate": [0.1],
    "subsample": [0.8, 1.0],
    "min_samples_leaf": [5],
}


@pytest.fixture(scope="module")
def training_split():
    features, target = features_and_target(pd.read_csv(BUNDLED_DATA))
    x_train, _, y_train, _ = holdout_split(features, target, 0.2, 42)
    folds = list(StratifiedKFold(5).split(x_train, y_train))
    return x_train, y_train, folds


def _search(family: ModelFamily, training_split, metric="log_loss", halving=False):
    x_train, y_train, folds = training_split
    search = CrossValidatedSearch(metric, n_jobs=2, random_state=42)
    groups = [FitGroup(family, params, stages) for params, stages in family.fit_groups("parity")]
    return search, groups, search.run(groups, x_train, y_train, folds, halving=halving)


def test_staged_gbm_scores_exactly_like_separate_fits_in_gridsearchcv(training_split):
    family = ModelFamily("gbm", gradient_boosting, {"parity": GBM_GRID}, stage_param="n_estimators")
    _, groups, candidates = _search(family, training_split)
    assert len(groups) == 4  # 12 candidates from 4 fits per fold

    x_train, y_train, folds = training_split
    reference = GridSearchCV(
        gradient_boosting({}, 42),
        {f"model__{name}": values for name, values in GBM_GRID.items()},
        scoring="f1",
        cv=folds,
        n_jobs=2,
    ).fit(x_train, y_train)
    theirs = {
        tuple(sorted((k.removeprefix("model__"), v) for k, v in params.items())): [
            reference.cv_results_[f"split{i}_test_score"][index] for i in range(5)
        ]
        for index, params in enumerate(reference.cv_results_["params"])
    }
    assert len(candidates) == len(theirs) == 12
    for candidate in candidates:
        assert candidate.fold_f1.tolist() == theirs[tuple(sorted(candidate.params.items()))], candidate.params


def test_staged_out_of_fold_probabilities_equal_those_of_separate_fits(training_split):
    x_train, y_train, folds = training_split
    for family, params, stage_param in (
        (
            FAMILIES["gbm"],
            {"max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "min_samples_leaf": 5},
            "n_estimators",
        ),
        (FAMILIES["hgb"], {"learning_rate": 0.1, "max_leaf_nodes": 8, "min_samples_leaf": 20}, "max_iter"),
    ):
        grid: dict[str, list[Any]] = {**{k: [v] for k, v in params.items()}, stage_param: [15, 30]}
        staged_family = ModelFamily(family.name, family.build, {"parity": grid}, stage_param=stage_param)
        _, _, candidates = _search(staged_family, training_split)
        short = next(c for c in candidates if c.params[stage_param] == 15)
        separate = cross_val_predict(
            family.build({**params, stage_param: 15}, 42), x_train, y_train, cv=folds, method="predict_proba"
        )[:, 1]
        np.testing.assert_array_equal(short.oof_probability, separate)


def test_the_selected_candidate_has_the_best_cv_log_loss(training_split):
    family = ModelFamily("gbm", gradient_boosting, {"parity": GBM_GRID}, stage_param="n_estimators")
    search, _, candidates = _search(family, training_split)
    best = search.select(candidates)
    assert best.cv_log_loss == min(c.cv_log_loss for c in candidates)
    by_auc = CrossValidatedSearch("roc_auc", 1, 42).select(candidates)
    assert by_auc.cv_roc_auc == max(c.cv_roc_auc for c in candidates)


def test_halving_keeps_a_third_of_the_groups_and_ends_on_all_rows(training_split):
    grid = {**GBM_GRID, "max_depth": [1, 2, 3], "learning_rate": [0.05, 0.1, 0.2]}
    family = ModelFamily("gbm", gradient_boosting, {"parity": grid}, stage_param="n_estimators")
    _, groups, candidates = _search(family, training_split, halving=True)
    assert len(groups) == 18
    surviving_groups = {c.group for c in candidates}
    assert len(surviving_groups) == 2  # 18 -> 6 -> 2 over three rounds
    _, _, folds = training_split
    assert all(c.rows_per_fold == int(np.mean([len(t) for t, _ in folds])) for c in candidates)
    assert all(np.isfinite(c.oof_probability).all() for c in candidates)


def test_calibration_is_kept_only_when_it_lowers_the_brier_score(training_split):
    _, y_train, folds = training_split
    rng = np.random.default_rng(0)
    true_probability = np.clip(y_train * 0.6 + 0.2 + rng.normal(0, 0.1, len(y_train)), 0.01, 0.99)
    distorted = true_probability**3
    choice = choose_calibration(distorted, y_train, folds, "auto")
    assert choice.method in ("sigmoid", "isotonic")
    assert choice.brier_by_method[choice.method] < choice.brier_by_method["none"]
    assert choose_calibration(distorted, y_train, folds, "none").method == "none"
    hist = hist_gradient_boosting({"max_iter": 5}, 0)
    assert hist.named_steps["model"].categorical_features == FAMILIES["hgb"].build({}, 0)[-1].categorical_features
