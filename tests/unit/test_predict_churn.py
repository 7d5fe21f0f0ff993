import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.application.champion import ChampionCache
from churnguard.application.errors import ModelNotFound
from churnguard.application.predict_churn import PredictChurn
from churnguard.domain.attribution import leave_one_out
from churnguard.domain.customer import ORIGINAL_SCHEMA
from tests.conftest import examples
from tests.fakes import ORIGINAL_REFERENCE, FakeInferenceTracer, FakeModelStore, LinearChurnModel
from tests.original_features import profiles_matrix
from tests.strategies import profiles

ROWS = ORIGINAL_REFERENCE.rows_per_customer


def _world(threshold=0.5):
    store = FakeModelStore()
    model = LinearChurnModel()
    store.crown(model, threshold=threshold, churn_rate=0.3)
    tracer = FakeInferenceTracer()
    return PredictChurn(ChampionCache(store), tracer), model, tracer


@settings(max_examples=examples(25))
@given(st.lists(profiles, min_size=1, max_size=8))
def test_a_batch_with_explanations_costs_exactly_one_model_call(batch):
    predict, model, _ = _world()
    predictions = predict(batch, explain=True).predictions
    assert model.calls == [(ROWS * len(batch), 16)]
    expected = model.predict_proba(profiles_matrix(batch))[:, 1]
    np.testing.assert_allclose([p.probability for p in predictions], expected, rtol=1e-12)
    for profile, prediction in zip(batch, predictions, strict=True):
        _, contributions = leave_one_out(
            lambda m: model.predict_proba(m)[:, 1], ORIGINAL_SCHEMA, profile.encoded(), ORIGINAL_REFERENCE
        )
        assert prediction.contributions is not None
        assert [c.feature for c in prediction.contributions] == [c.feature for c in contributions]
        assert [c.contribution for c in prediction.contributions] == pytest.approx(
            [c.contribution for c in contributions], abs=1e-12
        )


@given(profiles, st.floats(0.05, 0.95))
def test_the_champions_threshold_decides_the_prediction(profile, threshold):
    predict, _, _ = _world(threshold)
    prediction = predict([profile], explain=False).predictions[0]
    assert prediction.threshold == threshold
    assert prediction.churns == (prediction.probability >= threshold)
    assert prediction.contributions is None
    assert prediction.churn_rate_baseline == 0.3


def test_every_prediction_is_traced_with_its_three_steps():
    predict, _, tracer = _world()
    from churnguard.domain.customer import CustomerProfile
    from tests.unit.test_customer_profile import VALID

    prediction = predict([CustomerProfile.from_mapping(VALID)]).predictions[0]
    (trace,) = tracer.traces
    assert trace.name == "churn-prediction"
    assert [span.name for span in trace.spans] == ["feature-engineering", "model-inference", "explainability"]
    assert trace.outputs["probabilities"] == [prediction.probability]
    assert trace.inputs["customers"][0]["age"] == VALID["age"]
    assert trace.start_ns <= trace.spans[0].start_ns <= trace.spans[-1].end_ns <= trace.end_ns


def test_without_a_champion_prediction_says_so():
    predict = PredictChurn(ChampionCache(FakeModelStore()), FakeInferenceTracer())
    with pytest.raises(ModelNotFound, match="no champion"):
        predict([])
