"""Prometheus metrics of the inference service (prometheus-client).

Naming follows Prometheus conventions (base units, `_total`, `_seconds`). With several
uvicorn workers `churnguard serve` sets PROMETHEUS_MULTIPROC_DIR before the workers start, every
worker writes its samples there, and /metrics aggregates them with the MultiProcessCollector.
"""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.metrics_core import Metric

from churnguard.application.ports import DriftReport
from churnguard.domain.reference_profile import ReferenceProfile
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.http.input_metrics import InputMetrics
from churnguard.entrypoints.http.original_metrics import original_families

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REVENUE_BUCKETS = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 25000.0)
"""In the value field's own unit (Telco: dollars over a 12-month horizon)."""
MODEL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServiceMetrics:
    def __init__(self, original_names: bool = True) -> None:
        self.original_names = original_names
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "churnguard_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "churnguard_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter("churnguard_predictions_total", "Predictions by outcome", ["outcome"], registry=r)
        self.prediction_errors = Counter(
            "churnguard_prediction_errors_total", "Rejected or failed predictions", ["reason"], registry=r
        )
        self.model_latency = Histogram(
            "churnguard_model_inference_seconds", "Model-only latency per call", buckets=MODEL_BUCKETS, registry=r
        )
        self.churn_probability = Histogram(
            "churnguard_churn_probability",
            "Predicted churn probabilities",
            buckets=tuple(i / 10 for i in range(1, 11)),
            registry=r,
        )
        # where the schema declares time to churn (the series stay empty otherwise)
        self.revenue_at_risk = Histogram(
            "churnguard_revenue_at_risk",
            "Revenue at risk of served predictions: value per period x (horizon - expected remaining lifetime)",
            buckets=REVENUE_BUCKETS,
            registry=r,
        )
        self.churn_within_horizon = Histogram(
            "churnguard_churn_within_horizon_probability",
            "Served P(churn within the schema's survival horizon | tenure)",
            buckets=tuple(i / 10 for i in range(1, 11)),
            registry=r,
        )
        self.batch_size = Histogram(
            "churnguard_batch_size_customers",
            "Customers per batch request",
            buckets=(1, 10, 100, 1000, 10000),
            registry=r,
        )
        self.model_info = Gauge(
            "churnguard_model_info",
            "The serving model (value 1); serving_form: compiled (the numpy twin) or fitted (the model itself)",
            ["model_version", "family", "serving_form"],
            registry=r,
            multiprocess_mode="max",
        )
        self.model_f1 = Gauge(
            "churnguard_model_holdout_f1", "Holdout F1 of the serving model", registry=r, multiprocess_mode="max"
        )
        self.model_threshold = Gauge(
            "churnguard_model_threshold", "Decision threshold of the serving model", registry=r, multiprocess_mode="max"
        )
        self.model_loaded = Gauge(
            "churnguard_model_loaded", "1 when a verified champion is loaded", registry=r, multiprocess_mode="max"
        )
        self.training_churn_rate = Gauge(
            "churnguard_training_churn_rate",
            "Churn rate of the serving model's training data",
            registry=r,
            multiprocess_mode="max",
        )
        self.start_time = Gauge(
            "churnguard_start_time_seconds", "Service start (unix time)", registry=r, multiprocess_mode="min"
        )
        self.reloads = Counter("churnguard_model_reloads_total", "Model reloads by result", ["result"], registry=r)
        self.dropped_traces = Counter(
            "churnguard_dropped_traces_total", "Inference traces that could not be exported", registry=r
        )
        self._model_labels: tuple[str, str, str] | None = None
        self.inputs: InputMetrics | None = None
        self.outcome = {True: self.predictions.labels("churn"), False: self.predictions.labels("no_churn")}
        self.dropped_predictions = Counter(
            "churnguard_prediction_log_dropped_total", "Predictions not logged (queue full or write failed)", registry=r
        )
        self.drift_share = Gauge(
            "churnguard_drift_share",
            "Share of drifted features in the latest check",
            registry=r,
            multiprocess_mode="max",
        )
        self.drift_detected = Gauge(
            "churnguard_drift_detected",
            "1 if the latest check found dataset drift",
            registry=r,
            multiprocess_mode="max",
        )
        self.drift_feature_score = Gauge(
            "churnguard_drift_feature_score",
            "Latest drift statistic per feature (distance, or p-value for p-value tests)",
            ["feature", "test"],
            registry=r,
            multiprocess_mode="max",
        )
        self.drift_last_check = Gauge(
            "churnguard_drift_last_check_timestamp_seconds",
            "When the latest drift check ran (unix time)",
            registry=r,
            multiprocess_mode="max",
        )
        self.drift_weighted_share = Gauge(
            "churnguard_drift_weighted_share",
            "Share of the champion's importance carried by the drifted fields in the latest check",
            registry=r,
            multiprocess_mode="max",
        )
        self.prediction_drift = Gauge(
            "churnguard_prediction_drift_score",
            "Drift statistic of the predicted probabilities in the latest check",
            ["test"],
            registry=r,
            multiprocess_mode="max",
        )
        self.estimated_performance = Gauge(
            "churnguard_estimated_performance",
            "The champion's performance estimated without labels on the latest check's rows",
            ["metric"],
            registry=r,
            multiprocess_mode="max",
        )
        self.estimated_below_floor = Gauge(
            "churnguard_estimated_f1_below_floor",
            "1 if the latest estimated F1 is under the gate's F1 floor",
            registry=r,
            multiprocess_mode="max",
        )
        self._drift_seen: DriftReport | None = None
        self.start_time.set(time.time())
        self.model_loaded.set(0)

    def declare_inputs(self, schema: TableSchema, profile: ReferenceProfile | None) -> InputMetrics:
        """The per-field input metrics, declared once per process (with the first champion's
        buckets: a histogram whose buckets change mid-series breaks its quantiles)."""
        if self.inputs is None:
            self.inputs = InputMetrics(schema, profile, self.registry)
        return self.inputs

    def model_swapped(
        self, version: str, family: str, f1: float, threshold: float, churn_rate: float, serving_form: str
    ) -> None:
        # zero the old label rather than clear(): in multiprocess mode its file sample would stay at 1
        if self._model_labels is not None:
            self.model_info.labels(*self._model_labels).set(0)
        self._model_labels = (version[:12], family, serving_form)
        self.model_info.labels(*self._model_labels).set(1)
        self.model_f1.set(f1)
        self.model_threshold.set(threshold)
        self.training_churn_rate.set(churn_rate)
        self.model_loaded.set(1)

    def _collected(self) -> list[Metric]:
        registry = self.registry
        if multiprocess_dir():
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return list(registry.collect())

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition (aggregated over every worker in multiprocess mode), with the
        original ChurnGuard's names derived from ours when `original_names` is on."""
        families = self._collected()
        if self.original_names:
            families += original_families(families, self.inputs)
        return generate_latest(_Collected(families)), CONTENT_TYPE_LATEST

    def refresh_drift(self, report: DriftReport | None) -> None:
        """Mirror the latest drift report into the drift gauges (set again only when it changed)."""
        if report is None or report is self._drift_seen:
            return
        self.drift_share.set(report.verdict.drift_share)
        self.drift_detected.set(1.0 if report.verdict.drifted else 0.0)
        for feature in report.features:
            if feature.statistic == feature.statistic:  # NaN: the test gave no statistic
                self.drift_feature_score.labels(feature.feature, feature.test).set(feature.statistic)
        self.drift_last_check.set(report.checked_at.timestamp())
        self.drift_weighted_share.set(report.verdict.weighted_share)
        if report.prediction is not None:
            self.prediction_drift.labels(report.prediction.test).set(report.prediction.statistic)
        estimated = report.estimated
        if estimated is not None:
            for name in ("f1", "precision", "recall", "roc_auc"):
                value = getattr(estimated, name)
                if value == value:
                    self.estimated_performance.labels(name).set(value)
            self.estimated_below_floor.set(1.0 if report.below_f1_floor else 0.0)
        self._drift_seen = report

    def totals(self) -> dict[str, float]:
        """Request and prediction totals from the collected samples (all workers in multiprocess mode)."""
        totals = {"requests_total": 0.0, "churn": 0.0, "no_churn": 0.0}
        for family in self._collected():
            for sample in family.samples:
                if sample.name == "churnguard_http_requests_total":
                    totals["requests_total"] += sample.value
                elif sample.name == "churnguard_predictions_total":
                    totals[sample.labels["outcome"]] += sample.value
        return totals


class _Collected:
    """Collected families as a registry `generate_latest` can render."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families
