"""Use-case: score a whole file of customers in chunks with the champion (offline scoring).

Memory stays flat whatever the file size: batches come in one at a time, each is scored with
one model call (with explanations: one call over its leave-one-out rows) and written out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from churnguard.application.predict_churn import ChampionCache
from churnguard.domain.customer import RAW_FIELDS
from churnguard.domain.features import model_matrix

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RejectedRow:
    row: int
    """1-based data row number in the input file."""
    reasons: str


@dataclass(frozen=True)
class CustomerBatch:
    """The valid rows of one chunk (as raw columns) and the rows of that chunk that were rejected."""

    rows: npt.NDArray[np.int64]
    columns: Mapping[str, npt.NDArray[np.float64]]
    rejected: Sequence[RejectedRow]


@dataclass(frozen=True)
class ScoredBatch:
    batch: CustomerBatch
    probability: FloatArray
    churns: npt.NDArray[np.bool_]
    contributions: FloatArray | None
    """(rows, 13) leave-one-out contributions in RAW_FIELDS order, when explained."""


class ScoredBatchWriter(Protocol):
    def write(self, scored: ScoredBatch, model_version: str, threshold: float) -> None: ...

    def reject(self, rows: Sequence[RejectedRow]) -> None: ...

    def commit(self) -> None:
        """Make the output appear, whole, at its final path."""
        ...


@dataclass(frozen=True)
class ScoringSummary:
    scored: int
    rejected: int
    seconds: float
    model_version: str


class ScoreCustomers:
    def __init__(self, champion: ChampionCache) -> None:
        self._champion = champion

    def __call__(
        self, batches: Iterable[CustomerBatch], writer: ScoredBatchWriter, explain: bool = False
    ) -> ScoringSummary:
        started = time.perf_counter()
        loaded = self._champion.current()
        version = loaded.version
        baselines = np.array([version.feature_means[name] for name in RAW_FIELDS])
        scored = rejected = 0
        for batch in batches:
            writer.reject(batch.rejected)
            rejected += len(batch.rejected)
            count = len(batch.rows)
            if count == 0:
                continue
            raw = np.column_stack([batch.columns[name] for name in RAW_FIELDS])
            contributions = None
            if explain:
                # rows [customer, customer with field 1 at baseline, ..., field 13 at baseline] per customer
                width = 1 + len(RAW_FIELDS)
                stacked = np.repeat(raw, width, axis=0).reshape(count, width, len(RAW_FIELDS))
                for field in range(len(RAW_FIELDS)):
                    stacked[:, field + 1, field] = baselines[field]
                flat = stacked.reshape(-1, len(RAW_FIELDS))
                scores = loaded.score(model_matrix({name: flat[:, i] for i, name in enumerate(RAW_FIELDS)}))
                scores = scores.reshape(count, width)
                probability = scores[:, 0]
                contributions = probability[:, None] - scores[:, 1:]
                contributions[raw == baselines[None, :]] = 0.0
            else:
                probability = loaded.score(model_matrix(batch.columns))
            writer.write(
                ScoredBatch(batch, probability, probability >= version.threshold, contributions),
                version.fingerprint,
                version.threshold,
            )
            scored += count
        if scored == 0:  # every row rejected: the output still has its columns, and no rows
            empty = CustomerBatch(np.empty(0, np.int64), {name: np.empty(0) for name in RAW_FIELDS}, ())
            no_scores = np.empty(0)
            contributions = np.empty((0, len(RAW_FIELDS))) if explain else None
            writer.write(
                ScoredBatch(empty, no_scores, np.empty(0, np.bool_), contributions),
                version.fingerprint,
                version.threshold,
            )
        writer.commit()
        return ScoringSummary(scored, rejected, time.perf_counter() - started, version.fingerprint)
