import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.domain.attribution import (
    contribution_matrix,
    contributions_of,
    leave_one_out,
    leave_one_out_rows,
    substituted_batch,
    substituted_rows,
)
from churnguard.domain.customer import RAW_FIELDS, CustomerProfile
from churnguard.domain.schema import Imputation
from tests.conftest import examples
from tests.original_features import MODEL_FEATURES
from tests.schema_strategies import table_for, table_schemas
from tests.strategies import profiles
from tests.unit.test_customer_profile import VALID

WEIGHTS = np.linspace(-0.05, 0.05, len(MODEL_FEATURES))


def linear_scorer(matrix):
    return 1.0 / (1.0 + np.exp(-(matrix @ WEIGHTS) / 100.0))


class CountingScorer:
    def __init__(self):
        self.calls = []

    def __call__(self, matrix):
        self.calls.append(matrix.shape)
        return linear_scorer(matrix)


@given(profiles)
def test_contributions_of_a_profile_equal_to_its_baselines_are_all_zero(profile):
    baselines = profile.as_dict()
    probability, contributions = leave_one_out(linear_scorer, profile, baselines)
    assert all(item.contribution == 0.0 for item in contributions)
    assert probability == pytest.approx(float(linear_scorer(leave_one_out_rows(profile, baselines))[0]))


@given(profiles, profiles)
def test_all_fourteen_rows_are_scored_in_one_call(profile, baseline_profile):
    scorer = CountingScorer()
    _, contributions = leave_one_out(scorer, profile, baseline_profile.as_dict())
    assert scorer.calls == [(14, 16)]
    assert sorted(item.feature for item in contributions) == sorted(RAW_FIELDS)


@given(profiles, profiles)
def test_contributions_are_sorted_by_size_and_sum_what_each_substitution_removes(profile, baseline_profile):
    baselines = baseline_profile.as_dict()
    probability, contributions = leave_one_out(linear_scorer, profile, baselines)
    sizes = [abs(item.contribution) for item in contributions]
    assert sizes == sorted(sizes, reverse=True)
    rows = leave_one_out_rows(profile, baselines)
    scores = linear_scorer(rows)
    by_feature = {item.feature: item.contribution for item in contributions}
    for row, name in enumerate(RAW_FIELDS, start=1):
        expected = 0.0 if baselines[name] == getattr(profile, name) else probability - scores[row]
        assert by_feature[name] == pytest.approx(expected)


def test_replacing_tenure_recomputes_the_derived_features():
    profile = CustomerProfile.from_mapping({**VALID, "tenure_months": 24, "monthly_charges": 50.0, "num_tickets": 4})
    baselines = {**profile.as_dict(), "tenure_months": 6.0}
    rows = leave_one_out_rows(profile, baselines)
    tenure_row = rows[1 + RAW_FIELDS.index("tenure_months")]
    assert tenure_row[MODEL_FEATURES.index("total_charges")] == 300.0
    assert tenure_row[MODEL_FEATURES.index("ticket_rate")] == 8.0
    assert rows[0][MODEL_FEATURES.index("total_charges")] == 1200.0


@given(table_schemas(), st.integers(1, 12), st.integers(0, 2**16))
@settings(max_examples=examples(60), deadline=None)
def test_the_batch_form_offline_scoring_uses_equals_the_per_customer_form(schema, rows, seed):
    """substituted_batch / contribution_matrix (ScoreCustomers) against substituted_rows /
    contributions_of (the API), on generated schemas and customers, some at their baselines."""
    table = table_for(schema, rows + 20, seed)
    checked = schema.check({name: table[name].to_numpy(dtype=object) for name in schema.raw_fields})
    raw = Imputation.fit(schema, checked.raw).apply(schema, checked.raw)[:rows]
    baselines = {name: float(raw[0, index]) for index, name in enumerate(schema.raw_fields)}  # row 0: all at baseline
    weights = np.random.default_rng(seed).normal(size=len(schema.model_features))

    def score(matrix):  # with last-bit noise by position, as a vectorized scorer may give
        noise = 1e-13 * np.arange(len(matrix))
        return 1.0 / (1.0 + np.exp(-np.clip(matrix @ weights, -30, 30) / 50.0)) + noise

    batch = substituted_batch(schema, raw, baselines)
    width = len(schema.fields)
    singles = np.vstack([substituted_rows(schema, raw[i], baselines) for i in range(rows)])
    np.testing.assert_array_equal(batch, singles)
    scores = score(batch).reshape(rows, width + 1)
    matrix = contribution_matrix(schema, raw, baselines, scores)
    assert (matrix[0] == 0.0).all()
    for i in range(rows):
        by_name = {c.feature: c.contribution for c in contributions_of(schema, raw[i], baselines, scores[i])}
        assert [by_name[name] for name in schema.raw_fields] == matrix[i].tolist()
