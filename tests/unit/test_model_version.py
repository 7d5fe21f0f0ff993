from hypothesis import given
from hypothesis import strategies as st

from churnguard.domain.model_version import fingerprint

params = st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 1000), max_size=5)


@given(st.text(max_size=64), params, params)
def test_fingerprint_is_deterministic_and_ignores_key_order(data_hash, model_params, settings):
    reordered = dict(reversed(list(model_params.items())))
    assert fingerprint(data_hash, model_params, settings) == fingerprint(data_hash, reordered, settings)
    assert len(fingerprint(data_hash, model_params, settings)) == 64


def test_fingerprint_changes_with_data_params_or_settings():
    base = fingerprint("a" * 64, {"max_depth": 3}, {"test_size": 0.2})
    assert fingerprint("b" * 64, {"max_depth": 3}, {"test_size": 0.2}) != base
    assert fingerprint("a" * 64, {"max_depth": 5}, {"test_size": 0.2}) != base
    assert fingerprint("a" * 64, {"max_depth": 3}, {"test_size": 0.25}) != base
