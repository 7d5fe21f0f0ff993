"""The model families the search can try, each declaring how it reads the feature kinds.

Nominal fields (from the domain's feature spec) are one-hot encoded for the linear model,
handed to HistGradientBoosting as native categories, and left as codes for the classic
gradient boosting (trees split on them well enough, and that is the original model).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnguard.application.errors import ExplanationUnavailable
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import FieldKind, TableSchema


def _columns(schema: TableSchema, kind: FieldKind) -> list[int]:
    """Model-matrix positions of the inputs of one kind, read off the schema."""
    return schema.feature_index(schema.features_of_kind(kind))


def gradient_boosting(params: Mapping[str, Any], random_state: int, schema: TableSchema = ORIGINAL_SCHEMA) -> Pipeline:
    """The original model: scale the numeric features, pass the rest through, then GBM."""
    preprocess = ColumnTransformer(
        [("scale", StandardScaler(), _columns(schema, FieldKind.NUMERIC))], remainder="passthrough"
    )
    return Pipeline(
        [("preprocess", preprocess), ("model", GradientBoostingClassifier(random_state=random_state, **params))]
    )


def logistic_regression(
    params: Mapping[str, Any], random_state: int, schema: TableSchema = ORIGINAL_SCHEMA
) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            (
                "one_hot",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                _columns(schema, FieldKind.NOMINAL),
            ),
            ("scale", StandardScaler(), _columns(schema, FieldKind.NUMERIC)),
        ],
        remainder="passthrough",
    )
    model = LogisticRegression(max_iter=5000, random_state=random_state, **params)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def hist_gradient_boosting(
    params: Mapping[str, Any], random_state: int, schema: TableSchema = ORIGINAL_SCHEMA
) -> Pipeline:
    nominal = _columns(schema, FieldKind.NOMINAL)
    model = HistGradientBoostingClassifier(
        categorical_features=nominal or None, early_stopping=False, random_state=random_state, **params
    )
    return Pipeline([("model", model)])


class ShapMethod(enum.StrEnum):
    """shap's exact explainer for a family's fitted estimator."""

    LINEAR = "linear"
    TREE = "tree"


@dataclass(frozen=True)
class ModelFamily:
    """A family's search space. `stage_param` (if any) is evaluated from one fit per setting of
    the other params, read off staged predictions: stage k of one long fit is exactly the model
    a fit with k stages would give.
    """

    name: str
    builder: Callable[[Mapping[str, Any], int, TableSchema], Pipeline]
    grids: Mapping[str, Mapping[str, Sequence[Any]]]
    stage_param: str | None = None
    trusted_types: tuple[str, ...] = ()
    """Types beyond skops' defaults that a stored model of the family holds (the store refuses any other)."""
    shap: ShapMethod | None = None
    """The exact SHAP explainer of its estimator, the one choice serving's explain=shap and the
    training report's SHAP plots both read; None: the family has none (`no_shap_because`)."""
    no_shap_because: str = ""
    """Why there is no exact SHAP: for the whole family, or (with `category_splits`) for a model
    of it fitted on a table with category fields."""
    category_splits: bool = False
    """Its trees split on sets of categories, which shap's TreeExplainer cannot read: SHAP is
    exact, and offered, only for a model of it fitted with no category field."""

    def shap_method(self, pipeline: Pipeline) -> ShapMethod | None:
        """The exact explainer of this fitted pipeline, or None (`no_shap_because` says why)."""
        categorical = getattr(pipeline[-1], "is_categorical_", None)
        if self.category_splits and categorical is not None and bool(np.any(categorical)):
            return None
        return self.shap

    def build(self, params: Mapping[str, Any], random_state: int, schema: TableSchema = ORIGINAL_SCHEMA) -> Pipeline:
        """An unfitted pipeline reading the schema's model matrix."""
        return self.builder(params, random_state, schema)

    def shap_explainer(self, pipeline: Pipeline, background: Any) -> tuple[Any, Any]:
        """(shap's explainer of the fitted pipeline's estimator, `background` (model-matrix rows)
        as that estimator reads them); ExplanationUnavailable, with the reason, where the family
        has none."""
        method = self.shap_method(pipeline)
        if method is None:
            raise ExplanationUnavailable(f"SHAP is not available for this {self.name} model: {self.no_shap_because}")
        import shap

        estimator = pipeline[-1]
        transformed = pipeline[:-1].transform(background) if len(pipeline) > 1 else background
        if method is ShapMethod.LINEAR:
            return shap.LinearExplainer(estimator, transformed), transformed
        return shap.TreeExplainer(estimator), transformed

    def grid(self, size: str) -> Mapping[str, Sequence[Any]]:
        return self.grids[size]

    def fit_groups(self, size: str) -> Iterator[tuple[dict[str, Any], tuple[Any, ...]]]:
        """(params of one fit, stage values read from it) for every setting of the non-stage params."""
        grid = self.grid(size)
        names = sorted(name for name in grid if name != self.stage_param)
        stages: tuple[Any, ...] = tuple(sorted(grid[self.stage_param])) if self.stage_param else (None,)
        for values in product(*(grid[name] for name in names)):
            params = dict(zip(names, values, strict=True))
            if self.stage_param:
                params[self.stage_param] = stages[-1]
            yield params, stages


FAMILIES: Mapping[str, ModelFamily] = {
    "logistic": ModelFamily(
        "logistic",
        logistic_regression,
        {
            "full": {"C": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]},
            "fast": {"C": [0.1, 1.0]},
        },
        shap=ShapMethod.LINEAR,
    ),
    "hgb": ModelFamily(
        "hgb",
        hist_gradient_boosting,
        {
            "full": {
                "learning_rate": [0.03, 0.1],
                "max_leaf_nodes": [4, 8, 16],
                "min_samples_leaf": [20, 50],
                "l2_regularization": [1.0],
                "max_iter": [50, 100, 200, 400],
            },
            "fast": {"learning_rate": [0.1], "max_leaf_nodes": [8], "min_samples_leaf": [20], "max_iter": [50, 100]},
        },
        stage_param="max_iter",
        trusted_types=(
            "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
            # its categorical preprocessor holds partial(check_array, ...); any other function
            # wrapped in a partial would still have to be on this list to load
            "functools.partial",
            "sklearn.utils.validation.check_array",
        ),
        shap=ShapMethod.TREE,
        category_splits=True,
        no_shap_because="its trees split on sets of categories, which shap's TreeExplainer cannot read, so "
        "SHAP would not be exact; it is offered for hgb models of tables with no category field. The default "
        "attribution (each field's expected change over its training distribution) explains every model",
    ),
    "gbm": ModelFamily(
        "gbm",
        gradient_boosting,
        {
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
        },
        stage_param="n_estimators",
        trusted_types=("sklearn.tree._tree.Tree",),
        shap=ShapMethod.TREE,
    ),
}
"""`gbm` full is the original ChurnGuard's 72-candidate grid, kept for parity."""
