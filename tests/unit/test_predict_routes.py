"""The prediction handlers are module functions: driven here alone, with the use-case on fakes,
no app, no server."""

from __future__ import annotations

import json

from churnguard.adapters.in_memory import InMemoryPredictionLog
from churnguard.application.champion import ChampionCache
from churnguard.application.predict_churn import PredictChurn
from churnguard.application.predict_from_events import PredictFromEvents
from churnguard.domain.customer import CustomerProfile
from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.http.routes.predict import PredictRoute, score_batch
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER, CustomerIn
from tests.fakes import FakeInferenceTracer, FakeModelStore, LinearChurnModel


def _route(log: InMemoryPredictionLog) -> PredictRoute:
    store = FakeModelStore()
    store.crown(LinearChurnModel(), threshold=0.4)
    predict = PredictChurn(ChampionCache(store), FakeInferenceTracer(), log=log)
    return PredictRoute(
        predict,
        PredictFromEvents(predict, None),
        CustomerIn,
        lambda checked: CustomerProfile.from_mapping(checked.model_dump()),
        lambda served: None,
        ServiceMetrics(),
        None,
        False,
        batch_limit=3,
    )


def test_a_batch_handler_scores_the_valid_rows_reports_the_bad_one_and_logs_what_it_scored():
    log = InMemoryPredictionLog()
    customers = [EXAMPLE_CUSTOMER, {**EXAMPLE_CUSTOMER, "age": -4}, {**EXAMPLE_CUSTOMER, "tenure_months": 30}]
    response = score_batch(_route(log), json.dumps({"customers": customers}).encode(), "req-1", "none")
    body = json.loads(bytes(response.body))
    assert (body["scored"], body["rejected"]) == (2, 1)
    assert body["predictions"][1] is None
    assert [error["index"] for error in body["errors"]] == [1]
    assert body["errors"][0]["errors"][0]["field"] == "age"
    assert [record.request_id for record in log.records] == ["req-1", "req-1"]
    assert [record.probability for record in log.records] == [body["predictions"][0]["churn_probability"],
                                                              body["predictions"][2]["churn_probability"]]  # fmt: skip
    assert all(p["churn_prediction"] == int(p["churn_probability"] >= 0.4) for p in body["predictions"] if p)


def test_a_batch_over_the_limit_is_a_413_and_nothing_is_logged():
    log = InMemoryPredictionLog()
    response = score_batch(_route(log), json.dumps({"customers": [EXAMPLE_CUSTOMER] * 4}).encode(), "", "none")
    assert response.status_code == 413
    assert json.loads(bytes(response.body))["errors"] == [{"field": "customers", "rule": "at most 3 items"}]
    assert log.records == []
