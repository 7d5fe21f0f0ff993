"""Generated customer tables: the original's synthetic process for the original schema, a
bootstrap of a stored table for any other, either shifted field by field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnguard.adapters.bootstrap_population import apply_shifts, bootstrap_population
from churnguard.adapters.synthetic_population import Drift, generate_population
from churnguard.application.errors import InvalidOptions
from churnguard.application.ports import GeneratedTable, Table
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import Field, TableSchema, label_text
from churnguard.domain.shifts import parse_shift

NAMED_DRIFTS = frozenset(Drift.__dataclass_fields__)


class PandasCustomerGenerator:
    def generate(
        self, schema: TableSchema, rows: int, seed: int, drifts: Sequence[str], source: Table | None = None
    ) -> GeneratedTable:
        """`drifts`: FIELD*FACTOR, FIELD+AMOUNT, FIELD=LABEL:SHARE (any schema), and for the
        original's synthetic process its named drifts (age_shift=15, ...)."""
        if rows < 1:
            raise InvalidOptions(f"--rows must be >= 1, got {rows}")
        synthetic = source is None and schema.hash == ORIGINAL_SCHEMA.hash
        try:
            # the original's named drifts shift its generating process; a bootstrap has none to shift
            named = [d for d in drifts if d.partition("=")[0] in NAMED_DRIFTS] if synthetic else []
            shifts = [parse_shift(d, schema) for d in drifts if d not in named]
            drift = Drift.parse(named)
        except ValueError as error:
            raise InvalidOptions(str(error)) from None
        if synthetic:
            table = apply_shifts(generate_population(rows, seed, drift), schema, shifts, seed)
            how = "synthetic"
        elif source is None:
            raise InvalidOptions(
                f"schema {schema.name!r} has no generating process: draw from a stored table with --from CSV"
            )
        else:
            assert isinstance(source, pd.DataFrame)
            table = bootstrap_population(source, schema, rows, seed, shifts)
            how = "bootstrap"
        label = schema.label
        churn = float(table[label.column].isin(label.positive).mean()) if label.column in table else float("nan")
        return GeneratedTable(table, len(table), how, churn, tuple(str(shift) for shift in shifts))

    def records(self, generated: GeneratedTable, schema: TableSchema) -> list[dict[str, Any]]:
        """The rows as /predict takes them: the id and the fields as JSON values of the types the
        schema declares (a blank cell is left out: the API imputes it or names the field)."""
        table = generated.table
        assert isinstance(table, pd.DataFrame)
        specs = schema.field_by_name
        keep_id = bool(schema.id_column) and schema.id_column in table
        columns = ([schema.id_column] if keep_id else []) + list(schema.raw_fields)
        out = []
        for row in table[columns].to_dict(orient="records"):
            record: dict[str, Any] = {}
            for key, value in row.items():
                if _blank(value):
                    continue
                record[key] = str(value) if key == schema.id_column else _json(specs[key], value)
            out.append(record)
        return out


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def _json(spec: Field, value: Any) -> Any:
    if spec.has_labels and not spec.numeric_labels:
        return label_text(float(value)) if isinstance(value, int | float | np.number) else str(value).strip()
    number = float(value)
    return int(number) if spec.is_integer else number
