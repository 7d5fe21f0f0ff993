"""Event schema files (YAML): an event history's columns, window features, churn and cutoffs.

    name: cdnow
    events: {id: customer_id, time: date, time_format: "%Y%m%d", values: [number_of_cds, dollar_value]}
    churn: {inactive_days: 182}              # or {cancel: cancelled, within_days: 90}
    cutoffs: {first: 1997-04-01, every_days: 28, count: 13}
    features:
      purchases_90d: {op: count, days: 90}
      spend_90d: {op: sum, value: dollar_value, days: 90}
      recency: {op: days_since_last}
    customers:                               # optional: static attributes, --customers FILE
      fields:
        plan: {kind: category, labels: [basic, standard, premium]}

Every problem is named by its key path, as table schema files are (SchemaFileError).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import yaml
from pydantic import Field, StrictInt, StrictStr

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.adapters.yaml_schema import (
    FieldIn,
    QualityIn,
    _Strict,
    dump_schema,
    field_to_domain,
    parse_yaml_text,
    read_yaml_file,
    validated,
)
from churnguard.domain.events import (
    ChurnDefinition,
    ChurnKind,
    Cutoffs,
    EventSchema,
    EventSource,
    WindowFeature,
    WindowOperation,
)
from churnguard.domain.schema import TableSchema
from churnguard.domain.schema.codec import field_to_mapping

if TYPE_CHECKING:
    OperationName: TypeAlias = str
else:
    OperationName = Literal[tuple(op.value for op in WindowOperation)]

Days = Annotated[StrictInt, Field(gt=0)]


class SourceIn(_Strict):
    id: StrictStr
    time: StrictStr
    time_format: StrictStr | None = None
    type: StrictStr | None = None
    values: list[StrictStr] = Field(default_factory=list)


class InactivityIn(_Strict):
    inactive_days: Days


class CancelIn(_Strict):
    cancel: StrictStr
    within_days: Days


class CutoffsIn(_Strict):
    first: date
    every_days: Days
    count: Days


class WindowFeatureIn(_Strict):
    op: OperationName
    days: Days | None = None
    value: StrictStr | None = None
    type: StrictStr | None = None


class CustomersIn(_Strict):
    fields: Annotated[dict[str, FieldIn], Field(min_length=1)]


class EventSchemaIn(_Strict):
    name: StrictStr
    description: str = ""
    events: SourceIn
    churn: InactivityIn | CancelIn
    cutoffs: CutoffsIn
    features: Annotated[dict[str, WindowFeatureIn], Field(min_length=1)]
    quality: QualityIn = QualityIn()
    customers: CustomersIn | None = None
    """Static attributes from a customer table joined by id (`--customers FILE`)."""


def _to_domain(model: EventSchemaIn) -> EventSchema:
    churn = (
        ChurnDefinition(ChurnKind.CANCEL, model.churn.within_days, model.churn.cancel)
        if isinstance(model.churn, CancelIn)
        else ChurnDefinition(ChurnKind.INACTIVITY, model.churn.inactive_days)
    )
    return EventSchema(
        name=model.name,
        description=model.description,
        source=EventSource(
            model.events.id, model.events.time, model.events.type, tuple(model.events.values), model.events.time_format
        ),
        features=tuple(
            WindowFeature(name, WindowOperation(spec.op), spec.days, spec.value, spec.type)
            for name, spec in model.features.items()
        ),
        churn=churn,
        cutoffs=Cutoffs(model.cutoffs.first, model.cutoffs.every_days, model.cutoffs.count),
        quality=model.quality.to_domain(),
        attributes=()
        if model.customers is None
        else tuple(field_to_domain(name, spec) for name, spec in model.customers.fields.items()),
    )


def parse_event_schema(data: Any, location: str) -> EventSchema:
    return validated(data, location, EventSchemaIn, _to_domain, "name, events, churn, cutoffs, features")


def event_yaml_form(schema: EventSchema) -> dict[str, Any]:
    """The event schema as a file writes it; `parse_event_schema` reads it back as `schema`."""
    source = schema.source
    events: dict[str, Any] = {"id": source.id_column, "time": source.time_column}
    if source.time_format:
        events["time_format"] = source.time_format
    if source.type_column:
        events["type"] = source.type_column
    if source.value_columns:
        events["values"] = list(source.value_columns)
    churn = schema.churn
    out: dict[str, Any] = {"name": schema.name}
    if schema.description:
        out["description"] = schema.description
    out["events"] = events
    out["churn"] = (
        {"cancel": churn.cancel_type, "within_days": churn.horizon_days}
        if churn.kind is ChurnKind.CANCEL
        else {"inactive_days": churn.horizon_days}
    )
    cutoffs = schema.cutoffs
    out["cutoffs"] = {"first": cutoffs.first, "every_days": cutoffs.every_days, "count": cutoffs.count}
    out["features"] = {
        f.name: {
            "op": f.operation.value,
            **({"days": f.days} if f.days is not None else {}),
            **({"value": f.value} if f.value is not None else {}),
            **({"type": f.event_type} if f.event_type is not None else {}),
        }
        for f in schema.features
    }
    quality = {
        key: value
        for key, value in (("min_f1", schema.quality.min_f1), ("max_rejected_share", schema.quality.max_rejected_share))
        if value is not None
    }
    if quality:
        out["quality"] = quality
    if schema.attributes:
        out["customers"] = {"fields": {}}
        for attribute in schema.attributes:
            mapping = field_to_mapping(attribute)
            out["customers"]["fields"][mapping.pop("name")] = mapping
    return out


def dump_event_schema(schema: EventSchema) -> str:
    """The YAML text of an event schema, keys in declaration order, each feature on one line."""
    form = event_yaml_form(schema)
    features = form.pop("features")
    attributes = form.pop("customers", None)
    text = str(yaml.safe_dump(form, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None))
    text += "features:\n" + "".join(
        f"  {yaml.safe_dump({name: spec}, default_flow_style=True, sort_keys=False, width=1000).strip()[1:-1]}\n"
        for name, spec in features.items()
    )
    if attributes is not None:
        text += yaml.safe_dump(
            {"customers": attributes}, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
        )
    return text


class YamlTableSchemaWriter:
    """The TableSchemaWriter port: a schema file that `load_schema` reads back as `schema`."""

    def write(self, schema: TableSchema, location: str, note: str) -> None:
        comment = "".join(f"# {line}\n" for line in note.splitlines())
        atomic_write_text(Path(location), comment + dump_schema(schema))


class YamlEventSchemaReader:
    """The EventSchemaReader port over YAML files."""

    def load(self, location: str) -> EventSchema:
        return parse_event_schema(read_yaml_file(Path(location)), location)

    def parse(self, text: str, location: str) -> EventSchema:
        return parse_event_schema(parse_yaml_text(text, location), location)
