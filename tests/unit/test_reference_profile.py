"""What the served product shows of a champion's training data, for any schema."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnguard.domain.customer import ORIGINAL_PRESETS, ORIGINAL_SCHEMA, CustomerProfile
from churnguard.domain.reference_profile import PROBABILITY_BINS, profile_reference
from tests.conftest import examples
from tests.schema_strategies import table_for, table_schemas


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_schemas(), st.integers(0, 10_000))
def test_presets_are_customers_the_api_takes_and_shares_add_up(schema, seed):
    table = table_for(schema, 60, seed)
    raw = schema.check({name: table[name].to_numpy(dtype=object) for name in schema.raw_fields}).raw
    probability = np.random.default_rng(seed).uniform(0, 1, len(raw))
    profile = profile_reference(schema, raw, probability)
    assert list(profile.presets) == ["highest risk", "lowest risk", "most typical"]
    for name, row in (("highest risk", np.argmax(probability)), ("lowest risk", np.argmin(probability))):
        np.testing.assert_array_equal(schema.check_record(profile.presets[name]), raw[row])
    schema.check_record(profile.presets["most typical"])  # a customer of the schema's domain
    assert sum(profile.probability_shares) == pytest.approx(1.0)
    assert len(profile.probability_shares) == PROBABILITY_BINS
    for spec in schema.fields:
        if spec.has_labels:
            assert sum(profile.label_shares[spec.name].values()) == pytest.approx(1.0)
        else:
            buckets = profile.buckets[spec.name]
            assert list(buckets) == sorted(set(buckets))
            assert len(buckets) <= 10


def test_the_original_schema_keeps_its_five_presets_first():
    raw = np.array([CustomerProfile.from_mapping(c).encoded() for c in ORIGINAL_PRESETS.values()], dtype=float)
    profile = profile_reference(ORIGINAL_SCHEMA, raw, np.linspace(0.1, 0.9, len(raw)), ORIGINAL_PRESETS)
    assert list(profile.presets) == [*ORIGINAL_PRESETS, "highest risk", "lowest risk", "most typical"]
    assert profile.presets["highest risk"] == dict(ORIGINAL_PRESETS["family"])  # the last row: p = 0.9


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_schemas(), st.integers(0, 10_000))
def test_the_most_typical_preset_is_a_customer_at_the_centre_when_the_table_has_one(schema, seed):
    """Add to an odd-sized table a customer with every number at its median and every label at
    its most frequent: that customer is the most typical (a nearest-to-centre rule picks it)."""
    table = table_for(schema, 61, seed)
    raw = schema.check({name: table[name].to_numpy(dtype=object) for name in schema.raw_fields}).raw
    centre = np.full(raw.shape[1], np.nan)
    for index, spec in enumerate(schema.fields):
        present = raw[:, index][~np.isnan(raw[:, index])]
        if present.size == 0:
            continue
        if spec.has_labels:
            codes, counts = np.unique(present, return_counts=True)
            centre[index] = codes[np.argmax(counts)]
        else:
            centre[index] = np.sort(present)[(present.size - 1) // 2]  # a value of the table
    rows = np.vstack([raw, centre])
    profile = profile_reference(schema, rows, np.random.default_rng(seed).uniform(0, 1, len(rows)))
    np.testing.assert_array_equal(schema.check_record(profile.presets["most typical"]), centre)
