"""Request and response bodies. The customer schema is generated from the domain's field
rules, so the API, the CSV schema and CustomerProfile can never disagree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from churnguard.domain.customer import FIELD_RULES, FieldRule

EXAMPLE_CUSTOMER: dict[str, Any] = {
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


def _field_type(rule: FieldRule) -> Any:
    if rule.allowed is not None:
        # strict int in a contiguous code range: Literal would let true through
        assert list(rule.allowed) == list(range(min(rule.allowed), max(rule.allowed) + 1))
        return Annotated[
            int,
            Field(
                strict=True,
                ge=min(rule.allowed),
                le=max(rule.allowed),
                description=rule.description,
                json_schema_extra={"enum": list(rule.allowed)},
            ),
            INTEGRAL,  # after the constraints, so they stay in the JSON schema as minimum/maximum
        ]
    bounds: dict[str, Any] = {}
    if rule.minimum is not None:
        bounds["ge" if rule.minimum_inclusive else "gt"] = rule.minimum
    if rule.maximum is not None:
        bounds["le" if rule.maximum_inclusive else "lt"] = rule.maximum
    if rule.is_integer:
        return Annotated[int, Field(strict=True, description=rule.description, **bounds), INTEGRAL]
    return Annotated[float, Field(allow_inf_nan=False, description=rule.description, **bounds)]


CustomerIn: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "CustomerIn",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CUSTOMER]}),
    **{rule.name: (_field_type(rule), ...) for rule in FIELD_RULES},
)
CustomerIn.__doc__ = "One customer: the 13 raw fields, exact types, no extra fields."


class ContributionOut(BaseModel):
    feature: str
    value: float
    contribution: float = Field(
        description="p(customer) - p(customer with this field at its training mean; a category at its mode)"
    )


class ShapOut(BaseModel):
    explainer: str
    output: Literal["log_odds_uncalibrated"] = "log_odds_uncalibrated"
    note: str = "SHAP values explain the model's raw log-odds before calibration; values + expected_value = log-odds."
    expected_value: float
    log_odds: float
    values: dict[str, float]


class PredictionOut(BaseModel):
    churn_prediction: int = Field(description="1 if churn_probability >= threshold")
    churn_probability: float
    risk_band: Literal["low", "medium", "high"]
    threshold: float
    model_version: str
    churn_rate_baseline: float
    feature_contributions: list[ContributionOut] | None = None
    shap: ShapOut | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customers: list[dict[str, Any]] = Field(description="customers, each validated on its own")


class RowError(BaseModel):
    index: int
    errors: list[dict[str, Any]]


class BatchOut(BaseModel):
    model_version: str
    threshold: float
    predictions: list[PredictionOut | None] = Field(description="null where the row was rejected")
    errors: list[RowError]
    scored: int
    rejected: int


class HealthOut(BaseModel):
    status: Literal["healthy"] = "healthy"
    model_loaded: bool
    model_version: str | None


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    model_version: str


class ModelInfoOut(BaseModel):
    model_version: str
    registry_version: str | None
    run_id: str | None
    trained_at: str
    family: str | None
    params: dict[str, Any]
    metrics: dict[str, float]
    threshold: float
    churn_rate: float
    data_hash: str
    features: list[str]
    quality_gate: dict[str, float]


class ErrorOut(BaseModel):
    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)
