import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.quality_gate import (
    DEFAULT_MAX_REJECTED_SHARE,
    Baselines,
    ChampionComparison,
    F1Floor,
    QualityGate,
    RejectLimit,
    SurvivalComparison,
    no_skill_f1,
)
from churnguard.domain.uncertainty import Interval

f1s = st.floats(0.0, 1.0, allow_nan=False)


def versus(champion_f1: float, estimate: float, low: float | None = None, high: float | None = None):
    low = estimate if low is None else low
    high = estimate if high is None else high
    return ChampionComparison(champion_f1, Interval(estimate, low, high))


def test_gate_promotes_a_first_model_above_the_floor():
    decision = QualityGate(min_f1=0.72).decide(0.75)
    assert decision.promote
    assert decision.reasons == ("candidate F1 0.7500 >= floor 0.7200 (MIN_F1 setting)", "no champion yet")


def test_gate_shows_the_candidates_interval():
    decision = QualityGate(min_f1=0.72).decide(Interval(0.75, 0.70, 0.80))
    assert decision.promote
    assert decision.reasons[0] == "candidate F1 0.7500 (95% CI 0.7000 to 0.8000) >= floor 0.7200 (MIN_F1 setting)"


def test_gate_refuses_a_candidate_below_the_floor():
    decision = QualityGate(min_f1=0.72).decide(0.70)
    assert not decision.promote
    assert "0.7000 < floor 0.7200 (MIN_F1 setting)" in decision.reasons[0]
    assert "quality.min_f1" in decision.reasons[0]  # the refusal names both places a floor is set


def test_gate_refuses_a_candidate_whose_difference_interval_reaches_below_the_tolerance():
    decision = QualityGate(min_f1=0.5, tolerance=0.01).decide(0.80, versus(0.79, +0.01, -0.02, +0.04))
    assert not decision.promote
    assert decision.reasons[1] == (
        "vs champion F1 0.7900: difference +0.0100 (95% CI -0.0200 to +0.0400); "
        "lower bound < -0.0100, may be worse than the champion"
    )


def test_gate_accepts_a_candidate_whose_whole_interval_is_within_tolerance():
    decision = QualityGate(min_f1=0.5, tolerance=0.01).decide(0.795, versus(0.80, -0.005, -0.009, 0.0))
    assert decision.promote
    assert "not worse than the champion" in decision.summary()


def test_an_exact_difference_is_the_plain_rule():
    gate = QualityGate(min_f1=0.5, tolerance=0.01)
    assert gate.decide(0.795, versus(0.80, -0.005)).promote
    assert not gate.decide(0.78, versus(0.80, -0.02)).promote


def test_gate_accepts_exactly_the_floor():
    assert QualityGate(min_f1=0.72).decide(0.72).promote


@pytest.mark.parametrize("bad", [{"min_f1": 1.5}, {"min_f1": -0.1}, {"tolerance": -0.01}])
def test_gate_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        QualityGate(**bad)


@given(f1s, f1s, f1s, st.floats(0.0, 0.1), st.floats(-1, 1), st.floats(0, 0.2))
def test_gate_is_monotone_in_candidate_f1(low, high, floor, tolerance, difference, width):
    low, high = sorted((low, high))
    gate = QualityGate(min_f1=floor, tolerance=tolerance)
    comparison = versus(0.8, difference, difference - width, difference + width)
    if gate.decide(low, comparison).promote:
        assert gate.decide(high, comparison).promote
    if gate.decide(low).promote:
        assert gate.decide(high).promote


@given(f1s, st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 0.2))
def test_a_higher_difference_interval_never_makes_promotion_harder(candidate, a, b, width):
    worse, better = sorted((a, b))
    gate = QualityGate(min_f1=0.0, tolerance=0.01)
    if gate.decide(candidate, versus(0.8, worse, worse - width, worse + width)).promote:
        assert gate.decide(candidate, versus(0.8, better, better - width, better + width)).promote


@given(f1s, st.floats(-1, 1), st.floats(0.0, 0.2), st.floats(0.0, 0.2))
def test_a_wider_interval_never_makes_promotion_easier(candidate, difference, narrow, extra):
    gate = QualityGate(min_f1=0.0, tolerance=0.01)
    wide = narrow + extra
    if gate.decide(candidate, versus(0.8, difference, difference - wide, difference + wide)).promote:
        assert gate.decide(candidate, versus(0.8, difference, difference - narrow, difference + narrow)).promote


@given(f1s, st.one_of(st.none(), f1s))
def test_gate_always_gives_its_reasons(candidate, champion):
    comparison = None if champion is None else versus(champion, candidate - champion)
    decision = QualityGate().decide(candidate, comparison)
    assert len(decision.reasons) == 2
    assert decision.summary().startswith("PROMOTE" if decision.promote else "REFUSE")


def test_the_floor_is_the_setting_else_the_schemas_else_the_no_skill_f1():
    baselines = Baselines(no_skill_f1=no_skill_f1(0.25), plain_f1=0.6)
    assert no_skill_f1(0.25) == pytest.approx(0.4)
    assert QualityGate(min_f1=0.5).floor(0.72, "original", baselines) == F1Floor(0.5, "MIN_F1 setting")
    assert QualityGate().floor(0.72, "original", baselines) == F1Floor(0.72, "quality.min_f1 of schema 'original'")
    floor = QualityGate().floor(None, "bank", baselines)
    assert floor.value == pytest.approx(0.4)
    assert floor.source.startswith("no floor declared")


def test_without_a_declared_floor_the_candidate_beats_no_skill_and_keeps_up_with_a_plain_model():
    gate = QualityGate()
    baselines = Baselines(no_skill_f1=0.4, plain_f1=0.62)
    floor = gate.floor(None, "bank", baselines)
    passes = gate.decide(Interval(0.63, 0.60, 0.66), None, floor, baselines)
    assert passes.promote
    assert passes.floor == floor
    assert "lower bound > no-skill F1 0.4000" in passes.reasons[0]
    assert "not shown worse than a plain model" in passes.reasons[1]
    # inside no skill's reach: its interval does not clear the no-skill F1
    assert not gate.decide(Interval(0.45, 0.38, 0.52), None, floor, baselines).promote
    # clear of no skill, but worse than a plain logistic regression beyond its own interval
    worse = gate.decide(Interval(0.55, 0.52, 0.58), None, floor, baselines)
    assert not worse.promote
    assert "worse than a plain model" in worse.reasons[1]


@given(st.integers(0, 1000), st.integers(1, 1000), st.floats(0.0, 1.0))
def test_a_run_fails_past_its_reject_limit_and_always_when_nothing_is_left(rejected, total, share):
    rejected = min(rejected, total)
    problem = RejectLimit(share, "a test").problem(rejected, total)
    if rejected == total:
        assert problem is not None
        assert "every one" in problem
    else:
        assert (problem is not None) == (rejected / total > share)
        if problem is not None:
            assert f"{rejected:,} of {total:,}" in problem
            assert "a test" in problem


def test_the_reject_limit_is_the_setting_else_the_schemas_else_the_default():
    assert RejectLimit.resolve(0.2, 0.01, "t") == RejectLimit(0.2, "MAX_REJECTED_SHARE")
    assert RejectLimit.resolve(None, 0.01, "t").source == "quality.max_rejected_share of schema 't'"
    assert RejectLimit.resolve(None, None, "t").share == DEFAULT_MAX_REJECTED_SHARE


def _survival(c_low: float, ibs_high: float) -> SurvivalComparison:
    return SurvivalComparison(0.86, 0.85, Interval(0.01, c_low, 0.03), 0.085, 0.087, Interval(-0.002, -0.004, ibs_high))


@pytest.mark.parametrize(
    ("c_low", "ibs_high", "promote"),
    [(-0.005, 0.005, True), (-0.02, 0.005, False), (-0.005, 0.02, False)],
    ids=["within-tolerance", "concordance-may-be-worse", "brier-may-be-worse"],
)
def test_a_survival_candidate_must_not_be_worse_on_concordance_nor_on_brier(c_low, ibs_high, promote):
    gate = QualityGate(min_f1=0.5, tolerance=0.01)
    decision = gate.decide(0.80, versus(0.79, 0.01, 0.0, 0.02), survival=_survival(c_low, ibs_high))
    assert decision.promote is promote
    assert decision.reasons[-1].startswith("survival vs champion: concordance 0.8600 vs 0.8500")
    assert ("not worse than the champion" if promote else "may be worse than the champion") in decision.reasons[-1]


@given(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1), st.floats(0.0, 0.05))
def test_the_survival_rule_is_monotone_in_both_intervals(c_low, ibs_high, tolerance):
    """Better bounds never turn a promotion into a refusal."""
    gate = QualityGate(min_f1=0.5, tolerance=tolerance)
    first = gate.decide(0.8, survival=_survival(c_low, ibs_high)).promote
    better = gate.decide(0.8, survival=_survival(c_low + 0.01, ibs_high - 0.01)).promote
    assert better or not first
    assert first == (c_low >= -tolerance and ibs_high <= tolerance)
