"""Liveness, readiness, the model card, Prometheus metrics and the admin reload."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from churnguard.entrypoints.http.schemas import ErrorOut, HealthOut, ModelInfoOut, ReadyOut
from churnguard.entrypoints.http.serving import Serving

router = APIRouter()


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


@router.get("/health", response_model=HealthOut, summary="Liveness: 200 while the process runs")
async def health(request: Request) -> dict[str, Any]:
    serving = _serving(request)
    champion = serving.champion
    loaded = champion.peek()
    return {
        "status": "ok",
        "model_loaded": loaded is not None,
        "model_version": None if loaded is None else loaded.version.fingerprint,
    }


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ErrorOut}},
    summary="Readiness: 503 until a verified champion is loaded",
)
async def ready(request: Request) -> Any:
    serving = _serving(request)
    champion = serving.champion
    loaded = champion.peek()
    if loaded is None:
        return JSONResponse(
            {"detail": f"no verified champion loaded yet ({serving.no_model_yet})", "errors": []}, status_code=503
        )
    return {"status": "ready", "model_version": loaded.version.fingerprint}


@router.get(
    "/model-info",
    response_model=ModelInfoOut,
    responses={404: {"model": ErrorOut}},
    summary="The served champion: version, params, metrics, schema (404 until one is loaded)",
)
async def model_info(request: Request) -> Any:
    serving = _serving(request)
    settings, champion = serving.settings, serving.champion
    loaded = champion.peek()
    if loaded is None:  # nothing to describe: the original's contract answers 404 here
        return JSONResponse({"detail": f"no champion loaded: {serving.no_model_yet}", "errors": []}, 404)
    version = loaded.version
    schema = version.schema
    return {
        "model_version": version.fingerprint,
        "registry_version": version.registry_version,
        "run_id": version.run_id,
        "trained_at": version.created_at.isoformat(),
        "family": version.params.get("family"),
        "serving_form": loaded.form.value,
        "params": dict(version.params),
        "metrics": {k: v for k, v in version.metrics.items() if v == v},
        "threshold": version.threshold,
        "churn_rate": version.churn_rate,
        "data_hash": version.data_hash,
        "features": list(schema.model_features),
        "schema": {"name": schema.name, "hash": schema.hash, "fields": list(schema.raw_fields)},
        "quality_gate": {
            "f1_floor": version.f1_floor.value if version.f1_floor else None,
            "f1_floor_source": version.f1_floor.source if version.f1_floor else None,
            "min_f1_setting": settings.gate.min_f1,
            "tolerance": settings.gate.f1_tolerance,
            "holdout_f1": version.f1,
            "baselines": dict(version.baselines),
        },
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def prometheus_metrics(request: Request) -> Response:
    serving = _serving(request)
    metrics = serving.metrics
    metrics.refresh_drift(serving.drift_reports.latest())
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


@router.post(
    "/admin/reload",
    summary="Load the store's current champion now (needs X-API-Key)",
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
async def admin_reload(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> JSONResponse:
    serving = _serving(request)
    settings, champion = serving.settings, serving.champion
    configured = settings.api.admin_api_key.get_secret_value() if settings.api.admin_api_key else ""
    if not configured:
        return JSONResponse({"detail": "admin endpoints are disabled (no ADMIN_API_KEY)", "errors": []}, 404)
    if x_api_key is None or not secrets.compare_digest(x_api_key, configured):
        return JSONResponse({"detail": "missing or wrong X-API-Key", "errors": []}, 401)
    swapped = await asyncio.to_thread(serving.load_champion, "admin")
    loaded = champion.peek()
    return JSONResponse({"reloaded": swapped, "model_version": None if loaded is None else loaded.version.fingerprint})
