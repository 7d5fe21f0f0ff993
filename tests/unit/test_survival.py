"""Time to churn in the domain: a survival curve's questions answered consistently for any curve,
and the Kaplan-Meier estimate worked by hand and against the plain empirical survival."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.domain.survival import (
    HORIZONS,
    SurvivalCurve,
    asked_horizons,
    churn_within,
    conditional_curves,
    kaplan_meier,
    restricted_means,
    revenue_at_risk,
)
from tests.conftest import examples
from tests.schema_strategies import table_schemas


@st.composite
def curves(draw: st.DrawFn) -> SurvivalCurve:
    """S(0) = 1, then any non-increasing steps down to anywhere in [0, 1]."""
    drops = draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=72))
    return SurvivalCurve(np.concatenate([[1.0], np.cumprod(drops)]))


@given(curves(), st.floats(0.0, 80.0), st.integers(1, 36))
@settings(max_examples=examples(300))
def test_any_curve_answers_every_question_consistently(curve, tenure, horizon):
    later = curve.conditional(tenure, horizon)
    assert later.horizon == horizon
    assert later.values[0] == 1.0
    churn = later.churn_within(HORIZONS)
    assert all(0.0 <= p <= 1.0 for p in churn)
    assert list(churn) == sorted(churn)  # monotone in the horizon, by construction
    remaining = later.restricted_mean(horizon)
    assert 0.0 <= remaining <= horizon + 1e-9
    value = 70.0
    assert -1e-9 <= revenue_at_risk(value, horizon, remaining) <= value * horizon + 1e-9
    # the conditional curve is S(a + t) / S(a) step by step, a the whole periods stayed (floor:
    # tenure + t in floating point can round up past a period boundary)
    stayed = float(np.floor(tenure))
    if curve.at(stayed) > 0:
        assert later.values == pytest.approx([curve.at(stayed + t) / curve.at(stayed) for t in range(horizon + 1)])


@given(st.lists(curves(), min_size=1, max_size=6), st.data(), st.integers(1, 24))
@settings(max_examples=examples(200))
def test_the_batch_forms_equal_the_curve_by_curve_answers(many, data, horizon):
    width = max(len(c.values) for c in many)
    # curves of one grid: each held at its last value out to the widest
    grid = [SurvivalCurve(np.pad(c.values, (0, width - len(c.values)), mode="edge")) for c in many]
    tenure = np.array(data.draw(st.lists(st.floats(0.0, 90.0), min_size=len(grid), max_size=len(grid))))
    matrix = np.vstack([c.values for c in grid])
    conditional = conditional_curves(matrix, tenure, horizon)
    horizons = asked_horizons(horizon)
    within = churn_within(conditional, horizons)
    means = restricted_means(conditional, horizon)
    for row, (curve, stayed) in enumerate(zip(grid, tenure, strict=True)):
        single = curve.conditional(stayed, horizon)
        assert conditional[row] == pytest.approx(single.values, abs=1e-15)
        assert within[row] == pytest.approx(single.churn_within(horizons), abs=1e-15)
        assert means[row] == pytest.approx(single.restricted_mean(horizon), abs=1e-12)
    assert horizons[-1] == horizon
    assert all(h in horizons for h in HORIZONS if h <= horizon)


@given(curves())
def test_a_new_customers_conditional_curve_is_the_curve_itself(curve):
    assert curve.conditional(0, curve.horizon).values == pytest.approx(curve.values)


def test_kaplan_meier_worked_by_hand():
    durations = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    churned = np.array([True, False, True, True, False])
    # t=1: 5 at risk, 1 churns -> 0.8; t=2: 4 at risk, 1 churns -> 0.6; t=3: 2, 1 -> 0.3; t=4: 1, 0
    assert kaplan_meier(durations, churned, 5).values == pytest.approx([1.0, 0.8, 0.6, 0.3, 0.3, 0.3])


@given(st.lists(st.integers(0, 30), min_size=1, max_size=200), st.integers(1, 36))
@settings(max_examples=examples(200))
def test_without_censoring_kaplan_meier_is_the_share_still_there(durations, horizon):
    times = np.asarray(durations, dtype=np.float64)
    curve = kaplan_meier(times, np.ones(len(times), dtype=bool), horizon)
    expected = [1.0] + [
        float((times > t).mean()) for t in range(1, horizon + 1)
    ]  # S(0) = 1: a churn at 0 counts in period 1
    assert curve.values == pytest.approx(expected)


@given(st.lists(st.floats(0.0, 60.0), min_size=1, max_size=100), st.integers(1, 36))
def test_when_no_one_has_churned_everyone_is_still_there(durations, horizon):
    curve = kaplan_meier(np.asarray(durations), np.zeros(len(durations), dtype=bool), horizon)
    assert (curve.values == 1.0).all()


@pytest.mark.parametrize(
    "values", [[0.9, 0.8], [1.0, 0.5, 0.6], [1.0, -0.1], [1.0]], ids=["no-start", "rises", "negative", "one-point"]
)
def test_a_curve_that_is_not_one_is_refused(values):
    with pytest.raises(ValueError, match="survival curve"):
        SurvivalCurve(np.asarray(values))


def _table(survival):
    from churnguard.domain.schema import Field, Kind, LabelColumn, TableSchema

    return TableSchema(
        name="shop",
        label=LabelColumn("churn", (1,), (0,)),
        fields=(
            Field("tenure", Kind.INTEGER, minimum=0, maximum=100),
            Field("charge", Kind.NUMBER, minimum=0, maximum=500),
            Field("plan", Kind.CATEGORY, labels=("a", "b")),
            Field("delta", Kind.NUMBER, minimum=-5, maximum=5),
        ),
        survival=survival,
    )


@pytest.mark.parametrize(
    ("survival", "path", "message"),
    [
        (("length", None, 12), "survival.duration", "'length' is not a declared field"),
        (("plan", None, 12), "survival.duration", "must be an integer or number field, not category"),
        (("tenure", "delta", 12), "survival.value", "must declare minimum >= 0"),
        (("tenure", "tenure", 12), "survival.value", "cannot be the duration"),
        (("tenure", "charge", 0), "survival.horizon", "must be >= 1 period"),
        (("tenure", "charge", 12, "month", ("total",)), "survival.exclude[0]", "'total' is not a declared field"),
        (("tenure", "charge", 12, "month", ("delta", "tenure")), "survival.exclude[1]", "is the duration or the value"),
    ],
)
def test_a_broken_survival_declaration_is_named_by_its_key_path(survival, path, message):
    from churnguard.domain.errors import InvalidSchema
    from churnguard.domain.schema import Survival

    with pytest.raises(InvalidSchema) as raised:
        _table(Survival(*survival))
    assert any(where == path and message in said for where, said in raised.value.problems), raised.value.problems


def test_survival_is_part_of_the_table_contract_but_its_unit_is_presentation():
    from churnguard.domain.schema import Survival

    plain = _table(None)
    months = _table(Survival("tenure", "charge", 12, "month"))
    assert months.hash != plain.hash  # a survival model reads the table differently: another contract
    assert months.hash == _table(Survival("tenure", "charge", 12, "period")).hash
    assert months.hash != _table(Survival("tenure", "charge", 24, "month")).hash
    assert months.hash != _table(Survival("tenure", "charge", 12, "month", ("delta",))).hash


@given(table_schemas())
@settings(max_examples=examples(200))
def test_a_survival_model_never_reads_the_duration_nor_anything_computed_from_it(schema):
    """Whatever the declared features, the survival features leave out the duration, the fields
    declared to encode it and every feature whose inputs reach any of them, and keep the rest."""
    if schema.survival is None:
        return
    left_out = {schema.survival.duration, *schema.survival.exclude}
    reaches = dict.fromkeys(schema.raw_fields, False) | dict.fromkeys(left_out, True)
    for feature in schema.features:
        reaches[feature.name] = any(reaches[name] for name in feature.inputs)
    assert schema.survival_features == tuple(name for name in schema.model_features if not reaches[name])


def test_schema_init_leaves_out_of_survival_what_encodes_the_duration():
    import pandas as pd

    from churnguard.adapters.schema_profiler import profile_table

    rng = np.random.default_rng(0)
    tenure = rng.integers(0, 72, 400)
    monthly = rng.uniform(20, 110, 400).round(2)
    table = pd.DataFrame(
        {
            "tenure": tenure,
            "MonthlyCharges": monthly,
            "TotalCharges": (tenure * monthly).round(2),  # what a bill history adds up to
            "tickets": rng.integers(0, 5, 400),
            "Churn": rng.choice(["Yes", "No"], 400),
        }
    )
    draft = profile_table(table, "Churn")
    assert draft.schema.survival is not None
    assert draft.schema.survival.exclude == ("TotalCharges",)
    assert "TotalCharges rank-correlates with tenure" in draft.notes["survival"]
    assert "TotalCharges" not in draft.schema.survival_features
    assert "tickets" in draft.schema.survival_features
