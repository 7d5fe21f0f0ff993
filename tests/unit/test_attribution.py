"""Attribution as the expected change over each field's training distribution: its batch and
per-customer forms agree, it is computed from one model call, and no field the model reads is
silenced for the customers who hold the risky value."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.domain.attribution import (
    EXACT_VALUES,
    QUANTILE_BINS,
    Reference,
    contribution_matrix,
    contributions_of,
    leave_one_out,
    substituted_batch,
    substituted_rows,
)
from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS, CustomerProfile
from churnguard.domain.schema import Imputation, Kind
from tests.conftest import examples
from tests.fakes import ORIGINAL_REFERENCE
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


def expected_change(scorer, raw, reference, field):
    """The definition, one substitution at a time."""
    index = reference.fields.index(field)
    base = float(scorer(ORIGINAL_SCHEMA.model_matrix(np.array([raw])))[0])
    total = 0.0
    for value, weight in zip(reference.values[index], reference.weights[index], strict=True):
        changed = list(raw)
        changed[index] = value
        total += weight * (base - float(scorer(ORIGINAL_SCHEMA.model_matrix(np.array([changed])))[0]))
    return total


@given(profiles)
def test_every_substituted_row_is_scored_in_one_call(profile):
    scorer = CountingScorer()
    _, contributions = leave_one_out(scorer, ORIGINAL_SCHEMA, profile.encoded(), ORIGINAL_REFERENCE)
    assert scorer.calls == [(ORIGINAL_REFERENCE.rows_per_customer, len(MODEL_FEATURES))]
    assert ORIGINAL_REFERENCE.rows_per_customer == 1 + sum(len(v) for v in ORIGINAL_REFERENCE.values)
    assert sorted(item.feature for item in contributions) == sorted(RAW_FIELDS)


@given(profiles)
def test_a_contribution_is_the_weighted_change_over_the_fields_distribution(profile):
    raw = profile.encoded()
    probability, contributions = leave_one_out(linear_scorer, ORIGINAL_SCHEMA, raw, ORIGINAL_REFERENCE)
    sizes = [abs(item.contribution) for item in contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert probability == pytest.approx(float(linear_scorer(ORIGINAL_SCHEMA.model_matrix(np.array([raw])))[0]))
    for item in contributions:
        assert item.contribution == pytest.approx(expected_change(linear_scorer, raw, ORIGINAL_REFERENCE, item.feature))


@given(profiles)
def test_a_customer_at_a_one_value_reference_gets_zero_everywhere(profile):
    raw = profile.encoded()
    point = Reference(RAW_FIELDS, tuple((float(v),) for v in raw), tuple((1.0,) for _ in raw))
    _, contributions = leave_one_out(linear_scorer, ORIGINAL_SCHEMA, raw, point)
    assert all(item.contribution == 0.0 for item in contributions)


def test_the_majority_label_is_not_silenced():
    """The failure this replaced: a customer holding a field's most frequent (and risky) value
    got exactly 0. Month-to-month (code 0) raises risk under this scorer; a month-to-month
    customer must show it."""
    contract = RAW_FIELDS.index("contract_type")

    def scorer(matrix):
        return 1.0 / (1.0 + np.exp(matrix[:, contract] - 0.5))  # code 0 risky, 1 and 2 safe

    raw = CustomerProfile.from_mapping({**VALID, "contract_type": 0}).encoded()
    reference = Reference(
        RAW_FIELDS,
        tuple((float(v),) if i != contract else (0.0, 1.0, 2.0) for i, v in enumerate(raw)),
        tuple((1.0,) if i != contract else (0.55, 0.21, 0.24) for i in range(len(raw))),
    )
    _, contributions = leave_one_out(scorer, ORIGINAL_SCHEMA, raw, reference)
    assert contributions[0].feature == "contract_type"
    assert contributions[0].contribution > 0.1


def test_replacing_tenure_recomputes_the_derived_features():
    profile = CustomerProfile.from_mapping({**VALID, "tenure_months": 24, "monthly_charges": 50.0, "num_tickets": 4})
    raw = profile.encoded()
    tenure = RAW_FIELDS.index("tenure_months")
    reference = Reference(
        RAW_FIELDS,
        tuple((6.0,) if i == tenure else (float(v),) for i, v in enumerate(raw)),
        tuple((1.0,) for _ in raw),
    )
    rows = substituted_rows(ORIGINAL_SCHEMA, raw, reference)
    tenure_row = rows[1 + tenure]
    assert tenure_row[MODEL_FEATURES.index("total_charges")] == 300.0
    assert tenure_row[MODEL_FEATURES.index("ticket_rate")] == 8.0
    assert rows[0][MODEL_FEATURES.index("total_charges")] == 1200.0


@given(table_schemas(), st.integers(1, 12), st.integers(0, 2**16))
@settings(max_examples=examples(60), deadline=None)
def test_the_batch_form_offline_scoring_uses_equals_the_per_customer_form(schema, rows, seed):
    """substituted_batch / contribution_matrix (ScoreCustomers) against substituted_rows /
    contributions_of (the API), on generated schemas, with a reference fitted on the table."""
    table = table_for(schema, rows + 40, seed)
    checked = schema.check({name: table[name].to_numpy(dtype=object) for name in schema.raw_fields})
    filled = Imputation.fit(schema, checked.raw).apply(schema, checked.raw)
    reference = Reference.fit(schema, filled)
    raw = filled[:rows]
    weights = np.random.default_rng(seed).normal(size=len(schema.model_features))

    def score(matrix):  # with last-bit noise by position, as a vectorized scorer may give
        noise = 1e-13 * np.arange(len(matrix))
        return 1.0 / (1.0 + np.exp(-np.clip(matrix @ weights, -30, 30) / 50.0)) + noise

    batch = substituted_batch(schema, raw, reference)
    singles = np.vstack([substituted_rows(schema, raw[i], reference) for i in range(rows)])
    np.testing.assert_array_equal(batch, singles)
    scores = score(batch).reshape(rows, reference.rows_per_customer)
    matrix = contribution_matrix(raw, reference, scores)
    for i in range(rows):
        by_name = {c.feature: c.contribution for c in contributions_of(schema, raw[i], reference, scores[i])}
        assert [by_name[name] for name in schema.raw_fields] == matrix[i].tolist()


@given(table_schemas(), st.integers(0, 2**16), st.data())
@settings(max_examples=examples(60), deadline=None)
def test_no_field_the_model_reads_is_zero_for_every_holder_of_a_label(schema, seed, data):
    """On generated schemas: a model that reads one field (and only it) moves every customer's
    contribution on it, whichever label they hold; a field the model ignores is exactly zero."""
    table = table_for(schema, 60, seed)
    checked = schema.check({name: table[name].to_numpy(dtype=object) for name in schema.raw_fields})
    filled = Imputation.fit(schema, checked.raw).apply(schema, checked.raw)
    reference = Reference.fit(schema, filled)
    read = data.draw(st.sampled_from(range(len(schema.fields))))
    weight = data.draw(st.sampled_from([-1.5, -0.4, 0.3, 2.0]))

    def score(matrix):  # the raw field's code or value, scaled to its spread
        column = matrix[:, read]
        spread = max(float(np.ptp(filled[:, read])), 1e-9)
        return 1.0 / (1.0 + np.exp(-weight * (column - filled[:, read].mean()) / spread))

    scores = score(substituted_batch(schema, filled, reference)).reshape(len(filled), reference.rows_per_customer)
    matrix = contribution_matrix(filled, reference, scores)
    for index, spec in enumerate(schema.fields):
        if index != read:
            assert (matrix[:, index] == 0.0).all(), spec.name
    distinct = np.unique(filled[:, read])
    if len(distinct) < 2:
        assert (matrix[:, read] == 0.0).all()
        return
    if schema.fields[read].kind in (Kind.BINARY, Kind.CATEGORY):
        for code in distinct:
            holders = filled[:, read] == code
            assert (matrix[holders, read] != 0.0).any(), f"{schema.fields[read].name} = {code} silenced"
    else:  # a number: its extremes are never at the distribution's centre
        assert matrix[np.argmax(filled[:, read]), read] != 0.0
        assert matrix[np.argmin(filled[:, read]), read] != 0.0


def test_a_reference_weighs_labels_by_share_and_numbers_by_quantile():
    rng = np.random.default_rng(0)
    raw = np.zeros((1000, len(RAW_FIELDS)))
    contract = RAW_FIELDS.index("contract_type")
    raw[:, contract] = rng.choice([0.0, 1.0, 2.0], size=1000, p=[0.55, 0.21, 0.24])
    charges = RAW_FIELDS.index("monthly_charges")
    raw[:, charges] = rng.uniform(20, 120, size=1000)
    tickets = RAW_FIELDS.index("num_tickets")
    raw[:, tickets] = rng.integers(0, 5, size=1000)
    reference = Reference.fit(ORIGINAL_SCHEMA, raw)
    assert reference.values[contract] == (0.0, 1.0, 2.0)
    shares = np.bincount(raw[:, contract].astype(int)) / 1000
    assert reference.weights[contract] == pytest.approx(tuple(shares))
    assert len(reference.values[charges]) == QUANTILE_BINS
    assert reference.weights[charges] == pytest.approx((1 / QUANTILE_BINS,) * QUANTILE_BINS)
    assert list(reference.values[charges]) == sorted(reference.values[charges])
    assert len(reference.values[tickets]) <= EXACT_VALUES
    assert reference.values[tickets] == (0.0, 1.0, 2.0, 3.0, 4.0)
    assert Reference.from_json(reference.as_json(), ORIGINAL_SCHEMA) == reference
