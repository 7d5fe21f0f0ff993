import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS, FieldKind
from tests.original_features import (
    MODEL_FEATURES,
    model_matrix,
    profiles_matrix,
)
from tests.strategies import profiles


def test_the_model_sees_16_features_raw_fields_first():
    assert len(MODEL_FEATURES) == 16
    assert MODEL_FEATURES[:13] == RAW_FIELDS
    assert MODEL_FEATURES[13:] == ("senior_citizen", "total_charges", "ticket_rate")


def test_the_nominal_fields_are_declared_once_in_the_schema():
    assert ORIGINAL_SCHEMA.features_of_kind(FieldKind.NOMINAL) == (
        "contract_type",
        "payment_method",
        "internet_service",
    )
    assert ORIGINAL_SCHEMA.features_of_kind(FieldKind.NUMERIC) == (
        "age",
        "tenure_months",
        "monthly_charges",
        "num_tickets",
        "total_charges",
        "ticket_rate",
    )


@given(profiles)
def test_engineered_features_follow_their_definitions(profile):
    row = profiles_matrix([profile])[0]
    features = dict(zip(MODEL_FEATURES, row, strict=True))
    assert features["senior_citizen"] == (1.0 if profile.age >= 65 else 0.0)
    assert features["total_charges"] == profile.tenure_months * profile.monthly_charges
    assert features["ticket_rate"] == profile.num_tickets / max(profile.tenure_months, 1) * 12
    for name in RAW_FIELDS:
        assert features[name] == getattr(profile, name)


@given(st.lists(profiles, min_size=1, max_size=20))
def test_a_batch_gives_the_same_rows_as_profiles_one_by_one(batch):
    together = profiles_matrix(batch)
    one_by_one = np.vstack([profiles_matrix([profile]) for profile in batch])
    assert together.shape == (len(batch), 16)
    np.testing.assert_array_equal(together, one_by_one)


def test_a_new_customer_with_zero_tenure_counts_tickets_over_one_month():
    matrix = model_matrix({**{name: [1] for name in RAW_FIELDS}, "tenure_months": [0], "num_tickets": [2]})
    assert matrix[0, MODEL_FEATURES.index("ticket_rate")] == 24.0
    assert matrix[0, MODEL_FEATURES.index("total_charges")] == 0.0


def test_an_empty_batch_has_sixteen_columns():
    assert profiles_matrix([]).shape == (0, 16)
