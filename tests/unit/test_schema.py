"""The table declaration: one check, its scalar twin, encodings, features, imputation, problems."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.domain.customer import ORIGINAL_SCHEMA, Customer
from churnguard.domain.errors import InvalidProfile, InvalidSchema, NothingToImpute
from churnguard.domain.schema import (
    MISSING_RULE,
    Feature,
    Field,
    Imputation,
    Kind,
    LabelColumn,
    Missing,
    MissingPolicy,
    Operation,
    PassThrough,
    Quality,
    TableSchema,
    UnseenPolicy,
    schema_from_mapping,
    schema_to_mapping,
)
from tests.conftest import examples
from tests.schema_strategies import fields, names, table_for, table_schemas

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "Yes", "No", "Male", "abc", "1", "2.5", "A-x", "n", "y", "0"]),
)


@given(names.flatmap(fields), st.lists(cells, min_size=1, max_size=12))
@settings(max_examples=examples(500))
def test_the_scalar_check_agrees_with_the_vectorized_check_on_every_value(spec, values):
    """The API's per-value check is a second form of `Field.encode`: held equal here.

    The scalar form takes JSON values, where a number written as text ("1") is not a number;
    the table form reads text cells, where it is. Those cells are left out of the comparison.
    """
    encoded, ok, missing = spec.encode(np.asarray(values, dtype=object))
    for value, code, accepted, empty in zip(values, encoded, ok, missing, strict=True):
        if isinstance(value, str) and value.strip() and (spec.numeric_labels or not spec.has_labels):
            continue
        if empty:
            continue  # a missing cell is the record check's business (policy), not the value rule
        if accepted:
            assert spec.check(value) == code, f"{value!r}: the scalar form encodes it otherwise"
        else:
            with pytest.raises(InvalidProfile) as refused:
                spec.check(value)
            assert refused.value.field == spec.name


@given(table_schemas(), st.data())
@settings(max_examples=examples(200))
def test_a_record_read_as_table_cells_is_read_as_the_table_reads_that_row(schema, data):
    """`fit` reads a DataFrame by `TableSchema.check`; `predict` on one of its rows (cells=True)
    must accept and encode it the same, or refuse it naming a field the table check refuses."""
    record = {spec.name: data.draw(cells, label=spec.name) for spec in schema.fields}
    checked = schema.check({name: np.asarray([record[name]], dtype=object) for name in schema.raw_fields})
    if checked.ok[0]:
        np.testing.assert_array_equal(schema.check_record(record, cells=True), checked.raw[0])
    else:
        with pytest.raises(InvalidProfile) as refused:
            schema.check_record(record, cells=True)
        assert refused.value.field in {violation.field for violation in checked.violations}


@given(table_schemas())
def test_a_schema_survives_its_plain_form_and_keeps_its_hash(schema):
    again = schema_from_mapping(schema_to_mapping(schema))
    assert again == schema
    assert again.hash == schema.hash


@given(table_schemas(), st.integers(20, 60), st.integers(0, 2**16))
@settings(max_examples=examples(50), deadline=None)
def test_a_generated_table_passes_its_schema_and_encodes_to_declared_codes(schema, rows, seed):
    table = table_for(schema, rows, seed)
    columns = {name: table[name].to_numpy(dtype=object) for name in (*schema.raw_fields, schema.label.column)}
    checked = schema.check(columns, with_label=True)
    assert checked.violations == ()
    assert checked.ok.all()
    for index, spec in enumerate(schema.fields):
        column = checked.raw[:, index]
        present = column[~np.isnan(column)]
        if spec.has_labels:
            other = 1 if spec.unseen is UnseenPolicy.OTHER else 0
            assert set(present.tolist()) <= set(map(float, range(len(spec.labels) + other)))
    imputation = Imputation.fit(schema, checked.raw)
    matrix = schema.model_matrix(imputation.apply(schema, checked.raw))
    assert matrix.shape == (rows, len(schema.model_features))
    assert np.isfinite(matrix).all()


def test_the_presentation_does_not_change_the_contract():
    renamed = schema_from_mapping(
        {**schema_to_mapping(ORIGINAL_SCHEMA), "name": "renamed", "description": "another text"}
    )
    assert renamed.hash == ORIGINAL_SCHEMA.hash
    stricter = schema_to_mapping(ORIGINAL_SCHEMA)
    stricter["fields"][1] = {**stricter["fields"][1], "maximum": 99}
    assert schema_from_mapping(stricter).hash != ORIGINAL_SCHEMA.hash


def test_the_field_order_is_part_of_the_contract():
    plain = schema_to_mapping(ORIGINAL_SCHEMA)
    plain["fields"] = list(reversed(plain["fields"]))
    assert schema_from_mapping(plain).hash != ORIGINAL_SCHEMA.hash


def test_text_labels_encode_by_position_and_unseen_ones_as_other():
    contract = Field("Contract", Kind.CATEGORY, labels=("Month-to-month", "One year", "Two year"))
    encoded, ok, _ = contract.encode(np.array(["Two year", " One year", "Month-to-month", "Weekly"], dtype=object))
    assert encoded[:3].tolist() == [2.0, 1.0, 0.0]
    assert ok.tolist() == [True, True, True, False]
    other = Field("Pay", Kind.CATEGORY, labels=("Card", "Cash"), unseen=UnseenPolicy.OTHER)
    encoded, ok, _ = other.encode(np.array(["Cash", "Crypto"], dtype=object))
    assert encoded.tolist() == [1.0, 2.0]
    assert ok.all()
    assert other.label_of(2.0) == "other"
    assert 'another label counts as "other"' in other.rule


def test_numeric_codes_match_as_numbers_whatever_the_cell_type():
    codes = Field("plan", Kind.CATEGORY, labels=(0, 1, 2))
    encoded, ok, _ = codes.encode(np.array(["2", 1.0, 0, "2.5", "x"], dtype=object))
    assert encoded[:3].tolist() == [2.0, 1.0, 0.0]
    assert ok.tolist() == [True, True, True, False, False]


def test_a_missing_cell_is_refused_unless_the_field_imputes_it():
    refused = Field("charges", Kind.NUMBER, minimum=0, maximum=10)
    _, ok, missing = refused.encode(np.array([1.0, np.nan]))
    assert ok.tolist() == [True, False]
    assert missing.tolist() == [False, True]
    imputed = Field("charges", Kind.NUMBER, minimum=0, maximum=10, missing=Missing(MissingPolicy.MEDIAN))
    encoded, ok, _ = imputed.encode(np.array([1.0, np.nan]))
    assert ok.all()
    assert math.isnan(encoded[1])


def test_imputation_is_fitted_on_the_rows_it_is_given_only():
    schema = TableSchema(
        "t",
        LabelColumn("y", (1,), (0,)),
        (
            Field("a", Kind.NUMBER, minimum=0, maximum=100, missing=Missing(MissingPolicy.MEDIAN)),
            Field("b", Kind.CATEGORY, labels=("x", "y", "z"), missing=Missing(MissingPolicy.MODE)),
            Field("c", Kind.NUMBER, minimum=0, maximum=100, missing=Missing(MissingPolicy.CONSTANT, 7)),
            Field("d", Kind.CATEGORY, labels=("p", "q"), missing=Missing(MissingPolicy.CONSTANT, "q")),
        ),
    )
    train = np.array([[1.0, 2.0, np.nan, 0.0], [3.0, 2.0, 5.0, np.nan], [np.nan, 0.0, 1.0, 0.0]])
    imputation = Imputation.fit(schema, train)
    assert imputation.values == {"a": 2.0, "b": 2.0, "c": 7.0, "d": 1.0}
    filled = imputation.apply(schema, np.array([[np.nan, np.nan, np.nan, np.nan]]))
    assert filled.tolist() == [[2.0, 2.0, 7.0, 1.0]]


def test_the_label_with_negatives_refuses_other_values_and_without_them_counts_them_as_staying():
    strict = LabelColumn("Churn", ("Yes",), ("No",))
    churn, ok = strict.encode(np.array(["Yes", "No", "Maybe", None], dtype=object))
    assert churn[:2].tolist() == [1.0, 0.0]
    assert ok.tolist() == [True, True, False, False]
    loose = LabelColumn("Exited", (1,), ())
    churn, ok = loose.encode(np.array([1, 0, 3]))
    assert churn.tolist() == [1.0, 0.0, 0.0]
    assert ok.all()


def test_count_equal_counts_the_fields_holding_the_label():
    schema = TableSchema(
        "t",
        LabelColumn("y", (1,), (0,)),
        (
            Field("a", Kind.CATEGORY, labels=("No", "Yes", "No service")),
            Field("b", Kind.BINARY, labels=("No", "Yes")),
            Field("c", Kind.CATEGORY, labels=("Yes", "No")),
        ),
        (Feature("yes_count", Operation.COUNT_EQUAL, ("a", "b", "c"), value="Yes"),),
    )
    checked = schema.check(
        {"a": np.array(["Yes", "No service"]), "b": np.array(["Yes", "No"]), "c": np.array(["Yes", "No"])}
    )
    assert schema.model_matrix(checked.raw)[:, 3].tolist() == [3.0, 0.0]


def test_a_schema_with_problems_names_every_one_by_key_path():
    with pytest.raises(InvalidSchema) as raised:
        TableSchema(
            "broken",
            LabelColumn("churn", ("Yes",), ("Yes",)),
            (
                Field("tenure", Kind.INTEGER, minimum=10, maximum=5),
                Field("plan", Kind.BINARY, labels=("a", "b", "c")),
                Field("churn", Kind.NUMBER, minimum=0, maximum=1),
            ),
            (
                Feature("r", Operation.RATIO, ("tenure", "nope")),
                Feature("flag", Operation.AT_LEAST, ("plan",)),
            ),
        )
    problems = dict(raised.value.problems)
    assert problems["fields.tenure.maximum"] == "must be greater than minimum"
    assert problems["fields.plan.labels"] == "a binary field needs exactly two labels, got 3"
    assert "never a feature" in problems["fields.churn"]
    assert problems["label"] == "a value cannot be both positive and negative"
    assert problems["features.r.inputs"] == "'nope' is not a field or an earlier feature"
    assert problems["features.r.floor"] == "must be > 0 so the ratio never divides by zero"
    assert problems["features.flag.threshold"] == "at_least needs a threshold"


def _with(passthrough=(), quality=None):
    return TableSchema(
        "t",
        LabelColumn("y", (1,), (0,)),
        (Field("n", Kind.NUMBER, minimum=0, maximum=9), Field("k", Kind.CATEGORY, labels=("a", "b", "c"))),
        id_column="cid",
        passthrough=passthrough,
        quality=quality or Quality(),
    )


def test_pass_through_columns_are_known_never_fields_and_part_of_the_contract():
    plain = _with()
    carried = _with((PassThrough("surname", "free text"), PassThrough("loaded_at", "a load date")))
    assert carried.known_columns == {"n", "k", "cid", "surname", "loaded_at"}
    assert carried.raw_fields == ("n", "k")
    assert carried.hash != plain.hash  # it changes which tables are read
    assert schema_from_mapping(schema_to_mapping(carried)) == carried
    assert list(carried.check_record({"n": 1, "k": "a", "surname": "Hargrave"})) == [1.0, 0.0]
    with pytest.raises(InvalidSchema) as raised:
        TableSchema(
            "t",
            LabelColumn("y", (1,), (0,)),
            (Field("n", Kind.NUMBER, minimum=0, maximum=9),),
            passthrough=(PassThrough("n"), PassThrough("y"), PassThrough("z"), PassThrough("z")),
            quality=Quality(min_f1=1.5, max_rejected_share=-0.1),
        )
    problems = dict(raised.value.problems)
    assert "a pass-through column is none of them" in problems["passthrough.n"]
    assert "a pass-through column is none of them" in problems["passthrough.y"]
    assert problems["passthrough.z"] == "is declared twice"
    assert problems["quality.min_f1"] == "must be within [0, 1], got 1.5"
    assert problems["quality.max_rejected_share"] == "must be within [0, 1], got -0.1"


def test_the_quality_policy_is_stored_but_not_part_of_the_contract():
    declared = _with(quality=Quality(min_f1=0.6, max_rejected_share=0.02))
    assert declared.hash == _with().hash  # a floor changes what is good enough, not what is read
    assert schema_from_mapping(schema_to_mapping(declared)) == declared


def test_a_record_of_any_schema_is_checked_by_the_same_rules():
    schema = TableSchema(
        "t",
        LabelColumn("y", ("Yes",), ("No",)),
        (
            Field("plan", Kind.CATEGORY, labels=("basic", "pro")),
            Field("spend", Kind.NUMBER, minimum=0, maximum=100, missing=Missing(MissingPolicy.MEDIAN)),
        ),
        id_column="cid",
    )
    customer = Customer.from_record(schema, {"cid": "A7", "plan": "pro", "spend": None})
    assert customer.values[0] == 1.0
    assert math.isnan(customer.values[1])
    assert customer.customer_id == "A7"
    with pytest.raises(InvalidProfile, match=r"plan: must be one of \{basic, pro\}"):
        Customer.from_record(schema, {"plan": "gold", "spend": 1})
    with pytest.raises(InvalidProfile, match="plan: is required"):
        Customer.from_record(schema, {"spend": 1})
    with pytest.raises(InvalidProfile, match=re.escape(f"plan: {MISSING_RULE}")):
        Customer.from_record(schema, {"plan": None, "spend": 1})
    with pytest.raises(InvalidProfile, match="colour: is not a customer field"):
        Customer.from_record(schema, {"plan": "pro", "spend": 1, "colour": "red"})


def test_a_number_given_to_a_text_labelled_field_is_text_in_both_forms():
    """Found by the property above: inf was "other" in a table and refused as a JSON value."""
    spec = Field("a", Kind.CATEGORY, labels=("A-a", "B-a"), unseen=UnseenPolicy.OTHER)
    encoded, ok, _ = spec.encode(np.array([float("inf"), 5], dtype=object))
    assert ok.all()
    assert encoded.tolist() == [2.0, 2.0]
    assert spec.check(float("inf")) == 2.0
    assert spec.check(5) == 2.0
    strict = Field("a", Kind.CATEGORY, labels=(0, 1))
    with pytest.raises(InvalidProfile):
        strict.check(float("inf"))
    assert not strict.encode(np.array([float("inf")]))[1].any()


def test_a_field_missing_on_every_training_row_has_nothing_to_impute_and_says_so():
    schema = TableSchema(
        "t",
        LabelColumn("y", (1,), (0,)),
        (Field("a", Kind.NUMBER, minimum=0, maximum=9, missing=Missing(MissingPolicy.MEDIAN)),),
    )
    with pytest.raises(NothingToImpute, match="a: every training value is missing"):
        Imputation.fit(schema, np.array([[np.nan], [np.nan]]))


@given(names.flatmap(fields))
def test_a_rule_writes_its_bounds_as_people_write_numbers(spec):
    """A bound of 1,000,000 reads "1000000" in every error message and in the UI, never "1e+06"."""
    assert not re.search(r"\de[-+]?\d", spec.rule), spec.rule


def test_large_and_small_bounds_in_a_rule():
    big = Field("total", Kind.NUMBER, minimum=0.0, maximum=1_000_000.0)
    small = Field("rate", Kind.NUMBER, minimum=0.0001, maximum=1234567.5)
    assert big.rule == "must be a number >= 0 and <= 1000000"
    assert small.rule == "must be a number >= 0.0001 and <= 1234567.5"  # every digit, as declared
