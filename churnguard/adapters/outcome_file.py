"""A file of outcomes: the schema's id column and label column, one customer per row, and
optionally `observed_at` (ISO time) for when the outcome was known; or, for time to churn, the
id column with `churned_on` or `active_on` dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from churnguard.adapters.csv_dataset_source import CsvDatasetSource
from churnguard.application.errors import DatasetUnreadable, InvalidDataset, Violation, shown_value
from churnguard.application.ports import OutcomeDate, OutcomesRead, ScoredForecasts, ScoredRows
from churnguard.domain.outcomes import Outcome
from churnguard.domain.schema import TableSchema

OBSERVED_AT = "observed_at"


CHURNED_ON, ACTIVE_ON = "churned_on", "active_on"


class CsvOutcomeReader:
    def read_dates(self, location: str, id_column: str, scored_on: date) -> list[OutcomeDate]:
        table = CsvDatasetSource().load(location, (id_column,)).table
        assert isinstance(table, pd.DataFrame)
        missing = [column for column in (id_column, CHURNED_ON, ACTIVE_ON) if column not in table]
        if missing:
            raise InvalidDataset(location, [Violation(column, "column is missing", (), (), 1) for column in missing])
        rule = "must be an ISO date (2026-11-20)"
        violations = []
        parsed = {}
        for column in (CHURNED_ON, ACTIVE_ON):
            text = table[column].astype("string").str.strip()
            given = text.notna() & (text != "")
            dates = pd.to_datetime(text.where(given), errors="coerce", format="ISO8601")
            unreadable = (given & dates.isna()).to_numpy()
            if unreadable.any():
                violations.append(_violation(column, rule, unreadable, table[column]))
            early = (dates < pd.Timestamp(scored_on)).to_numpy(dtype=bool)  # NaT compares False
            if early.any():
                violations.append(
                    _violation(column, f"must not be before the scoring ({scored_on})", early, table[column])
                )
            parsed[column] = (given.to_numpy(dtype=bool), dates)
        churned, churned_on = parsed[CHURNED_ON]
        active, active_on = parsed[ACTIVE_ON]
        both_or_neither = churned == active
        if both_or_neither.any():
            rule = f"give one of {CHURNED_ON} (the customer left) or {ACTIVE_ON} (still a customer that day)"
            violations.append(_violation(CHURNED_ON, rule, both_or_neither, table[CHURNED_ON]))
        ids = table[id_column].astype("string").str.strip()
        repeated = ids.duplicated(keep="first").to_numpy(dtype=bool)
        if repeated.any():
            violations.append(_violation(id_column, "an id given twice", repeated, table[id_column]))
        if violations:
            raise InvalidDataset(location, violations)
        on = churned_on.where(churned, active_on)
        return [
            OutcomeDate(str(customer), bool(left), day.date())
            for customer, left, day in zip(ids, churned, on, strict=True)
        ]

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

    def read_forecasts(self, location: str, id_column: str, columns: Sequence[str]) -> ScoredForecasts:
        wanted = [id_column, *columns]
        try:
            if location.lower().endswith(".parquet"):
                table = pd.read_parquet(location, columns=wanted)
            else:
                table = pd.read_csv(location, usecols=wanted, dtype={id_column: str})
        except FileNotFoundError:
            raise DatasetUnreadable(location, "no such file") from None
        except (ValueError, KeyError) as error:
            raise DatasetUnreadable(
                location, f"not a scored file with time-to-churn columns {', '.join(wanted)}: {error}"
            ) from None
        return ScoredForecasts(
            ids=table[id_column].astype(str).tolist(),
            values=table[list(columns)].to_numpy(dtype=np.float64).tolist(),
        )

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
