"""What one test or the code under it sets in the process environment does not reach the next
(tests/conftest.py restores it): the MLflow tracer sets its retry settings there, for MLflow
reads them from nowhere else. The two tests run in this order, as pytest collects a module."""

from __future__ import annotations

import os

from churnguard.adapters.mlflow_inference_tracer import MlflowInferenceTracer

TRACER_VARIABLES = (
    "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)


def test_a_tracer_sets_mlflows_retry_settings_in_the_environment(tmp_path):
    tracer = MlflowInferenceTracer(f"sqlite:///{tmp_path / 'mlflow.db'}", "churn-inference")
    tracer.close()
    assert {name: os.environ.get(name) for name in TRACER_VARIABLES} == dict(
        zip(TRACER_VARIABLES, ("false", "0", "5"), strict=True)
    )


def test_the_next_test_finds_none_of_them():
    assert [name for name in TRACER_VARIABLES if name in os.environ] == []
