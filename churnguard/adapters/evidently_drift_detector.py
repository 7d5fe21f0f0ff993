"""Feature drift with Evidently 0.7 (`evidently.Report` + `evidently.presets.DataDriftPreset`).

Evidently picks the test per column (K-S or chi-square p-values on small samples, Wasserstein
or Jensen-Shannon distances on large ones) and renders the HTML report; the dataset verdict
is left to the domain's DriftPolicy. Column kinds come from the domain's feature spec.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnguard.application.champion import Scoring
from churnguard.application.ports import DriftAnalysis, ProbabilisticModel, Table
from churnguard.domain.drift_policy import FeatureDrift
from churnguard.domain.schema import FieldKind, TableSchema

if TYPE_CHECKING:
    from evidently import DataDefinition

# evidently is imported where it is used: it takes seconds to import, and every CLI command and
# API worker builds the container that names this adapter.

_VALUE_DRIFT = re.compile(
    r"ValueDrift\(column=(?P<column>[^,]+),method=(?P<method>[^,]+),threshold=(?P<threshold>[^)]+)\)"
)


def _definition(schema: TableSchema) -> DataDefinition:
    """Numbers get numerical tests, binary and category fields categorical ones."""
    from evidently import DataDefinition

    names = schema.raw_fields
    numeric = [spec.name for spec in schema.fields if spec.model_kind is FieldKind.NUMERIC]
    return DataDefinition(numerical_columns=numeric, categorical_columns=[n for n in names if n not in numeric])


def _probability(model: ProbabilisticModel, frame: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    raw = frame[list(schema.raw_fields)].to_numpy(dtype=np.float64)
    return Scoring(schema, {}, model).probability(raw)  # the samples are imputed already


def _horizon_column(schema: TableSchema) -> str | None:
    return None if schema.survival is None else f"churn_within_{schema.survival.horizon}"


def _within(model: ProbabilisticModel, frame: pd.DataFrame, schema: TableSchema) -> np.ndarray | None:
    """P(churn within the survival horizon | tenure) of each row, None without a survival model."""
    raw = frame[list(schema.raw_fields)].to_numpy(dtype=np.float64)
    table = Scoring(schema, {}, model).survival_table(raw)
    return None if table is None else table.churn_within[:, -1]


def _frame(table: Table, schema: TableSchema) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
    return table[list(schema.raw_fields)].astype("float64").reset_index(drop=True)


PREDICTION = "churn_probability"


class EvidentlyDriftDetector:
    def compare(
        self, reference: Table, current: Table, schema: TableSchema, model: ProbabilisticModel | None = None
    ) -> DriftAnalysis:
        """Both tables hold the schema's fields encoded (as the stored reference does). With a
        model, its churn probability is one more numerical column of the same report."""
        definition = _definition(schema)
        current_frame, reference_frame = _frame(current, schema), _frame(reference, schema)
        probability = None
        horizon = None
        if model is not None:
            probability = _probability(model, current_frame, schema)
            current_frame[PREDICTION] = probability
            reference_frame[PREDICTION] = _probability(model, reference_frame, schema)
            definition.numerical_columns = [*(definition.numerical_columns or []), PREDICTION]
            horizon = _horizon_column(schema)
            current_within = _within(model, current_frame, schema)
            if horizon is not None and current_within is not None:
                # time to churn: the probability of churning within the horizon drifts on its own
                current_frame[horizon] = current_within
                reference_frame[horizon] = _within(model, reference_frame, schema)
                definition.numerical_columns = [*definition.numerical_columns, horizon]
            else:
                horizon = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from evidently import Dataset, Report
            from evidently.presets import DataDriftPreset

            evaluation = Report([DataDriftPreset()]).run(
                Dataset.from_pandas(current_frame, data_definition=definition),
                Dataset.from_pandas(reference_frame, data_definition=definition),
            )
        found = [f for f in (self._feature(metric) for metric in evaluation.dict()["metrics"]) if f is not None]
        prediction = next((f for f in found if f.feature == PREDICTION), None)
        return DriftAnalysis(
            features=[f for f in found if f.feature not in (PREDICTION, horizon)],
            html=evaluation.get_html_str(as_iframe=False),
            prediction=prediction,
            current_probability=probability,
            horizon_prediction=next((f for f in found if f.feature == horizon), None),
        )

    @staticmethod
    def _feature(metric: dict[str, Any]) -> FeatureDrift | None:
        match = _VALUE_DRIFT.match(metric.get("metric_name", ""))
        if match is None:
            return None
        method, threshold, value = match["method"], float(match["threshold"]), float(metric["value"])
        is_p_value = "p_value" in method.lower() or "p-value" in method.lower()
        drifted = value < threshold if is_p_value else value >= threshold
        return FeatureDrift(match["column"], _readable(method), value, threshold, drifted)


def _readable(method: str) -> str:
    """Evidently's method name as a person reads it: "Wasserstein distance (normed)" is the
    "normed Wasserstein distance", "K-S p_value" the "K-S p-value"."""
    qualified = re.fullmatch(r"(.+?) \((\w+)\)", method)
    named = f"{qualified[2]} {qualified[1]}" if qualified else method
    return named.replace("p_value", "p-value")
