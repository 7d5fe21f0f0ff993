"""The FastAPI application: build it with `create_app()`; nothing happens at import time.

Resources (the champion, the reload poller, the tracer) start and stop in the lifespan. The
request path is: pydantic validation -> CustomerProfile -> one model matrix -> ONE model call
-> a plain dict for the JSON response; no pandas, no per-row model calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic_core
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from churnguard.application.errors import ExplanationUnavailable, ModelNotFound
from churnguard.application.ports import PredictionRecord
from churnguard.application.predict_churn import ChampionCache, ChurnPrediction, LoadedModel, PredictChurn
from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS, CustomerProfile
from churnguard.domain.errors import InvalidProfile
from churnguard.domain.features import MODEL_FEATURES, profiles_matrix
from churnguard.entrypoints.container import Container, build_container
from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.http.schemas import (
    BatchIn,
    BatchOut,
    CustomerIn,
    ErrorOut,
    HealthOut,
    ModelInfoOut,
    PredictionOut,
    ReadyOut,
)
from churnguard.entrypoints.presenters import prediction_json
from churnguard.entrypoints.settings import Settings

logger = logging.getLogger("churnguard.api")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _echoable(value: Any) -> bool:
    """Scalars we can safely echo back in JSON (NaN and Infinity are not JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | str | bool) and len(str(value)) <= 200


def _readable_errors(errors: list[Any]) -> list[dict[str, Any]]:
    readable = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        readable.append(
            {
                "field": ".".join(location) or "(body)",
                "rule": error.get("msg", ""),
                "type": error.get("type", ""),
                **({"input": error["input"]} if _echoable(error.get("input")) else {}),
            }
        )
    return readable


class BodySizeLimit:
    """Answers 413 for bodies over `limit` bytes, by Content-Length or while streaming."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope.get("headers") or () if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = JSONResponse(
            {
                "detail": f"request body over the {self.limit} byte limit",
                "errors": [{"field": "(body)", "rule": f"at most {self.limit} bytes"}],
            },
            status_code=413,
        )
        await response(scope, receive, send)


class PredictionResponse(JSONResponse):
    """JSON encoded by pydantic-core (Rust): 5 us for a prediction body where json.dumps takes 26.
    A non-finite number, which pydantic-core would write as NaN, goes through json.dumps
    instead, which refuses it (a 500, as before)."""

    def render(self, content: Any) -> bytes:
        data = pydantic_core.to_json(content)
        if b"NaN" in data or b"Infinity" in data:
            return super().render(content)
        return data


class _BodyTooLarge(Exception):
    pass


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The UI has no inline script or style and calls only this origin; /docs and /redoc load
# FastAPI's Swagger/ReDoc assets from their CDN, so they go without this policy.
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
UNPOLICED_PATHS = ("/docs", "/redoc")


class ObserveRequests:
    """Runs `observe(scope, receive, send, app)` around every HTTP request."""

    def __init__(self, app: Any, observe: Any) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(scope, receive, send, self.app)


EXPLAIN_MODE: TypeAdapter[Literal["loo", "shap", "none"]] = TypeAdapter(Literal["loo", "shap", "none"])
EXPLAIN_PARAMETER = {  # /predict's query parameter as OpenAPI states it, its schema from the adapter
    "name": "explain",
    "in": "query",
    "required": False,
    "description": "loo: leave-one-out contributions (default); shap: also exact SHAP; none: no attribution",
    "schema": {**EXPLAIN_MODE.json_schema(), "default": "loo", "title": "Explain"},
}


def _prediction_body(prediction: ChurnPrediction, shap: dict[str, Any] | None = None) -> dict[str, Any]:
    body = prediction_json(prediction)
    if shap is not None:
        body["shap"] = shap
    return body


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    container = container or build_container(settings)
    api = settings.api
    metrics = ServiceMetrics()
    champion: ChampionCache = container.champion_cache()
    state: dict[str, Any] = {"poller": None}

    def load_champion(reason: str) -> bool:
        """Load and verify the store's champion; swap it in if it changed. True if swapped."""
        try:
            current = champion.peek()
            latest = container.model_store().champion()
            if latest is None or (current is not None and current.version.fingerprint == latest.fingerprint):
                return False
            if latest.schema.hash != ORIGINAL_SCHEMA.hash:
                # The request model, metrics and UI are the original table's: a champion of another
                # schema would be refused on every request, so it is not loaded at all.
                metrics.reloads.labels("schema_changed").inc()
                logger.error(
                    "champion not loaded: it reads another schema than this API serves",
                    extra={
                        "model_version": latest.short_id,
                        "schema": latest.schema.name,
                        "schema_hash": latest.schema.short_hash,
                        "served_schema_hash": ORIGINAL_SCHEMA.short_hash,
                        "reason": reason,
                    },
                )
                return False
            loaded = champion.reload()
        except ModelNotFound:
            return False
        except Exception:
            metrics.reloads.labels("failed").inc()
            logger.exception("champion reload failed; keeping the current model", extra={"reason": reason})
            return False
        version = loaded.version
        metrics.reloads.labels("loaded").inc()
        metrics.model_swapped(
            version.fingerprint,
            str(version.params.get("family", "")),
            version.f1,
            version.threshold,
            version.churn_rate,
        )
        logger.info("champion loaded", extra={"model_version": version.short_id, "reason": reason})
        return True

    def serving_model() -> LoadedModel:
        """The verified champion the lifespan, the poller or /admin/reload loaded. Requests never
        load one themselves: a bad model file would otherwise be re-read on every request."""
        loaded = champion.peek()
        if loaded is None:
            raise ModelNotFound(
                "no verified champion loaded: promote one (churnguard pipeline), "
                "or see the service log for why it was refused"
            )
        return loaded

    async def poll_for_new_champion() -> None:
        while True:
            await asyncio.sleep(api.model_poll_seconds)
            await asyncio.to_thread(load_champion, "poll")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(load_champion, "startup")
        # Everything imported and loaded so far lives for the whole process: keep it out of the
        # cyclic GC, whose full collections would otherwise add tens of ms to the latency tail.
        gc.collect()
        gc.freeze()
        if api.model_poll_seconds > 0:
            state["poller"] = asyncio.create_task(poll_for_new_champion())
        yield
        if state["poller"] is not None:
            state["poller"].cancel()
        tracer = container.inference_tracer()
        close = getattr(tracer, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
        await asyncio.to_thread(container.prediction_log().close)  # flush what is queued

    app = FastAPI(
        title="ChurnGuard",
        version="1.0",
        description="Churn prediction for telecom customers, with per-prediction explanations.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.container = container
    predict_churn: PredictChurn = container.predict_churn()
    explainer = container.model_explainer()
    tracer = container.inference_tracer()
    dropped_seen = {"count": 0}
    dropped_log_seen = {"count": 0}
    prediction_log = container.prediction_log()
    worker_pid = str(os.getpid())

    async def observe(scope: dict[str, Any], receive: Any, send: Any, inner: Any) -> None:
        """Pure ASGI (no BaseHTTPMiddleware task overhead): request id, worker pid, metrics."""
        started = time.perf_counter()
        status = {"code": 500}
        request_id = next((v.decode() for k, v in scope.get("headers", ()) if k == b"x-request-id"), uuid.uuid4().hex)
        scope.setdefault("state", {})["request_id"] = request_id
        policed = not scope["path"].startswith(UNPOLICED_PATHS)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"x-worker-pid", worker_pid.encode()),
                    *SECURITY_HEADERS,
                ]
                if policed:
                    message["headers"].append((b"content-security-policy", CONTENT_SECURITY_POLICY))
            await send(message)

        try:
            await inner(scope, receive, send_with_headers)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            metrics.http_requests.labels(scope["method"], template, str(status["code"])).inc()
            metrics.http_latency.labels(scope["method"], template).observe(time.perf_counter() - started)
            dropped = tracer.dropped_traces
            if dropped > dropped_seen["count"]:
                metrics.dropped_traces.inc(dropped - dropped_seen["count"])
                dropped_seen["count"] = dropped

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        metrics.prediction_errors.labels("invalid_input").inc()
        errors = _readable_errors(list(error.errors()))
        summary = "; ".join(f"{e['field']}: {e['rule']}" for e in errors[:5])
        return JSONResponse({"detail": f"invalid request: {summary}", "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """404, 405, 401...: the same {detail, errors} body as every other refusal."""
        return JSONResponse({"detail": str(error.detail), "errors": []}, error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        """A fault is logged with its traceback; the client gets the request id, never the trace."""
        request_id = request.scope.get("state", {}).get("request_id", "")
        logger.error("unhandled error", exc_info=error, extra={"request_id": request_id, "path": request.url.path})
        return JSONResponse({"detail": f"internal error (request id {request_id})", "errors": []}, 500)

    predict_key = api.predict_api_key.get_secret_value() if api.predict_api_key else ""

    async def require_predict_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if predict_key and (x_api_key is None or not secrets.compare_digest(x_api_key, predict_key)):
            raise StarletteHTTPException(401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "ApiKey"})

    # no dependency at all when no key is set: FastAPI's dependency resolution costs on every request
    key_check = [Depends(require_predict_key)] if predict_key else []

    @app.exception_handler(ModelNotFound)
    async def no_model(_: Request, error: ModelNotFound) -> JSONResponse:
        metrics.prediction_errors.labels("no_model").inc()
        return JSONResponse({"detail": str(error), "errors": []}, status_code=503)

    @app.exception_handler(ExplanationUnavailable)
    async def no_explanation(_: Request, error: ExplanationUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": str(error), "errors": [{"field": "explain", "rule": str(error)}]}, status_code=422
        )

    def profile_of(customer: Any) -> CustomerProfile:
        return CustomerProfile.from_mapping(customer.model_dump())

    def record(predictions: list[ChurnPrediction], profiles: list[CustomerProfile], request: Request) -> None:
        request_id = request.scope.get("state", {}).get("request_id", "")
        now = time.time()
        prediction_log.record(
            [
                PredictionRecord(
                    now,
                    request_id,
                    prediction.model_version,
                    tuple(float(getattr(profile, name)) for name in RAW_FIELDS),
                    prediction.probability,
                    int(prediction.churns),
                )
                for prediction, profile in zip(predictions, profiles, strict=True)
            ]
        )
        dropped = prediction_log.dropped_records
        if dropped > dropped_log_seen["count"]:
            metrics.dropped_predictions.inc(dropped - dropped_log_seen["count"])
            dropped_log_seen["count"] = dropped
        metrics.observe_inputs(profiles)
        for prediction in predictions:
            metrics.outcome[prediction.churns].inc()
            metrics.churn_probability.observe(prediction.probability)

    customer_schema = CustomerIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch_schema = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")

    @app.post(
        "/predict",
        response_model=None,
        responses={
            200: {"model": PredictionOut},
            401: {"model": ErrorOut},
            413: {"model": ErrorOut},
            422: {"model": ErrorOut},
            503: {"model": ErrorOut},
        },
        dependencies=key_check,
        summary="Churn probability, decision and explanation for one customer",
        openapi_extra={
            "parameters": [EXPLAIN_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": customer_schema}}},
        },
    )
    async def predict(request: Request) -> JSONResponse:
        # The body and the query are validated here with pydantic directly (the same schemas,
        # declared in OpenAPI above): FastAPI's generic parameter and body paths cost more than
        # the model itself.
        try:
            explain = EXPLAIN_MODE.validate_python(request.query_params.get("explain", "loo"))
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("query", "explain")} for e in error.errors()]) from None
        try:
            customer = CustomerIn.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(error.errors()) from None
        profiles = [profile_of(customer)]
        loaded = serving_model()  # one model for the prediction and its SHAP values
        started = time.perf_counter()
        prediction = predict_churn(profiles, explain=explain != "none", model=loaded)[0]
        metrics.model_latency.observe(time.perf_counter() - started)
        shap = None
        if explain == "shap":
            (explanation,) = explainer.explain(loaded.model, profiles_matrix(profiles))
            shap = {
                "explainer": explanation.explainer,
                "output": "log_odds_uncalibrated",
                "note": "SHAP values explain the model's raw log-odds before calibration; "
                "expected_value + sum(values) = log_odds.",
                "expected_value": explanation.expected_value,
                "log_odds": explanation.log_odds,
                "values": dict(explanation.values),
            }
        record([prediction], profiles, request)
        return PredictionResponse(_prediction_body(prediction, shap))

    @app.post(
        "/predict/batch",
        response_model=None,
        responses={
            200: {"model": BatchOut},
            401: {"model": ErrorOut},
            413: {"model": ErrorOut},
            422: {"model": ErrorOut},
            503: {"model": ErrorOut},
        },
        dependencies=key_check,
        summary="Score many customers in one model call; invalid rows are reported by index",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": batch_schema}}}},
    )
    async def predict_batch(
        request: Request,
        explain: Annotated[Literal["loo", "none"], Query()] = "none",
    ) -> JSONResponse:
        # parsed like /predict (pydantic's JSON parser, one 422 path for every malformed body),
        # then scored in the threadpool so a 10,000-row batch does not hold the event loop
        body = await request.body()
        return await run_in_threadpool(score_batch, body, request, explain)

    def score_batch(body: bytes, request: Request, explain: str) -> JSONResponse:
        try:
            batch = BatchIn.model_validate_json(body)
        except ValidationError as error:
            raise RequestValidationError(error.errors()) from None
        if len(batch.customers) > api.batch_limit:
            metrics.prediction_errors.labels("batch_too_large").inc()
            return JSONResponse(
                {
                    "detail": f"batch of {len(batch.customers)} customers is over the limit of {api.batch_limit}",
                    "errors": [{"field": "customers", "rule": f"at most {api.batch_limit} items"}],
                },
                status_code=413,
            )
        profiles: list[CustomerProfile] = []
        positions: list[int] = []
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(batch.customers):
            try:
                profiles.append(profile_of(CustomerIn.model_validate(raw)))
                positions.append(index)
            except ValidationError as error:
                errors.append({"index": index, "errors": _readable_errors(list(error.errors()))})
            except InvalidProfile as error:
                errors.append({"index": index, "errors": [{"field": error.field, "rule": error.rule}]})
        if errors:
            metrics.prediction_errors.labels("invalid_row").inc(len(errors))
        metrics.batch_size.observe(len(batch.customers))
        loaded = serving_model()
        predictions = predict_churn(profiles, explain=explain == "loo", model=loaded) if profiles else []
        record(predictions, profiles, request)
        bodies: list[dict[str, Any] | None] = [None] * len(batch.customers)
        for position, prediction in zip(positions, predictions, strict=True):
            bodies[position] = _prediction_body(prediction)
        return PredictionResponse(
            {
                "model_version": loaded.version.fingerprint,
                "threshold": loaded.version.threshold,
                "predictions": bodies,
                "errors": errors,
                "scored": len(predictions),
                "rejected": len(errors),
            }
        )

    @app.get("/health", response_model=HealthOut, summary="Liveness: 200 while the process runs")
    async def health() -> dict[str, Any]:
        loaded = champion.peek()
        return {
            "status": "healthy",
            "model_loaded": loaded is not None,
            "model_version": None if loaded is None else loaded.version.fingerprint,
        }

    @app.get(
        "/ready",
        response_model=ReadyOut,
        responses={503: {"model": ErrorOut}},
        summary="Readiness: 503 until a verified champion is loaded",
    )
    async def ready() -> Any:
        loaded = champion.peek()
        if loaded is None:
            return JSONResponse({"detail": "no verified champion loaded yet", "errors": []}, status_code=503)
        return {"status": "ready", "model_version": loaded.version.fingerprint}

    @app.get("/model-info", response_model=ModelInfoOut, responses={503: {"model": ErrorOut}})
    async def model_info() -> dict[str, Any]:
        version = serving_model().version
        return {
            "model_version": version.fingerprint,
            "registry_version": version.registry_version,
            "run_id": version.run_id,
            "trained_at": version.created_at.isoformat(),
            "family": version.params.get("family"),
            "params": dict(version.params),
            "metrics": {k: v for k, v in version.metrics.items() if v == v},
            "threshold": version.threshold,
            "churn_rate": version.churn_rate,
            "data_hash": version.data_hash,
            "features": list(MODEL_FEATURES),
            "quality_gate": {
                "min_f1": settings.gate.min_f1,
                "tolerance": settings.gate.f1_tolerance,
                "holdout_f1": version.f1,
            },
        }

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus_metrics() -> Response:
        metrics.refresh_drift(settings.paths.reports_dir / "drift_report.json")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.post(
        "/admin/reload",
        summary="Load the store's current champion now (needs X-API-Key)",
        responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    )
    async def admin_reload(x_api_key: Annotated[str | None, Header()] = None) -> JSONResponse:
        configured = api.admin_api_key.get_secret_value() if api.admin_api_key else ""
        if not configured:
            return JSONResponse({"detail": "admin endpoints are disabled (no ADMIN_API_KEY)", "errors": []}, 404)
        if x_api_key is None or not secrets.compare_digest(x_api_key, configured):
            return JSONResponse({"detail": "missing or wrong X-API-Key", "errors": []}, 401)
        swapped = await asyncio.to_thread(load_champion, "admin")
        loaded = champion.peek()
        return JSONResponse(
            {"reloaded": swapped, "model_version": None if loaded is None else loaded.version.fingerprint}
        )

    @app.get("/monitoring/summary", summary="Request and prediction totals and the latest drift check, for the UI")
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
        return {
            "requests_total": int(totals["requests_total"]),
            "predictions_total": int(totals["churn"] + totals["no_churn"]),
            "churn_predictions": int(totals["churn"]),
            "no_churn_predictions": int(totals["no_churn"]),
            "model_version": None if champion.peek() is None else champion.peek().version.fingerprint,  # type: ignore[union-attr]
            "drift": drift,
            "links": links,
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
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
    app.add_middleware(ObserveRequests, observe=observe)
    app.add_middleware(BodySizeLimit, limit=api.max_body_bytes)
    return app
