"""Drift: the samples compared, the detector, the report and its writer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from churnguard.application.ports.data import Table
from churnguard.application.ports.models import ProbabilisticModel
from churnguard.domain.drift_policy import DriftVerdict, FeatureDrift
from churnguard.domain.performance_estimate import EstimatedPerformance
from churnguard.domain.schema import TableSchema


@dataclass(frozen=True)
class DriftAnalysis:
    """What a drift detector measured, and its own rendering of it."""

    features: Sequence[FeatureDrift]
    html: str
    prediction: FeatureDrift | None = None
    """The drift of the model's predicted probabilities, when a model was given."""
    current_probability: npt.NDArray[np.float64] | None = None
    """The model's churn probability for each current row, when a model was given."""
    horizon_prediction: FeatureDrift | None = None
    """The drift of P(churn within the schema's survival horizon), where the model forecasts it."""


@dataclass(frozen=True)
class DriftSample:
    """The current customers of a drift check, encoded and imputed as the reference is."""

    current: Table
    source: str
    """Where they came from, in words (for the report)."""
    reference: Table | None = None
    """A reference of its own (a split); None: the champion's training snapshot."""


class DriftSamples(Protocol):
    def prediction_log(
        self,
        schema: TableSchema,
        imputation: dict[str, float],
        patterns: list[str] | None = None,
        last: int | None = None,
        since: datetime | None = None,
    ) -> DriftSample:
        """Logged predictions of `schema`: the `last` N, or those `since`."""
        ...

    def file(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample: ...

    def split(self, location: str, schema: TableSchema, imputation: dict[str, float]) -> DriftSample:
        """The last quarter of a shuffled labelled table against its first three quarters."""
        ...


class DriftDetector(Protocol):
    def compare(
        self, reference: Table, current: Table, schema: TableSchema, model: ProbabilisticModel | None = None
    ) -> DriftAnalysis:
        """Per-field drift of `current` against `reference`, both with the schema's fields encoded
        (and imputed); with a `model`, the drift of its predicted probabilities too."""
        ...


@dataclass(frozen=True)
class DriftReport:
    model_version: str
    checked_at: datetime
    reference_rows: int
    current_rows: int
    current_source: str
    features: Sequence[FeatureDrift]
    verdict: DriftVerdict
    prediction: FeatureDrift | None = None
    estimated: EstimatedPerformance | None = None
    """The champion's performance estimated from its probabilities on the current rows."""
    f1_floor: float | None = None
    """The gate's F1 floor: an estimate under it is a warning."""
    horizon_prediction: FeatureDrift | None = None
    """The drift of P(churn within the survival horizon) (its feature: churn_within_<h>)."""

    @property
    def below_f1_floor(self) -> bool | None:
        """The estimated F1 is under the gate's floor (None without an estimate or a floor)."""
        if self.estimated is None or self.f1_floor is None:
            return None
        return self.estimated.f1 < self.f1_floor


class DriftReportWriter(Protocol):
    def write(self, report: DriftReport, html: str) -> list[str]:
        """Write the report files atomically; return their paths."""
        ...

    def latest(self) -> DriftReport | None:
        """The report last written, None before the first (what the API's metrics and UI show)."""
        ...
