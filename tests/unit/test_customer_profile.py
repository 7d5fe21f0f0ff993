import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.customer import RAW_FIELDS, CustomerProfile
from churnguard.domain.errors import InvalidProfile
from tests.conftest import SCHEMAS

VALID = {
    "gender": 1,
    "age": 40,
    "partner": 0,
    "dependents": 0,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "contract_type": 0,
    "payment_method": 2,
    "paperless_billing": 1,
    "internet_service": 2,
    "online_security": 0,
    "tech_support": 0,
    "num_tickets": 3,
}


def test_a_valid_profile_keeps_its_values_in_field_order():
    profile = CustomerProfile.from_mapping(VALID)
    assert list(profile.as_dict()) == list(RAW_FIELDS)
    assert profile.as_dict() == VALID


@pytest.mark.parametrize(
    ("field", "value", "rule_fragment"),
    [
        ("gender", 2, "one of {0, 1}"),
        ("age", 17, ">= 18"),
        ("age", 101, "<= 100"),
        ("age", 40.5, "an integer"),
        ("tenure_months", -1, ">= 0"),
        ("tenure_months", 121, "<= 120"),
        ("monthly_charges", 0, "> 0"),
        ("monthly_charges", 500, "< 500"),
        ("monthly_charges", float("nan"), "a number"),
        ("contract_type", 3, "one of {0, 1, 2}"),
        ("payment_method", 4, "one of {0, 1, 2, 3}"),
        ("internet_service", -1, "one of {0, 1, 2}"),
        ("num_tickets", 51, "<= 50"),
        ("partner", True, "one of {0, 1}"),
        ("age", "40", "an integer"),
    ],
)
def test_an_out_of_domain_value_names_the_field_and_the_rule(field, value, rule_fragment):
    with pytest.raises(InvalidProfile) as raised:
        CustomerProfile.from_mapping({**VALID, field: value})
    assert raised.value.field == field
    assert rule_fragment in raised.value.rule
    assert field in str(raised.value)


def test_a_missing_field_is_named():
    values = dict(VALID)
    del values["tenure_months"]
    with pytest.raises(InvalidProfile, match="tenure_months: is required"):
        CustomerProfile.from_mapping(values)


def test_an_unknown_field_is_refused():
    with pytest.raises(InvalidProfile, match="shoe_size: is not a customer field"):
        CustomerProfile.from_mapping({**VALID, "shoe_size": 44})


@given(st.integers(min_value=-1000, max_value=1000).filter(lambda age: not 18 <= age <= 100))
def test_every_age_outside_18_to_100_is_refused(age):
    with pytest.raises(InvalidProfile) as raised:
        CustomerProfile.from_mapping({**VALID, "age": age})
    assert raised.value.field == "age"


def _declared_values(declared: dict) -> st.SearchStrategy:
    """Values inside a field's range or labels as schemas/original.yaml declares them, read
    here apart from the domain's own parser, so the rules are checked against the declaration."""
    if "labels" in declared:
        return st.sampled_from(declared["labels"])
    low, high = declared["minimum"], declared["maximum"]
    if declared["kind"] == "integer":
        return st.integers(low, high)
    return st.floats(
        low, high, exclude_min=not declared.get("minimum_inclusive", True),
        exclude_max=not declared.get("maximum_inclusive", True), allow_nan=False,
    )  # fmt: skip


DECLARED = yaml.safe_load((SCHEMAS / "original.yaml").read_text())["fields"]


@given(st.fixed_dictionaries({name: _declared_values(field) for name, field in DECLARED.items()}))
def test_every_customer_inside_the_declared_domain_is_accepted_as_given(values):
    profile = CustomerProfile.from_mapping(values)
    assert profile.as_dict() == values
    assert list(profile.as_dict()) == list(DECLARED) == list(RAW_FIELDS)
