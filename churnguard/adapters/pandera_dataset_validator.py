"""Strict schema check of a training table with Pandera, turned into readable violations."""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from dataclasses import replace

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from churnguard.application.errors import InvalidDataset, Violation
from churnguard.application.ports import Dataset
from churnguard.domain.customer import FIELD_RULES, RAW_FIELDS, TARGET, FieldRule

SAMPLE_SIZE = 20
"""How many failing values and row numbers a violation shows."""
INTEGER_COLUMNS = (*(rule.name for rule in FIELD_RULES if rule.is_integer), TARGET)
VALUE_WIDTH = 40
"""Longest failing value shown in full; a longer one (a 1 MB line) is cut and its length named."""


def _shown(value: object) -> str:
    if pd.isna(value):
        return "<empty>"
    text = str(value)
    if len(text) <= VALUE_WIDTH:
        return text
    return f"{text[: VALUE_WIDTH - 10]}... ({len(text):,} characters)"


def _one_of(codes: tuple[int, ...], rule: str) -> pa.Check:
    """Membership compared as numbers: one word in a code column makes pandas read every cell as
    text, and a plain isin would then report the valid "0" and "1" as failing too."""
    return pa.Check(lambda column: pd.to_numeric(column, errors="coerce").isin(codes), error=rule)


def _whole(rule: str) -> pa.Check:
    """A fractional number in an integer column, named by row (pandas reads such a column as
    float, which the dtype check can only report for the column as a whole)."""
    return pa.Check(lambda column: (pd.to_numeric(column, errors="coerce") % 1).fillna(0) == 0, error=rule)


def _checks(rule: FieldRule) -> list[pa.Check]:
    if rule.allowed is not None:
        return [_one_of(rule.allowed, rule.rule)]
    checks = [_whole(rule.rule)] if rule.is_integer else []
    if rule.minimum is not None:
        low = pa.Check.ge if rule.minimum_inclusive else pa.Check.gt
        checks.append(low(rule.minimum, error=rule.rule))
    if rule.maximum is not None:
        high = pa.Check.le if rule.maximum_inclusive else pa.Check.lt
        checks.append(high(rule.maximum, error=rule.rule))
    return checks


def build_schema(with_target: bool = True) -> pa.DataFrameSchema:
    """One schema, derived from the domain's field rules; strict: no missing or extra columns."""
    columns = {
        rule.name: pa.Column("int64" if rule.is_integer else "float64", _checks(rule), coerce=not rule.is_integer)
        for rule in FIELD_RULES
    }
    if with_target:
        columns[TARGET] = pa.Column("int64", [_one_of((0, 1), "must be one of {0, 1}")])
    return pa.DataFrameSchema(columns, strict=True, name="customer table")


_READABLE_CHECKS = {
    "column_in_schema": "is not an expected column (no extra columns allowed)",
    "column_in_dataframe": "is a required column but is missing",
    "not_nullable": "must not be missing (empty cell)",
}
_DTYPE = re.compile(r"^(coerce_)?dtype\('(\w+)'\)$")


def _readable(check: str) -> str:
    if check in _READABLE_CHECKS:
        return _READABLE_CHECKS[check]
    match = _DTYPE.match(check)
    if match:
        return "must be an integer" if match.group(2).startswith("int") else "must be a number"
    return check


def _whole_floats_as_integers(table: pd.DataFrame) -> pd.DataFrame:
    """An integer column written as 1.0, 2.0 (pandas writes a column that once held a NaN that
    way) holds integers: read it as such, as the API accepts 56.0 for an integer field."""
    converted = {}
    for name in INTEGER_COLUMNS:
        column = table.get(name)
        if (
            column is not None
            and pd.api.types.is_float_dtype(column)
            and column.notna().all()
            and ((column % 1) == 0).all()
            and (column.abs() <= 2**53).all()
        ):
            converted[name] = column.astype("int64")
    return table.assign(**converted) if converted else table


class PanderaDatasetValidator:
    """Validates the 13 raw fields plus the churn label; on success returns canonical dtypes."""

    def __init__(self, with_target: bool = True) -> None:
        self._schema = build_schema(with_target)
        self._column_order = [*RAW_FIELDS, TARGET] if with_target else list(RAW_FIELDS)

    def validate(self, dataset: Dataset) -> Dataset:
        table = dataset.table
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
        if len(table) == 0:
            raise InvalidDataset(dataset.location, [Violation("(table)", "must have at least one data row", (), (), 0)])
        table = _whole_floats_as_integers(table)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pandas noise inside pandera's report builder
                validated = self._schema.validate(table, lazy=True)
        except SchemaErrors as errors:
            raise InvalidDataset(dataset.location, self._violations(errors.failure_cases)) from None
        return replace(dataset, table=validated[self._column_order].reset_index(drop=True))

    def _violations(self, cases: pd.DataFrame) -> list[Violation]:
        grouped: dict[tuple[str, str], list[tuple[object, object]]] = defaultdict(list)
        all_cases = list(cases.itertuples(index=False))
        # A cell that fails a rule of its field ("must be one of {0, 1}") is reported by that
        # rule alone, not also as a type error: the rule is the more precise of the two.
        ruled = {
            (str(case.column), str(case.index))
            for case in all_cases
            if not _DTYPE.match(str(case.check)) and case.index is not None and not pd.isna(case.index)
        }
        for case in all_cases:
            check = str(case.check)
            if check in ("column_in_schema", "column_in_dataframe"):
                grouped[(str(case.failure_case), _readable(check))].append((None, None))
                continue
            column = str(case.column)
            if case.index is None or pd.isna(case.index):
                continue  # a check that could not run on a column whose type is already reported
            if _DTYPE.match(check) and (pd.isna(case.failure_case) or (column, str(case.index)) in ruled):
                continue  # an empty cell ("must not be missing") or a cell a field rule reports
            grouped[(column, _readable(check))].append((case.failure_case, case.index))
        order = {name: i for i, name in enumerate(self._column_order)}
        violations = []
        for (column, rule), failures in grouped.items():
            located = sorted(
                ((value, int(str(index))) for value, index in failures if index is not None),
                key=lambda pair: pair[1],
            )
            values: list[str] = []
            for value, _ in located:
                text = _shown(value)
                if text not in values and len(values) < SAMPLE_SIZE:
                    values.append(text)
            rows = sorted({index + 1 for _, index in located})
            violations.append(Violation(column, rule, tuple(values), tuple(rows[:SAMPLE_SIZE]), len(rows)))
        # A column of the wrong type with no cell to blame (e.g. all True/False, which pandas reads
        # as bool and compares equal to 1/0) is still named, with the type it was read as.
        named = {violation.column for violation in violations}
        for case in all_cases:
            column = str(case.column)
            if _DTYPE.match(str(case.check)) and column not in named and (case.index is None or pd.isna(case.index)):
                rule = f"{_readable(str(case.check))} (the column reads as {case.failure_case})"
                violations.append(Violation(column, rule, (), (), 0))
                named.add(column)
        violations.sort(key=lambda v: (order.get(v.column, len(order)), v.column, v.rule))
        return violations
