"""The drift verdict weighs fields by the champion's importance and watches its predictions;
the performance estimate is checked against outcomes drawn from the probabilities it reads."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score, roc_auc_score

from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.drift_policy import DriftPolicy, FeatureDrift, field_weights
from churnguard.domain.performance_estimate import estimate_performance

FIELDS = ORIGINAL_SCHEMA.raw_fields


def _features(drifted: set[str]) -> list[FeatureDrift]:
    return [
        FeatureDrift(name, "wasserstein", 0.3 if name in drifted else 0.01, 0.1, name in drifted) for name in FIELDS
    ]


def test_three_important_fields_drifting_is_dataset_drift_though_the_plain_share_is_a_quarter():
    """The issue's case: older customers, more month-to-month contracts, higher charges."""
    influence = {"contract_type": 0.21, "tenure_months": 0.05, "num_tickets": 0.04, "internet_service": 0.02,
                 "monthly_charges": 0.03, "age": 0.01}  # fmt: skip
    weights = field_weights(FIELDS, influence)
    verdict = DriftPolicy().verdict(_features({"age", "contract_type", "monthly_charges"}), weights)
    assert verdict.drift_share == pytest.approx(3 / 13)
    assert verdict.weighted_share >= 0.5
    assert verdict.drifted
    assert verdict.rules == ("weighted_share",)
    assert verdict.drifted_features[0] == "contract_type"  # the most important first
    assert verdict.reasons[0].startswith("DRIFT by weighted field drift: the drifted fields carry")


def test_unimportant_fields_drifting_is_not_dataset_drift_but_drifted_predictions_are():
    weights = field_weights(FIELDS, {"contract_type": 0.9, "gender": 0.0, "partner": 0.0})
    features = _features({"gender", "partner", "dependents", "online_security"})
    steady, moved = (FeatureDrift("churn_probability", "wasserstein", v, 0.1, v >= 0.1) for v in (0.02, 0.4))
    quiet = DriftPolicy().verdict(features, weights, steady)
    assert not quiet.drifted
    assert quiet.rules == ()
    loud = DriftPolicy().verdict(features, weights, moved)
    assert loud.drifted
    assert loud.rules == ("prediction",)
    assert "predicted probabilities drifted" in loud.reasons[0]


@given(st.dictionaries(st.sampled_from(FIELDS), st.floats(-1, 1)))
def test_field_weights_are_a_distribution_over_the_raw_fields(influence):
    weights = field_weights(FIELDS, influence)
    assert set(weights) == set(FIELDS)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert min(weights.values()) >= 0.0


@pytest.mark.parametrize("seed", range(3))
def test_the_estimate_matches_outcomes_drawn_from_calibrated_probabilities(seed):
    """If the probabilities are right, the realized F1 and ROC-AUC fall inside the stated interval
    about 95 % of the time: 40 trials, at most 5 outside (a binomial tail under 2 %)."""
    rng = np.random.default_rng(seed)
    probability = rng.beta(0.8, 2.0, 3000)
    estimate = estimate_performance(probability, 0.33)
    outside_f1 = outside_auc = 0
    for _ in range(40):
        labels = rng.random(probability.size) < probability
        f1 = f1_score(labels, probability >= 0.33)
        auc = roc_auc_score(labels, probability)
        outside_f1 += not estimate.f1_interval[0] <= f1 <= estimate.f1_interval[1]
        outside_auc += not estimate.roc_auc_interval[0] <= auc <= estimate.roc_auc_interval[1]
    assert outside_f1 <= 5
    assert outside_auc <= 5
    assert estimate.f1_interval[0] < estimate.f1 < estimate.f1_interval[1]
    # and not wider than it has to be: the stated interval is about as wide as the middle 95 % of
    # 400 realized values (an interval of [0, 1], or twice as wide, fails here)
    labels = rng.random((400, probability.size)) < probability
    flagged = probability >= 0.33
    tp = (labels & flagged).sum(axis=1)
    realized_f1 = 2 * tp / (labels.sum(axis=1) + flagged.sum())
    low, high = np.percentile(realized_f1, [2.5, 97.5])
    width = estimate.f1_interval[1] - estimate.f1_interval[0]
    assert 0.7 * (high - low) <= width <= 1.4 * (high - low), (width, high - low)
    assert realized_f1.mean() == pytest.approx(estimate.f1, abs=0.005)
    assert estimate.rows == 3000


@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.1, 0.3, 0.3, 0.5, 0.9]), st.integers(0, 3)), min_size=2))
def test_realized_performance_per_period_is_scikit_learns(rows):
    from churnguard.domain.outcomes import MatchedOutcome, by_period

    matches = [MatchedOutcome(str(i), c, p, p >= 0.4, day * 86400.0 + i, 0.4) for i, (c, p, day) in enumerate(rows)]
    periods = by_period(matches, 86400.0)
    assert sum(period.rows for period in periods) == len(rows)
    for period in periods:
        inside = [m for m in matches if period.start <= m.predicted_at < period.start + 86400.0]
        churned = np.array([m.churned for m in inside])
        probability = np.array([m.probability for m in inside])
        expected_f1 = f1_score(churned, probability >= 0.4, zero_division=np.nan)
        assert period.realized_f1 == pytest.approx(expected_f1, nan_ok=True)
        if churned.all() or not churned.any():
            assert np.isnan(period.realized_roc_auc)
        else:
            assert period.realized_roc_auc == pytest.approx(roc_auc_score(churned, probability))
