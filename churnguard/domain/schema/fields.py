"""The value rules of a table's fields: kinds, labels, ranges, the missing and unseen policies,
and the vectorized check and encoding of one column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.errors import InvalidProfile

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
    fixed: bool = False
    """A fact a retention action cannot change (age, gender, tenure): explained like any field,
    never recommended as something to talk about; presentation only."""

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
        low = "" if self.minimum is None else f"{'>=' if self.minimum_inclusive else '>'} {plain_number(self.minimum)}"
        high = "" if self.maximum is None else f"{'<=' if self.maximum_inclusive else '<'} {plain_number(self.maximum)}"
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

    def check_cell(self, value: object) -> float:
        """One value read as a table cell is (text that reads as a number is one; a numpy number
        is a number): `encode` itself on a one-cell column, for a record taken from a table."""
        encoded, ok, _ = self.encode(np.array([value], dtype=object))
        if not ok[0]:
            raise InvalidProfile(self.name, self.rule, value)
        return float(encoded[0])

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


def plain_number(value: float) -> str:
    """A bound as people write it, every digit it has: 1000000, 1234567.5, 0.0001; never 1e+06."""
    return str(np.format_float_positional(value, trim="-"))


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
