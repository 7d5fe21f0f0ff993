"""How a prediction is shown to clients, the same for the API and the CLI."""

from __future__ import annotations

from typing import Any

from churnguard.application.predict_churn import ChurnPrediction

RISK_BANDS = ((0.3, "low"), (0.6, "medium"))


def risk_band(probability: float) -> str:
    """low < 0.3 <= medium < 0.6 <= high."""
    for upper, band in RISK_BANDS:
        if probability < upper:
            return band
    return "high"


def prediction_json(prediction: ChurnPrediction) -> dict[str, Any]:
    return {
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
