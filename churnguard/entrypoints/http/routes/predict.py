"""POST /predict and /predict/batch: the hot path.

The body is parsed by the served schema's request model with pydantic directly (declared in
OpenAPI below): FastAPI's generic parameter and body paths cost more than the model itself.
One model matrix per request, one model call, a plain dict for the JSON body; no pandas.

The handlers are plain module functions: what they need (the use-case, the served schema's
request model, the metrics) is a `PredictRoute` the app builds once and keeps in its state, read
with one attribute access; FastAPI's `Depends` would resolve it again on every request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from churnguard.application.champion import ChurnPrediction
from churnguard.application.predict_churn import EncodedCustomer, PredictChurn, ServedPredictions, customer_id
from churnguard.application.predict_from_events import PostedEvent, PredictFromEvents
from churnguard.domain.errors import InvalidProfile
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.http.responses import PredictionResponse, readable_errors
from churnguard.entrypoints.http.schemas import (
    BatchIn,
    BatchOut,
    ErrorOut,
    EventsIn,
    LabelledBatchOut,
    LabelledPredictionOut,
    PredictionOut,
)
from churnguard.entrypoints.http.serving import Serving
from churnguard.entrypoints.presenters import NO_ID, prediction_json

EXPLAIN_MODE: TypeAdapter[Literal["loo", "shap", "none"]] = TypeAdapter(Literal["loo", "shap", "none"])
EXPLAIN_PARAMETER = {  # /predict's query parameter as OpenAPI states it, its schema from the adapter
    "name": "explain",
    "in": "query",
    "required": False,
    "description": "loo: each field's expected change over its training distribution (default); shap: also exact SHAP; "
    "none: no attribution",
    "schema": {**EXPLAIN_MODE.json_schema(), "default": "loo", "title": "Explain"},
}
REFUSALS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 413, 422, 503)}


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


@dataclass(frozen=True)
class PredictRoute:
    """The collaborators of the prediction routes, for the schema the app serves."""

    predict_churn: PredictChurn
    predict_from_events: PredictFromEvents
    customer_model: type[BaseModel]
    """The served schema's request model."""
    to_customer: Callable[[BaseModel], EncodedCustomer]
    """An accepted body -> the domain's customer (InvalidProfile where a field rule refuses it)."""
    count: Callable[[ServedPredictions], None]
    metrics: ServiceMetrics
    shown_schema: TableSchema | None
    """The schema whose labels the body shows (None: codes, as the original's API always did)."""
    echoes_id: bool
    """The served schema has an id column: each body echoes `customer_id`."""
    batch_limit: int

    @classmethod
    def of(cls, serving: Serving) -> PredictRoute:
        return cls(
            serving.predict_churn,
            serving.predict_from_events,
            serving.customer_model,
            serving.customer,
            serving.count,
            serving.metrics,
            None if serving.original else serving.schema,
            bool(serving.schema.id_column),
            serving.settings.api.batch_limit,
        )

    def body_of(self, prediction: ChurnPrediction, customer: EncodedCustomer) -> dict[str, Any]:
        return prediction_json(prediction, self.shown_schema, customer_id(customer) if self.echoes_id else NO_ID)


def _route(request: Request) -> PredictRoute:
    route: PredictRoute = request.app.state.predict_route
    return route


async def predict(request: Request) -> JSONResponse:
    route = _route(request)
    try:
        explain = EXPLAIN_MODE.validate_python(request.query_params.get("explain", "loo"))
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("query", "explain")} for e in error.errors()]) from None
    try:
        checked = route.customer_model.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    customers = [route.to_customer(checked)]
    started = time.perf_counter()
    served = route.predict_churn(customers, explain != "none", explain == "shap", _request_id(request))
    route.metrics.model_latency.observe(time.perf_counter() - started)
    route.count(served)
    body = route.body_of(served.predictions[0], customers[0])
    if served.shap is not None:
        (explanation,) = served.shap
        body["shap"] = {
            "explainer": explanation.explainer,
            "output": "log_odds_uncalibrated",
            "note": "SHAP values explain the model's raw log-odds before calibration; "
            "expected_value + sum(values) = log_odds.",
            "expected_value": explanation.expected_value,
            "log_odds": explanation.log_odds,
            "values": dict(explanation.values),
        }
    return PredictionResponse(body)


async def predict_batch(request: Request, explain: Annotated[Literal["loo", "none"], Query()] = "none") -> JSONResponse:
    # parsed like /predict (pydantic's JSON parser, one 422 path for every malformed body),
    # then scored in the threadpool so a 10,000-row batch does not hold the event loop
    body = await request.body()
    return await run_in_threadpool(score_batch, _route(request), body, _request_id(request), explain)


def score_batch(route: PredictRoute, body: bytes, request_id: str, explain: str) -> JSONResponse:
    try:
        batch = BatchIn.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    metrics, limit = route.metrics, route.batch_limit
    if len(batch.customers) > limit:
        metrics.prediction_errors.labels("batch_too_large").inc()
        return JSONResponse(
            {
                "detail": f"batch of {len(batch.customers)} customers is over the limit of {limit}",
                "errors": [{"field": "customers", "rule": f"at most {limit} items"}],
            },
            status_code=413,
        )
    customers: list[EncodedCustomer] = []
    positions: list[int] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(batch.customers):
        try:
            customers.append(route.to_customer(route.customer_model.model_validate(raw)))
            positions.append(index)
        except ValidationError as error:
            errors.append({"index": index, "errors": readable_errors(list(error.errors()))})
        except InvalidProfile as error:
            errors.append({"index": index, "errors": [{"field": error.field, "rule": error.rule}]})
    if errors:
        metrics.prediction_errors.labels("invalid_row").inc(len(errors))
    metrics.batch_size.observe(len(batch.customers))
    served = route.predict_churn(customers, explain == "loo", request_id=request_id, positions=positions)
    route.count(served)
    bodies: list[dict[str, Any] | None] = [None] * len(batch.customers)
    for position, prediction, customer in zip(served.positions, served.predictions, customers, strict=True):
        bodies[position] = route.body_of(prediction, customer)
    version = served.champion.version
    return PredictionResponse(
        {
            "model_version": version.fingerprint,
            "threshold": version.threshold,
            "predictions": bodies,
            "errors": errors,
            "scored": len(served.predictions),
            "rejected": len(errors),
        }
    )


async def predict_events(request: Request, explain: Annotated[Literal["loo", "none"], Query()] = "loo") -> JSONResponse:
    """The window features computed from the posted events as of a date, then predicted as /predict does."""
    try:
        posted = EventsIn.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    route = _route(request)
    as_of = posted.as_of or datetime.now(UTC).date()
    events = [PostedEvent(e.time, e.type, e.values) for e in posted.events]
    started = time.perf_counter()
    made = await run_in_threadpool(
        route.predict_from_events,
        posted.customer_id,
        as_of,
        events,
        posted.attributes,
        explain != "none",
        _request_id(request),
    )
    route.metrics.model_latency.observe(time.perf_counter() - started)
    route.count(made.served)
    body = route.body_of(made.served.predictions[0], made.served.customers[0])
    body["as_of"] = as_of.isoformat()
    body["features"] = made.features
    return PredictionResponse(body)


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its `$defs` put in place of their references (none is recursive here),
    so it stands alone in an OpenAPI request body."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def predict_router(serving: Serving) -> APIRouter:
    """The prediction routes, declared in OpenAPI with the served schema's request model."""
    api = serving.settings.api
    predict_key = api.predict_api_key.get_secret_value() if api.predict_api_key else ""

    async def require_predict_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if predict_key and (x_api_key is None or not secrets.compare_digest(x_api_key, predict_key)):
            raise StarletteHTTPException(401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "ApiKey"})

    # no dependency at all when no key is set: FastAPI's dependency resolution costs on every request
    router = APIRouter(dependencies=[Depends(require_predict_key)] if predict_key else [])
    customer_schema = serving.customer_model.model_json_schema(ref_template="#/components/schemas/{model}")

    def show_the_champions_typical_customer() -> None:
        customer_schema["examples"] = [serving.request_example()]

    serving.on_swap.append(show_the_champions_typical_customer)
    batch_schema = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    events_schema = inlined(EventsIn.model_json_schema())
    router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=None,
        responses={200: {"model": PredictionOut if serving.original else LabelledPredictionOut}, **REFUSALS},
        summary="Churn probability, decision and explanation for one customer",
        openapi_extra={
            "parameters": [EXPLAIN_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": customer_schema}}},
        },
    )
    router.add_api_route(
        "/predict/events",
        predict_events,
        methods=["POST"],
        response_model=None,
        responses={200: {"model": LabelledPredictionOut}, 409: {"model": ErrorOut}, **REFUSALS},
        summary="Churn for one customer from their events: window features as of a date, then /predict",
        description="Needs the server started with the event schema its champion was trained on "
        "(`serve --events-schema`, EVENTS_SCHEMA_PATH); 409 otherwise. The response adds `as_of` and the "
        "`features` computed from the events strictly before it.",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": events_schema}}}},
    )
    router.add_api_route(
        "/predict/batch",
        predict_batch,
        methods=["POST"],
        response_model=None,
        responses={200: {"model": BatchOut if serving.original else LabelledBatchOut}, **REFUSALS},
        summary="Score many customers in one model call; invalid rows are reported by index",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": batch_schema}}}},
    )
    return router
