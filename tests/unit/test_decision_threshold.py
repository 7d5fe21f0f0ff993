import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.decision_threshold import (
    RetentionCampaign,
    ThresholdStrategy,
    choose_threshold,
    f1_optimal_threshold,
    value_optimal_threshold,
)

labelled = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda ys: sum(ys) > 0),
        st.lists(st.sampled_from([i / 20 for i in range(21)]), min_size=n, max_size=n),
    )
)


def f1_at(target, probability, threshold):
    y, flagged = np.asarray(target), np.asarray(probability) >= threshold
    tp = (y * flagged).sum()
    return 2 * tp / (y.sum() + flagged.sum())


@given(labelled)
def test_the_f1_threshold_reaches_the_best_f1_of_any_cut(data):
    target, probability = data
    choice = f1_optimal_threshold(target, probability)
    assert f1_at(target, probability, choice.threshold) == pytest.approx(choice.score)
    for cut in set(probability):
        assert f1_at(target, probability, cut) <= choice.score + 1e-12
    assert choice.strategy is ThresholdStrategy.F1


@given(labelled, st.floats(0.1, 50), st.floats(1, 500), st.floats(0.05, 1))
def test_the_value_threshold_reaches_the_best_expected_value_of_any_cut(data, cost, value, success):
    target, probability = data
    campaign = RetentionCampaign(cost, value, success)
    choice = value_optimal_threshold(target, probability, campaign)
    y, p = np.asarray(target), np.asarray(probability)

    def value_at(threshold):
        flagged = p >= threshold
        return campaign.expected_value(int((y * flagged).sum()), int(flagged.sum()))

    best = max([0.0, *(value_at(cut) for cut in set(probability))])
    assert choice.score * len(y) == pytest.approx(best)
    if best > 0:
        assert value_at(choice.threshold) == pytest.approx(best)


def test_the_threshold_sits_between_scores_not_on_one():
    choice = f1_optimal_threshold([1, 1, 0, 0], [0.9, 0.7, 0.3, 0.1])
    assert choice.threshold == pytest.approx(0.5)
    assert choice.score == 1.0


def test_when_no_contact_pays_nobody_is_contacted():
    choice = value_optimal_threshold([1, 0, 0], [0.9, 0.8, 0.7], RetentionCampaign(100.0, 10.0, 0.5))
    assert choice.threshold == 1.0
    assert choice.score == 0.0


def test_choose_threshold_follows_the_strategy():
    target, probability = [1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2]
    assert choose_threshold(target, probability, ThresholdStrategy.F1).strategy is ThresholdStrategy.F1
    value = choose_threshold(target, probability, ThresholdStrategy.EXPECTED_VALUE, RetentionCampaign(1, 100, 0.5))
    assert value.strategy is ThresholdStrategy.EXPECTED_VALUE
    assert value.threshold == pytest.approx(0.3)


@pytest.mark.parametrize("bad", [(-1, 10, 0.5), (1, -10, 0.5), (1, 10, 1.5)])
def test_an_impossible_campaign_is_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        RetentionCampaign(*bad)
