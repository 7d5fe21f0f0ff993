"""Out-of-time evaluation: rows observed at different times are held out by time, never at random.

An event history gives the same customer a row at many cutoffs; a random split would train on
a customer's later rows and test on their earlier ones, and score a model on a past it has
read the future of. Here the holdout is the latest cutoffs (about `test_size` of the rows), and
a training row must be observed at least `embargo_days` (the label's horizon) before the
holdout's first cutoff: its label, read from the horizon after its own cutoff, then ends before
the holdout begins. Cross-validation inside training is by blocks of time, purged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class NotEnoughTime(ValueError):
    """The observation times cannot give an out-of-time holdout and a training set before it."""


@dataclass(frozen=True)
class OutOfTime:
    train: IntArray
    """Row indices, in table order."""
    holdout: IntArray
    train_times: tuple[float, float]
    """The first and last observation time trained on (days since 1970-01-01)."""
    holdout_times: tuple[float, float]


def out_of_time(times: FloatArray, test_size: float, embargo_days: int) -> OutOfTime:
    """The latest observation times covering about `test_size` of the rows (at least one time,
    never all) as the holdout; training rows are those `embargo_days` or more before it."""
    distinct, counts = np.unique(times, return_counts=True)
    if distinct.size < 2:
        raise NotEnoughTime("every row is observed at one time: an out-of-time holdout needs two or more")
    latest_share = np.cumsum(counts[::-1]) / counts.sum()
    taken = min(max(int(np.searchsorted(latest_share, test_size)) + 1, 1), distinct.size - 1)
    start = float(distinct[-taken])
    holdout = np.flatnonzero(times >= start)
    train = np.flatnonzero((times < start) & (times + embargo_days <= start))
    if train.size == 0:
        raise NotEnoughTime(
            f"no row is observed {embargo_days} days (the label's horizon) or more before the holdout's first "
            f"observation time: add earlier cutoffs"
        )
    return OutOfTime(
        train=train,
        holdout=holdout,
        train_times=(float(times[train].min()), float(times[train].max())),
        holdout_times=(start, float(distinct[-1])),
    )


def purged_folds(times: FloatArray, folds: int, embargo_days: int) -> list[tuple[IntArray, IntArray]]:
    """Cross-validation by time over training rows: the observation times in `folds` contiguous
    blocks, each validated on once by the rows whose label window cannot overlap it (observed
    `embargo_days` or more before the block, or after its end by as much): purged k-fold, so
    every row gets one out-of-fold prediction. Empty where the times are too few or too close
    together for `folds` such blocks."""
    distinct = np.unique(times)
    if distinct.size < folds:
        return []
    found = []
    for block in np.array_split(distinct, folds):
        first, last = float(block[0]), float(block[-1])
        validate = np.flatnonzero((times >= first) & (times <= last))
        before = (times < first) & (times + embargo_days <= first)
        after = (times > last) & (times >= last + embargo_days)
        train = np.flatnonzero(before | after)
        if train.size == 0:
            return []
        found.append((train, validate))
    return found
