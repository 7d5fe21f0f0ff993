"""Request and response bodies. The customer schema is generated from the domain's field
rules, so the API, the CSV schema and CustomerProfile can never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from churnguard.application.champion import ServingForm
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.entrypoints.http.request_model import ORIGINAL_EXAMPLE, customer_model

EXAMPLE_CUSTOMER = ORIGINAL_EXAMPLE
CustomerIn: type[BaseModel] = customer_model(ORIGINAL_SCHEMA, ORIGINAL_EXAMPLE)
"""The original schema's request model (the app builds the served schema's own)."""


class ContributionOut(BaseModel):
    feature: str
    value: float
    contribution: float = Field(
        description="p(customer) - p(customer with this field at its training mean; a category at its mode)"
    )


class LabelledContributionOut(ContributionOut):
    value: float | str = Field(description="the field's value: a number, or a text label")  # type: ignore[assignment]


class ShapOut(BaseModel):
    explainer: str
    output: Literal["log_odds_uncalibrated"] = "log_odds_uncalibrated"
    note: str = "SHAP values explain the model's raw log-odds before calibration; values + expected_value = log-odds."
    expected_value: float
    log_odds: float
    values: dict[str, float]


class HorizonOut(BaseModel):
    periods: int
    probability: float = Field(description="P(churn within this many periods | the tenure so far)")


class SurvivalOut(BaseModel):
    """Time to churn, where the schema declares `survival` (absent otherwise)."""

    horizon: int = Field(description="the periods the curve reaches (the schema's survival.horizon)")
    unit: str = Field(description="what a period is (month, week...)")
    tenure: float = Field(description="the periods stayed so far: the curve starts there")
    curve: list[float] = Field(description="S(t | tenure) for t = 0 .. horizon: P(still a customer t periods on)")
    churn_within: list[HorizonOut] = Field(description="never decreasing in the horizon")
    expected_remaining: float = Field(description="expected periods still a customer within the horizon")
    value_per_period: float | None = Field(description="the schema's survival.value field, if declared")
    revenue_at_risk: float | None = Field(description="value_per_period x (horizon - expected_remaining)")
    contributions: list[LabelledContributionOut] | None = Field(
        None, description="each field's contribution to P(churn within the horizon), as feature_contributions"
    )


class PredictionOut(BaseModel):
    churn_prediction: int = Field(description="1 if churn_probability >= threshold")
    churn_probability: float
    risk_band: Literal["low", "medium", "high"]
    threshold: float
    model_version: str
    churn_rate_baseline: float
    feature_contributions: list[ContributionOut] | None = None
    shap: ShapOut | None = None
    survival: SurvivalOut | None = None


class LabelledPredictionOut(PredictionOut):
    """A prediction for a schema other than the original: labels as values, the id echoed."""

    feature_contributions: list[LabelledContributionOut] | None = None  # type: ignore[assignment]
    customer_id: str | int | None = Field(None, description="the request's id column, where the schema declares one")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customers: list[dict[str, Any]] = Field(description="customers, each validated on its own")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: datetime | date = Field(description="when: an ISO date or time (UTC unless it names a zone)")
    type: str | None = Field(None, description="the event's type, where the event schema declares a type column")
    values: dict[str, float] = Field(default_factory=dict, description="value columns of the event schema")


class EventsIn(BaseModel):
    """One customer's history: scored as of `as_of` from the events strictly before it."""

    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(description="the customer's id (the event schema's id column)", min_length=1)
    as_of: date | None = Field(None, description="the date to score as of (default: today, UTC)")
    events: list[EventIn] = Field(description="the customer's events, in any order", min_length=1, max_length=100_000)
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="the static attributes the event schema declares (customers.fields)"
    )


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


class LabelledBatchOut(BaseModel):
    model_version: str
    threshold: float
    predictions: list[LabelledPredictionOut | None] = Field(description="null where the row was rejected")
    errors: list[RowError]
    scored: int
    rejected: int


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    model_loaded: bool
    model_version: str | None


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    model_version: str


class QualityGateOut(BaseModel):
    f1_floor: float | None = Field(
        description="the F1 floor the champion was promoted against (None: before floors were stored)"
    )
    f1_floor_source: str | None = Field(description="where that floor came from: MIN_F1, the schema, or the baselines")
    min_f1_setting: float | None = Field(description="this API's MIN_F1 setting, if set")
    tolerance: float
    holdout_f1: float
    baselines: dict[str, float] = Field(description="holdout F1 of no skill and of a plain logistic regression")


class ModelInfoOut(BaseModel):
    model_version: str
    registry_version: str | None
    run_id: str | None
    trained_at: str
    family: str | None
    serving_form: ServingForm = Field(
        description="compiled: the numpy twin compiled from the fitted model answers; fitted: the model itself"
    )
    params: dict[str, Any]
    metrics: dict[str, float]
    threshold: float
    churn_rate: float
    data_hash: str
    features: list[str]
    schema_: dict[str, Any] = Field(alias="schema", description="the served schema: name, hash, fields")
    quality_gate: QualityGateOut


class ErrorOut(BaseModel):
    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)
