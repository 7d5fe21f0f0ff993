"""What the served product shows of a champion's training data: input-metric buckets, label
shares, the training probability distribution, and customers from the data as presets.

Pure numpy over the training split's encoded fields and the champion's probabilities on them,
computed once when a champion is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.schema import Field, Kind, TableSchema, label_text

FloatArray = npt.NDArray[np.float64]
PROBABILITY_BINS = 20
MAX_BUCKETS = 10


@dataclass(frozen=True)
class ReferenceProfile:
    rows: int
    buckets: Mapping[str, tuple[float, ...]]
    """Histogram bucket bounds per number field: the training split's deciles (distinct)."""
    label_shares: Mapping[str, Mapping[str, float]]
    """Share of each label per labelled field on the training split."""
    probability_shares: tuple[float, ...]
    """Share of training customers per probability bin of width 1 / PROBABILITY_BINS."""
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Named customers as /predict takes them (JSON values, labels not codes)."""


def json_value(spec: Field, encoded: float) -> Any:
    """An encoded value as the API takes it: a label (or code), an integer, a number, or None."""
    if math.isnan(encoded):
        return None
    if spec.has_labels:
        label = spec.label_of(encoded)
        return int(label) if spec.numeric_labels and isinstance(label, int | float) else label_text(label)
    if spec.kind is Kind.INTEGER:
        return int(encoded)
    return float(encoded)


def record_of(schema: TableSchema, encoded: FloatArray) -> dict[str, Any]:
    return {spec.name: json_value(spec, float(value)) for spec, value in zip(schema.fields, encoded, strict=True)}


def _buckets(column: FloatArray) -> tuple[float, ...]:
    values = column[~np.isnan(column)]
    if values.size == 0:
        return ()
    distinct = np.unique(values)
    if distinct.size <= MAX_BUCKETS:
        return tuple(float(v) for v in distinct)
    deciles = np.quantile(values, np.linspace(0.1, 1.0, MAX_BUCKETS))
    return tuple(float(v) for v in np.unique(deciles))


def typical_row(schema: TableSchema, raw: FloatArray) -> int:
    """The row nearest the centre: numbers by their distance to the median in interquartile
    ranges, labelled fields by a mismatch with the most frequent label."""
    distance = np.zeros(raw.shape[0])
    for index, spec in enumerate(schema.fields):
        column = raw[:, index]
        present = column[~np.isnan(column)]
        if present.size == 0:
            continue
        if spec.has_labels:
            codes, counts = np.unique(present, return_counts=True)
            distance += np.where(column == codes[np.argmax(counts)], 0.0, 1.0)
        else:
            low, median, high = np.quantile(present, [0.25, 0.5, 0.75])
            spread = (high - low) or 1.0
            distance += np.nan_to_num(np.abs(column - median) / spread, nan=1.0)
    return int(np.argmin(distance))


def profile_reference(
    schema: TableSchema,
    raw: FloatArray,
    probability: FloatArray,
    named: Mapping[str, Mapping[str, Any]] | None = None,
) -> ReferenceProfile:
    """`raw`: the training split's encoded fields (NaN where imputed); `probability`: the
    champion's churn probability for each row. `named` presets come first (the original's)."""
    buckets = {}
    shares: dict[str, dict[str, float]] = {}
    for index, spec in enumerate(schema.fields):
        column = raw[:, index]
        if spec.has_labels:
            present = column[~np.isnan(column)]
            counts = {label_text(label): 0 for label in spec.labels}
            codes, frequency = np.unique(present, return_counts=True)
            for code, count in zip(codes, frequency, strict=True):
                counts[label_text(spec.label_of(float(code)))] = int(count)
            total = max(present.size, 1)
            shares[spec.name] = {label: count / total for label, count in counts.items()}
        else:
            buckets[spec.name] = _buckets(column)
    histogram, _ = np.histogram(probability, bins=PROBABILITY_BINS, range=(0.0, 1.0))
    presets = dict(named or {})
    if raw.shape[0]:
        presets.setdefault("highest risk", record_of(schema, raw[int(np.argmax(probability))]))
        presets.setdefault("lowest risk", record_of(schema, raw[int(np.argmin(probability))]))
        presets.setdefault("most typical", record_of(schema, raw[typical_row(schema, raw)]))
    return ReferenceProfile(
        rows=int(raw.shape[0]),
        buckets=buckets,
        label_shares=shares,
        probability_shares=tuple(float(v) for v in histogram / max(probability.size, 1)),
        presets=presets,
    )
