"""The API's request model is generated from a schema's fields: for any schema, it accepts
exactly what the domain's own check accepts (the model is what /openapi.json publishes, so
this is also "the documented contract is the enforced one")."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from churnguard.domain.errors import InvalidProfile
from churnguard.domain.schema import Field, Kind, MissingPolicy, TableSchema
from churnguard.entrypoints.http.request_model import customer_model
from tests.conftest import examples
from tests.schema_strategies import table_schemas

ABSENT = object()
TELCO_CUSTOMER = {
    "gender": "Male", "SeniorCitizen": 0, "Partner": "No", "Dependents": "No", "tenure": 3, "PhoneService": "Yes",
    "MultipleLines": "No", "InternetService": "DSL", "OnlineSecurity": "No", "OnlineBackup": "No",
    "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "No", "StreamingMovies": "No",
    "Contract": "One year", "PaperlessBilling": "Yes", "PaymentMethod": "Mailed check", "MonthlyCharges": 20.5,
}  # fmt: skip


def _typed_values(spec: Field) -> st.SearchStrategy[Any]:
    """Values of the JSON type the field declares, inside and outside its domain (a missing value's
    JSON form is null or no key; a blank string is not a label)."""
    if spec.has_labels and not spec.numeric_labels:
        words = st.text(min_size=1, max_size=4).filter(lambda t: t == t.strip() and t != "")
        return st.sampled_from([*spec.labels, "unheard-of"]) | words
    if spec.has_labels:
        codes = [int(label) for label in spec.labels]
        return st.sampled_from([*codes, max(codes) + 1, -1]) | st.integers(-3, 25)
    assert spec.minimum is not None
    assert spec.maximum is not None
    edges = [spec.minimum, spec.maximum, spec.minimum - 1, spec.maximum + 1]
    numbers: st.SearchStrategy[Any] = st.integers(int(spec.minimum) - 2, int(spec.maximum) + 2)
    if spec.kind is Kind.NUMBER:
        numbers = numbers | st.floats(spec.minimum - 2, spec.maximum + 2, allow_nan=False)
    return st.sampled_from(edges) | numbers


def _any_values(spec: Field) -> st.SearchStrategy[Any]:
    return _typed_values(spec) | st.booleans() | st.none() | st.text(max_size=3) | st.floats() | st.just(ABSENT)


@st.composite
def records(draw: st.DrawFn, typed: bool) -> tuple[TableSchema, dict[str, Any]]:
    schema = draw(table_schemas())
    record: dict[str, Any] = {}
    for spec in schema.fields:
        value = draw(_typed_values(spec) if typed else _any_values(spec))
        if typed and spec.missing.policy is not MissingPolicy.REFUSE and draw(st.booleans()):
            value = None
        if value is not ABSENT:
            record[spec.name] = value
    if schema.id_column and draw(st.booleans()):
        record[schema.id_column] = draw(st.text(max_size=5) | st.integers())
    return schema, record


def _domain(schema: TableSchema, record: dict[str, Any]) -> np.ndarray | None:
    try:
        return schema.check_record(record)
    except InvalidProfile:
        return None


@settings(max_examples=examples(400))
@given(records(typed=False))
def test_what_the_request_model_accepts_the_domain_accepts_and_reads_the_same(drawn):
    schema, record = drawn
    try:
        checked = customer_model(schema).model_validate(record)
    except ValidationError:
        return
    direct, via_model = _domain(schema, record), _domain(schema, checked.model_dump())
    assert direct is not None, record
    assert via_model is not None
    np.testing.assert_array_equal(direct, via_model)


@settings(max_examples=examples(400))
@given(records(typed=True))
def test_what_the_domain_accepts_in_the_declared_json_types_the_request_model_accepts(drawn):
    schema, record = drawn
    if _domain(schema, record) is None:
        with pytest.raises(ValidationError):
            customer_model(schema).model_validate(record)
    else:
        customer_model(schema).model_validate(record)


@pytest.mark.parametrize("value", [True, False, "1.5", math.inf, math.nan])
def test_a_number_field_takes_json_numbers_only(value):
    """Regression (schemathesis on the Telco API): `TotalCharges: false` was read as 0."""
    from churnguard.adapters.yaml_schema import load_schema
    from tests.conftest import SCHEMAS

    telco = load_schema(SCHEMAS / "telco.yaml")
    base = TELCO_CUSTOMER
    model = customer_model(telco)
    model.model_validate({**base, "TotalCharges": 12})
    with pytest.raises(ValidationError):
        model.model_validate({**base, "TotalCharges": value})
    with pytest.raises(ValidationError):  # a blank "other" label is a missing value, which it refuses
        model.model_validate({**base, "PaymentMethod": ""})


@pytest.mark.parametrize(("value", "accepted"), [("7590-VHVEG", True), (42, True), (42.0, True), (None, True),
                                                 (False, False), (4.5, False), ([1], False)])  # fmt: skip
def test_the_id_column_takes_a_string_or_an_integer(value, accepted):
    """Regression (schemathesis on the Telco API): `customerID: false` was accepted."""
    from churnguard.adapters.yaml_schema import load_schema
    from tests.conftest import SCHEMAS

    telco = load_schema(SCHEMAS / "telco.yaml")
    model = customer_model(telco)
    if accepted:
        model.model_validate({**TELCO_CUSTOMER, "customerID": value})
    else:
        with pytest.raises(ValidationError):
            model.model_validate({**TELCO_CUSTOMER, "customerID": value})
