"""Prometheus input metrics for every declared field, named from the schema.

A number field is a histogram `churnguard_input_<field>[_<unit>]` with buckets from the
training split's deciles; a binary or category field is a counter
`churnguard_input_<field>_total{<field>="<label>"}` over its declared labels plus "other" (an
unseen label) and "missing" (an imputed blank), so cardinality is bounded by the schema.
Names are snake case: `MonthlyCharges` is `monthly_charges`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from churnguard.domain.reference_profile import ReferenceProfile
from churnguard.domain.schema import OTHER, Field, TableSchema

MISSING = "missing"
FALLBACK_BUCKETS = 10


def _words(text: str) -> str:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text))
    return re.sub(r"[^a-zA-Z0-9_]+", "_", spaced).strip("_").lower()


def snake(name: str) -> str:
    """`MonthlyCharges` -> `monthly_charges`, `SeniorCitizen` -> `senior_citizen`; anything
    Prometheus does not take in a name becomes `_` (and a name cannot start with a digit)."""
    cleaned = _words(name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"f_{cleaned}"


def metric_name(spec: Field) -> str:
    """The input metric's name (without `_total`); a word unit ends it unless the name already does."""
    base = f"churnguard_input_{snake(spec.name)}"
    unit = snake(spec.unit) if spec.unit and re.fullmatch(r"[A-Za-z ]+", spec.unit) else ""
    if spec.has_labels or not unit or base.endswith(f"_{unit}"):
        return base
    return f"{base}_{unit}"


def label_value(text: str) -> str:
    """A label as a metric label value: `Month-to-month` -> `month_to_month`, a code stays `0`."""
    return _words(text) or text


def fallback_buckets(spec: Field) -> tuple[float, ...]:
    """Without a training snapshot: ten equal steps over the declared range (or powers of two)."""
    if spec.minimum is not None and spec.maximum is not None:
        step = (spec.maximum - spec.minimum) / FALLBACK_BUCKETS
        return tuple(spec.minimum + step * i for i in range(1, FALLBACK_BUCKETS + 1))
    return tuple(float(2**i) for i in range(FALLBACK_BUCKETS))


@dataclass(frozen=True)
class DeclaredInput:
    field: Field
    name: str
    """Metric name (a counter's without `_total`)."""
    label: str
    """A counter's label key."""


class InputMetrics:
    """Observes each customer's encoded fields; labelled children are resolved once."""

    def __init__(self, schema: TableSchema, profile: ReferenceProfile | None, registry: CollectorRegistry) -> None:
        self.schema_hash = schema.hash
        self.declared: list[DeclaredInput] = []
        self._observers: list[Any] = []
        for spec in schema.fields:
            name = metric_name(spec)
            label = snake(spec.name)
            help_text = f"{spec.title} ({spec.rule})"
            if spec.has_labels:
                counter = Counter(name, help_text, [label], registry=registry)
                children = [counter.labels(label_value(spec.shown_label(value))) for value in spec.labels]
                children.append(counter.labels(OTHER))
                children.append(counter.labels(MISSING))
                self._observers.append(children)
            else:
                buckets = (profile.buckets.get(spec.name) if profile else None) or fallback_buckets(spec)
                self._observers.append(Histogram(name, help_text, buckets=buckets, registry=registry))
            self.declared.append(DeclaredInput(spec, name, label))

    def observe(self, rows: Sequence[Sequence[float]]) -> None:
        """`rows`: encoded fields in the schema's order (NaN: missing, imputed)."""
        observers = self._observers
        for row in rows:
            for observer, value in zip(observers, row, strict=True):
                if type(observer) is list:
                    if math.isnan(value):
                        observer[-1].inc()
                    else:
                        observer[min(int(value), len(observer) - 2)].inc()
                elif not math.isnan(value):
                    observer.observe(value)
