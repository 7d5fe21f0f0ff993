"""A file of outcomes: the schema's id column and label column, one customer per row, and
optionally `observed_at` (ISO time) for when the outcome was known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnguard.adapters.csv_dataset_source import CsvDatasetSource
from churnguard.application.errors import DatasetUnreadable, InvalidDataset, Violation, shown_value
from churnguard.application.ports import OutcomesRead, ScoredRows
from churnguard.domain.outcomes import Outcome
from churnguard.domain.schema import TableSchema

OBSERVED_AT = "observed_at"


class CsvOutcomeReader:
    def read(self, location: str, schema: TableSchema, default_time: float) -> OutcomesRead:
        id_column, label = schema.id_column, schema.label
        table = CsvDatasetSource().load(location, (id_column,) if id_column else ()).table
        assert isinstance(table, pd.DataFrame)
        if id_column is None:
            rule = f"schema {schema.name!r} declares no id column to join outcomes on"
            raise InvalidDataset(location, [Violation("(schema)", rule, (), (), 1)])
        missing = [column for column in (id_column, label.column) if column not in table]
        if missing:
            raise InvalidDataset(location, [Violation(column, "column is missing", (), (), 1) for column in missing])
        churned, ok = label.encode(table[label.column].to_numpy(dtype=object))
        ids = table[id_column].astype("string")
        bad_ids = ids.isna() | (ids.str.strip() == "")
        violations = []
        if (~ok).any():
            violations.append(_violation(label.column, label.rule, ~ok, table[label.column]))
        if bad_ids.any():
            violations.append(_violation(id_column, "must not be empty", bad_ids.to_numpy(), table[id_column]))
        times = np.full(len(table), default_time)
        if OBSERVED_AT in table:
            parsed = pd.to_datetime(table[OBSERVED_AT], utc=True, errors="coerce", format="ISO8601")
            if parsed.isna().any():
                rule = "must be an ISO time (2026-11-20 or 2026-11-20T10:00Z)"
                violations.append(_violation(OBSERVED_AT, rule, parsed.isna().to_numpy(), table[OBSERVED_AT]))
            else:
                times = (parsed.astype("int64") / 1e9).to_numpy()
        if violations:
            raise InvalidDataset(location, violations)
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        duplicates: list[str] = []
        for customer, churn, at in zip(ids.str.strip(), churned, times, strict=True):
            key = str(customer)
            if key in seen:
                duplicates.append(key)
                continue
            seen.add(key)
            outcomes.append(Outcome(key, bool(churn), float(at)))
        return OutcomesRead(outcomes, duplicates)


class ScoredFileReader:
    """The ScoredFileReader port: a .csv or .parquet file `churnguard score` wrote."""

    def read(self, location: str, id_column: str) -> ScoredRows:
        columns = [id_column, "churn_probability", "churn_prediction", "model_version"]
        try:
            if location.lower().endswith(".parquet"):
                table = pd.read_parquet(location, columns=columns)
            else:
                table = pd.read_csv(location, usecols=columns, dtype={id_column: str, "model_version": str})
        except FileNotFoundError:
            raise DatasetUnreadable(location, "no such file") from None
        except (ValueError, KeyError) as error:
            raise DatasetUnreadable(location, f"not a scored file with columns {', '.join(columns)}: {error}") from None
        return ScoredRows(
            ids=table[id_column].astype(str).tolist(),
            probabilities=table["churn_probability"].astype(float).tolist(),
            predictions=table["churn_prediction"].astype(bool).tolist(),
            model_versions=frozenset(table["model_version"].astype(str)),
        )


def _violation(column: str, rule: str, failing: np.ndarray, values: pd.Series) -> Violation:
    rows = np.flatnonzero(failing)
    shown = tuple(dict.fromkeys(shown_value(values.iloc[i]) for i in rows[:5]))
    return Violation(column, rule, shown, tuple(int(i) + 1 for i in rows[:20]), int(rows.size))
