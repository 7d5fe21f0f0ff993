"""The table: its fields, label, id column and engineered features; the one vectorized check
of a batch of raw columns and the model matrix built from it."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.errors import InvalidProfile, InvalidSchema
from churnguard.domain.schema.features import Feature, Operation
from churnguard.domain.schema.fields import (
    MISSING_RULE,
    BoolArray,
    Field,
    FieldKind,
    FloatArray,
    Kind,
    Label,
    MissingPolicy,
    UnseenPolicy,
    label_text,
)


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


@dataclass(frozen=True, slots=True)
class PassThrough:
    """A column the table carries that is never a feature (a name, an email, a load date, a
    row number): read, kept with its row in scored output and rejects, and not refused."""

    column: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quality:
    """What the table's owner declares good enough: the gate's F1 floor (None: the no-skill and
    plain-model baselines decide) and the largest share of rejected rows a scoring or drift run
    may have before it fails."""

    min_f1: float | None = None
    max_rejected_share: float | None = None


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """Rows observed at different times (an event history's cutoffs): the holdout is the latest
    of them and cross-validation goes forward in time, never a random split across it. A row
    whose label window (`embargo_days` after its time) reaches past a validation time never
    trains for it: its label would have read the validation period."""

    column: str
    embargo_days: int = 0


@dataclass(frozen=True, slots=True)
class Survival:
    """Time to churn: `duration` is the field counting the periods a customer has stayed (the
    time axis of a survival model, never one of its features), `value` the field of what a
    customer brings per period (revenue at risk), `horizon` the periods a curve reaches. A
    customer whose label is negative is censored at their duration; a positive one churned at it.
    `exclude`: fields that encode the duration (Telco's TotalCharges, about tenure x monthly
    charges), left out of the survival model with it and with every feature reading them."""

    duration: str
    value: str | None = None
    horizon: int = 12
    unit: str = "period"
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSchema:
    """A customer table's declaration. Pure data: the YAML form lives in an adapter."""

    name: str
    label: LabelColumn
    fields: tuple[Field, ...]
    features: tuple[Feature, ...] = ()
    id_column: str | None = None
    description: str = ""
    passthrough: tuple[PassThrough, ...] = ()
    quality: Quality = Quality()
    split: TimeSplit | None = None
    survival: Survival | None = None

    def __post_init__(self) -> None:
        from churnguard.domain.schema.consistency import schema_problems  # it reads a TableSchema

        problems = schema_problems(self)
        if problems:
            raise InvalidSchema(self.name, problems)

    @cached_property
    def raw_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def passthrough_columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.passthrough)

    @cached_property
    def known_columns(self) -> frozenset[str]:
        """Every column a table of this schema may carry besides the label."""
        return frozenset((*self.raw_fields, *self.passthrough_columns, *([self.id_column] if self.id_column else [])))

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

    @cached_property
    def survival_features(self) -> tuple[str, ...]:
        """The model features a survival model reads: all but the duration, the fields declared
        to encode it, and every engineered feature computed from any of them (a tenure feature
        would tell the model the answer)."""
        if self.survival is None:
            return ()
        left_out = {self.survival.duration, *self.survival.exclude}
        for feature in self.features:  # declared in order: an input is a field or an earlier feature
            if left_out.intersection(feature.inputs):
                left_out.add(feature.name)
        return tuple(name for name in self.model_features if name not in left_out)

    def feature_index(self, names: Sequence[str]) -> list[int]:
        order = self.model_features
        return [order.index(name) for name in names]

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON form without display names, help texts, units and the
        quality policy: two schemas with equal hashes accept the same tables and build the same
        model inputs."""
        from churnguard.domain.schema.codec import _without_presentation, schema_to_mapping  # it builds one

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

    def check_record(self, record: Mapping[str, object], cells: bool = False) -> FloatArray:
        """One customer as JSON values -> its encoded fields; InvalidProfile on the first problem.

        A missing key or null is a missing value (imputed or refused by the field's policy);
        a key that is not a field (nor the id column) is refused. `cells`: the values come from
        a table (a DataFrame's row), so they are read by the table's rules, as `check_rows` reads
        them: "29.85" is a number there, and NaN is a missing cell.
        """
        unknown = sorted(set(record) - self.known_columns)
        if unknown:
            raise InvalidProfile(unknown[0], "is not a customer field", record[unknown[0]])
        encoded = np.empty(len(self.fields), dtype=np.float64)
        for index, spec in enumerate(self.fields):
            value = record.get(spec.name)
            if (
                value is None
                or (isinstance(value, str) and not value.strip())
                or (cells and isinstance(value, float) and math.isnan(value))
            ):
                if spec.missing.policy is MissingPolicy.REFUSE:
                    raise InvalidProfile(spec.name, "is required" if spec.name not in record else MISSING_RULE, value)
                encoded[index] = math.nan
                continue
            encoded[index] = spec.check_cell(value) if cells else spec.check(value)
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
