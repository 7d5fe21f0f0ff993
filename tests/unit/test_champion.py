"""The champion's one composition: its batch forms agree with the domain's per-customer
leave-one-out, the drift weights are the mean of the same contributions, and one rule decides."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.application.champion import Champion, Scoring
from churnguard.domain.attribution import leave_one_out
from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS
from churnguard.domain.model_version import ModelVersion
from tests.conftest import examples
from tests.fakes import LinearChurnModel
from tests.strategies import profiles

MEANS = dict.fromkeys(RAW_FIELDS, 1.0) | {"age": 45.0, "tenure_months": 30.0, "monthly_charges": 60.0}


def _champion(threshold: float = 0.5) -> Champion:
    version = ModelVersion(
        fingerprint="f" * 64,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        data_hash="d" * 64,
        params={},
        metrics={"f1": 0.8},
        feature_means=MEANS,
        threshold=threshold,
    )
    return Champion(version, LinearChurnModel())


@settings(max_examples=examples(30))
@given(st.lists(profiles, min_size=1, max_size=6), st.floats(0.05, 0.95))
def test_predict_explained_and_the_domains_leave_one_out_agree(batch, threshold):
    champion = _champion(threshold)
    raw = np.array([profile.encoded() for profile in batch], dtype=np.float64)
    predictions = champion.predict(raw)
    probability, contributions = champion.explained(raw)
    score = champion.scoring.score
    for index, (profile, prediction) in enumerate(zip(batch, predictions, strict=True)):
        expected, expected_contributions = leave_one_out(score, profile, MEANS)
        assert prediction.probability == pytest.approx(expected, abs=1e-12)
        assert probability[index] == pytest.approx(expected, abs=1e-12)
        assert prediction.churns == (expected >= threshold)
        assert prediction.contributions is not None
        by_field = {c.feature: c.contribution for c in expected_contributions}
        assert {c.feature: c.contribution for c in prediction.contributions} == pytest.approx(by_field, abs=1e-12)
        assert dict(zip(RAW_FIELDS, contributions[index], strict=True)) == pytest.approx(by_field, abs=1e-12)
    unexplained = champion.predict(raw, explain=False)
    assert [p.probability for p in unexplained] == pytest.approx([p.probability for p in predictions], abs=1e-12)
    assert all(p.contributions is None for p in unexplained)


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
