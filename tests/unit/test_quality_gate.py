import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.quality_gate import QualityGate

f1s = st.floats(0.0, 1.0, allow_nan=False)


def test_gate_promotes_a_first_model_above_the_floor():
    decision = QualityGate(min_f1=0.72).decide(0.75)
    assert decision.promote
    assert decision.reasons == ("candidate F1 0.7500 >= floor 0.7200", "no champion yet")


def test_gate_refuses_a_candidate_below_the_floor():
    decision = QualityGate(min_f1=0.72).decide(0.70)
    assert not decision.promote
    assert "0.7000 < floor 0.7200" in decision.reasons[0]


def test_gate_refuses_a_candidate_worse_than_the_champion_beyond_tolerance():
    decision = QualityGate(min_f1=0.5, tolerance=0.01).decide(0.78, champion_f1=0.80)
    assert not decision.promote
    assert "delta -0.0200, beyond tolerance 0.0100" in decision.reasons[1]


def test_gate_accepts_a_candidate_slightly_worse_than_the_champion_within_tolerance():
    decision = QualityGate(min_f1=0.5, tolerance=0.01).decide(0.795, champion_f1=0.80)
    assert decision.promote
    assert "within tolerance" in decision.summary()


def test_gate_accepts_exactly_the_floor():
    assert QualityGate(min_f1=0.72).decide(0.72).promote


@pytest.mark.parametrize("bad", [{"min_f1": 1.5}, {"min_f1": -0.1}, {"tolerance": -0.01}])
def test_gate_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        QualityGate(**bad)


@given(f1s, f1s, st.one_of(st.none(), f1s), f1s, st.floats(0.0, 0.1))
def test_gate_is_monotone_in_candidate_f1(low, high, champion, floor, tolerance):
    low, high = sorted((low, high))
    gate = QualityGate(min_f1=floor, tolerance=tolerance)
    if gate.decide(low, champion).promote:
        assert gate.decide(high, champion).promote


@given(f1s, f1s, f1s)
def test_a_better_champion_never_makes_promotion_easier(candidate, weaker, stronger):
    weaker, stronger = sorted((weaker, stronger))
    gate = QualityGate(min_f1=0.0, tolerance=0.01)
    if gate.decide(candidate, stronger).promote:
        assert gate.decide(candidate, weaker).promote


@given(f1s, st.one_of(st.none(), f1s))
def test_gate_always_gives_its_reasons(candidate, champion):
    decision = QualityGate().decide(candidate, champion)
    assert len(decision.reasons) == 2
    assert decision.summary().startswith("PROMOTE" if decision.promote else "REFUSE")
