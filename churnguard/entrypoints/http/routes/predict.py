"""POST /predict and /predict/batch: the hot path.

The body is parsed by the served schema's request model with pydantic directly (declared in
OpenAPI below): FastAPI's generic parameter and body paths cost more than the model itself.
One model matrix per request, one model call, a plain dict for the JSON body; no pandas.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from churnguard.application.champion import ChurnPrediction
from churnguard.application.predict_churn import EncodedCustomer, customer_id
from churnguard.domain.errors import InvalidProfile
from churnguard.entrypoints.http.responses import PredictionResponse, readable_errors
from churnguard.entrypoints.http.schemas import (
    BatchIn,
    BatchOut,
    ErrorOut,
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
    "description": "loo: leave-one-out contributions (default); shap: also exact SHAP; none: no attribution",
    "schema": {**EXPLAIN_MODE.json_schema(), "default": "loo", "title": "Explain"},
}
REFUSALS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 413, 422, 503)}


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def predict_router(serving: Serving) -> APIRouter:
    api = serving.settings.api
    metrics = serving.metrics
    customer_model: type[BaseModel] = serving.customer_model
    schema = serving.schema
    shown_schema = None if serving.original else schema  # the original's body shows codes, as it always did
    id_column = schema.id_column
    predict_churn = serving.predict_churn
    predict_key = api.predict_api_key.get_secret_value() if api.predict_api_key else ""

    async def require_predict_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if predict_key and (x_api_key is None or not secrets.compare_digest(x_api_key, predict_key)):
            raise StarletteHTTPException(401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "ApiKey"})

    # no dependency at all when no key is set: FastAPI's dependency resolution costs on every request
    router = APIRouter(dependencies=[Depends(require_predict_key)] if predict_key else [])
    customer_schema = customer_model.model_json_schema(ref_template="#/components/schemas/{model}")
    batch_schema = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")

    def body_of(prediction: ChurnPrediction, customer: EncodedCustomer) -> dict[str, Any]:
        return prediction_json(prediction, shown_schema, customer_id(customer) if id_column else NO_ID)

    @router.post(
        "/predict",
        response_model=None,
        responses={200: {"model": PredictionOut if serving.original else LabelledPredictionOut}, **REFUSALS},
        summary="Churn probability, decision and explanation for one customer",
        openapi_extra={
            "parameters": [EXPLAIN_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": customer_schema}}},
        },
    )
    async def predict(request: Request) -> JSONResponse:
        try:
            explain = EXPLAIN_MODE.validate_python(request.query_params.get("explain", "loo"))
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("query", "explain")} for e in error.errors()]) from None
        try:
            checked = customer_model.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(error.errors()) from None
        customers = [serving.customer(checked)]
        started = time.perf_counter()
        served = predict_churn(customers, explain != "none", explain == "shap", _request_id(request))
        metrics.model_latency.observe(time.perf_counter() - started)
        serving.count(served)
        body = body_of(served.predictions[0], customers[0])
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

    @router.post(
        "/predict/batch",
        response_model=None,
        responses={200: {"model": BatchOut if serving.original else LabelledBatchOut}, **REFUSALS},
        summary="Score many customers in one model call; invalid rows are reported by index",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": batch_schema}}}},
    )
    async def predict_batch(
        request: Request, explain: Annotated[Literal["loo", "none"], Query()] = "none"
    ) -> JSONResponse:
        # parsed like /predict (pydantic's JSON parser, one 422 path for every malformed body),
        # then scored in the threadpool so a 10,000-row batch does not hold the event loop
        body = await request.body()
        return await run_in_threadpool(score_batch, body, _request_id(request), explain)

    def score_batch(body: bytes, request_id: str, explain: str) -> JSONResponse:
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
        customers: list[EncodedCustomer] = []
        positions: list[int] = []
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(batch.customers):
            try:
                customers.append(serving.customer(customer_model.model_validate(raw)))
                positions.append(index)
            except ValidationError as error:
                errors.append({"index": index, "errors": readable_errors(list(error.errors()))})
            except InvalidProfile as error:
                errors.append({"index": index, "errors": [{"field": error.field, "rule": error.rule}]})
        if errors:
            metrics.prediction_errors.labels("invalid_row").inc(len(errors))
        metrics.batch_size.observe(len(batch.customers))
        served = predict_churn(customers, explain == "loo", request_id=request_id, positions=positions)
        serving.count(served)
        bodies: list[dict[str, Any] | None] = [None] * len(batch.customers)
        for position, prediction, customer in zip(served.positions, served.predictions, customers, strict=True):
            bodies[position] = body_of(prediction, customer)
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

    return router
