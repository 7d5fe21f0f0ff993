import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.adapters.bootstrap_population import apply_shifts
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.shifts import FieldShift, ShiftKind, parse_shift
from tests.conftest import examples
from tests.schema_strategies import table_for, table_schemas


def test_shifts_parse_by_field_kind():
    assert parse_shift("monthly_charges*1.2", ORIGINAL_SCHEMA) == FieldShift("monthly_charges", ShiftKind.SCALE, 1.2)
    assert parse_shift("tenure_months + 6", ORIGINAL_SCHEMA) == FieldShift("tenure_months", ShiftKind.ADD, 6.0)
    assert parse_shift("contract_type=0:0.7", ORIGINAL_SCHEMA) == FieldShift("contract_type", ShiftKind.SHARE, 0.7, 0)
    assert str(parse_shift("contract_type=0:0.7", ORIGINAL_SCHEMA)) == "contract_type=0:0.7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shoe_size*2", "'shoe_size' is not a field of schema 'original'"),
        ("contract_type*2", "shift its labels with contract_type=LABEL:SHARE"),
        ("age=3:0.5", "age is a integer; shift it with * or +"),
        ("contract_type=7:0.5", "'7' is not a label of contract_type"),
        ("contract_type=0:1.5", "the share must be within [0, 1]"),
        ("age*-1", "the factor must be > 0"),
        ("age*lots", "'lots' is not a number"),
        ("age", "expected FIELD*FACTOR"),
    ],
)
def test_a_shift_that_cannot_apply_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        parse_shift(text, ORIGINAL_SCHEMA)


@given(table_schemas(), st.integers(0, 1000), st.floats(0.1, 3.0), st.floats(-50, 50), st.floats(0, 1))
@settings(max_examples=examples(60), deadline=None)
def test_shifted_tables_stay_inside_every_fields_domain(schema, seed, factor, amount, share):
    table = table_for(schema, 80, seed)
    shifts = []
    for spec in schema.fields:
        if spec.has_labels:
            shifts.append(FieldShift(spec.name, ShiftKind.SHARE, share, spec.labels[-1]))
        else:
            shifts += [FieldShift(spec.name, ShiftKind.SCALE, factor), FieldShift(spec.name, ShiftKind.ADD, amount)]
    shifted = apply_shifts(table, schema, shifts, seed)
    columns = {
        name: shifted[name].astype(object).where(shifted[name].notna(), None).to_numpy() for name in schema.raw_fields
    }
    checked = schema.check(columns)
    assert checked.violations == ()
    for index, spec in enumerate(schema.fields):
        if spec.has_labels:
            codes = checked.raw[:, index]
            hits = int((codes == spec.label_code(spec.labels[-1])).sum())
            empty = int(np.isnan(codes).sum())  # empty cells are never moved
            assert abs(hits - round(share * len(shifted))) <= empty


def test_the_share_shift_moves_rows_both_ways():
    table = pd.DataFrame({"contract_type": [0] * 50 + [1] * 30 + [2] * 20})
    more = apply_shifts(table, ORIGINAL_SCHEMA, [FieldShift("contract_type", ShiftKind.SHARE, 0.8, 0)], 1)
    fewer = apply_shifts(table, ORIGINAL_SCHEMA, [FieldShift("contract_type", ShiftKind.SHARE, 0.1, 0)], 1)
    assert (more["contract_type"] == 0).sum() == 80
    assert (fewer["contract_type"] == 0).sum() == 10
    assert set(np.unique(fewer["contract_type"])) == {0, 1, 2}
