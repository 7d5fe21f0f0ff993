"""`churnguard schema init`: draft a schema by profiling a table.

Decisions, each written into the file as a comment and returned for printing:
- a column unique on every row, or free text with very many distinct values, is id-like: the
  first becomes the id column (carried through, never a feature), the others are left out;
- two distinct values: binary (No/False/0-like label first, so it encodes as 0);
- numbers: integer when every value is whole, else number, with the data's range widened to a
  round bound (a range cut at the training maximum would refuse the next larger customer);
- text (or few distinct codes): category with its labels, unseen labels refused;
- a column with empty cells imputes them (median for numbers, mode otherwise), fitted on the
  training split.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import yaml

from churnguard.adapters.yaml_schema import yaml_form
from churnguard.application.ports import SchemaDraft, Table
from churnguard.domain.errors import ChurnGuardError
from churnguard.domain.schema import (
    Field,
    Kind,
    LabelColumn,
    Missing,
    MissingPolicy,
    TableSchema,
    label_text,
)

MAX_CATEGORY_LABELS = 50
"""More distinct text values than this (and over half the rows distinct) reads as free text."""
_NEGATIVE_WORDS = ("no", "false", "n", "f", "0", "stayed", "retained", "active")


class ProfilingError(ChurnGuardError):
    """The table cannot be profiled as asked (no such label column, no clear positive value)."""


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(value))
    return float(math.ceil(value / magnitude) * magnitude)


def _plain(value: Any) -> str | int | float:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # type: ignore[no-any-return]


def _round(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def _order_binary(labels: list[Any]) -> list[Any]:
    """The "no"-like label first (it encodes as 0)."""
    return sorted(labels, key=lambda v: (str(v).strip().lower() not in _NEGATIVE_WORDS, str(v)))


def _positive(values: list[Any], given: str | None, column: str) -> tuple[list[Any], list[Any]]:
    texts = {label_text(_plain(v)): _plain(v) for v in values}
    if given is not None:
        if given not in texts:
            shown = ", ".join(sorted(texts))
            raise ProfilingError(f"--positive {given!r} is not a value of {column} (values: {shown})")
        positive = texts[given]
        return [positive], [v for t, v in texts.items() if t != given]
    if len(texts) != 2:
        raise ProfilingError(
            f"{column} has {len(texts)} distinct values ({', '.join(sorted(texts)[:10])}); name the churn value(s) "
            "with --positive"
        )
    negative, positive = _order_binary(list(texts.values()))
    return [positive], [negative]


def _is_id_like(column: pd.Series) -> str | None:
    present = column.dropna()
    if len(present) == 0:
        return None
    unique = present.nunique()
    if unique == len(column) and (column.dtype == object or "id" in str(column.name).lower()):
        return "unique on every row"
    if column.dtype == object and unique > MAX_CATEGORY_LABELS and unique > 0.5 * len(present):
        return f"free text with {unique:,} distinct values"
    return None


def profile_table(table: pd.DataFrame, label: str, positive: str | None = None, name: str = "my-table") -> SchemaDraft:
    if label not in table.columns:
        raise ProfilingError(f"--label {label!r} is not a column (columns: {', '.join(map(str, table.columns))})")
    notes: dict[str, str] = {}
    left_out: dict[str, str] = {}
    label_values = table[label].dropna().unique().tolist()
    positives, negatives = _positive(label_values, positive, label)
    notes["label"] = f"{label}: churn when {', '.join(map(label_text, positives))}"
    id_column: str | None = None
    fields: list[Field] = []
    for column_name in table.columns:
        if column_name == label:
            continue
        name_text = str(column_name)
        column = table[column_name]
        why_id = _is_id_like(column)
        if why_id:
            if id_column is None:
                id_column = name_text
                notes[name_text] = f"id column ({why_id}): carried through every output, never a feature"
            else:
                left_out[name_text] = f"id-like ({why_id}): not a feature"
            continue
        present = column.dropna()
        if len(present) == 0:
            left_out[name_text] = "every cell is empty"
            continue
        has_missing = bool(column.isna().any())
        distinct = [_plain(v) for v in present.unique().tolist()]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if len(distinct) == 2:
            labels = _order_binary(distinct) if not numeric else sorted(distinct)
            spec = Field(name_text, Kind.BINARY, labels=tuple(labels))
            notes[name_text] = f"binary {labels[0]!r} -> 0, {labels[1]!r} -> 1"
        elif numeric:
            whole = bool(((present % 1) == 0).all())
            low, high = float(present.min()), float(present.max())
            minimum = 0.0 if low >= 0 else math.floor(low)
            maximum = _nice_ceiling(high) if high > 0 else 0.0
            spec = Field(
                name_text, Kind.INTEGER if whole else Kind.NUMBER, minimum=_round(minimum), maximum=_round(maximum)
            )
            notes[name_text] = (
                f"{'integer' if whole else 'number'} {low:g}..{high:g} in the data, declared {minimum:g}..{maximum:g}"
            )
        elif len(distinct) <= MAX_CATEGORY_LABELS:
            counts = present.astype(str).str.strip().value_counts()
            labels = [_plain(v) for v in counts.index.tolist()]
            spec = Field(name_text, Kind.CATEGORY, labels=tuple(labels))
            notes[name_text] = f"category with {len(labels)} labels"
        else:
            left_out[name_text] = f"text with {len(distinct):,} distinct values: not a feature"
            continue
        if has_missing:
            policy = MissingPolicy.MEDIAN if spec.kind in (Kind.INTEGER, Kind.NUMBER) else MissingPolicy.MODE
            spec = Field(**{**_field_kwargs(spec), "missing": Missing(policy)})
            notes[name_text] += f"; {int(column.isna().sum()):,} empty cells imputed with the {policy.value}"
        fields.append(spec)
    if not fields:
        raise ProfilingError("no column is usable as a feature")
    schema = TableSchema(
        name=name,
        label=LabelColumn(label, tuple(positives), tuple(negatives)),
        fields=tuple(fields),
        id_column=id_column,
        description=f"drafted by `churnguard schema init` from {len(table):,} rows",
    )
    return SchemaDraft(schema, notes, left_out)


def _field_kwargs(spec: Field) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in Field.__dataclass_fields__}


def render_draft(draft: SchemaDraft, source: str) -> str:
    """The draft as commented YAML: one line per decision above its key."""
    mapping = yaml_form(draft.schema)
    lines = [
        f"# Drafted by `churnguard schema init` from {source}. Check every decision below, then",
        "# `churnguard schema check` this file. Kinds: binary (first label -> 0), integer/number",
        "# (ranges widened from the data's), category (unseen labels refused unless `unseen: other`).",
    ]
    for column, reason in draft.left_out.items():
        lines.append(f"# left out: {column}: {reason}")
    for key in ("name", "description", "id"):
        if key in mapping:
            if key == "id":
                lines.append(f"# {draft.notes.get(str(mapping['id']), '')}")
            lines.append(yaml.safe_dump({key: mapping[key]}, sort_keys=False).rstrip())
    lines.append(f"# {draft.notes['label']}")
    lines.append("label: " + yaml.safe_dump(mapping["label"], sort_keys=False, default_flow_style=True).strip())
    lines.append("fields:")
    for name, spec in mapping["fields"].items():
        lines.append(f"  # {draft.notes.get(name, '')}")
        key = yaml.safe_dump(name).removesuffix("\n...\n").strip()
        lines.append(f"  {key}: " + yaml.safe_dump(spec, sort_keys=False, default_flow_style=True, width=1000).strip())
    return "\n".join(lines) + "\n"


class PandasSchemaProfiler:
    """The SchemaProfiler port over pandas tables."""

    def profile(self, table: Table, label: str, positive: str | None, name: str) -> SchemaDraft:
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
        return profile_table(table, label, positive, name)

    def render(self, draft: SchemaDraft, source: str) -> str:
        return render_draft(draft, source)
