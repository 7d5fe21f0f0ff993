"""Hypothesis strategies for valid customer profiles."""

from __future__ import annotations

from hypothesis import strategies as st

from churnguard.domain.customer import FIELD_RULES, CustomerProfile, FieldRule


def field_values(rule: FieldRule) -> st.SearchStrategy[float]:
    if rule.allowed is not None:
        return st.sampled_from(rule.allowed)
    assert rule.minimum is not None
    assert rule.maximum is not None
    if rule.is_integer:
        return st.integers(int(rule.minimum), int(rule.maximum))
    return st.floats(rule.minimum, rule.maximum, exclude_min=True, exclude_max=True, allow_nan=False)


profiles: st.SearchStrategy[CustomerProfile] = st.builds(
    CustomerProfile, **{rule.name: field_values(rule) for rule in FIELD_RULES}
)
