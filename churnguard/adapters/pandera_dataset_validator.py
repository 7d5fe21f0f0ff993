"""Whole-table validation with Pandera, built from a TableSchema, turned into readable violations.

Pandera runs the checks and collects every failing cell; each check is the domain's own
vectorized rule (`Field.encode`), so a table, a scored file and one API request are judged by
one implementation. Beyond the fields: the label column, a unique id column, no missing or
extra columns, and rows duplicated in every column (counted, and dropped unless kept).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from churnguard.adapters.file_scoring import UNEXPECTED_COLUMN_RULE
from churnguard.adapters.observation_time import iso_days
from churnguard.application.errors import InvalidDataset, Violation, shown_value
from churnguard.application.ports import Dataset
from churnguard.domain.schema import MISSING_RULE, Field, MissingPolicy, TableSchema

SAMPLE_SIZE = 20
"""How many failing values and row numbers a violation shows."""
DUPLICATE_ID_RULE = "must be unique: the same id on more than one row"
DUPLICATE_OBSERVATION_RULE = "must be unique per observation time: the same id twice at one time"
TIME_RULE = "must be an ISO date (the observation time rows are split by)"


def _iso_dates(values: np.ndarray) -> np.ndarray:
    return ~np.isnan(iso_days(values))


def _element_check(test: Callable[[np.ndarray], np.ndarray], error: str) -> pa.Check:
    def check(column: pd.Series) -> pd.Series:
        return pd.Series(test(column.to_numpy()), index=column.index)

    return pa.Check(check, error=error, ignore_na=False)


def _field_checks(spec: Field) -> list[pa.Check]:
    """Missing cells (unless imputed) and the field's rule, both read off the domain's encode."""

    def not_missing(values: np.ndarray) -> np.ndarray:
        _, ok, missing = spec.encode(values)
        return ~missing | ok

    def in_domain(values: np.ndarray) -> np.ndarray:
        _, ok, missing = spec.encode(values)
        return ok | missing

    checks = [_element_check(in_domain, spec.rule)]
    if spec.missing.policy is MissingPolicy.REFUSE:
        checks.insert(0, _element_check(not_missing, MISSING_RULE))
    return checks


def build_schema(schema: TableSchema, with_target: bool = True) -> pa.DataFrameSchema:
    """The Pandera schema of a table; strict: no missing columns, and no extra ones beyond the
    declared pass-through columns (carried, never checked)."""
    columns = {spec.name: pa.Column(checks=_field_checks(spec), nullable=True) for spec in schema.fields}
    over_time = schema.split is not None
    if schema.id_column:
        id_checks = [_element_check(lambda values: ~pd.isna(values), MISSING_RULE)]
        if not over_time:  # observed over time, an id repeats once per observation time (below)
            id_checks.append(
                pa.Check(lambda column: ~column.duplicated(keep=False), error=DUPLICATE_ID_RULE, ignore_na=False)
            )
        columns[schema.id_column] = pa.Column(checks=id_checks, nullable=True, required=with_target)
    for name in schema.passthrough_columns:
        columns[name] = pa.Column(nullable=True, required=False)
    if schema.split is not None:
        columns[schema.split.column] = pa.Column(
            checks=[_element_check(_iso_dates, TIME_RULE)], nullable=True, required=with_target
        )
    if with_target:
        label = schema.label
        columns[label.column] = pa.Column(
            checks=[_element_check(lambda values: label.encode(values)[1], label.rule)], nullable=True
        )
    return pa.DataFrameSchema(columns, strict=True, name=f"{schema.name} table")


def _another_table(table: pd.DataFrame, schema: TableSchema) -> str | None:
    """Why the table looks like another table than the schema's (it holds under half of the
    schema's fields), or None: one message that says what to do, before any per-column list."""
    present = [name for name in schema.raw_fields if name in table.columns]
    if 2 * len(present) >= len(schema.raw_fields):
        return None
    return (
        f"holds {len(present)} of the {len(schema.raw_fields)} fields of schema {schema.name!r} "
        f"({', '.join(schema.raw_fields[:4])}, ...): is it another table? Name its schema with --schema FILE "
        "(or SCHEMA_PATH), or draft one with `churnguard schema init --data FILE --label COLUMN`"
    )


_READABLE_CHECKS = {
    "column_in_schema": UNEXPECTED_COLUMN_RULE,
    "column_in_dataframe": "is a required column but is missing",
}


class PanderaDatasetValidator:
    """Validates a table against its schema; returns it with its columns in declared order."""

    def __init__(self, with_target: bool = True, drop_duplicates: bool = True) -> None:
        self._with_target = with_target
        self._drop_duplicates = drop_duplicates

    def validate(self, dataset: Dataset, schema: TableSchema) -> Dataset:
        table = dataset.table
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
        if len(table) == 0:
            raise InvalidDataset(dataset.location, [Violation("(table)", "must have at least one data row", (), (), 0)])
        if not self._with_target:
            table = table.drop(columns=[schema.label.column], errors="ignore")
        foreign = _another_table(table, schema)
        if foreign is not None:
            raise InvalidDataset(dataset.location, [Violation("(table)", foreign, (), (), 0)])
        wrong_type = self._bool_columns(table, schema)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pandas noise inside pandera's report builder
                build_schema(schema, self._with_target).validate(table, lazy=True)
        except SchemaErrors as errors:
            raise InvalidDataset(dataset.location, self._violations(errors.failure_cases, schema, wrong_type)) from None
        if wrong_type:
            raise InvalidDataset(dataset.location, self._violations(pd.DataFrame(), schema, wrong_type))
        if schema.split is not None and schema.id_column and schema.id_column in table:
            twice = table.duplicated([schema.id_column, schema.split.column], keep=False).to_numpy()
            if twice.any():
                rows = [int(i) + 1 for i in np.flatnonzero(twice)]
                values = tuple(dict.fromkeys(shown_value(v) for v in table[schema.id_column][twice]))[:SAMPLE_SIZE]
                violation = Violation(
                    schema.id_column, DUPLICATE_OBSERVATION_RULE, values, tuple(rows[:SAMPLE_SIZE]), len(rows)
                )
                raise InvalidDataset(dataset.location, [violation])
        order = [
            *([schema.id_column] if schema.id_column and schema.id_column in table else []),
            *([schema.split.column] if schema.split is not None and schema.split.column in table else []),
            *schema.raw_fields,
            *([schema.label.column] if self._with_target else []),
        ]
        table = table[order].reset_index(drop=True)
        duplicates = int(table.duplicated().sum())
        if duplicates and self._drop_duplicates:
            table = table.drop_duplicates().reset_index(drop=True)
        return replace(dataset, table=table, schema=schema, duplicates=duplicates)

    @staticmethod
    def _bool_columns(table: pd.DataFrame, schema: TableSchema) -> dict[str, str]:
        """True/False columns: pandas reads them as bool, which equals 1/0, so no cell fails a
        value check; the column is named with the type it reads as."""
        out = {}
        for spec in schema.fields:
            text_labels = spec.has_labels and not spec.numeric_labels
            if spec.name in table and pd.api.types.is_bool_dtype(table[spec.name]) and not text_labels:
                kind = "an integer" if spec.is_integer else "a number" if not spec.has_labels else "a label"
                out[spec.name] = f"must be {kind} (the column reads as bool)"
        return out

    def _violations(self, cases: pd.DataFrame, schema: TableSchema, wrong_type: dict[str, str]) -> list[Violation]:
        grouped: dict[tuple[str, str], list[tuple[object, int | None]]] = defaultdict(list)
        for case in cases.itertuples(index=False):
            check = str(case.check)
            if check in _READABLE_CHECKS:
                grouped[(str(case.failure_case), _READABLE_CHECKS[check])].append((None, None))
                continue
            column = str(case.column)
            if column in wrong_type or case.index is None or pd.isna(case.index):
                continue
            grouped[(column, check)].append((case.failure_case, int(str(case.index))))
        violations = []
        for (column, rule), failures in grouped.items():
            located = sorted(((v, i) for v, i in failures if i is not None), key=lambda pair: pair[1])
            values: list[str] = []
            for value, _ in located:
                text = shown_value(value)
                if text not in values and len(values) < SAMPLE_SIZE:
                    values.append(text)
            rows = sorted({index + 1 for _, index in located})
            violations.append(Violation(column, rule, tuple(values), tuple(rows[:SAMPLE_SIZE]), len(rows)))
        violations += [Violation(column, rule, (), (), 0) for column, rule in wrong_type.items()]
        order = {
            name: i
            for i, name in enumerate(
                [*([schema.id_column] if schema.id_column else []), *schema.raw_fields, schema.label.column]
            )
        }
        violations.sort(key=lambda v: (order.get(v.column, len(order)), v.column, v.rule))
        return violations
