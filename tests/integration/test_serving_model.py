"""The serving twin must compute what the stored model computes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnguard.adapters.churn_model import ChurnModel
from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.model_families import FAMILIES
from churnguard.adapters.serving_model import ServingModel, compile_for_serving
from churnguard.adapters.sklearn_model_trainer import fit_calibrator
from churnguard.domain.customer import RAW_FIELDS
from churnguard.domain.schema import UnseenPolicy
from tests.conftest import examples
from tests.original_features import model_matrix


def _rows(rng, n):
    columns = {name: rng.integers(0, 2, n).astype(float) for name in RAW_FIELDS}
    columns.update(
        age=rng.integers(18, 90, n).astype(float),
        tenure_months=rng.integers(0, 72, n).astype(float),
        monthly_charges=rng.uniform(18, 120, n),
        contract_type=rng.integers(0, 3, n).astype(float),
        payment_method=rng.integers(0, 4, n).astype(float),
        internet_service=rng.integers(0, 3, n).astype(float),
        num_tickets=rng.integers(0, 8, n).astype(float),
    )
    return model_matrix(columns)


@pytest.mark.parametrize("family", ["logistic", "hgb", "gbm"])
@pytest.mark.parametrize("calibration", ["none", "sigmoid", "isotonic"])
def test_the_serving_twin_matches_the_model(family, calibration):
    rng = np.random.default_rng(3)
    features = _rows(rng, 600)
    target = ((features[:, 6] == 0) ^ (rng.random(600) < 0.2)).astype(int)
    small = {"logistic": {}, "hgb": {"max_iter": 10}, "gbm": {"n_estimators": 10}}[family]
    pipeline = FAMILIES[family].build(small, 0).fit(features, target)
    raw = pipeline.predict_proba(features)[:, 1]
    calibrator = None if calibration == "none" else fit_calibrator(calibration, raw, target)
    model = ChurnModel(pipeline, family, calibration, calibrator, features[:100])
    twin = compile_for_serving(model)
    assert isinstance(twin, ServingModel)
    fresh = _rows(rng, 300)
    fresh[:50, 6] = 0.86  # a training mean as a "code", as leave-one-out rows hold
    np.testing.assert_allclose(twin.predict_proba(fresh), model.predict_proba(fresh), rtol=0, atol=1e-12)


def test_a_model_without_background_rows_is_served_as_is():
    rng = np.random.default_rng(4)
    features = _rows(rng, 200)
    pipeline = FAMILIES["logistic"].build({}, 0).fit(features, (features[:, 1] > 40).astype(int))
    model = ChurnModel(pipeline, "logistic")
    assert compile_for_serving(model) is model


def _customers_across_the_domain(schema, observed):
    """Hypothesis draws of encoded customers from each field's whole domain (independent of
    `domain_rows`, which the load-time check uses)."""
    columns = []
    for index, field in enumerate(schema.fields):
        if field.has_labels:
            codes = len(field.labels) + (1 if field.unseen is UnseenPolicy.OTHER else 0)
            columns.append(st.integers(0, codes - 1).map(float))
            continue
        low, high = float(np.nanmin(observed[:, index])), float(np.nanmax(observed[:, index]))
        low = field.minimum if field.minimum is not None else low - 10 * max(high - low, 1.0)
        high = field.maximum if field.maximum is not None else high + 10 * max(high - low, 1.0)
        values = st.floats(low, high, allow_nan=False)
        columns.append(values.map(round).map(float) if field.is_integer else values)
    return st.lists(st.tuples(*columns), min_size=1, max_size=40)


@pytest.mark.parametrize("workdir", ["trained_workdir", "telco_workdir"])
def test_every_champion_the_suite_trains_is_served_by_a_twin_equal_across_its_schemas_domain(workdir, request):
    store = FilesystemModelStore(request.getfixturevalue(workdir) / "models")
    champion = store.champion()
    assert champion is not None
    model = store.load(champion.fingerprint)
    assert isinstance(model, ChurnModel)
    twin = compile_for_serving(model)
    assert isinstance(twin, ServingModel)  # the load-time check (background + domain rows) passed
    schema = model.table_schema()
    observed = np.asarray(model.background)[:, : len(schema.fields)]

    @settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_customers_across_the_domain(schema, observed))
    def equal(customers):
        rows = schema.model_matrix(np.asarray(customers, dtype=np.float64))
        np.testing.assert_allclose(twin.predict_proba(rows), model.predict_proba(rows), rtol=0, atol=1e-9)

    equal()
