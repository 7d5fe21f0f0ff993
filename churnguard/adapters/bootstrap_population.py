"""Customers drawn from a stored table (a bootstrap), optionally shifted field by field.

For schemas other than the original, whose generating process ChurnGuard does not know:
rows are drawn with replacement from a real table, ids made unique, then each FieldShift is
applied within the field's declared domain. Labels are drawn with their rows and not shifted:
the output is for drift demos and load, not for judging a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnguard.domain.schema import Kind, TableSchema, label_text
from churnguard.domain.shifts import FieldShift, ShiftKind


def bootstrap_population(
    source: pd.DataFrame, schema: TableSchema, rows: int, seed: int, shifts: Sequence[FieldShift] = ()
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    if schema.id_column and schema.id_column in table:
        table[schema.id_column] = [f"{value}-b{index}" for index, value in enumerate(table[schema.id_column])]
    return apply_shifts(table, schema, shifts, seed)


def apply_shifts(table: pd.DataFrame, schema: TableSchema, shifts: Sequence[FieldShift], seed: int) -> pd.DataFrame:
    """The table with each shift applied in order, within each field's declared domain."""
    rng = np.random.default_rng([seed, 1])
    table = table.copy()
    for shift in shifts:
        table[shift.field] = _shifted(table[shift.field], shift, schema, rng)
    return table


def _shifted(column: pd.Series, shift: FieldShift, schema: TableSchema, rng: np.random.Generator) -> pd.Series:
    spec = schema.field_by_name[shift.field]
    if shift.kind is ShiftKind.SHARE:
        values = column.astype(object).to_numpy(copy=True)
        target = label_text(shift.label) if shift.label is not None else ""
        texts = np.array([label_text(v) if not isinstance(v, str) else v.strip() for v in values], dtype=object)
        holds = np.flatnonzero(texts == target)
        others = np.flatnonzero((texts != target) & ~pd.isna(values))
        wanted = round(shift.amount * len(values))
        if wanted > len(holds):
            moved = rng.choice(others, size=min(wanted - len(holds), len(others)), replace=False)
            values[moved] = shift.label
        elif wanted < len(holds):
            moved = rng.choice(holds, size=len(holds) - wanted, replace=False)
            rest = [label for label in spec.labels if label_text(label) != target]
            values[moved] = [rest[i] for i in rng.integers(0, len(rest), len(moved))]
        return pd.Series(values, index=column.index, name=column.name)
    numbers = pd.to_numeric(column, errors="coerce")
    numbers = numbers * shift.amount if shift.kind is ShiftKind.SCALE else numbers + shift.amount
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    if spec.kind is Kind.INTEGER:
        numbers = numbers.round()
    # an exclusive bound is kept exclusive: clip just inside it
    low_edge = low if spec.minimum_inclusive else np.nextafter(low, np.inf)
    high_edge = high if spec.maximum_inclusive else np.nextafter(high, -np.inf)
    clipped = numbers.clip(low_edge, high_edge)
    if spec.kind is Kind.INTEGER:
        return clipped.astype("Int64")
    return clipped.round(2).clip(low_edge, high_edge)
