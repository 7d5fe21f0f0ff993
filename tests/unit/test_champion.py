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
from tests.fakes import FakeModelStore, LinearChurnModel
from tests.strategies import profiles

MEANS = dict.fromkeys(RAW_FIELDS, 1.0) | {"age": 45.0, "tenure_months": 30.0, "monthly_charges": 60.0}


def _champion(threshold: float = 0.5) -> Champion:
    model = LinearChurnModel()
    return Champion(FakeModelStore().crown(model, MEANS, threshold), model)


@settings(max_examples=examples(30))
@given(st.lists(profiles, min_size=1, max_size=6), st.floats(0.05, 0.95))
def test_the_batch_forms_and_the_domains_leave_one_out_agree(batch, threshold):
    champion = _champion(threshold)
    raw = np.array([profile.encoded() for profile in batch], dtype=np.float64)
    probability, contributions = champion.explained(raw)
    explained = champion.predictions(raw, champion.score(champion.model_rows(raw, True)), True)
    plain = champion.predictions(raw, champion.score(champion.model_rows(raw, False)), False)
    for index, profile in enumerate(batch):
        expected, expected_contributions = leave_one_out(champion.scoring.score, profile, MEANS)
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
    for index, name in enumerate(RAW_FIELDS):  # each field set to its baseline, for every row at once
        substituted = raw.copy()
        substituted[:, index] = MEANS[name]
        expected[name] = float(np.mean(np.abs(probability - scoring.probability(substituted))))
    assert scoring.influence(raw, MEANS, chunk=chunk) == pytest.approx(expected, abs=1e-12)


def test_the_threshold_itself_is_a_churn():
    champion = _champion(0.25)
    assert champion.decide(np.array([0.2499999, 0.25, 0.9])).tolist() == [False, True, True]
