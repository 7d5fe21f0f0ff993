"""The original ChurnGuard's metric names, derived from ours at scrape time.

The original's clients (its API tests, its Grafana dashboard and alerts) query `predict_total`,
`http_requests_total{endpoint}`, `feature_age`, ... This module renames the samples ChurnGuard
already collected into those series when /metrics is scraped, so the request path records
each event once, and the compatibility set costs only scrape time and bytes (docs/measured.md).
Turn it off with ORIGINAL_METRIC_NAMES=false.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:
    from churnguard.entrypoints.http.input_metrics import InputMetrics

RENAMED: Mapping[str, tuple[str, Mapping[str, str]]] = {
    # ours -> (the original's name, label renames)
    "churnguard_http_requests": ("http_requests", {"route": "endpoint"}),
    "churnguard_http_request_duration_seconds": ("http_request_duration_seconds", {"route": "endpoint"}),
    "churnguard_model_inference_seconds": ("predict_latency_seconds", {}),
    "churnguard_churn_probability": ("predict_probability", {}),
    "churnguard_model_info": ("model_info", {}),
    "churnguard_start_time_seconds": ("app_start_time_seconds", {}),
}
"""Families copied under the original's name (samples keep their suffixes: _bucket, _total...)."""


def _copy(family: Metric, name: str, labels: Mapping[str, str]) -> Metric:
    copied = Metric(name, family.documentation + " (the original ChurnGuard's name)", family.type)
    for sample in family.samples:
        if sample.name.endswith("_created"):
            continue
        suffix = sample.name[len(family.name) :]
        copied.add_sample(
            name + suffix, {labels.get(key, key): value for key, value in sample.labels.items()}, sample.value
        )
    return copied


def _counter(name: str, documentation: str, value: float) -> Metric:
    metric = Metric(name, documentation, "counter")
    metric.add_sample(f"{name}_total", {}, value)
    return metric


def _total(family: Metric | None, keep: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
    if family is None:
        return 0.0
    return sum(s.value for s in family.samples if s.name.endswith("_total") and keep(s.labels))


def original_families(families: Iterable[Metric], inputs: InputMetrics | None) -> list[Metric]:
    """The original's series, computed from our collected families."""
    by_name = {family.name: family for family in families}
    out = [_copy(by_name[ours], theirs, labels) for ours, (theirs, labels) in RENAMED.items() if ours in by_name]
    predictions = by_name.get("churnguard_predictions")
    churn = _total(predictions, lambda labels: labels.get("outcome") == "churn")
    no_churn = _total(predictions, lambda labels: labels.get("outcome") == "no_churn")
    out.append(_counter("predict", "Predictions served", churn + no_churn))
    out.append(_counter("predict_churn", "Predictions of churn", churn))
    out.append(_counter("predict_no_churn", "Predictions of no churn", no_churn))
    out.append(
        _counter(
            "predict_errors", "Rejected or failed predictions", _total(by_name.get("churnguard_prediction_errors"))
        )
    )
    if inputs is not None:
        for declared in inputs.declared:
            family = by_name.get(declared.name)
            if family is not None:
                out.append(_copy(family, f"feature_{declared.label}", {}))
    return out
