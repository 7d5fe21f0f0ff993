"""Schema files: YAML, validated with pydantic, turned into the domain's TableSchema.

Every problem is reported at once, each by its key path (`fields.tenure.maximum: must be
greater than minimum`): pydantic finds the shape errors, the domain's `schema_problems` the
rules that span keys (a feature naming an unknown field, a constant outside its range).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from churnguard.domain.errors import ChurnGuardError, InvalidSchema
from churnguard.domain.schema import (
    Feature,
    Kind,
    LabelColumn,
    Missing,
    MissingPolicy,
    Operation,
    PassThrough,
    Quality,
    Survival,
    TableSchema,
    TimeSplit,
    UnseenPolicy,
    schema_to_mapping,
)
from churnguard.domain.schema import Field as SchemaField

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "schemas"
"""schemas/*.yaml shipped with the package (`schemas/` at the project root points here)."""
DEFAULT_SCHEMA = BUNDLED_DIR / "original.yaml"

LabelValue = StrictStr | StrictInt | StrictFloat

# The names a file may use, derived from the domain's enums (pydantic's message lists each one)
if TYPE_CHECKING:
    KindName: TypeAlias = str
    OperationName: TypeAlias = str
    PolicyName: TypeAlias = str
    ShorthandPolicy: TypeAlias = str
    UnseenName: TypeAlias = str
else:
    KindName = Literal[tuple(kind.value for kind in Kind)]
    OperationName = Literal[tuple(operation.value for operation in Operation)]
    PolicyName = Literal[tuple(policy.value for policy in MissingPolicy)]
    # the shorthand `missing: median` has no value to carry, so it cannot say `constant`
    ShorthandPolicy = Literal[tuple(p.value for p in MissingPolicy if p is not MissingPolicy.CONSTANT)]
    UnseenName = Literal[tuple(policy.value for policy in UnseenPolicy)]


class SchemaFileError(ChurnGuardError):
    """A schema file that cannot be used; carries every problem as (key path, message)."""

    def __init__(self, location: str, problems: list[tuple[str, str]]) -> None:
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"schema {location} has {len(problems)} {noun}:\n{lines}")
        self.location = location
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MissingIn(_Strict):
    policy: PolicyName = "refuse"
    value: LabelValue | None = None


class FieldIn(_Strict):
    kind: KindName
    labels: list[LabelValue | StrictBool] = Field(default_factory=list)
    minimum: StrictInt | StrictFloat | None = None
    maximum: StrictInt | StrictFloat | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True
    unit: str = ""
    missing: MissingIn | ShorthandPolicy = "refuse"
    unseen: UnseenName = "refuse"
    display_name: str = ""
    help: str = ""
    label_names: list[StrictStr] = Field(default_factory=list)
    fixed: StrictBool = False


class FeatureIn(_Strict):
    op: OperationName
    inputs: Annotated[list[StrictStr], Field(min_length=1)]
    threshold: StrictInt | StrictFloat | None = None
    floor: StrictInt | StrictFloat = 0.0
    scale: StrictInt | StrictFloat = 1.0
    value: LabelValue | None = None
    display_name: str = ""
    help: str = ""


class LabelIn(_Strict):
    column: StrictStr
    positive: LabelValue | list[LabelValue]
    negative: LabelValue | list[LabelValue] = Field(default_factory=list)


def _label_shorthand(value: Any) -> Any:
    """`label: {Churn: "Yes"}` is `label: {column: Churn, positive: "Yes"}`."""
    if isinstance(value, dict) and len(value) == 1 and not ({"column", "positive", "negative"} & set(value)):
        ((column, positive),) = value.items()
        return {"column": column, "positive": positive}
    return value


class QualityIn(_Strict):
    min_f1: StrictInt | StrictFloat | None = None
    max_rejected_share: StrictInt | StrictFloat | None = None

    def to_domain(self) -> Quality:
        return Quality(
            min_f1=None if self.min_f1 is None else float(self.min_f1),
            max_rejected_share=None if self.max_rejected_share is None else float(self.max_rejected_share),
        )


class SplitIn(_Strict):
    time_column: StrictStr
    embargo_days: Annotated[StrictInt, Field(ge=0)] = 0


class SurvivalIn(_Strict):
    duration: StrictStr
    value: StrictStr | None = None
    horizon: StrictInt = 12
    unit: StrictStr = "period"
    exclude: list[StrictStr] = Field(default_factory=list)


class SchemaIn(_Strict):
    name: StrictStr
    description: str = ""
    id: StrictStr | None = None
    label: Annotated[LabelIn, BeforeValidator(_label_shorthand)]
    fields: Annotated[dict[str, FieldIn], Field(min_length=1)]
    features: dict[str, FeatureIn] = Field(default_factory=dict)
    passthrough: dict[str, str] = Field(default_factory=dict)
    """Column -> why it is carried and never a feature."""
    quality: QualityIn = QualityIn()
    split: SplitIn | None = None
    """Rows observed at different times: split by this pass-through column (out of time)."""
    survival: SurvivalIn | None = None
    """Time to churn: the duration field, the value per period, the horizon."""


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def field_to_domain(name: str, spec: FieldIn) -> SchemaField:
    missing = spec.missing if isinstance(spec.missing, MissingIn) else MissingIn(policy=spec.missing)
    return SchemaField(
        name=name,
        kind=Kind(spec.kind),
        labels=tuple(spec.labels),  # booleans are named by schema_problems
        minimum=spec.minimum,
        maximum=spec.maximum,
        minimum_inclusive=spec.minimum_inclusive,
        maximum_inclusive=spec.maximum_inclusive,
        unit=spec.unit,
        missing=Missing(MissingPolicy(missing.policy), missing.value),
        unseen=UnseenPolicy(spec.unseen),
        display_name=spec.display_name,
        help=spec.help,
        label_names=tuple(spec.label_names),
        fixed=spec.fixed,
    )


def _to_domain(model: SchemaIn) -> TableSchema:
    fields = [field_to_domain(name, spec) for name, spec in model.fields.items()]
    features = [
        Feature(
            name=name,
            operation=Operation(spec.op),
            inputs=tuple(spec.inputs),
            threshold=spec.threshold,
            floor=float(spec.floor),
            scale=float(spec.scale),
            value=spec.value,
            display_name=spec.display_name,
            help=spec.help,
        )
        for name, spec in model.features.items()
    ]
    return TableSchema(
        name=model.name,
        label=LabelColumn(model.label.column, _as_tuple(model.label.positive), _as_tuple(model.label.negative)),
        fields=tuple(fields),
        features=tuple(features),
        id_column=model.id,
        description=model.description,
        passthrough=tuple(PassThrough(column, reason) for column, reason in model.passthrough.items()),
        quality=model.quality.to_domain(),
        split=None if model.split is None else TimeSplit(model.split.time_column, model.split.embargo_days),
        survival=None
        if model.survival is None
        else Survival(
            model.survival.duration,
            model.survival.value,
            model.survival.horizon,
            model.survival.unit,
            tuple(model.survival.exclude),
        ),
    )


def pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        # union members repeat the same location: keep the first message per key path
        path = ".".join(str(part) for part in item["loc"] if not str(part).startswith(("function-", "literal[")))
        path = ".".join(p for p in path.split(".") if p not in ("str", "int", "float", "bool", "MissingIn"))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "is not a schema key"
        elif item["type"] == "missing":
            message = "is required"
        problems.append((path or "(file)", message))
    seen: set[str] = set()
    unique = []
    for path, message in problems:
        if path not in seen:
            seen.add(path)
            unique.append((path, message))
    return unique


M = TypeVar("M", bound=BaseModel)
D = TypeVar("D")


def validated(data: Any, location: str, model: type[M], to_domain: Callable[[M], D], keys: str) -> D:
    """A schema file's data read by its pydantic `model`, then built by `to_domain`; every
    problem of either step in one SchemaFileError, by key path. `keys`: what the file must hold."""
    if not isinstance(data, dict):
        raise SchemaFileError(location, [("(file)", f"must be a mapping with {keys}")])
    try:
        read = model.model_validate(data)
    except ValidationError as error:
        raise SchemaFileError(location, pydantic_problems(error)) from None
    try:
        return to_domain(read)
    except InvalidSchema as error:
        raise SchemaFileError(location, list(error.problems)) from None


def parse_schema(data: Any, location: str) -> TableSchema:
    """A schema from already-parsed YAML/JSON data; SchemaFileError lists every problem."""
    return validated(data, location, SchemaIn, _to_domain, "name, label and fields")


def read_yaml_file(path: Path | str) -> Any:
    """A YAML (or JSON) file's data; SchemaFileError for a missing, unreadable or broken file."""
    location = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaFileError(location, [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SchemaFileError(location, [("(file)", f"cannot read it: {error}")]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise SchemaFileError(
            location, [("(file)", f"not valid YAML{where}: {getattr(error, 'problem', error)}")]
        ) from None


def load_schema(path: Path | str) -> TableSchema:
    """Read and validate a schema file (YAML; JSON is YAML too). An event schema file reads as
    the table its observation builder writes: `--schema events.yaml` trains on that table."""
    return table_schema_of(read_yaml_file(path), str(path))


def table_schema_of(data: Any, location: str) -> TableSchema:
    """A schema file's data as a table schema: an event schema's is the table its builder writes."""
    if is_event_schema(data):
        from churnguard.adapters.yaml_event_schema import parse_event_schema

        return parse_event_schema(data, location).observation_schema()
    return parse_schema(data, location)


def is_event_schema(data: Any) -> bool:
    """An event schema declares `events:`; a table schema declares `fields:`."""
    return isinstance(data, dict) and "events" in data


def yaml_form(schema: TableSchema) -> dict[str, Any]:
    """The schema as a file writes it: fields and features keyed by name, in declared order."""
    mapping = schema_to_mapping(schema)
    for key in ("fields", "features"):
        if key in mapping:
            mapping[key] = {item.pop("name"): item for item in mapping[key]}
    if "passthrough" in mapping:
        mapping["passthrough"] = {item["column"]: item["reason"] for item in mapping["passthrough"]}
    return mapping


def dump_schema(schema: TableSchema) -> str:
    """The YAML form of a schema, keys in declaration order."""
    return str(yaml.safe_dump(yaml_form(schema), sort_keys=False, allow_unicode=True, width=100))


class YamlSchemaReader:
    """The SchemaReader port over YAML files."""

    def load(self, location: str) -> TableSchema:
        return load_schema(location)

    def parse(self, text: str, location: str) -> TableSchema:
        return table_schema_of(parse_yaml_text(text, location), location)


def parse_yaml_text(text: str, location: str) -> Any:
    """A schema file's text as data; SchemaFileError where it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SchemaFileError(location, [("(file)", f"not valid YAML: {error}")]) from None
