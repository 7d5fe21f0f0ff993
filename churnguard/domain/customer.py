"""The customer profile: the 13 raw fields a telecom hands us, each with its allowed domain."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum

from churnguard.domain.errors import InvalidProfile


class FieldKind(Enum):
    """How a raw field must be read by a model.

    BINARY and NUMERIC are used as numbers; NOMINAL codes are labels with no order
    (contract 2 is not "twice" contract 1), so a model should treat them as categories.
    """

    BINARY = "binary"
    NUMERIC = "numeric"
    NOMINAL = "nominal"


@dataclass(frozen=True, slots=True)
class FieldRule:
    """The domain of one raw field: a set of allowed codes, or a numeric interval."""

    name: str
    kind: FieldKind
    is_integer: bool
    allowed: tuple[int, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True
    description: str = ""

    @property
    def rule(self) -> str:
        """Human-readable statement of the rule, used in every error message."""
        if self.allowed is not None:
            return f"must be one of {{{', '.join(str(code) for code in self.allowed)}}}"
        low = "" if self.minimum is None else f"{'>=' if self.minimum_inclusive else '>'} {self.minimum:g}"
        high = "" if self.maximum is None else f"{'<=' if self.maximum_inclusive else '<'} {self.maximum:g}"
        kind = "an integer" if self.is_integer else "a number"
        return f"must be {kind} " + " and ".join(part for part in (low, high) if part)

    def check(self, value: object) -> None:
        """Raise InvalidProfile unless value lies in this field's domain."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidProfile(self.name, self.rule, value)
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidProfile(self.name, self.rule, value)
        if self.is_integer and float(value) != int(value):
            raise InvalidProfile(self.name, self.rule, value)
        if self.allowed is not None:
            if int(value) not in self.allowed:
                raise InvalidProfile(self.name, self.rule, value)
            return
        if self.minimum is not None and (
            value < self.minimum or (not self.minimum_inclusive and value == self.minimum)
        ):
            raise InvalidProfile(self.name, self.rule, value)
        if self.maximum is not None and (
            value > self.maximum or (not self.maximum_inclusive and value == self.maximum)
        ):
            raise InvalidProfile(self.name, self.rule, value)


_BINARY = (0, 1)

FIELD_RULES: tuple[FieldRule, ...] = (
    FieldRule("gender", FieldKind.BINARY, True, allowed=_BINARY, description="0 or 1"),
    FieldRule("age", FieldKind.NUMERIC, True, minimum=18, maximum=100, description="years"),
    FieldRule("partner", FieldKind.BINARY, True, allowed=_BINARY, description="has a partner"),
    FieldRule("dependents", FieldKind.BINARY, True, allowed=_BINARY, description="has dependents"),
    FieldRule("tenure_months", FieldKind.NUMERIC, True, minimum=0, maximum=120, description="months as a customer"),
    FieldRule(
        "monthly_charges",
        FieldKind.NUMERIC,
        False,
        minimum=0,
        maximum=500,
        minimum_inclusive=False,
        maximum_inclusive=False,
        description="monthly bill",
    ),
    FieldRule(
        "contract_type",
        FieldKind.NOMINAL,
        True,
        allowed=(0, 1, 2),
        description="0 month-to-month, 1 one year, 2 two years",
    ),
    FieldRule(
        "payment_method",
        FieldKind.NOMINAL,
        True,
        allowed=(0, 1, 2, 3),
        description="0 bank transfer, 1 credit card, 2 electronic check, 3 mailed check",
    ),
    FieldRule("paperless_billing", FieldKind.BINARY, True, allowed=_BINARY, description="paperless billing"),
    FieldRule(
        "internet_service",
        FieldKind.NOMINAL,
        True,
        allowed=(0, 1, 2),
        description="0 none, 1 DSL, 2 fiber optic",
    ),
    FieldRule("online_security", FieldKind.BINARY, True, allowed=_BINARY, description="online security add-on"),
    FieldRule("tech_support", FieldKind.BINARY, True, allowed=_BINARY, description="tech support add-on"),
    FieldRule("num_tickets", FieldKind.NUMERIC, True, minimum=0, maximum=50, description="support tickets filed"),
)

RAW_FIELDS: tuple[str, ...] = tuple(rule.name for rule in FIELD_RULES)
RULES_BY_FIELD: Mapping[str, FieldRule] = {rule.name: rule for rule in FIELD_RULES}
TARGET = "churn"


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

    def __post_init__(self) -> None:
        for rule in FIELD_RULES:
            rule.check(getattr(self, rule.name))

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
