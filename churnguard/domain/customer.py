"""The original ChurnGuard schema and its typed customer profile (the 13 raw fields the
original API takes). Other tables are declared as a TableSchema and read through it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import ClassVar

from churnguard.domain.errors import InvalidProfile
from churnguard.domain.schema import Feature, Field, FieldKind, Kind, LabelColumn, Operation, Quality, TableSchema

__all__ = [
    "FIELD_RULES",
    "ORIGINAL_PRESETS",
    "ORIGINAL_SCHEMA",
    "RAW_FIELDS",
    "RULES_BY_FIELD",
    "TARGET",
    "Customer",
    "CustomerProfile",
    "FieldKind",
    "FieldRule",
]


FieldRule = Field
"""A raw field's declaration (the name the original code used)."""

_BINARY: tuple[int, ...] = (0, 1)


def _binary(name: str, title: str, help_text: str) -> Field:
    names = () if name == "gender" else ("No", "Yes")  # the original never said which gender 0 is
    return Field(
        name, Kind.BINARY, labels=_BINARY, display_name=title, help=help_text, label_names=names, fixed=name == "gender"
    )


ORIGINAL_SCHEMA = TableSchema(
    name="original",
    description="The original ChurnGuard table: 13 raw fields of a telecom customer and churn 0/1.",
    label=LabelColumn("churn", positive=(1,), negative=(0,)),
    quality=Quality(min_f1=0.72),
    fields=(
        _binary("gender", "Gender", "0 or 1"),
        Field("age", Kind.INTEGER, minimum=18, maximum=100, unit="years", display_name="Age", help="years"),
        _binary("partner", "Partner", "has a partner"),
        _binary("dependents", "Dependents", "has dependents"),
        Field(
            "tenure_months",
            Kind.INTEGER,
            minimum=0,
            maximum=120,
            unit="months",
            display_name="Tenure",
            help="months as a customer",
        ),
        Field(
            "monthly_charges",
            Kind.NUMBER,
            minimum=0,
            maximum=500,
            minimum_inclusive=False,
            maximum_inclusive=False,
            unit="$",
            display_name="Monthly charges",
            help="monthly bill",
        ),
        Field(
            "contract_type",
            Kind.CATEGORY,
            labels=(0, 1, 2),
            label_names=("Month-to-month", "One year", "Two year"),
            display_name="Contract",
            help="0 month-to-month, 1 one year, 2 two years",
        ),
        Field(
            "payment_method",
            Kind.CATEGORY,
            labels=(0, 1, 2, 3),
            label_names=("Bank transfer", "Credit card", "Electronic check", "Mailed check"),
            display_name="Payment method",
            help="0 bank transfer, 1 credit card, 2 electronic check, 3 mailed check",
        ),
        _binary("paperless_billing", "Paperless billing", "paperless billing"),
        Field(
            "internet_service",
            Kind.CATEGORY,
            labels=(0, 1, 2),
            label_names=("None", "DSL", "Fiber optic"),
            display_name="Internet service",
            help="0 none, 1 DSL, 2 fiber optic",
        ),
        _binary("online_security", "Online security", "online security add-on"),
        _binary("tech_support", "Tech support", "tech support add-on"),
        Field(
            "num_tickets",
            Kind.INTEGER,
            minimum=0,
            maximum=50,
            unit="tickets",
            display_name="Support tickets",
            help="support tickets filed",
        ),
    ),
    features=(
        Feature(
            "senior_citizen",
            Operation.AT_LEAST,
            ("age",),
            threshold=65,
            display_name="Senior citizen",
            help="age >= 65",
        ),
        Feature(
            "total_charges",
            Operation.PRODUCT,
            ("tenure_months", "monthly_charges"),
            display_name="Total charges",
            help="tenure_months * monthly_charges: what the customer has paid so far",
        ),
        Feature(
            "ticket_rate",
            Operation.RATIO,
            ("num_tickets", "tenure_months"),
            floor=1.0,
            scale=12.0,
            display_name="Tickets per year",
            help="num_tickets / max(tenure_months, 1) * 12",
        ),
    ),
)
"""The default schema; `schemas/original.yaml` is its file form, and a test holds them equal."""

ORIGINAL_PRESETS: Mapping[str, Mapping[str, int | float]] = {
    "high risk": {
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
        "tech_support": 0,
        "num_tickets": 6,
    },
    "loyal": {
        "gender": 1,
        "age": 52,
        "partner": 1,
        "dependents": 1,
        "tenure_months": 66,
        "monthly_charges": 60.9,
        "contract_type": 2,
        "payment_method": 0,
        "paperless_billing": 0,
        "internet_service": 1,
        "online_security": 1,
        "tech_support": 1,
        "num_tickets": 0,
    },
    "new customer": {
        "gender": 0,
        "age": 29,
        "partner": 0,
        "dependents": 0,
        "tenure_months": 2,
        "monthly_charges": 55.2,
        "contract_type": 0,
        "payment_method": 1,
        "paperless_billing": 1,
        "internet_service": 1,
        "online_security": 0,
        "tech_support": 0,
        "num_tickets": 1,
    },
    "senior": {
        "gender": 1,
        "age": 71,
        "partner": 1,
        "dependents": 0,
        "tenure_months": 30,
        "monthly_charges": 84.1,
        "contract_type": 1,
        "payment_method": 3,
        "paperless_billing": 0,
        "internet_service": 2,
        "online_security": 0,
        "tech_support": 1,
        "num_tickets": 2,
    },
    "family": {
        "gender": 0,
        "age": 41,
        "partner": 1,
        "dependents": 1,
        "tenure_months": 40,
        "monthly_charges": 72.4,
        "contract_type": 1,
        "payment_method": 1,
        "paperless_billing": 1,
        "internet_service": 1,
        "online_security": 1,
        "tech_support": 0,
        "num_tickets": 1,
    },
}
"""The original ChurnGuard's five preset customers, shown before the ones drawn from the data."""

FIELD_RULES: tuple[Field, ...] = ORIGINAL_SCHEMA.fields
RAW_FIELDS: tuple[str, ...] = ORIGINAL_SCHEMA.raw_fields
RULES_BY_FIELD: Mapping[str, Field] = ORIGINAL_SCHEMA.field_by_name
TARGET = ORIGINAL_SCHEMA.label.column


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """One customer as the telecom describes them; construction validates every field."""

    gender: int
    age: int
    partner: int
    dependents: int
    tenure_months: int
    monthly_charges: float
    contract_type: int
    payment_method: int
    paperless_billing: int
    internet_service: int
    online_security: int
    tech_support: int
    num_tickets: int

    schema_hash: ClassVar[str] = ORIGINAL_SCHEMA.hash

    def __post_init__(self) -> None:
        for rule in FIELD_RULES:
            rule.check(getattr(self, rule.name))

    def encoded(self) -> list[float]:
        """The fields as the model reads them (the original's codes are their own encoding)."""
        return [getattr(self, name) for name in RAW_FIELDS]

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> CustomerProfile:
        """Build from a mapping of the 13 raw fields; a missing or unknown field is an error."""
        missing = [name for name in RAW_FIELDS if name not in values]
        if missing:
            raise InvalidProfile(missing[0], "is required", None)
        unknown = sorted(set(values) - set(RAW_FIELDS))
        if unknown:
            raise InvalidProfile(unknown[0], "is not a customer field", values[unknown[0]])
        return cls(**{name: values[name] for name in RAW_FIELDS})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, float]:
        """The raw fields in their fixed order."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer of any schema, checked and encoded by `TableSchema.check_record`."""

    values: tuple[float, ...]
    """Encoded fields in the schema's order; NaN where the model's imputation fills in."""
    record: Mapping[str, object]
    """The fields as given (labels, not codes), for traces and logs."""
    schema_hash: str
    customer_id: object = None

    @classmethod
    def from_record(cls, schema: TableSchema, record: Mapping[str, object], cells: bool = False) -> Customer:
        """`cells`: a row of a table, read by the table's rules (TableSchema.check_record)."""
        values = schema.check_record(record, cells)
        customer_id = record.get(schema.id_column) if schema.id_column else None
        fields_only = {name: record.get(name) for name in schema.raw_fields}
        return cls(tuple(values.tolist()), fields_only, schema.hash, customer_id)

    def encoded(self) -> list[float]:
        return list(self.values)

    def as_dict(self) -> dict[str, object]:
        return dict(self.record)
