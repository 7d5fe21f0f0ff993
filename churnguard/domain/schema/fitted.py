"""Statistics fitted on a training split: facts about a model, not the table (the imputation of
missing cells; the attribution reference lives with attribution)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from churnguard.domain.errors import NothingToImpute
from churnguard.domain.schema.fields import FloatArray, MissingPolicy
from churnguard.domain.schema.table import TableSchema


@dataclass(frozen=True)
class Imputation:
    """The encoded value each imputed field's missing cells get."""

    values: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, schema: TableSchema, raw: FloatArray) -> Imputation:
        """Fill values from training rows only (constant: the declared value, encoded)."""
        values: dict[str, float] = {}
        for index, spec in enumerate(schema.fields):
            policy = spec.missing.policy
            if policy is MissingPolicy.REFUSE:
                continue
            column = raw[:, index]
            seen = column[~np.isnan(column)]
            if policy is MissingPolicy.CONSTANT:
                assert spec.missing.value is not None
                value = spec.label_code(spec.missing.value) if spec.has_labels else float(spec.missing.value)
            elif len(seen) == 0:
                raise NothingToImpute(
                    f"{spec.name}: every training value is missing, so there is no {policy.value} to impute "
                    "with; declare a constant (missing: {policy: constant, value: ...}) or drop the field"
                )
            elif policy is MissingPolicy.MEDIAN:
                value = float(np.median(seen))
            else:
                value = most_frequent(seen)
            values[spec.name] = value
        return cls(values)

    def apply(self, schema: TableSchema, raw: FloatArray) -> FloatArray:
        if not self.values:
            return raw
        filled = raw.copy()
        for index, spec in enumerate(schema.fields):
            if spec.name in self.values:
                column = filled[:, index]
                column[np.isnan(column)] = self.values[spec.name]
        return filled


def most_frequent(column: FloatArray) -> float:
    """The most frequent value (the smallest among ties): a category's mode."""
    uniques, counts = np.unique(column, return_counts=True)
    return float(uniques[int(np.argmax(counts))])


# --- the schema's own consistency (every problem, by key path) ------------------------------
