"""Prediction traces in MLflow, exported by a background thread so serving never waits.

`record` only puts the finished trace on a bounded queue. The worker thread replays it as an
MLflow trace (root span `churn-prediction`, child spans with the measured timestamps) in the
`churn-inference` experiment. MLflow swallows export errors (it logs a warning per trace), so
the worker checks that a remote server answers before exporting (cached for a second), and a
logging filter turns MLflow's "Failed to send trace" warnings from the worker thread into
drops. A trace that cannot be exported, or that finds the queue full, is dropped and counted,
and a warning is logged at most once a minute.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from churnguard.adapters.mlflow_experiment_tracker import check_tracking_server, is_remote
from churnguard.application.errors import TrackingUnavailable
from churnguard.application.ports import InferenceTrace

logger = logging.getLogger(__name__)

WARNING_INTERVAL_SECONDS = 60.0
HEALTH_CACHE_SECONDS = 1.0
EXPORTER_LOGGER = "mlflow.tracing.export.mlflow_v3"


class _ExportFailureFilter(logging.Filter):
    """Counts MLflow's own "failed to send trace" warnings from our worker as drops."""

    def __init__(self, worker: threading.Thread, on_failure: Any) -> None:
        super().__init__()
        self._worker = worker
        self._on_failure = on_failure
        self.exported_failed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread == self._worker.ident and "Failed to send trace" in record.getMessage():
            self.exported_failed = True
            self._on_failure(record.getMessage())
            return False
        return True


HEALTH_TIMEOUT_SECONDS = 1.0


class MlflowInferenceTracer:
    enabled = True

    def __init__(self, tracking_uri: str, experiment_name: str, queue_size: int = 1000) -> None:
        self._uri = tracking_uri
        self._experiment_name = experiment_name
        self._queue: queue.Queue[InferenceTrace | None] = queue.Queue(maxsize=queue_size)
        self._dropped = 0
        self._exported = 0
        self._lock = threading.Lock()
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._healthy_until = 0.0
        self._experiment_id: str | None = None
        # Our worker is the asynchronous part: MLflow exports synchronously inside it, without
        # long retry back-offs that would stall it while the server is down.
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        self._worker = threading.Thread(target=self._run, name="mlflow-trace-export", daemon=True)
        self._worker.start()
        self._export_failures = _ExportFailureFilter(self._worker, self._drop)
        logging.getLogger(EXPORTER_LOGGER).addFilter(self._export_failures)

    @property
    def dropped_traces(self) -> int:
        return self._dropped

    @property
    def exported_traces(self) -> int:
        return self._exported

    def record(self, trace: InferenceTrace) -> None:
        try:
            self._queue.put_nowait(trace)
        except queue.Full:
            self._drop("trace queue full")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued trace is exported or dropped; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._worker.join(timeout)
        logging.getLogger(EXPORTER_LOGGER).removeFilter(self._export_failures)

    def _drop(self, reason: str) -> None:
        with self._lock:
            self._dropped += 1
            now = time.monotonic()
            if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
                self._last_warning = now
                logger.warning(
                    "dropping inference traces: %s", reason, extra={"dropped_traces": self._dropped, "uri": self._uri}
                )

    def _run(self) -> None:
        while True:
            trace = self._queue.get()
            try:
                if trace is None:
                    return
                self._export(trace)
            except Exception as error:  # a trace must never take the worker down
                self._drop(f"{type(error).__name__}: {error}")
            finally:
                self._queue.task_done()

    def _server_answers(self) -> bool:
        if not is_remote(self._uri):
            return True
        now = time.monotonic()
        if now < self._healthy_until:
            return True
        try:
            check_tracking_server(self._uri, timeout=HEALTH_TIMEOUT_SECONDS)
            ok = True
        except TrackingUnavailable:
            ok = False
        if ok:
            self._healthy_until = now + HEALTH_CACHE_SECONDS
        return ok

    def _export(self, trace: InferenceTrace) -> None:
        if not self._server_answers():
            self._drop(f"tracking server {self._uri} does not answer")
            return
        self._export_failures.exported_failed = False
        mlflow.set_tracking_uri(self._uri)
        if self._experiment_id is None:
            client = MlflowClient(self._uri)
            experiment = client.get_experiment_by_name(self._experiment_name)
            self._experiment_id = (
                experiment.experiment_id if experiment else client.create_experiment(self._experiment_name)
            )
        root = mlflow.start_span_no_context(
            trace.name,
            span_type="CHAIN",
            inputs=dict(trace.inputs),
            attributes={"model_version": trace.model_version},
            experiment_id=self._experiment_id,
            start_time_ns=trace.start_ns,
        )
        for span in trace.spans:
            child: Any = mlflow.start_span_no_context(
                span.name, parent_span=root, inputs=dict(span.inputs), start_time_ns=span.start_ns
            )
            child.end(outputs=dict(span.outputs), end_time_ns=span.end_ns)
        root.end(outputs=dict(trace.outputs), end_time_ns=trace.end_ns)
        if not self._export_failures.exported_failed:
            self._exported += 1
