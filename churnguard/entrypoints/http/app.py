"""The FastAPI application: build it with `create_app()`; nothing happens at import time.

The app is assembled here from the container: the shared `Serving` (champion, served schema,
metrics, log), the routers by concern, the error mapping and the middleware. Resources (the
champion, the reload poller, the tracer, the log writer) start and stop in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.resources
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from churnguard import __version__
from churnguard.application.errors import EventsUnavailable, ExplanationUnavailable, ModelNotFound
from churnguard.domain.errors import InvalidProfile
from churnguard.entrypoints.container import Container, build_container
from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.http.middleware import BodySizeLimit, ObserveRequests, RequestObserver
from churnguard.entrypoints.http.responses import PredictionResponse, readable_errors
from churnguard.entrypoints.http.routes import console, operations
from churnguard.entrypoints.http.routes.console import STATIC_DIR
from churnguard.entrypoints.http.routes.predict import PredictRoute, predict_router
from churnguard.entrypoints.http.serving import Serving
from churnguard.entrypoints.logging_setup import configure_worker_logging
from churnguard.entrypoints.settings import Settings

__all__ = ["PredictionResponse", "create_app", "readable_errors"]

logger = logging.getLogger("churnguard.api")


def _lifespan(serving: Serving) -> Any:
    poll_seconds = serving.settings.api.model_poll_seconds

    async def poll_for_new_champion() -> None:
        while True:
            await asyncio.sleep(poll_seconds)
            await asyncio.to_thread(serving.load_champion, "poll")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(serving.load_champion, "startup")
        # Everything imported and loaded so far lives for the whole process: keep it out of the
        # cyclic GC, whose full collections would otherwise add tens of ms to the latency tail.
        gc.collect()
        gc.freeze()
        poller = asyncio.create_task(poll_for_new_champion()) if poll_seconds > 0 else None
        yield
        if poller is not None:
            poller.cancel()
        await asyncio.to_thread(serving.tracer.close)
        await asyncio.to_thread(serving.prediction_log.close)  # flush what is queued

    return lifespan


def _map_errors(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Domain and request errors -> status codes, every refusal as {detail, errors}."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        metrics.prediction_errors.labels("invalid_input").inc()
        errors = readable_errors(list(error.errors()))
        summary = "; ".join(f"{e['field']}: {e['rule']}" for e in errors[:5])
        return JSONResponse({"detail": f"invalid request: {summary}", "errors": errors}, status_code=422)

    @app.exception_handler(InvalidProfile)
    async def invalid_customer(_: Request, error: InvalidProfile) -> JSONResponse:
        metrics.prediction_errors.labels("invalid_input").inc()
        return JSONResponse(
            {
                "detail": f"invalid request: {error.field}: {error.rule}",
                "errors": [{"field": error.field, "rule": error.rule}],
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """404, 405, 401...: the same {detail, errors} body as every other refusal."""
        return JSONResponse({"detail": str(error.detail), "errors": []}, error.status_code, headers=error.headers)

    @app.exception_handler(ModelNotFound)
    async def no_model(_: Request, error: ModelNotFound) -> JSONResponse:
        metrics.prediction_errors.labels("no_model").inc()
        return JSONResponse({"detail": str(error), "errors": []}, status_code=503)

    @app.exception_handler(EventsUnavailable)
    async def no_event_schema(_: Request, error: EventsUnavailable) -> JSONResponse:
        metrics.prediction_errors.labels("no_event_schema").inc()
        return JSONResponse({"detail": str(error), "errors": []}, status_code=409)

    @app.exception_handler(ExplanationUnavailable)
    async def no_explanation(_: Request, error: ExplanationUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": str(error), "errors": [{"field": "explain", "rule": str(error)}]}, status_code=422
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        """A fault is logged with its traceback; the client gets the request id, never the trace."""
        request_id = request.scope.get("state", {}).get("request_id", "")
        logger.error("unhandled error", exc_info=error, extra={"request_id": request_id, "path": request.url.path})
        return JSONResponse({"detail": f"internal error (request id {request_id})", "errors": []}, 500)


DOCS_ASSETS = "/docs-assets"


def _offline_docs(app: FastAPI) -> None:
    """/docs and /redoc with the Swagger UI and ReDoc assets served by the app itself (from the
    fastapi-offline wheel), not from a CDN: they work on a machine without internet, as the UI does."""
    assets = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=str(app.openapi_url),
            title=f"{app.title} - API docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=str(app.openapi_url),
            title=f"{app.title} - API reference",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_worker_logging()
    container = container or build_container(settings)
    metrics = ServiceMetrics(original_names=settings.api.original_metric_names)
    serving = Serving(settings, container, metrics)
    app = FastAPI(
        title="ChurnGuard",
        version=__version__,
        description=f"Churn prediction for the customers of schema {serving.schema.name!r}, each explained.",
        lifespan=_lifespan(serving),
        docs_url=None,
        redoc_url=None,
    )
    _offline_docs(app)

    def forget_openapi() -> None:
        app.openapi_schema = None

    serving.on_swap.append(forget_openapi)
    app.state.metrics = metrics
    app.state.container = container
    app.state.serving = serving
    _map_errors(app, metrics)
    app.state.predict_route = PredictRoute.of(serving)
    app.include_router(predict_router(serving))
    app.include_router(operations.router)
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    api = settings.api
    origins = [origin.strip() for origin in api.cors_allow_origins.split(",") if origin.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key", "x-request-id"],
            expose_headers=["x-request-id"],
            max_age=600,
        )
    app.add_middleware(ObserveRequests, observe=RequestObserver(metrics, serving.tracer, settings.api.access_log))
    app.add_middleware(BodySizeLimit, limit=api.max_body_bytes)
    return app
