"""A trained model's identity and record: what it was trained on, how, and how well it did."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.attribution import Reference
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.quality_gate import F1Floor
from churnguard.domain.schema import TableSchema


def decide(probability: npt.ArrayLike, threshold: float) -> npt.NDArray[np.bool_]:
    """The served decision: a customer churns when P(churn) >= the version's threshold."""
    return np.asarray(probability, dtype=np.float64) >= threshold


def fingerprint(
    data_hash: str, params: Mapping[str, Any], settings: Mapping[str, Any], schema: TableSchema = ORIGINAL_SCHEMA
) -> str:
    """SHA-256 over the data hash, the model params, the settings that shape training and the schema.

    Canonical JSON (sorted keys, no whitespace) so equal inputs give equal fingerprints on
    any machine; the feature order and the schema's hash are included because a reordered
    matrix, or the same columns read under other rules, is another model.
    """
    payload = {
        "data_hash": data_hash,
        "params": params,
        "settings": settings,
        "features": list(schema.model_features),
        "schema": schema.hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ModelVersion:
    """A stored model version; `fingerprint` is its id everywhere (store, CLI, API)."""

    fingerprint: str
    created_at: datetime
    data_hash: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    feature_means: Mapping[str, float] = field(default_factory=dict)
    """A version stored before `attribution`: one baseline per field (its mean or mode)."""
    churn_rate: float = 0.0
    threshold: float = 0.5
    settings: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    """The experiment tracker's run that trained it, if one was recorded."""
    registry_version: str | None = None
    """Its version number in the model registry, if it was registered."""
    schema: TableSchema = ORIGINAL_SCHEMA
    """The table declaration it was trained on; every later use of the model reads tables by it."""
    imputation: Mapping[str, float] = field(default_factory=dict)
    """Encoded fill value per field with an imputing missing-value policy, fitted on the training split."""
    baselines: Mapping[str, float] = field(default_factory=dict)
    """Holdout F1 of no skill and of a plain model on the same split (`no_skill_f1`, `plain_f1`)."""
    attribution: Reference | None = None
    """Each field's training distribution, which contributions are measured against."""
    f1_floor: F1Floor | None = None
    """The F1 floor the gate applied when this version became the champion (the champion only)."""

    @cached_property
    def reference(self) -> Reference:
        if self.attribution is not None:
            return self.attribution
        return Reference.points(self.feature_means, self.schema)

    @property
    def short_id(self) -> str:
        return self.fingerprint[:12]

    @property
    def f1(self) -> float:
        return float(self.metrics["f1"])
