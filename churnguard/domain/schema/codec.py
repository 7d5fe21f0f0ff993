"""The plain form of a schema (what a YAML file and a stored model hold) and back; each field's
and feature's keys and defaults are declared once here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churnguard.domain.schema.features import Feature, Operation
from churnguard.domain.schema.fields import Field, Kind, Missing, MissingPolicy, UnseenPolicy
from churnguard.domain.schema.table import LabelColumn, PassThrough, Quality, Survival, TableSchema, TimeSplit


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
    "fixed": False,
}
_FEATURE_DEFAULTS: Mapping[str, Any] = {
    "threshold": None,
    "floor": 0.0,
    "scale": 1.0,
    "value": None,
    "display_name": "",
    "help": "",
}


def field_to_mapping(spec: Field) -> dict[str, Any]:
    """One field's plain form, defaults left out."""
    missing: dict[str, Any] = {"policy": spec.missing.policy.value}
    if spec.missing.value is not None:
        missing["value"] = spec.missing.value
    return _drop_defaults(
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
            "fixed": spec.fixed,
        },
        _FIELD_DEFAULTS,
    )


def schema_to_mapping(schema: TableSchema) -> dict[str, Any]:
    """Plain JSON-able form, defaults left out; `schema_from_mapping` reads it back.

    Fields and features are lists (order is part of the contract: it is the model matrix's
    column order, and JSON objects do not keep one); the YAML form keys them by name.
    """
    fields = [field_to_mapping(spec) for spec in schema.fields]
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
    if schema.passthrough:
        out["passthrough"] = [{"column": p.column, "reason": p.reason} for p in schema.passthrough]
    quality = {
        key: value
        for key, value in (
            ("min_f1", schema.quality.min_f1),
            ("max_rejected_share", schema.quality.max_rejected_share),
        )
        if value is not None
    }
    if quality:
        out["quality"] = quality
    if schema.split is not None:
        out["split"] = {"time_column": schema.split.column, "embargo_days": schema.split.embargo_days}
    if schema.survival is not None:
        survival = schema.survival
        out["survival"] = _drop_defaults(
            {
                "duration": survival.duration,
                "value": survival.value,
                "horizon": survival.horizon,
                "unit": survival.unit,
                "exclude": list(survival.exclude),
            },
            {"value": None, "horizon": 12, "unit": "period", "exclude": []},
        )
    return out


_PRESENTATION = ("display_name", "help", "unit", "description", "label_names", "reason", "fixed")
_POLICY = ("quality", "split")
"""Top-level keys that change what is good enough or how rows are split, not which tables are
read or how."""


def _without_presentation(data: Any, top: bool = True) -> Any:
    if isinstance(data, dict):
        return {
            key: _without_presentation(value, top=False)
            for key, value in data.items()
            if key not in _PRESENTATION and not (top and key in ("name", *_POLICY))
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
                fixed=bool(spec.get("fixed", False)),
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
        passthrough=tuple(PassThrough(p["column"], p.get("reason", "")) for p in data.get("passthrough", ())),
        quality=Quality(**data.get("quality", {})),
        split=TimeSplit(data["split"]["time_column"], int(data["split"].get("embargo_days", 0)))
        if "split" in data
        else None,
        survival=(
            Survival(**{**data["survival"], "exclude": tuple(data["survival"].get("exclude", ()))})
            if "survival" in data
            else None
        ),
    )
