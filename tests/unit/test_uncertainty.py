import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score as sklearn_f1
from sklearn.metrics import roc_auc_score

from churnguard.domain.uncertainty import f1_interval, f1_score, metric_intervals, paired_f1_difference, roc_auc
from tests.conftest import examples

samples = st.integers(4, 80).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda ys: 0 < sum(ys) < len(ys)),
        st.lists(st.sampled_from([i / 10 for i in range(11)]), min_size=n, max_size=n),
    )
)


@given(samples)
def test_roc_auc_agrees_with_scikit_learn_including_ties(data):
    target, probability = (np.asarray(x, dtype=float) for x in data)
    assert roc_auc(target, probability) == pytest.approx(roc_auc_score(target, probability))


@given(samples)
def test_f1_agrees_with_scikit_learn(data):
    target, probability = data
    predicted = [int(p >= 0.5) for p in probability]
    assert f1_score(target, predicted) == pytest.approx(sklearn_f1(target, predicted, zero_division=0))


@settings(max_examples=examples(30))
@given(samples, st.integers(0, 1000))
def test_intervals_are_ordered_and_reproducible(data, seed):
    target, probability = data
    first = metric_intervals(target, probability, 0.5, rounds=200, seed=seed)
    again = metric_intervals(target, probability, 0.5, rounds=200, seed=seed)
    assert first == again
    for interval in first.values():
        assert interval.low <= interval.high


@given(samples)
def test_a_model_compared_with_itself_differs_by_exactly_zero(data):
    target, probability = data
    predicted = [p >= 0.5 for p in probability]
    difference = paired_f1_difference(target, predicted, predicted, rounds=200)
    assert (difference.estimate, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_the_interval_narrows_as_the_holdout_grows():
    rng = np.random.default_rng(0)
    widths = []
    for rows in (200, 5000):
        target = rng.integers(0, 2, rows)
        predicted = np.where(rng.random(rows) < 0.8, target, 1 - target)
        interval = f1_interval(target, predicted, rounds=500)
        widths.append(interval.high - interval.low)
    assert widths[1] < widths[0] / 3


def test_a_candidate_better_on_every_row_has_a_positive_difference_interval():
    target = np.array([1] * 100 + [0] * 100)
    champion = np.array([1] * 70 + [0] * 30 + [0] * 100)
    candidate = np.array([1] * 90 + [0] * 10 + [0] * 100)
    difference = paired_f1_difference(target, candidate, champion, rounds=500)
    assert difference.estimate == pytest.approx(2 * 90 / 190 - 2 * 70 / 170)
    assert difference.low > 0
