"""Tracing switched off: its own module, so a process that does not trace never imports MLflow."""

from __future__ import annotations

from churnguard.application.ports import InferenceTrace


class NullInferenceTracer:
    """Tracing switched off: nothing is recorded, nothing is dropped."""

    enabled = False

    def record(self, trace: InferenceTrace) -> None:
        return None

    @property
    def dropped_traces(self) -> int:
        return 0

    def close(self) -> None:
        return None
