"""Attribution: how much each raw field moves one customer's churn probability.

A field's contribution is the expected change over its training distribution:

    contribution(field) = p(customer) - E[p(customer with field := v)],  v ~ the field's training values

Every label (and every whole number of a field with few values) is weighted by its training
share; other numbers by the midpoints of equal-mass quantile bins. Setting a field to one
baseline value instead (a mean, a mode) gives exactly 0 to every customer who holds that value,
and the value a customer holds is often the risky one: on Telco, every month-to-month customer
showed Contract +0.0 though month-to-month is the model's first risk factor.

Engineered features are recomputed from the substituted values, so replacing tenure also moves
the features built on it, as it would for a real customer. Contributions need not sum to the
probability: each field is varied alone, over its own distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.domain.schema import FloatArray, TableSchema

BatchScorer = Callable[[FloatArray], npt.NDArray[np.floating]]
"""Maps an (n, model features) matrix to n churn probabilities."""

QUANTILE_BINS = 8
"""Equal-mass bins a number's distribution is cut into (their midpoints are substituted)."""
EXACT_VALUES = 12
"""A number with at most this many distinct training values uses each one, by its share."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """p(profile) - E[p(profile with `feature` drawn from training)]; positive raises churn risk."""

    feature: str
    value: float
    contribution: float


@dataclass(frozen=True)
class Reference:
    """Each field's training distribution as the values leave-one-out substitutes and their
    weights (summing to 1 per field), in the schema's field order."""

    fields: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    weights: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if not (len(self.fields) == len(self.values) == len(self.weights)):
            raise ValueError("a reference needs values and weights for every field")
        for name, values, weights in zip(self.fields, self.values, self.weights, strict=True):
            if not values or len(values) != len(weights) or abs(sum(weights) - 1.0) > 1e-9:
                raise ValueError(f"{name}: values and weights must be non-empty, paired, weights summing to 1")

    @classmethod
    def fit(cls, schema: TableSchema, raw: FloatArray) -> Reference:
        """From imputed training rows ((n, fields) encoded)."""
        values: list[tuple[float, ...]] = []
        weights: list[tuple[float, ...]] = []
        for index, spec in enumerate(schema.fields):
            column = raw[:, index]
            column = column[~np.isnan(column)]
            distinct, counts = np.unique(column, return_counts=True)
            if spec.has_labels or len(distinct) <= EXACT_VALUES:
                shares = counts / counts.sum()
                values.append(tuple(distinct.tolist()))
                weights.append(tuple(shares.tolist()))
                continue
            midpoints = np.quantile(column, (np.arange(QUANTILE_BINS) + 0.5) / QUANTILE_BINS, method="inverted_cdf")
            points, repeats = np.unique(midpoints, return_counts=True)
            values.append(tuple(points.tolist()))
            weights.append(tuple((repeats / QUANTILE_BINS).tolist()))
        return cls(schema.raw_fields, tuple(values), tuple(weights))

    @classmethod
    def points(cls, baselines: Mapping[str, float], schema: TableSchema) -> Reference:
        """One value per field with weight 1: a version stored before distributions were kept."""
        return cls(
            schema.raw_fields,
            tuple((float(baselines[name]),) for name in schema.raw_fields),
            tuple((1.0,) for _ in schema.raw_fields),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            name: {"values": list(values), "weights": list(weights)}
            for name, values, weights in zip(self.fields, self.values, self.weights, strict=True)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], schema: TableSchema) -> Reference:
        return cls(
            schema.raw_fields,
            tuple(tuple(float(v) for v in data[name]["values"]) for name in schema.raw_fields),
            tuple(tuple(float(w) for w in data[name]["weights"]) for name in schema.raw_fields),
        )

    @cached_property
    def layout(self) -> Substitution:
        return Substitution.of(self)

    @property
    def rows_per_customer(self) -> int:
        """1 (the customer) + one row per substituted value."""
        return 1 + len(self.layout.field)


@dataclass(frozen=True)
class Substitution:
    """The substituted rows of a reference, flattened: row k + 1 of a customer's block sets
    field `field[k]` to `value[k]`, weighted `weight[k]`."""

    field: npt.NDArray[np.intp]
    value: FloatArray
    weight: FloatArray
    starts: npt.NDArray[np.intp]
    """Where each field's substituted rows begin."""

    @classmethod
    def of(cls, reference: Reference) -> Substitution:
        field = np.concatenate(
            [np.full(len(values), index, dtype=np.intp) for index, values in enumerate(reference.values)]
        )
        value = np.concatenate([np.asarray(values, dtype=np.float64) for values in reference.values])
        weight = np.concatenate([np.asarray(weights, dtype=np.float64) for weights in reference.weights])
        starts = np.concatenate([[0], np.cumsum([len(values) for values in reference.values])[:-1]]).astype(np.intp)
        return cls(field, value, weight, starts)


def substituted_batch(schema: TableSchema, raw: FloatArray, reference: Reference) -> FloatArray:
    """The model rows of n customers ((n, fields) encoded and imputed): per customer, a block of
    `reference.rows_per_customer` rows: the customer, then one row per substituted value."""
    layout = reference.layout
    count, width = raw.shape
    block = 1 + len(layout.field)
    rows = np.repeat(np.asarray(raw, dtype=np.float64), block, axis=0).reshape(count, block, width)
    rows[:, np.arange(1, block), layout.field] = layout.value
    return schema.model_matrix(rows.reshape(-1, width))


def substituted_rows(schema: TableSchema, raw: Sequence[float], reference: Reference) -> FloatArray:
    """`substituted_batch` of one customer."""
    return substituted_batch(schema, np.asarray([raw], dtype=np.float64), reference)


def contribution_matrix(raw: FloatArray, reference: Reference, scores: FloatArray) -> FloatArray:
    """(n, fields) contributions from the scores of `substituted_batch` ((n, rows per customer)).

    A substituted value equal to the customer's own gives the customer's row back: its score is
    taken as the customer's, so a field the model ignores, or a field whose distribution is one
    value the customer holds, contributes exactly zero (not a vectorized scorer's last-bit noise).
    """
    layout = reference.layout
    base = scores[:, :1]
    # sum of weight * (p - p_substituted), not p - sum(weight * p_substituted): an unchanged
    # score then adds an exact 0, whatever rounding the weights carry
    change = np.where(raw[:, layout.field] == layout.value[None, :], 0.0, base - scores[:, 1:])
    # a segment sum per field, row by row: the same bits for one customer alone or in a batch
    # (a matrix product may order the additions by the batch's shape)
    return np.asarray(np.add.reduceat(change * layout.weight, layout.starts, axis=1), dtype=np.float64)


def contributions_of(
    schema: TableSchema, raw: Sequence[float], reference: Reference, probabilities: npt.ArrayLike
) -> tuple[Contribution, ...]:
    """One customer's contributions from the scores of `substituted_rows`, sorted by |size|."""
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.shape != (reference.rows_per_customer,):
        raise ValueError(f"expected {reference.rows_per_customer} scores, got shape {scores.shape}")
    values = [float(value) for value in raw]
    row = contribution_matrix(np.asarray([values]), reference, scores.reshape(1, -1))[0].tolist()
    return ranked(schema.raw_fields, values, row)


def ranked(names: Sequence[str], values: Sequence[float], sizes: Sequence[float]) -> tuple[Contribution, ...]:
    """One customer's contributions, largest |size| first: the order every output shows."""
    contributions = [Contribution(n, v, c) for n, v, c in zip(names, values, sizes, strict=True)]
    contributions.sort(key=lambda item: abs(item.contribution), reverse=True)
    return tuple(contributions)


def leave_one_out(
    score_batch: BatchScorer, schema: TableSchema, raw: Sequence[float], reference: Reference
) -> tuple[float, tuple[Contribution, ...]]:
    """One customer's probability and contributions, from one call over its substituted rows."""
    scores = np.asarray(score_batch(substituted_rows(schema, raw, reference)), dtype=np.float64)
    return float(scores[0]), contributions_of(schema, raw, reference, scores)
