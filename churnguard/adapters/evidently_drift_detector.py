"""Feature drift with Evidently 0.7 (`evidently.Report` + `evidently.presets.DataDriftPreset`).

Evidently picks the test per column (K-S or chi-square p-values on small samples, Wasserstein
or Jensen-Shannon distances on large ones) and renders the HTML report; the dataset verdict
is left to the domain's DriftPolicy. Column kinds come from the domain's feature spec.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd

from churnguard.application.ports import DriftAnalysis, Table
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


def _frame(table: Table, schema: TableSchema) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
    return table[list(schema.raw_fields)].astype("float64").reset_index(drop=True)


class EvidentlyDriftDetector:
    def compare(self, reference: Table, current: Table, schema: TableSchema) -> DriftAnalysis:
        """Both tables hold the schema's fields encoded (as the stored reference does)."""
        definition = _definition(schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from evidently import Dataset, Report
            from evidently.presets import DataDriftPreset

            evaluation = Report([DataDriftPreset()]).run(
                Dataset.from_pandas(_frame(current, schema), data_definition=definition),
                Dataset.from_pandas(_frame(reference, schema), data_definition=definition),
            )
        features = [self._feature(metric) for metric in evaluation.dict()["metrics"]]
        found = [f for f in features if f is not None]
        return DriftAnalysis(features=found, html=evaluation.get_html_str(as_iframe=False))

    @staticmethod
    def _feature(metric: dict[str, Any]) -> FeatureDrift | None:
        match = _VALUE_DRIFT.match(metric.get("metric_name", ""))
        if match is None:
            return None
        method, threshold, value = match["method"], float(match["threshold"]), float(metric["value"])
        is_p_value = "p_value" in method.lower() or "p-value" in method.lower()
        drifted = value < threshold if is_p_value else value >= threshold
        return FeatureDrift(match["column"], method, value, threshold, drifted)
