"""The fitted model every prediction path uses: a scikit-learn pipeline plus an optional calibrator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from churnguard.application.champion import Scoring
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.errors import InvalidProfile
from churnguard.domain.schema import TableSchema, schema_from_mapping, schema_to_mapping

FloatArray = npt.NDArray[np.float64]

_EPSILON = 1e-12


def logit(probability: FloatArray) -> FloatArray:
    clipped = np.clip(probability, _EPSILON, 1.0 - _EPSILON)
    return np.asarray(np.log(clipped / (1.0 - clipped)), dtype=np.float64)


class ChurnModel:
    """`pipeline` maps the (n, 16) model matrix to raw probabilities; `calibrator`, when set, maps
    those to calibrated ones: a LogisticRegression on their log-odds (sigmoid) or an
    IsotonicRegression on the probabilities (isotonic).
    """

    def __init__(
        self,
        pipeline: Any,
        family: str,
        calibration: str = "none",
        calibrator: Any = None,
        background: FloatArray | None = None,
        schema: Mapping[str, Any] | None = None,
        imputation: Mapping[str, float] | None = None,
        survival: Any = None,
    ) -> None:
        self.pipeline = pipeline
        self.family = family
        self.calibration = calibration
        self.calibrator = calibrator
        self.background = background
        """A sample of training rows (model matrix), the reference distribution for SHAP."""
        self.schema = dict(schema) if schema is not None else schema_to_mapping(ORIGINAL_SCHEMA)
        """The table schema in its plain form (plain data, so skops stores it without new types)."""
        self.imputation = dict(imputation or {})
        """Encoded fill values of imputed fields, fitted on the training split."""
        self.survival = survival
        """The SurvivalModel fitted beside the classifier when the schema declares `survival`."""

    def table_schema(self) -> TableSchema:
        return schema_from_mapping(self.schema)

    def raw_log_odds(self, features: FloatArray) -> FloatArray:
        """The uncalibrated model's log-odds: what SHAP values add up to."""
        return np.asarray(self.pipeline.decision_function(features), dtype=np.float64)

    def uncalibrated_probability(self, features: FloatArray) -> FloatArray:
        return np.asarray(self.pipeline.predict_proba(features)[:, 1], dtype=np.float64)

    def calibrate(self, probability: FloatArray) -> FloatArray:
        if self.calibration == "sigmoid":
            return np.asarray(self.calibrator.predict_proba(logit(probability)[:, None])[:, 1], dtype=np.float64)
        if self.calibration == "isotonic":
            return np.asarray(self.calibrator.predict(probability), dtype=np.float64)
        return probability

    def predict(self, customers: Mapping[str, Any]) -> FloatArray | pd.DataFrame:
        """P(churn) (calibrated) from the schema's raw fields: a DataFrame or a mapping of columns,
        labels as the table writes them.

        This is the MLflow pyfunc entry point (`mlflow models serve`, spark_udf call `predict`
        with a frame of raw customers), so unlike predict_proba it checks, encodes, imputes and
        engineers the features itself and returns probabilities, not labels (where the model
        forecasts time to churn: a frame of churn_probability and the columns `score` writes
        for it, churn_within_<h>, expected_remaining, revenue_at_risk). A row that breaks
        the schema raises InvalidProfile naming the field, the rule and the row.
        """
        schema = self.table_schema()
        columns = {name: np.asarray(customers[name]) for name in schema.raw_fields}
        checked = schema.check(columns)
        if not checked.ok.all():
            first = checked.violations[0]
            row = first.rows[0]
            raise InvalidProfile(f"{first.field} (row {row})", first.rule, np.atleast_1d(columns[first.field])[row])
        scoring = Scoring(schema, self.imputation, self)
        probability = scoring.probability(checked.raw)
        survival = scoring.survival_table(checked.raw)
        if survival is None:
            return probability
        from churnguard.adapters.file_scoring import survival_columns

        return pd.DataFrame({"churn_probability": probability, **survival_columns(survival, schema)})

    def predict_proba(self, features: FloatArray) -> FloatArray:
        """(n, 2) like scikit-learn: P(stays), P(churns)."""
        churn = self.calibrate(self.uncalibrated_probability(features))
        return np.column_stack([1.0 - churn, churn])
