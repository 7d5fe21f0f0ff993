"""A customer table as a declaration: its fields, their domains, the label, engineered features.

Every path that reads customers (validation of a whole table, offline scoring, one profile)
goes through `TableSchema.check`, which checks and encodes a batch of raw columns in one
vectorized pass: a field's rule is written here once. The model sees `model_matrix(raw)`:
the encoded fields in declared order, then the engineered features in declared order.

Encoding: binary and category labels become their position in the declared labels (the
first of a binary field's two labels is 0, the second 1; for the original schema, whose
labels are the codes 0, 1, 2..., a code is its own position); an unseen category label mapped
to "other" becomes `len(labels)`; numbers stay numbers. A missing cell is NaN until the
imputation fitted on the training split fills it (`Imputation`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.errors import InvalidProfile, InvalidSchema, NothingToImpute

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Label = str | int | float
"""A value a binary or category field may take, as the table writes it."""


class FieldKind(Enum):
    """How a model must read a field: BINARY and NUMERIC as numbers; NOMINAL codes are labels
    with no order (contract 2 is not "twice" contract 1), so a model treats them as categories."""

    BINARY = "binary"
    NUMERIC = "numeric"
    NOMINAL = "nominal"


class Kind(Enum):
    """A field's kind as a schema declares it."""

    BINARY = "binary"
    INTEGER = "integer"
    NUMBER = "number"
    CATEGORY = "category"


class MissingPolicy(Enum):
    REFUSE = "refuse"
    CONSTANT = "constant"
    MEDIAN = "median"
    MODE = "mode"


class UnseenPolicy(Enum):
    REFUSE = "refuse"
    OTHER = "other"


MISSING_RULE = "must not be missing (empty cell)"
OTHER = "other"


def label_text(label: Label) -> str:
    """A label as messages show it: 1.0 as 1, text as is."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


@dataclass(frozen=True, slots=True)
class Missing:
    """What a missing cell gets: refused, or imputed (`value` for a constant)."""

    policy: MissingPolicy = MissingPolicy.REFUSE
    value: Label | None = None


@dataclass(frozen=True)
class Field:
    """One raw field: its kind and domain, what a missing or unseen value gets, how to show it."""

    name: str
    kind: Kind
    labels: tuple[Label, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True
    unit: str = ""
    missing: Missing = field(default_factory=Missing)
    unseen: UnseenPolicy = UnseenPolicy.REFUSE
    display_name: str = ""
    help: str = ""
    label_names: tuple[str, ...] = ()
    """How to show each label (codes in particular), in the labels' order; presentation only."""

    @cached_property
    def model_kind(self) -> FieldKind:
        if self.kind is Kind.BINARY:
            return FieldKind.BINARY
        if self.kind is Kind.CATEGORY:
            return FieldKind.NOMINAL
        return FieldKind.NUMERIC

    @cached_property
    def has_labels(self) -> bool:
        return self.kind in (Kind.BINARY, Kind.CATEGORY)

    @cached_property
    def numeric_labels(self) -> bool:
        """Labels that are numbers (codes) are matched as numbers: "1", 1 and 1.0 are one label."""
        return bool(self.labels) and all(not isinstance(label, str) for label in self.labels)

    @cached_property
    def is_integer(self) -> bool:
        """Integer-valued cells: integer fields and fields coded by numeric labels."""
        return self.kind is Kind.INTEGER or (self.has_labels and self.numeric_labels)

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @property
    def description(self) -> str:
        return self.help

    @property
    def allowed(self) -> tuple[int, ...] | None:
        """Integer codes of a field coded by numeric labels (the original's form), else None."""
        if self.has_labels and self.numeric_labels:
            return tuple(int(label) for label in self.labels)
        return None

    @cached_property
    def rule(self) -> str:
        """The field's rule in words, used in every error message."""
        if self.has_labels:
            shown = ", ".join(label_text(label) for label in self.labels)
            tail = ' (another label counts as "other")' if self.unseen is UnseenPolicy.OTHER else ""
            return f"must be one of {{{shown}}}{tail}"
        low = "" if self.minimum is None else f"{'>=' if self.minimum_inclusive else '>'} {self.minimum:g}"
        high = "" if self.maximum is None else f"{'<=' if self.maximum_inclusive else '<'} {self.maximum:g}"
        kind = "an integer" if self.kind is Kind.INTEGER else "a number"
        bounds = " and ".join(part for part in (low, high) if part)
        return f"must be {kind}" + (f" {bounds}" if bounds else "")

    def shown_label(self, label: Label) -> str:
        """A label as people read it: its name if the schema gives one, else the label itself."""
        if self.label_names:
            try:
                return self.label_names[int(self.label_code(label))]
            except (KeyError, IndexError):
                pass
        return label_text(label)

    def label_code(self, label: Label) -> float:
        """The encoded value of one of this field's labels; KeyError if it is not one."""
        return self._lookup[_label_key(label, self.numeric_labels)]

    def label_of(self, code: float) -> Label:
        """The label an encoded value stands for (the inverse of `label_code`)."""
        index = int(code)
        return self.labels[index] if index < len(self.labels) else OTHER

    def decode(self, encoded: npt.ArrayLike) -> npt.NDArray[Any]:
        """The values a column of codes stands for: labels (int64 when they are whole-number
        codes and none is missing), numbers as float64, or int64 for a whole integer column."""
        column = np.asarray(encoded, dtype=np.float64)
        missing = np.isnan(column)
        if not self.has_labels:
            if self.kind is Kind.INTEGER and not missing.any():
                return column.astype(np.int64)
            return column
        table = np.array([*self.labels, OTHER], dtype=object)
        codes = np.where(missing, 0, column).astype(np.int64)
        labels = table[codes]
        labels[missing] = None
        if self.numeric_labels and not missing.any() and codes.max(initial=0) < len(self.labels):
            return np.asarray(labels.tolist(), dtype=np.float64 if not self.is_integer else np.int64)
        return labels

    @cached_property
    def _lookup(self) -> dict[object, float]:
        return {_label_key(label, self.numeric_labels): float(i) for i, label in enumerate(self.labels)}

    def encode(self, values: npt.ArrayLike) -> tuple[FloatArray, BoolArray, BoolArray]:
        """Check and encode one column: (encoded values, ok, missing), vectorized.

        `encoded` is NaN where the cell is missing or breaks the rule; `ok` is False where the
        cell breaks the rule, or is missing and the field refuses missing cells.
        """
        column = np.asarray(values)
        if column.ndim == 0:
            column = column.reshape(1)
        if column.dtype == np.bool_ and self.has_labels and not self.numeric_labels:
            column = column.astype(str)  # a "True"/"False" column read as bool, for text labels
        if column.dtype == np.bool_:  # True/False read as a bool column equal 1/0; refused as such
            nan = np.full(column.shape, np.nan)
            return nan, np.zeros(column.shape, dtype=bool), np.zeros(column.shape, dtype=bool)
        missing = _missing_mask(column)
        encoded = self._encode_labels(column, missing) if self.has_labels else self._encode_numbers(column, missing)
        ok = ~np.isnan(encoded) | (missing & (self.missing.policy is not MissingPolicy.REFUSE))
        return encoded, ok, missing

    def _encode_labels(self, column: npt.NDArray[Any], missing: BoolArray) -> FloatArray:
        lookup = self._lookup
        other = float(len(self.labels)) if self.unseen is UnseenPolicy.OTHER else math.nan
        if self.numeric_labels:
            numbers = _as_numbers(column)
            encoded = np.full(numbers.shape, math.nan)
            known = np.zeros(numbers.shape, dtype=bool)
            for key, code in lookup.items():
                hit = numbers == key
                encoded[hit] = code
                known |= hit
            encoded[~known & np.isfinite(numbers)] = other  # a word in a code column is no label at all
        else:
            uniques, inverse = np.unique(_as_text(column), return_inverse=True)
            per_unique = np.array([lookup.get(text, other) for text in uniques.tolist()], dtype=np.float64)
            encoded = per_unique[inverse.reshape(-1)] if len(uniques) else np.empty(0)
        encoded[missing] = math.nan
        return encoded

    def _encode_numbers(self, column: npt.NDArray[Any], missing: BoolArray) -> FloatArray:
        numbers = _as_numbers(column)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(numbers)
            if self.kind is Kind.INTEGER:
                ok &= np.floor(np.nan_to_num(numbers)) == np.nan_to_num(numbers)
            if self.minimum is not None:
                ok &= (numbers >= self.minimum) if self.minimum_inclusive else (numbers > self.minimum)
            if self.maximum is not None:
                ok &= (numbers <= self.maximum) if self.maximum_inclusive else (numbers < self.maximum)
        encoded = np.where(ok & ~missing, numbers, math.nan)
        return np.asarray(encoded, dtype=np.float64)

    def check(self, value: object) -> float:
        """One JSON value (the API's form: numbers must be numbers) -> its encoded value.

        The scalar form of `encode`, for the per-request path; a property test holds the two
        together. Raises InvalidProfile naming the field and its rule.
        """
        kind = type(value)
        if kind is int or kind is float:  # the common case first: a JSON number
            number = float(value)  # type: ignore[arg-type]
            if self.has_labels and not self.numeric_labels:
                return self._code_or_other(label_text(number), value)  # a number is text to text labels
            if not math.isfinite(number):
                raise InvalidProfile(self.name, self.rule, value)
            if self.has_labels:
                return self._code_or_other(number, value)
            if self.kind is Kind.INTEGER and not number.is_integer():
                raise InvalidProfile(self.name, self.rule, value)
            if self.minimum is not None and (
                number < self.minimum or (not self.minimum_inclusive and number == self.minimum)
            ):
                raise InvalidProfile(self.name, self.rule, value)
            if self.maximum is not None and (
                number > self.maximum or (not self.maximum_inclusive and number == self.maximum)
            ):
                raise InvalidProfile(self.name, self.rule, value)
            return number
        if value is None:
            raise InvalidProfile(self.name, MISSING_RULE, value)
        if isinstance(value, str) and self.has_labels and not self.numeric_labels:
            return self._code_or_other(value.strip(), value)
        if kind is bool and self.has_labels and not self.numeric_labels:
            return self._code_or_other(str(value), value)  # as a table cell reads it: True/False are text
        raise InvalidProfile(self.name, self.rule, value)

    def _code_or_other(self, key: object, value: object) -> float:
        code = self._lookup.get(key)
        if code is not None:
            return code
        if self.unseen is UnseenPolicy.OTHER:
            return float(len(self.labels))
        raise InvalidProfile(self.name, self.rule, value)


def _label_key(label: object, numeric: bool) -> object:
    if numeric:
        try:
            return float(label)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return label
    if isinstance(label, str):
        return label.strip()
    return label_text(label) if isinstance(label, int | float) else str(label)


def _missing_mask(column: npt.NDArray[Any]) -> BoolArray:
    if column.dtype.kind == "f":
        return np.asarray(np.isnan(column), dtype=bool)
    if column.dtype.kind in "iub":
        return np.zeros(column.shape, dtype=bool)
    if column.dtype.kind in "US":
        return np.asarray(np.char.strip(column.astype(str)) == "", dtype=bool)
    return np.fromiter(
        (v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip()) for v in column),
        dtype=bool,
        count=len(column),
    )


def _as_numbers(column: npt.NDArray[Any]) -> FloatArray:
    """Numbers as float64; text that parses as a number counts, anything else is NaN."""
    if column.dtype.kind in "iuf":
        return column.astype(np.float64)
    uniques, inverse = np.unique(_as_text(column), return_inverse=True)
    parsed = np.array([_parse_number(text) for text in uniques.tolist()], dtype=np.float64)
    return parsed[inverse.reshape(-1)] if len(uniques) else np.empty(0)


def _parse_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _as_text(column: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    """Cells as stripped text; numbers as their label text (1.0 -> "1")."""
    if column.dtype.kind in "US":
        return np.char.strip(column.astype(str))
    return np.array(
        [
            label_text(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v).strip()
            for v in column.tolist()
        ],
        dtype=str,
    ).reshape(-1)


# --- engineered features: a closed set of pure operations, no eval --------------------------


class Operation(Enum):
    PRODUCT = "product"
    """inputs [a, b]: a * b"""
    SUM = "sum"
    """inputs [a, b, ...]: a + b + ..."""
    DIFFERENCE = "difference"
    """inputs [a, b]: a - b"""
    RATIO = "ratio"
    """inputs [a, b]: a / max(b, floor) * scale"""
    AT_LEAST = "at_least"
    """inputs [a]: 1 if a >= threshold else 0"""
    AT_MOST = "at_most"
    """inputs [a]: 1 if a <= threshold else 0"""
    COUNT_EQUAL = "count_equal"
    """inputs [f, g, ...]: how many of the fields hold `value`"""
    LOG1P = "log1p"
    """inputs [a]: log(1 + a), a > -1"""


FLAG_OPERATIONS = (Operation.AT_LEAST, Operation.AT_MOST)


@dataclass(frozen=True, slots=True)
class Feature:
    """An engineered model input computed from fields (or earlier features) by one operation."""

    name: str
    operation: Operation
    inputs: tuple[str, ...]
    threshold: float | None = None
    floor: float = 0.0
    scale: float = 1.0
    value: Label | None = None
    display_name: str = ""
    help: str = ""

    @property
    def model_kind(self) -> FieldKind:
        return FieldKind.BINARY if self.operation in FLAG_OPERATIONS else FieldKind.NUMERIC

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def compute(self, columns: Sequence[FloatArray], codes: Sequence[float | None] = ()) -> FloatArray:
        """The feature from its input columns (encoded); `codes` are the encoded `value` per input."""
        op = self.operation
        if op is Operation.PRODUCT:
            return columns[0] * columns[1]
        if op is Operation.SUM:
            total = columns[0].copy()
            for column in columns[1:]:
                total = total + column
            return total
        if op is Operation.DIFFERENCE:
            return columns[0] - columns[1]
        if op is Operation.RATIO:
            return columns[0] / np.maximum(columns[1], self.floor) * self.scale
        if op is Operation.AT_LEAST:
            return (columns[0] >= float(self.threshold or 0.0)).astype(np.float64)
        if op is Operation.AT_MOST:
            return (columns[0] <= float(self.threshold or 0.0)).astype(np.float64)
        if op is Operation.COUNT_EQUAL:
            count = np.zeros(columns[0].shape)
            for column, code in zip(columns, codes, strict=True):
                if code is not None:
                    count += column == code
            return count
        if op is Operation.LOG1P:
            return np.log1p(columns[0])
        raise ValueError(f"unknown operation {op}")


@dataclass(frozen=True, slots=True)
class LabelColumn:
    """The churn label: which column, which values mean churn (1) and which do not (0)."""

    column: str
    positive: tuple[Label, ...]
    negative: tuple[Label, ...]

    @property
    def rule(self) -> str:
        if not self.negative:
            return MISSING_RULE
        shown = ", ".join(label_text(label) for label in (*self.negative, *self.positive))
        return f"must be one of {{{shown}}}"

    def encode(self, values: npt.ArrayLike) -> tuple[FloatArray, BoolArray]:
        """(1.0 churn / 0.0 stays / NaN, ok) per cell; without declared negatives, every other
        value stays."""
        unseen = UnseenPolicy.REFUSE if self.negative else UnseenPolicy.OTHER
        as_field = Field(self.column, Kind.CATEGORY, labels=(*self.positive, *self.negative), unseen=unseen)
        encoded, ok, _ = as_field.encode(values)
        churn = np.where(np.isnan(encoded), np.nan, (encoded < len(self.positive)).astype(np.float64))
        return churn, ok


@dataclass(frozen=True, slots=True)
class RowViolation:
    """Cells of one field that break one rule: the field, the rule, and the row positions."""

    field: str
    rule: str
    rows: tuple[int, ...]
    """0-based positions in the checked batch."""


@dataclass(frozen=True)
class CheckedRows:
    """What `TableSchema.check` found: the encoded fields (NaN where missing) and the violations."""

    raw: FloatArray
    """(n, fields) in declared order; NaN in a missing cell the field's policy will impute."""
    ok: BoolArray
    """Rows that break no rule."""
    violations: tuple[RowViolation, ...]
    target: FloatArray | None = None
    """1.0 / 0.0 per row when the label column was checked."""


@dataclass(frozen=True)
class TableSchema:
    """A customer table's declaration. Pure data: the YAML form lives in an adapter."""

    name: str
    label: LabelColumn
    fields: tuple[Field, ...]
    features: tuple[Feature, ...] = ()
    id_column: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        problems = schema_problems(self)
        if problems:
            raise InvalidSchema(self.name, problems)

    @cached_property
    def raw_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def model_features(self) -> tuple[str, ...]:
        """The fixed column order of every model matrix: fields, then engineered features."""
        return self.raw_fields + self.feature_names

    @cached_property
    def field_by_name(self) -> Mapping[str, Field]:
        return {f.name: f for f in self.fields}

    def model_kinds(self) -> tuple[FieldKind, ...]:
        return tuple(f.model_kind for f in self.fields) + tuple(f.model_kind for f in self.features)

    def features_of_kind(self, kind: FieldKind) -> tuple[str, ...]:
        """Model features of one kind, in model order."""
        return tuple(name for name, k in zip(self.model_features, self.model_kinds(), strict=True) if k is kind)

    def feature_index(self, names: Sequence[str]) -> list[int]:
        order = self.model_features
        return [order.index(name) for name in names]

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON form without display names, help texts and units: two
        schemas with equal hashes accept the same tables and build the same model inputs."""
        contract = _without_presentation(schema_to_mapping(self))
        canonical = json.dumps(contract, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def check(self, columns: Mapping[str, npt.ArrayLike], with_label: bool = False) -> CheckedRows:
        """Check and encode a batch of raw columns (every declared field must be present)."""
        names = self.raw_fields
        lengths = {len(np.atleast_1d(np.asarray(columns[name]))) for name in names}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        rows = lengths.pop() if lengths else 0
        raw = np.empty((rows, len(names)), dtype=np.float64)
        ok = np.ones(rows, dtype=bool)
        violations: list[RowViolation] = []
        for index, spec in enumerate(self.fields):
            encoded, field_ok, missing = spec.encode(columns[spec.name])
            raw[:, index] = encoded
            ok &= field_ok
            bad_missing = missing & ~field_ok
            bad_value = ~field_ok & ~missing
            if bad_missing.any():
                violations.append(RowViolation(spec.name, MISSING_RULE, tuple(np.flatnonzero(bad_missing).tolist())))
            if bad_value.any():
                violations.append(RowViolation(spec.name, spec.rule, tuple(np.flatnonzero(bad_value).tolist())))
        target = None
        if with_label:
            target, label_ok = self.label.encode(columns[self.label.column])
            ok &= label_ok
            if not label_ok.all():
                violations.append(
                    RowViolation(self.label.column, self.label.rule, tuple(np.flatnonzero(~label_ok).tolist()))
                )
        return CheckedRows(raw, ok, tuple(violations), target)

    def check_record(self, record: Mapping[str, object]) -> FloatArray:
        """One customer as JSON values -> its encoded fields; InvalidProfile on the first problem.

        A missing key or null is a missing value (imputed or refused by the field's policy);
        a key that is not a field (nor the id column) is refused.
        """
        allowed = set(self.raw_fields) | ({self.id_column} if self.id_column else set())
        unknown = sorted(set(record) - allowed)
        if unknown:
            raise InvalidProfile(unknown[0], "is not a customer field", record[unknown[0]])
        encoded = np.empty(len(self.fields), dtype=np.float64)
        for index, spec in enumerate(self.fields):
            value = record.get(spec.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if spec.missing.policy is MissingPolicy.REFUSE:
                    raise InvalidProfile(spec.name, "is required" if spec.name not in record else MISSING_RULE, value)
                encoded[index] = math.nan
                continue
            encoded[index] = spec.check(value)
        return encoded

    @cached_property
    def _feature_plan(self) -> tuple[tuple[Feature, tuple[int, ...], tuple[float | None, ...]], ...]:
        """Per engineered feature: its input columns and (count_equal) the code counted in each."""
        position = {name: i for i, name in enumerate(self.model_features)}
        plan = []
        for feature in self.features:
            codes: list[float | None] = []
            if feature.operation is Operation.COUNT_EQUAL:
                for name in feature.inputs:
                    try:
                        codes.append(self.field_by_name[name].label_code(feature.value))  # type: ignore[arg-type]
                    except KeyError:
                        codes.append(None)
            plan.append((feature, tuple(position[name] for name in feature.inputs), tuple(codes)))
        return tuple(plan)

    @cached_property
    def substitution(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(rows, columns) of the leave-one-out block: row i + 1 holds field i at its baseline."""
        columns = np.arange(len(self.fields))
        return columns + 1, columns

    def model_matrix(self, raw: FloatArray) -> FloatArray:
        """(n, model features) from (n, fields) encoded and imputed raw values."""
        if not (isinstance(raw, np.ndarray) and raw.dtype == np.float64 and raw.ndim == 2):
            raw = np.asarray(raw, dtype=np.float64)
            if raw.ndim == 1:
                raw = raw.reshape(1, -1)
        width = len(self.fields)
        matrix = np.empty((raw.shape[0], width + len(self.features)), dtype=np.float64)
        matrix[:, :width] = raw
        for offset, (feature, inputs, codes) in enumerate(self._feature_plan, start=width):
            matrix[:, offset] = feature.compute([matrix[:, i] for i in inputs], codes)
        return matrix

    def decode(self, raw: FloatArray) -> dict[str, npt.NDArray[Any]]:
        """Encoded fields back to the table's own values (labels for binary and category)."""
        return {spec.name: spec.decode(raw[:, index]) for index, spec in enumerate(self.fields)}


# --- imputation: fitted on the training split, stored with the model -------------------------


@dataclass(frozen=True)
class Imputation:
    """The encoded value each imputed field's missing cells get."""

    values: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, schema: TableSchema, raw: FloatArray) -> Imputation:
        """Fill values from training rows only (constant: the declared value, encoded)."""
        values: dict[str, float] = {}
        for index, spec in enumerate(schema.fields):
            policy = spec.missing.policy
            if policy is MissingPolicy.REFUSE:
                continue
            column = raw[:, index]
            seen = column[~np.isnan(column)]
            if policy is MissingPolicy.CONSTANT:
                assert spec.missing.value is not None
                value = spec.label_code(spec.missing.value) if spec.has_labels else float(spec.missing.value)
            elif len(seen) == 0:
                raise NothingToImpute(
                    f"{spec.name}: every training value is missing, so there is no {policy.value} to impute "
                    "with; declare a constant (missing: {policy: constant, value: ...}) or drop the field"
                )
            elif policy is MissingPolicy.MEDIAN:
                value = float(np.median(seen))
            else:
                value = most_frequent(seen)
            values[spec.name] = value
        return cls(values)

    def apply(self, schema: TableSchema, raw: FloatArray) -> FloatArray:
        if not self.values:
            return raw
        filled = raw.copy()
        for index, spec in enumerate(schema.fields):
            if spec.name in self.values:
                column = filled[:, index]
                column[np.isnan(column)] = self.values[spec.name]
        return filled


def most_frequent(column: FloatArray) -> float:
    """The most frequent value (the smallest among ties): a category's mode."""
    uniques, counts = np.unique(column, return_counts=True)
    return float(uniques[int(np.argmax(counts))])


def attribution_baselines(schema: TableSchema, raw: FloatArray) -> dict[str, float]:
    """What leave-one-out puts in a field's place: the training mean for binary and numeric
    fields, the most frequent code for a category (a mean of codes is no customer)."""
    baselines: dict[str, float] = {}
    for index, spec in enumerate(schema.fields):
        column = raw[:, index]
        if spec.kind is Kind.CATEGORY:
            baselines[spec.name] = most_frequent(column)
        else:
            baselines[spec.name] = float(column.mean())
    return baselines


# --- the schema's own consistency (every problem, by key path) ------------------------------


def schema_problems(schema: TableSchema) -> list[tuple[str, str]]:
    """(key path, problem) for everything wrong with a schema; empty when it is usable."""
    problems: list[tuple[str, str]] = []
    names = [f.name for f in schema.fields]
    if not schema.fields:
        problems.append(("fields", "must declare at least one field"))
    reserved = {schema.label.column} | ({schema.id_column} if schema.id_column else set())
    for spec in schema.fields:
        path = f"fields.{spec.name}"
        if spec.name in reserved:
            problems.append((path, "is the label or id column, which is never a feature"))
        problems.extend(_field_problems(spec, path))
    if len(set(names)) != len(names):
        problems.append(("fields", "field names must be unique"))
    if not schema.label.positive:
        problems.append(("label.positive", "must name at least one value"))
    if set(map(label_text, schema.label.positive)) & set(map(label_text, schema.label.negative)):
        problems.append(("label", "a value cannot be both positive and negative"))
    known = {f.name: f for f in schema.fields}
    kinds: dict[str, FieldKind] = {f.name: f.model_kind for f in schema.fields}
    for feature in schema.features:
        path = f"features.{feature.name}"
        if feature.name in kinds or feature.name in reserved:
            problems.append((path, "has the name of a field or of another feature"))
        problems.extend(_feature_problems(feature, path, known, kinds))
        kinds[feature.name] = feature.model_kind
    return problems


def _field_problems(spec: Field, path: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if spec.has_labels:
        if spec.minimum is not None or spec.maximum is not None:
            problems.append((f"{path}.minimum", f"a {spec.kind.value} field has labels, not a range"))
        if spec.kind is Kind.BINARY and len(spec.labels) != 2:
            problems.append((f"{path}.labels", f"a binary field needs exactly two labels, got {len(spec.labels)}"))
        if spec.kind is Kind.CATEGORY and len(spec.labels) < 2:
            problems.append((f"{path}.labels", "a category needs at least two labels"))
        keys = [_label_key(label, spec.numeric_labels) for label in spec.labels]
        if len(set(keys)) != len(keys):
            problems.append((f"{path}.labels", "labels must be unique"))
        if spec.kind is Kind.BINARY and spec.unseen is UnseenPolicy.OTHER:
            problems.append((f"{path}.unseen", 'a binary field has two labels; "other" needs a category'))
        if any(isinstance(label, bool) for label in spec.labels):
            problems.append((f"{path}.labels", 'true/false are not labels (quote "Yes"/"No" in YAML)'))
        if spec.label_names and len(spec.label_names) != len(spec.labels):
            problems.append((f"{path}.label_names", f"names {len(spec.labels)} labels, one each, in their order"))
    elif spec.label_names:
        problems.append((f"{path}.label_names", f"a {spec.kind.value} field has no labels to name"))
    if not spec.has_labels:
        if spec.labels:
            problems.append((f"{path}.labels", f"a {spec.kind.value} field has a range, not labels"))
        if spec.unseen is UnseenPolicy.OTHER:
            problems.append((f"{path}.unseen", "only a category has unseen labels"))
        if (
            spec.minimum is not None
            and spec.maximum is not None
            and (
                spec.maximum < spec.minimum
                or (spec.maximum == spec.minimum and not (spec.minimum_inclusive and spec.maximum_inclusive))
            )
        ):
            problems.append((f"{path}.maximum", "must be greater than minimum"))
    policy = spec.missing.policy
    if policy is MissingPolicy.CONSTANT:
        if spec.missing.value is None:
            problems.append((f"{path}.missing.value", "a constant imputation needs a value"))
        elif spec.has_labels and _label_key(spec.missing.value, spec.numeric_labels) not in {
            _label_key(label, spec.numeric_labels) for label in spec.labels
        }:
            problems.append((f"{path}.missing.value", f"{spec.rule}"))
        elif not spec.has_labels:
            try:
                spec.check(spec.missing.value)
            except Exception:
                problems.append((f"{path}.missing.value", spec.rule))
    if policy is MissingPolicy.MEDIAN and spec.has_labels:
        problems.append((f"{path}.missing", "median needs a number or integer field (use mode)"))
    return problems


def _feature_problems(
    feature: Feature, path: str, fields: Mapping[str, Field], kinds: Mapping[str, FieldKind]
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    op = feature.operation
    arity = {
        Operation.PRODUCT: 2,
        Operation.DIFFERENCE: 2,
        Operation.RATIO: 2,
        Operation.AT_LEAST: 1,
        Operation.AT_MOST: 1,
        Operation.LOG1P: 1,
    }
    if op in arity and len(feature.inputs) != arity[op]:
        problems.append((f"{path}.inputs", f"{op.value} takes {arity[op]} input(s), got {len(feature.inputs)}"))
    if op in (Operation.SUM, Operation.COUNT_EQUAL) and len(feature.inputs) < 1:
        problems.append((f"{path}.inputs", f"{op.value} takes at least one input"))
    for name in feature.inputs:
        if name not in kinds:
            problems.append((f"{path}.inputs", f"{name!r} is not a field or an earlier feature"))
        elif op is not Operation.COUNT_EQUAL and kinds[name] is FieldKind.NOMINAL:
            problems.append((f"{path}.inputs", f"{name!r} is a category; {op.value} needs numbers"))
    if op in FLAG_OPERATIONS and feature.threshold is None:
        problems.append((f"{path}.threshold", f"{op.value} needs a threshold"))
    if op is Operation.RATIO and feature.floor <= 0:
        problems.append((f"{path}.floor", "must be > 0 so the ratio never divides by zero"))
    if op is Operation.COUNT_EQUAL:
        if feature.value is None:
            problems.append((f"{path}.value", "count_equal needs the value to count"))
        else:
            holders = [
                name
                for name in feature.inputs
                if name in fields
                and fields[name].has_labels
                and _label_key(feature.value, fields[name].numeric_labels)
                in {_label_key(label, fields[name].numeric_labels) for label in fields[name].labels}
            ]
            if not holders:
                problems.append((f"{path}.value", f"none of the inputs has the label {label_text(feature.value)!r}"))
    if op is Operation.LOG1P and feature.inputs and feature.inputs[0] in fields:
        source = fields[feature.inputs[0]]
        if source.minimum is None or source.minimum <= -1:
            problems.append((f"{path}.inputs", "log1p needs an input with a declared minimum > -1"))
    return problems


# --- the canonical plain form (stored with every model version, hashed) --------------------


def _drop_defaults(values: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in defaults or defaults[key] != value}


_FIELD_DEFAULTS: Mapping[str, Any] = {
    "minimum": None,
    "maximum": None,
    "minimum_inclusive": True,
    "maximum_inclusive": True,
    "unit": "",
    "unseen": "refuse",
    "display_name": "",
    "help": "",
    "labels": [],
    "label_names": [],
    "missing": {"policy": "refuse"},
}
_FEATURE_DEFAULTS: Mapping[str, Any] = {
    "threshold": None,
    "floor": 0.0,
    "scale": 1.0,
    "value": None,
    "display_name": "",
    "help": "",
}


def schema_to_mapping(schema: TableSchema) -> dict[str, Any]:
    """Plain JSON-able form, defaults left out; `schema_from_mapping` reads it back.

    Fields and features are lists (order is part of the contract: it is the model matrix's
    column order, and JSON objects do not keep one); the YAML form keys them by name.
    """
    fields: list[dict[str, Any]] = []
    for spec in schema.fields:
        missing: dict[str, Any] = {"policy": spec.missing.policy.value}
        if spec.missing.value is not None:
            missing["value"] = spec.missing.value
        fields.append(
            _drop_defaults(
                {
                    "name": spec.name,
                    "kind": spec.kind.value,
                    "labels": list(spec.labels),
                    "minimum": spec.minimum,
                    "maximum": spec.maximum,
                    "minimum_inclusive": spec.minimum_inclusive,
                    "maximum_inclusive": spec.maximum_inclusive,
                    "unit": spec.unit,
                    "missing": missing,
                    "unseen": spec.unseen.value,
                    "display_name": spec.display_name,
                    "help": spec.help,
                    "label_names": list(spec.label_names),
                },
                _FIELD_DEFAULTS,
            )
        )
    features = [
        _drop_defaults(
            {
                "name": feature.name,
                "op": feature.operation.value,
                "inputs": list(feature.inputs),
                "threshold": feature.threshold,
                "floor": feature.floor,
                "scale": feature.scale,
                "value": feature.value,
                "display_name": feature.display_name,
                "help": feature.help,
            },
            _FEATURE_DEFAULTS,
        )
        for feature in schema.features
    ]
    out: dict[str, Any] = {"name": schema.name}
    if schema.description:
        out["description"] = schema.description
    if schema.id_column:
        out["id"] = schema.id_column
    out["label"] = {
        "column": schema.label.column,
        "positive": list(schema.label.positive),
        "negative": list(schema.label.negative),
    }
    out["fields"] = fields
    if features:
        out["features"] = features
    return out


_PRESENTATION = ("display_name", "help", "unit", "description", "label_names")


def _without_presentation(data: Any, top: bool = True) -> Any:
    if isinstance(data, dict):
        return {
            key: _without_presentation(value, top=False)
            for key, value in data.items()
            if key not in _PRESENTATION and not (top and key == "name")
        }
    if isinstance(data, list):
        return [_without_presentation(item, top=False) for item in data]
    return data


def schema_from_mapping(data: Mapping[str, Any]) -> TableSchema:
    """Build a schema from its canonical plain form (as `schema_to_mapping` writes it).

    Trusts the shape (a model version's own record); user files go through the YAML adapter,
    which reports every problem by key path first.
    """
    fields = []
    for spec in data["fields"]:
        name = spec["name"]
        missing = spec.get("missing", {"policy": "refuse"})
        fields.append(
            Field(
                name=name,
                kind=Kind(spec["kind"]),
                labels=tuple(spec.get("labels", ())),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                minimum_inclusive=spec.get("minimum_inclusive", True),
                maximum_inclusive=spec.get("maximum_inclusive", True),
                unit=spec.get("unit", ""),
                missing=Missing(MissingPolicy(missing["policy"]), missing.get("value")),
                unseen=UnseenPolicy(spec.get("unseen", "refuse")),
                display_name=spec.get("display_name", ""),
                help=spec.get("help", ""),
                label_names=tuple(spec.get("label_names", ())),
            )
        )
    features = [
        Feature(
            name=name,
            operation=Operation(spec["op"]),
            inputs=tuple(spec["inputs"]),
            threshold=spec.get("threshold"),
            floor=float(spec.get("floor", 0.0)),
            scale=float(spec.get("scale", 1.0)),
            value=spec.get("value"),
            display_name=spec.get("display_name", ""),
            help=spec.get("help", ""),
        )
        for spec in data.get("features", [])
        for name in (spec["name"],)
    ]
    label = data["label"]
    return TableSchema(
        name=data["name"],
        label=LabelColumn(label["column"], tuple(label["positive"]), tuple(label.get("negative", ()))),
        fields=tuple(fields),
        features=tuple(features),
        id_column=data.get("id"),
        description=data.get("description", ""),
    )
