"""Exact SHAP values of the champion's uncalibrated log-odds, per model family.

LinearExplainer (independent masker over the model's stored background rows) for the linear
model, TreeExplainer (tree-path-dependent) for GradientBoosting. Both are exact: the values
plus the expected value equal the raw log-odds. shap's TreeExplainer does not handle
HistGradientBoosting's categorical splits correctly, so that family has no SHAP explanation.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from churnguard.adapters.churn_model import ChurnModel
from churnguard.adapters.model_families import FAMILIES, ShapMethod
from churnguard.application.errors import ExplanationUnavailable
from churnguard.application.ports import ShapExplanation
from churnguard.domain.schema import FloatArray


class ShapExplainer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[int, Any, list[str]] | None = None

    def _explainer_for(self, model: ChurnModel) -> tuple[Any, list[str]]:
        cached = self._cached
        if cached is not None and cached[0] == id(model):
            return cached[1], cached[2]
        with self._lock:
            pipeline = model.pipeline
            family = FAMILIES[model.family]
            if family.shap is ShapMethod.LINEAR and getattr(model, "background", None) is None:
                raise ExplanationUnavailable("this model was stored without background rows for SHAP")
            try:
                explainer, _ = family.shap_explainer(pipeline, model.background)
            except ExplanationUnavailable as error:
                raise ExplanationUnavailable(f"explain=shap: {error}") from None
            features = list(model.table_schema().model_features)
            names = (
                [str(name).split("__", 1)[-1] for name in pipeline[:-1].get_feature_names_out(features)]
                if len(pipeline) > 1
                else features
            )
            self._cached = (id(model), explainer, names)
            return explainer, names

    def explain(self, model: object, features: FloatArray) -> list[ShapExplanation]:
        model = getattr(model, "original", model)  # a serving twin explains through its original
        if not isinstance(model, ChurnModel):
            raise ExplanationUnavailable(f"cannot explain a {type(model).__name__}")
        explainer, names = self._explainer_for(model)
        pipeline = model.pipeline
        transformed = pipeline[:-1].transform(features) if len(pipeline) > 1 else features
        values = np.asarray(explainer.shap_values(transformed), dtype=np.float64).reshape(len(features), -1)
        expected = float(np.ravel(explainer.expected_value)[0])
        log_odds = model.raw_log_odds(features)
        return [
            ShapExplanation(
                explainer=type(explainer).__name__,
                expected_value=expected,
                log_odds=float(log_odds[row]),
                values=dict(zip(names, (float(v) for v in values[row]), strict=True)),
            )
            for row in range(len(features))
        ]
