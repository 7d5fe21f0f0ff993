"""A trained model's identity and record: what it was trained on, how, and how well it did."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from churnguard.domain.features import MODEL_FEATURES


def fingerprint(data_hash: str, params: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """SHA-256 over the data hash, the model params and the settings that shape training.

    Canonical JSON (sorted keys, no whitespace) so equal inputs give equal fingerprints on
    any machine; the feature order is included because a reordered matrix is another model.
    """
    payload = {
        "data_hash": data_hash,
        "params": params,
        "settings": settings,
        "features": list(MODEL_FEATURES),
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
    churn_rate: float = 0.0
    threshold: float = 0.5
    settings: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    """The experiment tracker's run that trained it, if one was recorded."""
    registry_version: str | None = None
    """Its version number in the model registry, if it was registered."""

    @property
    def short_id(self) -> str:
        return self.fingerprint[:12]

    @property
    def f1(self) -> float:
        return float(self.metrics["f1"])
