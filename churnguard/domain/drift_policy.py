"""When is the production data different enough from the training data to act on it?

The drift detector (an adapter) measures each feature; this policy turns the measurements
into a verdict, so the rule lives in one place whatever library computes the statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature's comparison: the test used, its statistic and whether it drifted."""

    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class DriftVerdict:
    drifted: bool
    drift_share: float
    drifted_features: tuple[str, ...]
    reasons: tuple[str, ...]


class NotEnoughRows(ValueError):
    """Too few current rows for a meaningful comparison."""


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Dataset drift when at least `drift_share` of the features drifted (default half);
    no verdict at all on fewer than `min_rows` current rows."""

    drift_share: float = 0.5
    min_rows: int = 100

    def __post_init__(self) -> None:
        if not 0.0 < self.drift_share <= 1.0:
            raise ValueError(f"drift_share must be within (0, 1], got {self.drift_share}")
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be >= 1, got {self.min_rows}")

    def check_rows(self, current_rows: int) -> None:
        if current_rows < self.min_rows:
            raise NotEnoughRows(f"{current_rows} current rows; drift needs at least {self.min_rows}")

    def verdict(self, features: Sequence[FeatureDrift]) -> DriftVerdict:
        if not features:
            raise ValueError("no features were compared")
        drifted = tuple(f.feature for f in features if f.drifted)
        share = len(drifted) / len(features)
        verdict = share >= self.drift_share
        reasons = (
            f"{len(drifted)} of {len(features)} features drifted ({share:.0%}); "
            f"dataset drift needs {self.drift_share:.0%}",
            *(f"{f.feature}: {f.test} {f.statistic:.4g} (threshold {f.threshold:.4g})" for f in features if f.drifted),
        )
        return DriftVerdict(verdict, share, drifted, reasons)
