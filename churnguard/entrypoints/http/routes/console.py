"""What the web UI reads: the served schema, the monitoring summary, and the page itself."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from churnguard.entrypoints.http.serving import Serving

logger = logging.getLogger("churnguard.api")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def console_router(serving: Serving) -> APIRouter:
    router = APIRouter()
    settings = serving.settings
    metrics = serving.metrics
    api = settings.api

    @router.get("/schema", summary="The served schema: fields, rules, labels, presets from the training data")
    async def schema() -> dict[str, Any]:
        return dict(serving.schema_body())

    @router.get("/monitoring/summary", summary="Request and prediction totals and the latest drift check, for the UI")
    async def monitoring_summary() -> dict[str, Any]:
        totals = metrics.totals()
        drift = None
        report_path = settings.paths.reports_dir / "drift_report.json"
        if report_path.is_file():
            try:
                report = json.loads(report_path.read_text(encoding="utf-8"))
                drift = {
                    "dataset_drift": report["dataset_drift"],
                    "drift_share": report["drift_share"],
                    "drifted_features": report["drifted_features"],
                    "features": len(report["features"]),
                    "checked_at": report["checked_at"],
                }
            except (OSError, ValueError, KeyError) as error:
                logger.warning("drift report unreadable: %s", error)
        links = {name: url for name, url in (("MLflow", api.mlflow_ui_url), ("Grafana", api.grafana_url)) if url}
        loaded = serving.champion.peek()
        return {
            "requests_total": int(totals["requests_total"]),
            "predictions_total": int(totals["churn"] + totals["no_churn"]),
            "churn_predictions": int(totals["churn"]),
            "no_churn_predictions": int(totals["no_churn"]),
            "model_version": None if loaded is None else loaded.version.fingerprint,
            "drift": drift,
            "links": links,
        }

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    return router
