"""The /predict request model, generated from a schema's field rules.

The API, the CSV validator and the domain check read the same `Field`s, so they cannot
disagree about a field's type, range or labels; a property test holds the generated model to
the domain's `TableSchema.check_record` for any generated schema. For the original schema the
result is the original ChurnGuard's request model, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    create_model,
)
from pydantic import Field as Declared

from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import Field, Kind, MissingPolicy, TableSchema, UnseenPolicy, label_text

ORIGINAL_EXAMPLE: dict[str, Any] = {
    "gender": 0,
    "age": 47,
    "partner": 0,
    "dependents": 0,
    "tenure_months": 1,
    "monthly_charges": 98.53,
    "contract_type": 0,
    "payment_method": 2,
    "paperless_billing": 1,
    "internet_service": 2,
    "online_security": 0,
    "tech_support": 1,
    "num_tickets": 1,
}
"""The original ChurnGuard's example request."""


def _integral(value: Any) -> Any:
    """JSON Schema's `integer` includes 56.0 (a number with no fraction); strict ints then refuse
    the rest: 56.5, true, "56". Found by schemathesis (ST202), kept by a regression test."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


INTEGRAL = BeforeValidator(_integral)


def _one_of(codes: frozenset[int]) -> AfterValidator:
    def check(value: int) -> int:
        if value not in codes:
            raise ValueError(f"must be one of {sorted(codes)}")
        return value

    return AfterValidator(check)


def field_type(spec: Field, titled: bool = True) -> Any:
    """The pydantic type of one field's JSON value, constraints stated in JSON Schema terms.

    `titled`: the display name as the JSON Schema title (the original's request model has
    pydantic's own titles, kept as they were)."""
    described: dict[str, Any] = {"description": spec.description} if spec.description else {}
    if titled:
        described["title"] = spec.title
    codes = spec.allowed
    if codes is not None and spec.unseen is UnseenPolicy.OTHER:
        shown = ", ".join(str(code) for code in codes)
        note = f'{spec.description or ""} one of {shown}; another code counts as "other"'.strip()
        return Annotated[
            int,
            Declared(strict=True, json_schema_extra={"examples": list(codes)}, **{**described, "description": note}),
            INTEGRAL,
        ]
    if codes is not None:
        low, high = min(codes), max(codes)
        extra: dict[str, Any] = {"enum": list(codes)}
        if list(codes) == list(range(low, high + 1)):
            # strict int in a contiguous code range: Literal would let true through
            return Annotated[
                int, Declared(strict=True, ge=low, le=high, json_schema_extra=extra, **described), INTEGRAL
            ]
        return Annotated[
            int, Declared(strict=True, json_schema_extra=extra, **described), INTEGRAL, _one_of(frozenset(codes))
        ]
    if spec.has_labels:
        labels = tuple(label_text(label) for label in spec.labels)
        if spec.unseen is UnseenPolicy.OTHER:
            return Annotated[
                str,
                Declared(
                    strict=True,
                    pattern=r"\S",  # a blank is a missing value: null, or no key, where the schema imputes one
                    json_schema_extra={"examples": list(labels)},
                    **{
                        **described,
                        "description": f"{spec.description or ''} one of {', '.join(labels)}; "
                        'another label counts as "other"'.strip(),
                    },
                ),
            ]
        return Annotated[Literal[labels], Declared(**described)]
    bounds: dict[str, Any] = {}
    if spec.minimum is not None:
        bounds["ge" if spec.minimum_inclusive else "gt"] = spec.minimum
    if spec.maximum is not None:
        bounds["le" if spec.maximum_inclusive else "lt"] = spec.maximum
    if spec.kind is Kind.INTEGER:
        return Annotated[int, Declared(strict=True, **described, **bounds), INTEGRAL]
    # strict: JSON numbers only (an int is a number; true and "1.5" are not)
    return Annotated[float, Declared(strict=True, allow_inf_nan=False, **described, **bounds)]


def customer_model(schema: TableSchema, example: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """One customer of `schema`: its fields (optional where the schema imputes a missing value),
    the id column if it declares one (echoed back, never a feature), its pass-through columns
    (accepted and ignored), nothing else."""
    fields: dict[str, Any] = {}
    if schema.id_column:
        fields[schema.id_column] = (
            Annotated[str, Declared(strict=True)] | Annotated[int, Declared(strict=True), INTEGRAL] | None,
            Declared(default=None, description="the customer's id, echoed back as customer_id; not a feature"),
        )
    for item in schema.passthrough:
        fields[item.column] = (
            StrictStr | StrictInt | StrictFloat | StrictBool | None,
            Declared(
                default=None, description=f"carried with the row, never a feature ({item.reason or 'pass-through'})"
            ),
        )
    original = schema.hash == ORIGINAL_SCHEMA.hash
    for spec in schema.fields:
        kind = field_type(spec, titled=not original)
        if spec.missing.policy is MissingPolicy.REFUSE:
            fields[spec.name] = (kind, ...)
        else:
            fields[spec.name] = (kind | None, Declared(default=None))
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [dict(example)]} if example else None)
    model: type[BaseModel] = create_model("CustomerIn", __config__=config, **fields)
    count = f"the {len(schema.fields)} raw fields" if original else f"the fields of schema {schema.name}"
    model.__doc__ = f"One customer: {count}, exact types, no extra fields."
    return model


def example_of(schema: TableSchema, typical: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request example /docs shows: the original's own; else the `typical` customer (the
    champion's most typical training customer) in the schema's field order, under an example id;
    else, with no champion yet, a customer in every field's domain (first label, mid-range)."""
    if schema.hash == ORIGINAL_SCHEMA.hash:
        return dict(ORIGINAL_EXAMPLE)
    example: dict[str, Any] = {schema.id_column: "example-customer-1"} if schema.id_column else {}
    typical = typical or {}
    for spec in schema.fields:
        if typical.get(spec.name) is not None:
            example[spec.name] = typical[spec.name]
        elif spec.has_labels:
            label = spec.labels[0]
            example[spec.name] = int(label) if spec.numeric_labels else label_text(label)
        else:
            low = spec.minimum if spec.minimum is not None else 0.0
            high = spec.maximum if spec.maximum is not None else low + 100.0
            middle = (low + high) / 2
            example[spec.name] = int(middle) if spec.kind is Kind.INTEGER else round(middle, 2)
    return example
