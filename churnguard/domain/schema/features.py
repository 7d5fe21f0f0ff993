"""Engineered features: a closed set of operations over encoded fields, computed in numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from churnguard.domain.schema.fields import FieldKind, FloatArray, Label


class Operation(Enum):
    PRODUCT = "product"
    """inputs [a, b]: a * b"""
    SUM = "sum"
    """inputs [a, b, ...]: a + b + ..."""
    DIFFERENCE = "difference"
    """inputs [a, b]: a - b"""
    RATIO = "ratio"
    """inputs [a, b]: a / max(b, floor) * scale"""
    AT_LEAST = "at_least"
    """inputs [a]: 1 if a >= threshold else 0"""
    AT_MOST = "at_most"
    """inputs [a]: 1 if a <= threshold else 0"""
    COUNT_EQUAL = "count_equal"
    """inputs [f, g, ...]: how many of the fields hold `value`"""
    LOG1P = "log1p"
    """inputs [a]: log(1 + a), a > -1"""


FLAG_OPERATIONS = (Operation.AT_LEAST, Operation.AT_MOST)


@dataclass(frozen=True, slots=True)
class Feature:
    """An engineered model input computed from fields (or earlier features) by one operation."""

    name: str
    operation: Operation
    inputs: tuple[str, ...]
    threshold: float | None = None
    floor: float = 0.0
    scale: float = 1.0
    value: Label | None = None
    display_name: str = ""
    help: str = ""

    @property
    def model_kind(self) -> FieldKind:
        return FieldKind.BINARY if self.operation in FLAG_OPERATIONS else FieldKind.NUMERIC

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def compute(self, columns: Sequence[FloatArray], codes: Sequence[float | None] = ()) -> FloatArray:
        """The feature from its input columns (encoded); `codes` are the encoded `value` per input."""
        op = self.operation
        if op is Operation.PRODUCT:
            return columns[0] * columns[1]
        if op is Operation.SUM:
            total = columns[0].copy()
            for column in columns[1:]:
                total = total + column
            return total
        if op is Operation.DIFFERENCE:
            return columns[0] - columns[1]
        if op is Operation.RATIO:
            return columns[0] / np.maximum(columns[1], self.floor) * self.scale
        if op is Operation.AT_LEAST:
            return (columns[0] >= float(self.threshold or 0.0)).astype(np.float64)
        if op is Operation.AT_MOST:
            return (columns[0] <= float(self.threshold or 0.0)).astype(np.float64)
        if op is Operation.COUNT_EQUAL:
            count = np.zeros(columns[0].shape)
            for column, code in zip(columns, codes, strict=True):
                if code is not None:
                    count += column == code
            return count
        if op is Operation.LOG1P:
            return np.log1p(columns[0])
        raise ValueError(f"unknown operation {op}")
