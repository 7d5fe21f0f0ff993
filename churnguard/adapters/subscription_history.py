"""Generated subscription histories (`churnguard generate-data --events`): a customer table and
their events, seeded, written in chunks of customers so memory stays flat at any size.

The process, week by week from sign-up: each customer has an engagement level (sessions a day);
some start to decline at a random week, faster or slower, and the weekly hazard of cancelling
grows with the decline, on top of a base that the static attributes set (plan, acquisition
channel, age). So churn is driven both by declining activity (what window features see) and by
who the customer is (what the customer table holds): the benchmark measures how much the
windows add. Events: `session` (minutes), `payment` (amount, every 30 days), `support` (more as
engagement falls) and `cancel` (the churn event, the last one). `schemas/subscriptions.yaml`
declares them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from churnguard.adapters.atomic_files import atomic_path
from churnguard.application.errors import InvalidOptions
from churnguard.application.ports import GeneratedHistory

START = date(2024, 1, 1)
"""The first day of the recorded history (customers who signed up earlier have events from here)."""
END = date(2025, 9, 1)
"""The first day not recorded: the last cutoff of `subscriptions.yaml` plus its 91-day horizon."""
PLANS = ("basic", "standard", "premium")
PLAN_SHARE = (0.5, 0.35, 0.15)
PLAN_PRICE = (9.99, 15.99, 24.99)
PLAN_HAZARD = (1.6, 1.0, 0.6)
CHANNELS = ("organic", "paid", "referral")
CHANNEL_SHARE = (0.5, 0.3, 0.2)
CHANNEL_HAZARD = (1.0, 1.5, 0.7)
CHANNEL_DECLINE = (0.35, 0.55, 0.25)  # the chance that engagement starts to decline, by channel
SESSIONS_PER_DAY = 0.24  # a median customer's engagement: about 100 events each over the history
BASE_HAZARD = 0.003  # weekly cancellation hazard of a fully engaged standard organic customer
DECLINE_HAZARD = 0.12  # added to the weekly hazard as engagement falls to nothing
CHUNK = 20_000
EVENT_COLUMNS = ("customer_id", "time", "type", "minutes", "amount")
CUSTOMER_COLUMNS = ("customer_id", "plan", "channel", "age", "signup")


@dataclass(frozen=True)
class _Chunk:
    customers: dict[str, Any]
    events: dict[str, Any]
    churned: int


class SubscriptionHistoryGenerator:
    """The EventHistoryGenerator port: CSV or Parquet by the file's suffix, each whole or not at all."""

    def __init__(self, chunk_customers: int = CHUNK) -> None:
        self._chunk = chunk_customers

    def generate(self, customers: int, seed: int, events_out: str, customers_out: str) -> GeneratedHistory:
        if customers < 1:
            raise InvalidOptions(f"--rows must be >= 1 (customers), got {customers}")
        for location in (events_out, customers_out):
            if Path(location).suffix.lower() not in (".csv", ".parquet"):
                raise InvalidOptions(f"{location}: the file must end in .csv or .parquet")
        events = churned = 0
        with (
            _table_file(events_out, EVENT_COLUMNS) as write_events,
            _table_file(customers_out, CUSTOMER_COLUMNS) as write_customers,
        ):
            # one random stream per chunk, seeded by (seed, chunk number): the same seed writes the same files
            for number, first in enumerate(range(0, customers, self._chunk)):
                rng = np.random.default_rng([seed, number])
                chunk = _simulate(rng, first, min(self._chunk, customers - first))
                write_customers(chunk.customers)
                write_events(chunk.events)
                events += len(chunk.events["customer_id"])
                churned += chunk.churned
        return GeneratedHistory(events_out, customers_out, customers, events, churned, START, END)


def _simulate(rng: np.random.Generator, first: int, n: int) -> _Chunk:
    weeks = math.ceil((END - START).days / 7)
    ids = np.array([f"c{first + i + 1:07d}" for i in range(n)])
    plan = rng.choice(len(PLANS), n, p=PLAN_SHARE)
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
    age = np.clip(np.round(rng.normal(40, 13, n)), 18, 79).astype(np.int64)
    signup = rng.integers(-365, (END - START).days - 120, n)  # days from START
    level = SESSIONS_PER_DAY * rng.lognormal(0.0, 0.5, n)
    declines = rng.random(n) < np.asarray(CHANNEL_DECLINE)[channel] * np.where(age < 30, 1.3, 1.0)
    onset = np.where(declines, signup + rng.integers(30, 500, n), 10**6)  # the day the decline starts
    rate = rng.uniform(0.01, 0.06, n)  # its speed: engagement halves in 12 to 70 days

    week_start = np.arange(weeks) * 7  # days from START
    mid = week_start[None, :] + 3.5
    engagement = np.exp(-rate[:, None] * np.clip(mid - onset[:, None], 0, None))  # 1 engaged .. 0 gone
    base = (
        BASE_HAZARD * np.asarray(PLAN_HAZARD)[plan] * np.asarray(CHANNEL_HAZARD)[channel] * np.where(age < 30, 1.3, 1.0)
    )
    hazard = base[:, None] + DECLINE_HAZARD * (1 - engagement) ** 2
    subscribed = week_start[None, :] + 7 > signup[:, None]
    cancels = subscribed & (rng.random((n, weeks)) < hazard)
    cancel_week = np.where(cancels.any(axis=1), cancels.argmax(axis=1), weeks)
    cancel_day = np.where(
        cancel_week < weeks,
        np.maximum(week_start[np.minimum(cancel_week, weeks - 1)] + rng.random(n) * 7, signup + 1.0),
        np.inf,
    )
    alive = subscribed & (np.arange(weeks)[None, :] <= cancel_week[:, None])

    # sessions: Poisson by week, each at a uniform time in its week, before any cancellation
    sessions = rng.poisson(7 * level[:, None] * engagement * alive)
    who, session_day = _weekly(rng, sessions, week_start, signup, cancel_day)
    minutes = np.maximum(
        np.round(rng.gamma(2.0, 6.0 + 14.0 * engagement[who, (session_day // 7).astype(np.int64)]), 1), 0.1
    )

    # support tickets: more as engagement falls
    tickets = rng.poisson((0.03 + 0.3 * (1 - engagement)) * alive)
    support_who, support_day = _weekly(rng, tickets, week_start, signup, cancel_day)

    # payments: every 30 days from sign-up while subscribed, on the recorded days
    periods = math.ceil(((END - START).days + 365) / 30) + 1
    pay_day = signup[:, None] + 30.0 * np.arange(periods)[None, :] + 0.5
    paying = (pay_day >= 0) & (pay_day < (END - START).days) & (pay_day < cancel_day[:, None])
    pay_who, pay_index = np.nonzero(paying)
    pay_day = pay_day[pay_who, pay_index]

    cancelled = np.nonzero(np.isfinite(cancel_day) & (cancel_day >= 0) & (cancel_day < (END - START).days))[0]
    parts = [
        (who, session_day, "session", minutes, np.full(len(who), np.nan)),
        (support_who, support_day, "support", np.full(len(support_who), np.nan), np.full(len(support_who), np.nan)),
        (pay_who, pay_day, "payment", np.full(len(pay_who), np.nan), np.asarray(PLAN_PRICE)[plan[pay_who]]),
        (cancelled, cancel_day[cancelled], "cancel", np.full(len(cancelled), np.nan), np.full(len(cancelled), np.nan)),
    ]
    owner = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    order = np.lexsort((day, owner))
    seconds = np.floor(day[order] * 86_400).astype("timedelta64[s]")
    events = {
        "customer_id": ids[owner[order]],
        "time": np.datetime64(START.isoformat(), "s") + seconds,
        "type": kind[order],
        "minutes": np.concatenate([p[3] for p in parts])[order],
        "amount": np.concatenate([p[4] for p in parts])[order],
    }
    customers = {
        "customer_id": ids,
        "plan": np.asarray(PLANS)[plan],
        "channel": np.asarray(CHANNELS)[channel],
        "age": age,
        "signup": np.array([(START + timedelta(days=int(d))).isoformat() for d in signup]),
    }
    return _Chunk(customers, events, len(cancelled))


def _weekly(
    rng: np.random.Generator,
    counts: npt.NDArray[np.int64],
    week_start: npt.NDArray[np.int64],
    first_day: npt.NDArray[Any],
    end_day: npt.NDArray[Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(customer, day) of `counts[customer, week]` events a week, each at a uniform time in its
    week, kept within [first_day, end_day) of their customer (sign-up to cancellation)."""
    who, week = np.nonzero(counts)
    repeat = counts[who, week]
    who, week = np.repeat(who, repeat), np.repeat(week, repeat)
    day = week_start[week] + rng.random(len(who)) * 7
    keep = (day >= first_day[who]) & (day < end_day[who])
    return who[keep], day[keep]


@contextlib.contextmanager
def _table_file(location: str, columns: tuple[str, ...]) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A writer of column chunks to a CSV or Parquet file that appears whole when the block ends."""
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    path = Path(location)
    with contextlib.ExitStack() as stack:
        temp = stack.enter_context(atomic_path(path))
        parquet: list[pq.ParquetWriter] = []
        csv = None if path.suffix.lower() == ".parquet" else stack.enter_context(temp.open("wb"))

        def write(chunk: dict[str, Any]) -> None:
            table = pa.table({name: _arrow(chunk[name]) for name in columns})
            if csv is not None:
                pc.write_csv(table, csv, pc.WriteOptions(include_header=csv.tell() == 0))
                return
            if not parquet:
                parquet.append(stack.enter_context(pq.ParquetWriter(temp, table.schema)))
            parquet[0].write_table(table)

        yield write


def _arrow(values: npt.NDArray[Any]) -> Any:
    import pyarrow as pa

    if values.dtype.kind == "f":
        return pa.array(values, mask=np.isnan(values))
    if values.dtype.kind in "US":
        return pa.array(values.astype(object), type=pa.string())
    return pa.array(values)
