"""The 16 model inputs: the 13 raw fields plus 3 engineered features, defined once.

Every path (training on a whole table, serving one profile, attribution rows) builds its
model matrix through `model_matrix`, so the formulas below exist in exactly one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from churnguard.domain.customer import FIELD_RULES, RAW_FIELDS, CustomerProfile, FieldKind

SENIOR_AGE = 65
"""Customers this old or older are senior citizens."""

Column = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def senior_citizen(age: Column) -> FloatArray:
    """1.0 where age >= 65, else 0.0."""
    return (np.asarray(age, dtype=np.float64) >= SENIOR_AGE).astype(np.float64)


def total_charges(tenure_months: Column, monthly_charges: Column) -> FloatArray:
    """What the customer has paid so far: tenure_months * monthly_charges."""
    return np.asarray(tenure_months, dtype=np.float64) * np.asarray(monthly_charges, dtype=np.float64)


def ticket_rate(num_tickets: Column, tenure_months: Column) -> FloatArray:
    """Support tickets per year of tenure: num_tickets / max(tenure_months, 1) * 12."""
    tenure = np.maximum(np.asarray(tenure_months, dtype=np.float64), 1.0)
    return np.asarray(num_tickets, dtype=np.float64) / tenure * 12.0


DERIVED_FEATURES: tuple[str, ...] = ("senior_citizen", "total_charges", "ticket_rate")
MODEL_FEATURES: tuple[str, ...] = RAW_FIELDS + DERIVED_FEATURES
"""The fixed column order of every model matrix."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which model input is which kind; adapters read this instead of keeping their own lists."""

    name: str
    kind: FieldKind


FEATURE_SPECS: tuple[FeatureSpec, ...] = (
    *(FeatureSpec(rule.name, rule.kind) for rule in FIELD_RULES),
    FeatureSpec("senior_citizen", FieldKind.BINARY),
    FeatureSpec("total_charges", FieldKind.NUMERIC),
    FeatureSpec("ticket_rate", FieldKind.NUMERIC),
)


def features_of_kind(kind: FieldKind) -> tuple[str, ...]:
    """Model features of one kind, in model order."""
    return tuple(spec.name for spec in FEATURE_SPECS if spec.kind is kind)


def feature_index(names: Iterable[str]) -> list[int]:
    """Column positions of the named features in the model matrix."""
    return [MODEL_FEATURES.index(name) for name in names]


def engineer(columns: Mapping[str, Column]) -> dict[str, FloatArray]:
    """The three engineered features for a batch of raw columns (scalars broadcast)."""
    return {
        "senior_citizen": senior_citizen(columns["age"]),
        "total_charges": total_charges(columns["tenure_months"], columns["monthly_charges"]),
        "ticket_rate": ticket_rate(columns["num_tickets"], columns["tenure_months"]),
    }


def model_matrix(columns: Mapping[str, Column]) -> FloatArray:
    """(n, 16) float64 matrix in MODEL_FEATURES order from the 13 raw columns."""
    return raw_model_matrix(
        np.column_stack([np.atleast_1d(np.asarray(columns[name], dtype=np.float64)) for name in RAW_FIELDS])
    )


_AGE, _TENURE, _CHARGES, _TICKETS = (
    RAW_FIELDS.index(n) for n in ("age", "tenure_months", "monthly_charges", "num_tickets")
)


def raw_model_matrix(raw: FloatArray) -> FloatArray:
    """(n, 16) model matrix from an (n, 13) matrix of raw fields in RAW_FIELDS order."""
    derived = engineer(
        {
            "age": raw[:, _AGE],
            "tenure_months": raw[:, _TENURE],
            "monthly_charges": raw[:, _CHARGES],
            "num_tickets": raw[:, _TICKETS],
        }
    )
    matrix = np.empty((raw.shape[0], len(MODEL_FEATURES)), dtype=np.float64)
    matrix[:, : len(RAW_FIELDS)] = raw
    for offset, name in enumerate(DERIVED_FEATURES, start=len(RAW_FIELDS)):
        matrix[:, offset] = derived[name]
    return matrix


def profiles_matrix(profiles: Sequence[CustomerProfile]) -> FloatArray:
    """Model matrix for validated profiles, one row each, without going through a table."""
    raw = np.array([[getattr(p, name) for name in RAW_FIELDS] for p in profiles], dtype=np.float64).reshape(
        len(profiles), len(RAW_FIELDS)
    )
    return raw_model_matrix(raw)
