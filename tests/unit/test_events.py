"""Event histories to point-in-time rows: leakage is a test, not a promise; and the out-of-time split."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from churnguard.domain.errors import InvalidSchema
from churnguard.domain.events import (
    CUTOFF_COLUMN,
    ChurnDefinition,
    ChurnKind,
    Cutoffs,
    EventSchema,
    EventSource,
    History,
    WindowFeature,
    WindowOperation,
    active,
    churned,
    observe,
)
from churnguard.domain.schema import Field, Kind
from churnguard.domain.time_split import NotEnoughTime, out_of_time, purged_folds
from tests.conftest import examples
from tests.event_strategies import event_schemas, histories


def _with(history: History, keep: np.ndarray, extra: History | None = None) -> History:
    """`history` with only the events `keep` says, and `extra`'s events added."""
    days = history.days[keep]
    types = tuple(t for t, k in zip(history.types, keep, strict=True) if k)
    values = {name: column[keep] for name, column in history.values.items()}
    if extra is not None:
        days = np.concatenate([days, extra.days])
        types = types + extra.types
        values = {name: np.concatenate([values[name], extra.values[name]]) for name in values}
    return History(days, types, values)


@given(event_schemas(), histories(), histories(), st.integers(0, 130))
@settings(max_examples=examples(400))
def test_no_event_at_or_after_the_cutoff_reaches_a_feature(schema, history, other, cutoff):
    """Deleting, changing or adding events at or after the cutoff changes no feature of it."""
    before = observe(schema, history, cutoff)
    kept = _with(history, history.days < cutoff)  # every event at or after the cutoff deleted
    later = History(other.days + cutoff, other.types, other.values)  # others added, all at or after it
    for changed in (kept, _with(kept, np.ones(len(kept.days), dtype=bool), later)):
        again = observe(schema, changed, cutoff)
        assert (before is None) == (again is None)
        if before is not None:
            np.testing.assert_array_equal(np.asarray(again), np.asarray(before))


@given(event_schemas(), histories(), histories(), st.integers(0, 130))
@settings(max_examples=examples(400))
def test_the_label_reads_nothing_before_the_cutoff_but_who_is_active(schema, history, other, cutoff):
    """Replacing every event before the cutoff with others changes the label of no customer who
    is active at the cutoff either way."""
    after = _with(history, history.days >= cutoff)
    earlier = History(np.minimum(other.days, cutoff - 1), other.types, other.values)
    rewritten = _with(after, np.ones(len(after.days), dtype=bool), earlier)
    assume(active(schema, history, cutoff) and active(schema, rewritten, cutoff))
    assert churned(schema, rewritten, cutoff) == churned(schema, history, cutoff)


def _schema(*features: WindowFeature, churn: ChurnDefinition | None = None) -> EventSchema:
    return EventSchema(
        "shop",
        EventSource("customer", "day", "type", ("amount",)),
        features,
        churn or ChurnDefinition(ChurnKind.INACTIVITY, 30),
        Cutoffs(date(2024, 1, 1), 28, 3),
    )


def test_each_window_feature_on_a_history_worked_by_hand():
    history = History(
        np.array([10.0, 40.0, 55.0, 58.0, 59.0, 61.0]),
        ("buy", "visit", "buy", "buy", "visit", "buy"),
        {"amount": np.array([5.0, 0.0, 20.0, 10.0, 0.0, 99.0])},
    )
    schema = _schema(
        WindowFeature("buys_30", WindowOperation.COUNT, 30, event_type="buy"),
        WindowFeature("spend_30", WindowOperation.SUM, 30, "amount"),
        WindowFeature("mean_30", WindowOperation.MEAN, 30, "amount"),
        WindowFeature("days_30", WindowOperation.DISTINCT, 30),
        WindowFeature("kinds_30", WindowOperation.DISTINCT, 30, "type"),
        WindowFeature("recency", WindowOperation.DAYS_SINCE_LAST),
        WindowFeature("tenure", WindowOperation.DAYS_SINCE_FIRST),
        WindowFeature("trend_20", WindowOperation.TREND, 20),
    )
    # at day 60: the window [30, 60) holds days 40, 55, 58, 59; the event on day 61 is not seen
    assert observe(schema, history, 60.0) == (2.0, 30.0, 7.5, 4.0, 2.0, 1.0, 50.0, 1.0)
    assert not churned(schema, history, 60.0)  # a purchase on day 61, within 30 days
    assert churned(schema, history, 62.0)
    assert observe(schema, history, 10.0) is None  # nothing before day 10: not active yet


def test_a_contractual_customer_who_cancelled_is_no_longer_observed():
    schema = _schema(
        WindowFeature("events", WindowOperation.COUNT, 100), churn=ChurnDefinition(ChurnKind.CANCEL, 30, "cancel")
    )
    history = History(np.array([1.0, 20.0, 50.0]), ("buy", "cancel", "buy"), {"amount": np.zeros(3)})
    assert churned(schema, history, 10.0)  # a cancellation within 30 days of day 10
    assert not churned(schema, history, 21.0)
    assert observe(schema, history, 21.0) is None  # cancelled before the cutoff


@pytest.mark.parametrize(
    ("feature", "path", "message"),
    [
        (WindowFeature("x", WindowOperation.COUNT), "features.x", "needs a window of days > 0"),
        (WindowFeature("x", WindowOperation.SUM, 7), "features.x", "needs a value column"),
        (WindowFeature("x", WindowOperation.MEAN, 7, "price"), "features.x", "'price' is not a declared value column"),
        (WindowFeature("x", WindowOperation.DAYS_SINCE_LAST, 7), "features.x", "no days"),
        (WindowFeature(CUTOFF_COLUMN, WindowOperation.COUNT, 7), f"features.{CUTOFF_COLUMN}", "the observation"),
    ],
)
def test_a_broken_declaration_is_named_by_its_key_path(feature, path, message):
    with pytest.raises(InvalidSchema) as raised:
        _schema(feature)
    assert any(where == path and message in said for where, said in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("attribute", "path", "message"),
    [
        (Field("buys", Kind.INTEGER), "customers.fields.buys", "also a window feature's"),
        (Field("churn", Kind.INTEGER), "customers.fields.churn", "the observation table's churn column"),
        (Field("plan", Kind.CATEGORY), "customers.fields.plan", "labels"),
    ],
)
def test_a_broken_static_attribute_is_named_by_its_key_path(attribute, path, message):
    with pytest.raises(InvalidSchema) as raised:
        replace(_schema(WindowFeature("buys", WindowOperation.COUNT, 28)), attributes=(attribute,))
    assert any(where.startswith(path) and message in said for where, said in raised.value.problems), (
        raised.value.problems
    )


def test_static_attributes_are_fields_of_the_observation_table_after_the_windows():
    plan = Field("plan", Kind.CATEGORY, labels=("basic", "premium"), fixed=True)
    schema = replace(_schema(WindowFeature("buys", WindowOperation.COUNT, 28)), attributes=(plan,))
    table = schema.observation_schema()
    assert [f.name for f in table.fields] == ["buys", "plan"]
    assert table.field_by_name["plan"] == plan
    assert table.hash != _schema(WindowFeature("buys", WindowOperation.COUNT, 28)).observation_schema().hash


def test_the_observation_schema_is_an_ordinary_table_split_by_its_cutoffs():
    schema = _schema(WindowFeature("buys", WindowOperation.COUNT, 28), WindowFeature("trend", WindowOperation.TREND, 7))
    table = schema.observation_schema()
    assert table.id_column == "customer"
    assert table.passthrough_columns == (CUTOFF_COLUMN,)
    assert table.split is not None
    assert (table.split.column, table.split.embargo_days) == (CUTOFF_COLUMN, 30)
    assert [(f.name, f.kind.value, f.minimum, f.maximum) for f in table.fields] == [
        ("buys", "integer", 0.0, None),
        ("trend", "number", -1.0, 1.0),
    ]


@given(
    st.lists(st.integers(0, 20), min_size=2, max_size=300).map(lambda t: np.asarray(t, dtype=np.float64) * 7),
    st.floats(0.1, 0.5),
    st.integers(0, 40),
)
@settings(max_examples=examples(300))
def test_the_holdout_is_the_latest_times_and_no_training_label_reaches_into_it(times, test_size, embargo):
    try:
        split = out_of_time(times, test_size, embargo)
    except NotEnoughTime:
        # only one observation time, or an embargo longer than the gap before the holdout
        assert np.unique(times).size < 2 or embargo > 0
        return
    start = times[split.holdout].min()
    assert (times[split.holdout] >= start).all()
    assert (times[split.train] + embargo <= start).all()  # each training label ends before the holdout
    assert set(split.train).isdisjoint(split.holdout)
    assert split.holdout.size < times.size  # never everything
    later = np.flatnonzero(times >= start)
    np.testing.assert_array_equal(split.holdout, later)  # the latest times, whole


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=300).map(lambda t: np.asarray(t, dtype=np.float64) * 7),
    st.integers(2, 5),
    st.integers(0, 30),
)
@settings(max_examples=examples(300))
def test_purged_folds_validate_every_row_once_and_never_train_across_a_label_window(times, folds, embargo):
    found = purged_folds(times, folds, embargo)
    assume(found)
    validated = np.concatenate([validate for _, validate in found])
    assert sorted(validated.tolist()) == list(range(times.size))  # a partition: one out-of-fold prediction each
    for train, validate in found:
        first, last = times[validate].min(), times[validate].max()
        assert ((times[train] + embargo <= first) | (times[train] >= last + embargo)).all()
        assert set(train.tolist()).isdisjoint(validate.tolist())


def test_purged_folds_on_weekly_cutoffs_worked_by_hand():
    """Ten weekly cutoffs, a 14-day label: three blocks, each trained on the cutoffs two weeks or
    more away from it on either side."""
    times = np.repeat(np.arange(10) * 7.0, 2)
    found = purged_folds(times, 3, 14)
    assert [sorted(set(times[v].tolist())) for _, v in found] == [
        [0.0, 7.0, 14.0, 21.0], [28.0, 35.0, 42.0], [49.0, 56.0, 63.0],
    ]  # fmt: skip
    assert sorted(set(times[found[1][0]].tolist())) == [0.0, 7.0, 14.0, 56.0, 63.0]
    assert purged_folds(times, 11, 14) == []  # more blocks than cutoffs: none


def test_a_posted_time_is_read_on_the_builders_axis_in_utc():
    from datetime import datetime, timedelta, timezone

    from churnguard.domain.events import days_since

    assert days_since(date(1970, 1, 2)) == 1.0
    assert days_since(datetime(1970, 1, 2, 12)) == 1.5  # no zone: UTC, as the builders read it
    paris = timezone(timedelta(hours=1))
    assert days_since(datetime(1970, 1, 2, 13, tzinfo=paris)) == 1.5
