"""What the web UI reads: the served schema, the model's diagnostics, the monitoring data and
the page itself. Everything here is JSON the UI draws offline (no CDN)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from churnguard.application.ports import DriftReport
from churnguard.domain.drift_policy import FeatureDrift
from churnguard.domain.reference_profile import PROBABILITY_BINS
from churnguard.entrypoints.http.schemas import ErrorOut
from churnguard.entrypoints.http.serving import Serving

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TRAFFIC_BUCKETS = 36


router = APIRouter()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _test(drift: FeatureDrift) -> dict[str, Any]:
    return {
        "feature": drift.feature,
        "test": drift.test,
        "statistic": _finite(drift.statistic),
        "threshold": drift.threshold,
        "drifted": drift.drifted,
    }


def _drift_view(report: DriftReport, titles: Mapping[str, str]) -> dict[str, Any]:
    """The latest drift check as the Monitoring view draws it: drifted fields first, each group by
    the field's weight in the verdict (its influence on the champion), heaviest first."""
    verdict, estimated = report.verdict, report.estimated
    weights = verdict.weights
    fields = sorted(
        report.features,
        key=lambda f: (not f.drifted, -weights.get(f.feature, 0.0), titles.get(f.feature, f.feature).lower()),
    )
    return {
        "checked_at": report.checked_at.isoformat(),
        "dataset_drift": verdict.drifted,
        "drift_share": verdict.drift_share,
        "reasons": list(verdict.reasons),
        "current_source": report.current_source,
        "rules_fired": list(verdict.rules),
        "plain_share": verdict.drift_share,
        "weighted_share": verdict.weighted_share,
        "prediction_drift": None
        if report.prediction is None
        else {k: v for k, v in _test(report.prediction).items() if k != "feature"},
        "estimated_performance": None
        if estimated is None
        else {
            "f1": _finite(estimated.f1),
            "precision": _finite(estimated.precision),
            "recall": _finite(estimated.recall),
            "roc_auc": _finite(estimated.roc_auc),
            "f1_interval": [_finite(v) for v in estimated.f1_interval],
            "roc_auc_interval": [_finite(v) for v in estimated.roc_auc_interval],
            "threshold": estimated.threshold,
            "rows": estimated.rows,
            "f1_floor": report.f1_floor,
            "below_f1_floor": report.below_f1_floor,
        },
        "fields": [
            {**_test(f), "title": titles.get(f.feature, f.feature), "weight": weights.get(f.feature)} for f in fields
        ],
    }


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


@router.get("/schema", summary="The served schema: fields, rules, labels, presets from the training data")
async def schema(request: Request) -> dict[str, Any]:
    serving = _serving(request)
    return dict(serving.schema_body())


@router.get(
    "/model/diagnostics",
    summary="The champion's holdout ROC curve, calibration, confusion matrix and feature importance",
    responses={404: {"model": ErrorOut}},
)
async def diagnostics(request: Request) -> Any:
    serving = _serving(request)
    loaded, found = serving.champion.peek(), serving.diagnostics
    if loaded is None or found is None:
        detail = "no champion loaded" if loaded is None else "this version was stored without diagnostics"
        return JSONResponse({"detail": detail, "errors": []}, 404)
    body = found.as_json()
    schema = loaded.version.schema
    titles = {f.name: f.title for f in schema.fields} | {f.name: f.title for f in schema.features}
    for item in body["importance"]:
        item["title"] = titles.get(item["feature"], item["feature"])
    return {"model_version": loaded.version.fingerprint, **body}


@router.get(
    "/monitoring/traffic",
    summary="Predictions per time bucket, the served probability mix against training, the latest drift check",
    responses={422: {"model": ErrorOut}},
)
async def traffic(request: Request, hours: Annotated[float, Query(gt=0, le=24 * 30)] = 6.0) -> dict[str, Any]:
    serving = _serving(request)
    now = time.time()
    bucket_seconds = hours * 3600 / TRAFFIC_BUCKETS
    since = now - hours * 3600
    summary = await run_in_threadpool(
        serving.history.traffic, since, bucket_seconds, PROBABILITY_BINS, serving.schema.hash
    )
    loaded, profile = serving.champion.peek(), serving.profile
    served = sum(summary.probability_counts)
    report = serving.drift_reports.latest()
    drift = None if report is None else _drift_view(report, {f.name: f.title for f in serving.schema.fields})
    return {
        "now": now,
        "hours": hours,
        "bucket_seconds": bucket_seconds,
        "buckets": [
            {
                "start": b.start,
                "predictions": b.predictions,
                "churn_rate": b.churn_predictions / b.predictions,
                "mean_probability": b.mean_probability,
            }
            for b in summary.buckets
        ],
        "training_churn_rate": None if loaded is None else loaded.version.churn_rate,
        "probability_bins": PROBABILITY_BINS,
        "served_probability_shares": [count / served if served else 0.0 for count in summary.probability_counts],
        "served_predictions": served,
        "training_probability_shares": None if profile is None else list(profile.probability_shares),
        "drift": drift,
        "outcomes": serving.outcome_reports.latest(),
    }


@router.get("/monitoring/summary", summary="Request and prediction totals and the latest drift check, for the UI")
async def monitoring_summary(request: Request) -> dict[str, Any]:
    serving = _serving(request)
    totals = serving.metrics.totals()
    report = serving.drift_reports.latest()
    drift = None
    if report is not None:
        drift = {
            "dataset_drift": report.verdict.drifted,
            "drift_share": report.verdict.drift_share,
            "drifted_features": list(report.verdict.drifted_features),
            "features": len(report.features),
            "checked_at": report.checked_at.isoformat(),
        }
    api = serving.settings.api
    links = {name: url for name, url in (("MLflow", api.mlflow_ui_url), ("Grafana", api.grafana_url)) if url}
    loaded = serving.champion.peek()
    return {
        "requests_total": int(totals["requests_total"]),
        "predictions_total": int(totals["churn"] + totals["no_churn"]),
        "churn_predictions": int(totals["churn"]),
        "no_churn_predictions": int(totals["no_churn"]),
        "model_version": None if loaded is None else loaded.version.fingerprint,
        "schema": serving.schema.name,
        "drift": drift,
        "links": links,
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
