"""The champion's one composition: its batch forms agree with the domain's per-customer
leave-one-out, the drift weights are the mean of the same contributions, and one rule decides."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.application.champion import Champion, Scoring
from churnguard.domain.attribution import leave_one_out
from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS
from tests.conftest import examples
from tests.fakes import ORIGINAL_REFERENCE, FakeModelStore, LinearChurnModel
from tests.strategies import profiles


def _champion(threshold: float = 0.5) -> Champion:
    model = LinearChurnModel()
    return Champion(FakeModelStore().crown(model, threshold=threshold), model)


@settings(max_examples=examples(30))
@given(st.lists(profiles, min_size=1, max_size=6), st.floats(0.05, 0.95))
def test_the_batch_forms_and_the_domains_leave_one_out_agree(batch, threshold):
    champion = _champion(threshold)
    raw = np.array([profile.encoded() for profile in batch], dtype=np.float64)
    probability, contributions = champion.explained(raw)
    explained = champion.predictions(raw, champion.score(champion.model_rows(raw, True)), True)
    plain = champion.predictions(raw, champion.score(champion.model_rows(raw, False)), False)
    for index, profile in enumerate(batch):
        expected, expected_contributions = leave_one_out(
            champion.scoring.score, ORIGINAL_SCHEMA, profile.encoded(), ORIGINAL_REFERENCE
        )
        by_field = {c.feature: c.contribution for c in expected_contributions}
        assert probability[index] == pytest.approx(expected, abs=1e-12)
        assert dict(zip(RAW_FIELDS, contributions[index], strict=True)) == pytest.approx(by_field, abs=1e-12)
        for prediction in (explained[index], plain[index]):
            assert prediction.probability == pytest.approx(expected, abs=1e-12)
            assert prediction.churns == (expected >= threshold)
        shown = explained[index].contributions
        assert shown is not None
        assert [c.feature for c in shown] == [c.feature for c in expected_contributions]
        assert plain[index].contributions is None


@settings(max_examples=examples(20))
@given(st.lists(profiles, min_size=1, max_size=9), st.integers(1, 4))
def test_the_drift_weights_are_the_mean_absolute_leave_one_out_whatever_the_chunk(batch, chunk):
    scoring = Scoring(ORIGINAL_SCHEMA, {}, LinearChurnModel())
    raw = np.array([profile.encoded() for profile in batch], dtype=np.float64)
    probability = scoring.probability(raw)
    expected = {}
    for index, name in enumerate(RAW_FIELDS):  # each value of the field's distribution, every row at once
        change = np.zeros(len(raw))
        for value, weight in zip(ORIGINAL_REFERENCE.values[index], ORIGINAL_REFERENCE.weights[index], strict=True):
            substituted = raw.copy()
            substituted[:, index] = value
            change += weight * (probability - scoring.probability(substituted))
        expected[name] = float(np.mean(np.abs(change)))
    assert scoring.influence(raw, ORIGINAL_REFERENCE, chunk=chunk) == pytest.approx(expected, abs=1e-12)


def test_the_threshold_itself_is_a_churn():
    champion = _champion(0.25)
    assert champion.decide(np.array([0.2499999, 0.25, 0.9])).tolist() == [False, True, True]
