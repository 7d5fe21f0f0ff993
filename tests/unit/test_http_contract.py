"""The HTTP input contract and response helpers, without a server."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from churnguard.domain.customer import FIELD_RULES
from churnguard.entrypoints.http.app import PredictionResponse
from churnguard.entrypoints.http.app import readable_errors as _readable_errors
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER, CustomerIn
from churnguard.entrypoints.presenters import risk_band
from tests.strategies import profiles


@given(profiles)
def test_every_valid_profile_passes_the_api_schema(profile):
    assert CustomerIn.model_validate(profile.as_dict()).model_dump() == profile.as_dict()


@pytest.mark.parametrize("rule", FIELD_RULES, ids=lambda r: r.name)
def test_each_field_rejects_a_value_outside_its_rule_and_names_the_field(rule):
    bad = (max(rule.allowed) + 1) if rule.allowed is not None else (rule.maximum or 0) + 1000
    with pytest.raises(ValidationError) as raised:
        CustomerIn.model_validate({**EXAMPLE_CUSTOMER, rule.name: bad})
    assert _readable_errors(raised.value.errors())[0]["field"] == rule.name


@pytest.mark.parametrize("value", [2.7, True, "1", None, math.nan, math.inf])
def test_integer_fields_take_integers_only(value):
    with pytest.raises(ValidationError):
        CustomerIn.model_validate({**EXAMPLE_CUSTOMER, "dependents": value})


@pytest.mark.parametrize(("field", "value"), [("age", 56.0), ("dependents", 1.0), ("contract_type", 2.0)])
def test_a_number_without_a_fraction_is_an_integer_as_json_schema_says(field, value):
    """Regression (schemathesis ST202): 56.0 is a valid JSON Schema integer, so it must be accepted."""
    customer = CustomerIn.model_validate_json(json.dumps({**EXAMPLE_CUSTOMER, field: value}))
    assert getattr(customer, field) == int(value)
    assert type(getattr(customer, field)) is int


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, 500])
def test_monthly_charges_must_be_a_finite_amount_in_range(value):
    with pytest.raises(ValidationError):
        CustomerIn.model_validate({**EXAMPLE_CUSTOMER, "monthly_charges": value})


def test_extra_fields_are_refused():
    with pytest.raises(ValidationError) as raised:
        CustomerIn.model_validate({**EXAMPLE_CUSTOMER, "shoe_size": 44})
    assert _readable_errors(raised.value.errors())[0]["field"] == "shoe_size"


@given(st.floats(0, 1))
def test_risk_bands_cover_the_unit_interval_in_order(probability):
    band = risk_band(probability)
    assert band == ("low" if probability < 0.3 else "medium" if probability < 0.6 else "high")


def test_nan_is_not_echoed_back_in_errors():
    errors = _readable_errors([{"loc": ("body", "monthly_charges"), "msg": "finite", "type": "x", "input": math.nan}])
    assert errors == [{"field": "monthly_charges", "rule": "finite", "type": "x"}]


def test_the_documented_schema_states_every_bound_in_json_schema_terms():
    """Regression: a validator placed before the bounds made pydantic publish `ge`/`le`, which
    JSON Schema (and so every client generator) ignores."""
    properties = CustomerIn.model_json_schema()["properties"]
    for rule in FIELD_RULES:
        schema = properties[rule.name]
        assert not {"ge", "le", "gt", "lt"} & set(schema), rule.name
        low = rule.minimum if rule.allowed is None else min(rule.allowed)
        if low is not None:
            key = "minimum" if rule.allowed is not None or rule.minimum_inclusive else "exclusiveMinimum"
            assert schema[key] == low, rule.name


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_a_prediction_response_decodes_to_what_was_sent(content):
    assert json.loads(bytes(PredictionResponse(content).body)) == content


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_prediction_response_refuses_a_non_finite_number(number):
    with pytest.raises(ValueError, match="not JSON compliant"):
        PredictionResponse({"churn_probability": number, "note": "NaN and Infinity in a string are fine"})
