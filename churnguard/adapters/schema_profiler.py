"""`churnguard schema init`: draft a schema by profiling a table.

Decisions, each written into the file as a comment and returned for printing:
- columns that are never features are declared `passthrough:` with their reason, so the
  draft reads its own table with no edit: a row number (consecutive unique integers), a second
  id candidate, free text, dates and times (a load or event time), a constant column, an empty
  one;
- the first text column unique on every row (or a unique column named like an id) is the id
  column, carried through every output;
- two distinct values: binary (No/False/0-like label first, so it encodes as 0);
- numbers: integer when every value is whole, else number. The declared range leaves room for
  production traffic (`declared_range`): it starts at 0 for data that is never negative and
  ends at twice the observed maximum rounded up to one significant digit (0..10 observed ->
  0..20; 199,992 -> 400,000), since a range cut at the training maximum refuses the next
  larger customer;
- text (or few distinct codes): category with its labels, unseen labels refused;
- a column with empty cells imputes them (median for numbers, mode otherwise), fitted on the
  training split.
"""

from __future__ import annotations

import math
import re
import warnings
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
    PassThrough,
    Survival,
    TableSchema,
    label_text,
)

MAX_CATEGORY_LABELS = 100
"""Most labels a drafted category takes (a US state column has 51); more, or text distinct on
over half the rows, reads as free text."""
_NEGATIVE_WORDS = ("no", "false", "n", "f", "0", "stayed", "retained", "active")


class ProfilingError(ChurnGuardError):
    """The table cannot be profiled as asked (no such label column, no clear positive value)."""


HEADROOM = 2.0
"""A drafted range reaches this multiple of the observed extreme (then rounded outwards)."""
DATE_SHARE = 0.9
"""A text column whose values parse as dates or times this often is a date column."""


def _nice_ceiling(value: float) -> float:
    """The smallest number >= value with one significant digit (0 for value <= 0)."""
    if value <= 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(value))
    return float(math.ceil(value / magnitude - 1e-9) * magnitude)


def declared_range(low: float, high: float) -> tuple[float, float]:
    """The range a draft declares for observed [low, high]: room for production on both sides
    (0 below data that is never negative, else twice the most negative value, rounded down)."""
    minimum = 0.0 if low >= 0 else -_nice_ceiling(-low * HEADROOM)
    maximum = _nice_ceiling(high * HEADROOM) if high > 0 else 0.0
    if maximum <= minimum:  # all values <= 0: the range still needs room above
        maximum = minimum + _nice_ceiling(max(high - low, 1.0))
    return minimum, maximum


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


_ID_WORDS = frozenset({"id", "key", "uuid", "guid", "number"})
_FIXED_WORDS = frozenset(
    {"age", "gender", "sex", "senior", "tenure", "dependents", "partner", "married", "marital", "birth", "born"}
)
"""A field named with one of these is a fact about the customer a retention action cannot change."""


_DURATION_WORDS = frozenset({"tenure", "lifetime", "duration"})
_VALUE_WORDS = frozenset({"charge", "charges", "fee", "fees", "price", "bill", "amount", "revenue", "spend"})
_UNITS = {"month": 12, "week": 52, "day": 365}
"""A year of each unit: the horizon a drafted survival key proposes."""
_UNIT_WORDS = {
    "month": {"month", "months", "monthly"},
    "week": {"week", "weeks", "weekly"},
    "day": {"day", "days", "daily"},
}


ENCODES_DURATION = 0.8
"""A number field whose rank correlation with the duration reaches this encodes it (a total
billed so far is about tenure x charge): the survival model leaves it out."""


def _survival(fields: list[Field], table: pd.DataFrame) -> tuple[Survival | None, str]:
    """Time to churn, proposed where a whole-number field is named like a tenure and (optionally)
    a number field like a recurring charge: the duration and the value per period; fields that
    encode the duration are proposed for `exclude`."""
    numbers = [f for f in fields if f.kind in (Kind.INTEGER, Kind.NUMBER) and (f.minimum or 0) >= 0]
    duration = next((f for f in numbers if f.kind is Kind.INTEGER and _DURATION_WORDS & set(_words(f.name))), None)
    if duration is None:
        return None, ""
    value = next(
        (
            f
            for f in numbers
            if f is not duration
            and _VALUE_WORDS & set(_words(f.name))
            and ({"monthly", "weekly", "daily"} & set(_words(f.name)) or {"mrr", "arpu"} & set(_words(f.name)))
        ),
        None,
    )
    named = set(_words(duration.name)) | (set(_words(value.name)) if value else set())
    unit = next((u for u, words in _UNIT_WORDS.items() if words & named), "period")
    tenure = pd.to_numeric(table[duration.name], errors="coerce")
    encoding = tuple(
        f.name
        for f in numbers
        if f is not duration
        and f is not value
        and abs(float(tenure.corr(pd.to_numeric(table[f.name], errors="coerce"), method="spearman")))
        >= ENCODES_DURATION
    )
    survival = Survival(duration.name, value.name if value else None, _UNITS.get(unit, 12), unit, encoding)
    said = f"time to churn: {duration.name} counts the {unit}s a customer has stayed (the survival time axis)"
    said += f", {value.name} is their value per {unit}" if value else ""
    if encoding:
        verb = "rank-correlates" if len(encoding) == 1 else "rank-correlate"
        said += (
            f"; {', '.join(encoding)} {verb} with {duration.name} at >= {ENCODES_DURATION} "
            "(encoding it), so the survival model leaves them out"
        )
    return survival, said + f"; curves reach {survival.horizon} {unit}s. Delete the key to leave survival out"


def _names_an_id(name: str) -> bool:
    """Says "id" outright (CustomerId, account_key), not merely "number"."""
    return any(word in ("id", "key", "uuid", "guid") for word in _words(name))


def _named_like_id(name: str) -> bool:
    """CustomerId, customerID, account_number, row key: a word of the name says identifier."""
    return any(word in _ID_WORDS for word in _words(name))


def _words(name: str) -> list[str]:
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def _row_number(column: pd.Series) -> bool:
    """Unique integers that are consecutive (1..N, 0..N-1) or rise with the file's row order (the
    row names of a subset): a row index or load sequence, not a customer fact."""
    present = column.dropna()
    if len(present) < 3 or len(present) != len(column) or not pd.api.types.is_numeric_dtype(column):
        return False
    if pd.api.types.is_bool_dtype(column) or not bool(((present % 1) == 0).all()):
        return False
    values = present.to_numpy(dtype=np.float64)
    steps = np.diff(np.sort(values))
    return bool(np.all(steps == 1.0) or (np.all(np.diff(values) > 0) and np.all(steps > 0)))


def _dates(present: pd.Series) -> bool:
    """Text that reads as dates or times (a load date, an event time)."""
    if present.dtype != object:
        return bool(pd.api.types.is_datetime64_any_dtype(present))
    sample = present.astype(str).head(200)
    if not sample.str.contains(r"\d", regex=True).all() or not sample.str.contains(r"[-/:]", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def _not_a_feature(column: pd.Series, id_taken: bool) -> tuple[str, str] | None:
    """("id", why) for the id column, ("passthrough", why) for a column carried and never a
    feature, None for a feature candidate."""
    name = str(column.name)
    present = column.dropna()
    if len(present) == 0:
        return "passthrough", "every cell is empty"
    unique = int(present.nunique())
    if unique == 1:
        return "passthrough", f"one value on every row ({label_text(_plain(present.iloc[0]))}): says nothing"
    unique_everywhere = unique == len(column)
    text = column.dtype == object
    # a row index (RowNumber 1..N) before an id: "number" names both, and a bank's extract
    # carries a row number beside its CustomerId
    if _row_number(column) and not _names_an_id(name):
        low, high = present.min(), present.max()
        return "passthrough", f"row number (unique integers {_plain(low)}..{_plain(high)} in row order)"
    if unique_everywhere and not id_taken and (text or _named_like_id(name)):
        return "id", "unique on every row"
    if unique_everywhere and (text or _named_like_id(name)):
        return "passthrough", "a second id (unique on every row)"
    if _dates(present):
        return "passthrough", "dates or times (a load or event time): not a customer feature as is"
    if text and unique > MAX_CATEGORY_LABELS and unique > 0.5 * len(present):
        return "passthrough", f"free text with {unique:,} distinct values"
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
        decided = _not_a_feature(column, id_column is not None)
        if decided is not None:
            role, why = decided
            if role == "id":
                id_column = name_text
                notes[name_text] = f"id column ({why}): carried through every output, never a feature"
            else:
                left_out[name_text] = why
            continue
        present = column.dropna()
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
            minimum, maximum = declared_range(low, high)
            spec = Field(
                name_text, Kind.INTEGER if whole else Kind.NUMBER, minimum=_round(minimum), maximum=_round(maximum)
            )
            notes[name_text] = (
                f"{'integer' if whole else 'number'} {low:g}..{high:g} in the data, declared {minimum:g}..{maximum:g} "
                "(room for production: twice the extreme, rounded)"
            )
        elif len(distinct) <= MAX_CATEGORY_LABELS:
            counts = present.astype(str).str.strip().value_counts()
            labels = [_plain(v) for v in counts.index.tolist()]
            spec = Field(name_text, Kind.CATEGORY, labels=tuple(labels))
            notes[name_text] = f"category with {len(labels)} labels"
        else:
            left_out[name_text] = f"text with {len(distinct):,} distinct values: too many labels for a category"
            continue
        if any(word in _FIXED_WORDS for word in _words(name_text)):
            spec = Field(**{**_field_kwargs(spec), "fixed": True})
            notes[name_text] += "; fixed: a fact no retention action changes, never recommended"
        if has_missing:
            policy = MissingPolicy.MEDIAN if spec.kind in (Kind.INTEGER, Kind.NUMBER) else MissingPolicy.MODE
            spec = Field(**{**_field_kwargs(spec), "missing": Missing(policy)})
            notes[name_text] += f"; {int(column.isna().sum()):,} empty cells imputed with the {policy.value}"
        fields.append(spec)
    if not fields:
        raise ProfilingError("no column is usable as a feature")
    survival, said = _survival(fields, table)
    if survival is not None:
        notes["survival"] = said
    schema = TableSchema(
        name=name,
        label=LabelColumn(label, tuple(positives), tuple(negatives)),
        fields=tuple(fields),
        id_column=id_column,
        description=f"drafted by `churnguard schema init` from {len(table):,} rows",
        passthrough=tuple(PassThrough(column, reason) for column, reason in left_out.items()),
        survival=survival,
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
    if "passthrough" in mapping:
        lines.append("# Columns carried with each row (scored output, rejects) and never features, with why:")
        lines.append(yaml.safe_dump({"passthrough": mapping["passthrough"]}, sort_keys=False, width=1000).rstrip())
    if "survival" in mapping:
        lines.append(f"# {draft.notes['survival']}")
        lines.append(
            "survival: " + yaml.safe_dump(mapping["survival"], sort_keys=False, default_flow_style=True).strip()
        )
    return "\n".join(lines) + "\n"


class PandasSchemaProfiler:
    """The SchemaProfiler port over pandas tables."""

    def profile(self, table: Table, label: str, positive: str | None, name: str) -> SchemaDraft:
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
        return profile_table(table, label, positive, name)

    def render(self, draft: SchemaDraft, source: str) -> str:
        return render_draft(draft, source)
