"""How a prediction is shown to clients, the same for the API and the CLI."""

from __future__ import annotations

from typing import Any

from churnguard.application.champion import ChurnPrediction
from churnguard.domain.schema import TableSchema
from churnguard.domain.survival import SurvivalForecast

RISK_BANDS = ((0.3, "low"), (0.6, "medium"))


def risk_band(probability: float) -> str:
    """low < 0.3 <= medium < 0.6 <= high."""
    for upper, band in RISK_BANDS:
        if probability < upper:
            return band
    return "high"


NO_ID = object()
"""A schema without an id column: no `customer_id` key (a customer of one may still send none: null)."""


def prediction_json(
    prediction: ChurnPrediction, schema: TableSchema | None = None, customer_id: object = NO_ID
) -> dict[str, Any]:
    """The response body; with a `schema`, a text-labelled field's value is shown as its label;
    a customer's id (the schema's id column) is echoed as `customer_id`, by the API and the CLI."""
    body: dict[str, Any] = {
        "churn_prediction": int(prediction.churns),
        "churn_probability": prediction.probability,
        "risk_band": risk_band(prediction.probability),
        "threshold": prediction.threshold,
        "model_version": prediction.model_version,
        "churn_rate_baseline": prediction.churn_rate_baseline,
        "feature_contributions": None
        if prediction.contributions is None
        else [
            {"feature": c.feature, "value": c.value, "contribution": c.contribution} for c in prediction.contributions
        ],
    }
    if customer_id is not NO_ID:
        body["customer_id"] = customer_id
    if prediction.survival is not None:
        body["survival"] = survival_json(prediction.survival)
    if schema is not None:
        fields = schema.field_by_name
        for contributions in (body["feature_contributions"], body.get("survival", {}).get("contributions")):
            for item in contributions or ():
                spec = fields[item["feature"]]
                if spec.has_labels and not spec.numeric_labels and item["value"] == item["value"]:
                    item["value"] = spec.label_of(item["value"])
    return body


def survival_json(forecast: SurvivalForecast) -> dict[str, Any]:
    """Time to churn as the API and the CLI show it."""
    return {
        "horizon": forecast.horizon,
        "unit": forecast.unit,
        "tenure": forecast.tenure,
        "curve": list(forecast.curve),
        "churn_within": [{"periods": h, "probability": p} for h, p in forecast.churn_within],
        "expected_remaining": forecast.expected_remaining,
        "value_per_period": forecast.value,
        "revenue_at_risk": forecast.revenue_at_risk,
        "contributions": None
        if forecast.contributions is None
        else [{"feature": c.feature, "value": c.value, "contribution": c.contribution} for c in forecast.contributions],
    }
