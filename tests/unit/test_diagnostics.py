"""The holdout diagnostics (ROC, calibration, confusion) against scikit-learn's own functions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, roc_auc_score

from churnguard.domain.diagnostics import ModelDiagnostics, diagnose, roc_curve
from tests.conftest import examples

labelled_scores = st.integers(4, 400).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda t: 0 < sum(t) < len(t)),
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]) | st.floats(0, 1), min_size=n, max_size=n),
    )
)


@settings(max_examples=examples(200))
@given(labelled_scores, st.floats(0.05, 0.95))
def test_the_diagnostics_agree_with_scikit_learn_ties_included(data, threshold):
    target, probability = np.array(data[0]), np.array(data[1])
    fpr, tpr, auc = roc_curve(target, probability)
    assert auc == pytest.approx(roc_auc_score(target, probability), abs=1e-12)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0)
    assert np.all(np.diff(tpr) >= 0)
    found = diagnose(target, probability, threshold, {"b": 0.1, "a": 0.3})
    tn, fp, fn, tp = confusion_matrix(target, (probability >= threshold).astype(int), labels=[0, 1]).ravel()
    assert found.confusion == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert sum(b.customers for b in found.calibration) == target.size
    assert sum(b.observed * b.customers for b in found.calibration) == pytest.approx(target.sum())
    assert list(found.importance) == ["a", "b"]
    assert len(found.roc_fpr) <= 101
    assert ModelDiagnostics.from_json(found.as_json()) == found
