"""The original schema's 16 model inputs, for the tests: its 13 raw fields plus 3 engineered features.

The formulas are declarations in `ORIGINAL_SCHEMA` (at_least, product, ratio), computed by the
schema like any other table's; these helpers are the original's shorthand for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS, CustomerProfile

Column = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

DERIVED_FEATURES: tuple[str, ...] = ORIGINAL_SCHEMA.feature_names
MODEL_FEATURES: tuple[str, ...] = ORIGINAL_SCHEMA.model_features
"""The fixed column order of every model matrix of the original schema."""


def model_matrix(columns: Mapping[str, Column]) -> FloatArray:
    """(n, 16) float64 matrix in MODEL_FEATURES order from the 13 raw columns (already valid)."""
    return raw_model_matrix(
        np.column_stack([np.atleast_1d(np.asarray(columns[name], dtype=np.float64)) for name in RAW_FIELDS])
    )


def raw_model_matrix(raw: FloatArray) -> FloatArray:
    """(n, 16) model matrix from an (n, 13) matrix of raw fields in RAW_FIELDS order."""
    return ORIGINAL_SCHEMA.model_matrix(raw)


def profiles_matrix(profiles: Sequence[CustomerProfile]) -> FloatArray:
    """Model matrix for validated profiles, one row each, without going through a table."""
    raw = np.array([[getattr(p, name) for name in RAW_FIELDS] for p in profiles], dtype=np.float64).reshape(
        len(profiles), len(RAW_FIELDS)
    )
    return raw_model_matrix(raw)
