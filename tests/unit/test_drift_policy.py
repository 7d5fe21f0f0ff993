import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.drift_policy import DriftPolicy, FeatureDrift, NotEnoughRows

features = st.lists(
    st.builds(FeatureDrift, st.sampled_from(["age", "tenure", "charges", "tickets"]), st.just("ks"),
              st.floats(0, 1), st.just(0.05), st.booleans()),
    min_size=1, max_size=16,
)  # fmt: skip


@given(features, st.floats(0.01, 1.0))
def test_the_verdict_is_the_drifted_share_against_the_threshold(measured, share):
    verdict = DriftPolicy(drift_share=share).verdict(measured)
    drifted = [f for f in measured if f.drifted]
    assert verdict.drift_share == len(drifted) / len(measured)
    assert verdict.drifted == (verdict.drift_share >= share)
    assert verdict.drifted_features == tuple(f.feature for f in drifted)


@given(features, st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_a_stricter_threshold_never_finds_drift_a_looser_one_misses(measured, a, b):
    strict, loose = sorted((a, b), reverse=True)
    if DriftPolicy(drift_share=strict).verdict(measured).drifted:
        assert DriftPolicy(drift_share=loose).verdict(measured).drifted


def test_too_few_rows_is_refused_with_the_number_needed():
    with pytest.raises(NotEnoughRows, match="99 current rows; drift needs at least 100"):
        DriftPolicy(min_rows=100).check_rows(99)


def test_reasons_name_the_drifted_features():
    verdict = DriftPolicy().verdict(
        [FeatureDrift("age", "ks", 0.001, 0.05, True), FeatureDrift("tenure", "ks", 0.4, 0.05, False)]
    )
    assert verdict.drifted
    # equal weights without importances; the rule named as people read it, not by its id
    assert verdict.reasons[0].startswith("DRIFT by weighted field drift: the drifted fields carry")
    assert verdict.reasons[1] == "1 of 2 fields drifted (50% plain share)"
    assert "age (weight 50%): ks 0.001" in verdict.reasons[2]
