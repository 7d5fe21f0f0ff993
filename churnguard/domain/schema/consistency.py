"""The checks that a declaration is consistent: every problem named by its key path."""

from __future__ import annotations

from collections.abc import Mapping

from churnguard.domain.schema.features import FLAG_OPERATIONS, Feature, Operation
from churnguard.domain.schema.fields import Field, FieldKind, Kind, MissingPolicy, UnseenPolicy, _label_key, label_text
from churnguard.domain.schema.table import TableSchema


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
        problems.extend(field_problems(spec, path))
    if len(set(names)) != len(names):
        problems.append(("fields", "field names must be unique"))
    if not schema.label.positive:
        problems.append(("label.positive", "must name at least one value"))
    if set(map(label_text, schema.label.positive)) & set(map(label_text, schema.label.negative)):
        problems.append(("label", "a value cannot be both positive and negative"))
    taken = {*names, *reserved}
    seen_passthrough: set[str] = set()
    for item in schema.passthrough:
        path = f"passthrough.{item.column}"
        if item.column in taken:
            problems.append((path, "is a field, the label or the id column; a pass-through column is none of them"))
        if item.column in seen_passthrough:
            problems.append((path, "is declared twice"))
        seen_passthrough.add(item.column)
    if schema.survival is not None:
        problems += _survival_problems(schema)
    if schema.split is not None:
        if schema.split.column not in seen_passthrough:
            problems.append(("split.time_column", f"{schema.split.column!r} must be declared under passthrough:"))
        if schema.split.embargo_days < 0:
            problems.append(("split.embargo_days", f"must be >= 0, got {schema.split.embargo_days}"))
    for key, value in (
        ("min_f1", schema.quality.min_f1),
        ("max_rejected_share", schema.quality.max_rejected_share),
    ):
        if value is not None and not 0.0 <= value <= 1.0:
            problems.append((f"quality.{key}", f"must be within [0, 1], got {value}"))
    known = {f.name: f for f in schema.fields}
    kinds: dict[str, FieldKind] = {f.name: f.model_kind for f in schema.fields}
    for feature in schema.features:
        path = f"features.{feature.name}"
        if feature.name in kinds or feature.name in reserved:
            problems.append((path, "has the name of a field or of another feature"))
        problems.extend(_feature_problems(feature, path, known, kinds))
        kinds[feature.name] = feature.model_kind
    return problems


def field_problems(spec: Field, path: str) -> list[tuple[str, str]]:
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


def _survival_problems(schema: TableSchema) -> list[tuple[str, str]]:
    survival = schema.survival
    assert survival is not None
    problems: list[tuple[str, str]] = []
    fields = {f.name: f for f in schema.fields}
    for key, name in (("duration", survival.duration), ("value", survival.value)):
        if name is None:
            continue
        spec = fields.get(name)
        if spec is None:
            problems.append((f"survival.{key}", f"{name!r} is not a declared field"))
        elif spec.kind not in (Kind.INTEGER, Kind.NUMBER) or spec.has_labels:
            problems.append((f"survival.{key}", f"{name!r} must be an integer or number field, not {spec.kind.value}"))
        elif spec.minimum is None or spec.minimum < 0:
            problems.append(
                (f"survival.{key}", f"{name!r} must declare minimum >= 0 (a duration or a value per period)")
            )
    for index, name in enumerate(survival.exclude):
        if name not in fields:
            problems.append((f"survival.exclude[{index}]", f"{name!r} is not a declared field"))
        elif name in (survival.duration, survival.value):
            problems.append((f"survival.exclude[{index}]", f"{name!r} is the duration or the value, not a feature"))
    if survival.duration == survival.value:
        problems.append(("survival.value", "the value per period cannot be the duration"))
    if survival.horizon < 1:
        problems.append(("survival.horizon", f"must be >= 1 period, got {survival.horizon}"))
    return problems
