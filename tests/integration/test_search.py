from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from churnguard.adapters.sklearn_evaluation import features_and_target, holdout_split
from churnguard.adapters.sklearn_model_trainer import SklearnModelTrainer, build_pipeline
from churnguard.application.ports import TrainingPlan
from tests.conftest import BUNDLED_DATA

GRID: dict[str, list[Any]] = {
    "n_estimators": [20, 40],
    "max_depth": [2, 3],
    "learning_rate": [0.1],
    "subsample": [1.0],
    "min_samples_leaf": [5],
}


def test_the_observable_search_scores_exactly_like_gridsearchcv():
    table = pd.read_csv(BUNDLED_DATA)
    plan = TrainingPlan(grid_name="parity", param_grid=GRID, n_jobs=2)
    trained = SklearnModelTrainer().train(table, plan)

    features, target = features_and_target(table)
    x_train, _, y_train, _ = holdout_split(features, target, plan.test_size, plan.random_state)
    reference = GridSearchCV(
        build_pipeline({}, plan.random_state),
        {f"model__{name}": values for name, values in GRID.items()},
        scoring="f1",
        cv=StratifiedKFold(5),
        n_jobs=2,
    ).fit(x_train, y_train)

    ours = np.array([row["split_test_f1"] for row in trained.cv_results])
    theirs = np.column_stack([reference.cv_results_[f"split{i}_test_score"] for i in range(5)])
    np.testing.assert_array_equal(ours, theirs)
    assert {f"model__{k}": v for k, v in trained.params.items()} == reference.best_params_
    assert [row["rank"] for row in trained.cv_results] == list(reference.cv_results_["rank_test_score"])
