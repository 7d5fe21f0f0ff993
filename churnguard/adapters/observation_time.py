"""Observation times of a table's rows: ISO dates read as days since 1970-01-01, the axis the
event builders and the out-of-time split count in. One reading for the validator's rule and
the trainer's split."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


def iso_days(values: npt.ArrayLike) -> FloatArray:
    """Each value as days since 1970-01-01; NaN where it is not an ISO date or time."""
    parsed = pd.to_datetime(pd.Series(values).astype(str), format="ISO8601", errors="coerce")
    return np.asarray((parsed - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0, dtype=np.float64)
