import pytest

from churnguard.application.detect_drift import DetectDrift
from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import DriftAnalysis, DriftReport
from churnguard.domain.drift_policy import DriftPolicy, FeatureDrift, NotEnoughRows
from tests.fakes import FakeClock, FakeExperimentTracker, FakeModelStore, FakeTable


class FakeDriftDetector:
    def __init__(self, drifted: set[str]) -> None:
        self.drifted = drifted
        self.calls: list[tuple[object, object]] = []

    def compare(self, reference, current, schema=None, model=None):
        self.calls.append((reference, current))
        features = [FeatureDrift(name, "ks", 0.01, 0.05, name in self.drifted) for name in ("age", "tenure", "charges")]
        return DriftAnalysis(features, "<html></html>")


class FakeDriftReportWriter:
    def __init__(self) -> None:
        self.reports: list[DriftReport] = []

    def write(self, report, html):
        self.reports.append(report)
        return ["memory://drift.html", "memory://drift.json"]

    def latest(self) -> DriftReport | None:
        return self.reports[-1] if self.reports else None


def _use_case(drifted: set[str], champion: bool = True, share: float = 0.5):
    store = FakeModelStore()
    if champion:
        store.add("champ", f1=0.8)
        store.champion_fingerprint = "champ"
        store.references["champ"] = FakeTable([{}] * 1600)
    detector, writer, tracker = FakeDriftDetector(drifted), FakeDriftReportWriter(), FakeExperimentTracker()
    detect = DetectDrift(detector, store, writer, tracker, FakeClock(), DriftPolicy(drift_share=share, min_rows=100))
    return detect, detector, writer, tracker, store


def test_drift_compares_current_traffic_with_the_champions_training_snapshot():
    detect, detector, writer, tracker, store = _use_case({"age", "charges"})
    current = FakeTable([{}] * 500)
    outcome = detect(current, "log")
    assert detector.calls == [(store.references["champ"], current)]
    assert outcome.report.verdict.drifted
    assert outcome.report.verdict.drifted_features == ("age", "charges")
    assert outcome.report.reference_rows == 1600
    assert outcome.report.model_version == "champ"
    assert writer.reports == [outcome.report]
    assert tracker.events == [("drift", True)]
    assert outcome.files == ["memory://drift.html", "memory://drift.json"]


def test_one_drifted_feature_of_three_is_not_dataset_drift_at_half():
    detect, *_ = _use_case({"age"})
    assert not detect(FakeTable([{}] * 500), "log").report.verdict.drifted


def test_too_few_rows_stops_before_any_comparison():
    detect, detector, writer, *_ = _use_case({"age"})
    with pytest.raises(NotEnoughRows):
        detect(FakeTable([{}] * 10), "log")
    assert detector.calls == []
    assert writer.reports == []


def test_without_a_champion_an_explicit_reference_is_needed():
    detect, *_ = _use_case(set(), champion=False)
    with pytest.raises(ModelNotFound):
        detect(FakeTable([{}] * 500), "log")
    outcome = detect(FakeTable([{}] * 500), "split", reference=FakeTable([{}] * 1500))
    assert outcome.report.reference_rows == 1500
