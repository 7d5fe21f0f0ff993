"""The drift report is a typed value through its port: what the file writer writes, it reads back
as the same DriftReport, which /metrics and the UI then show."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.adapters.drift_report_writer import FileDriftReportWriter
from churnguard.application.ports import DriftReport
from churnguard.domain.drift_policy import DriftVerdict, FeatureDrift
from churnguard.domain.performance_estimate import EstimatedPerformance
from tests.conftest import examples

unit = st.floats(0.0, 1.0)
statistic = st.one_of(unit, st.just(float("nan")))
names = st.sampled_from(["age", "tenure_months", "contract_type", "monthly_charges"])
drifts = st.builds(
    FeatureDrift, names, st.sampled_from(["ks", "chisquare", "wasserstein"]), statistic, unit, st.booleans()
)
estimates = st.builds(
    EstimatedPerformance,
    unit,
    unit,
    unit,
    unit,
    st.tuples(unit, unit),
    st.tuples(unit, unit),
    st.integers(0, 10**6),
    unit,
)


@st.composite
def reports(draw: st.DrawFn) -> DriftReport:
    features = tuple(draw(st.lists(drifts, min_size=1, max_size=4, unique_by=lambda f: f.feature)))
    drifted = tuple(f.feature for f in features if f.drifted)
    prediction = draw(st.one_of(st.none(), drifts.map(lambda f: FeatureDrift("churn_probability", *_rest(f)))))
    estimated = draw(st.one_of(st.none(), estimates))
    return DriftReport(
        model_version=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
        checked_at=datetime.fromtimestamp(draw(st.integers(0, 2 * 10**9)), UTC),
        reference_rows=draw(st.integers(0, 10**6)),
        current_rows=draw(st.integers(0, 10**6)),
        current_source=draw(st.text(min_size=1, max_size=20)),
        features=features,
        verdict=DriftVerdict(
            drifted=draw(st.booleans()),
            drift_share=len(drifted) / len(features),
            drifted_features=drifted,
            reasons=tuple(draw(st.lists(st.text(max_size=30), max_size=2))),
            weighted_share=draw(unit),
            prediction_drifted=prediction is not None and prediction.drifted,
            rules=tuple(draw(st.lists(st.sampled_from(["weighted_share", "prediction"]), max_size=2, unique=True))),
            weights={f.feature: draw(unit) for f in features},
        ),
        prediction=prediction,
        estimated=estimated,
        f1_floor=None if estimated is None else draw(st.one_of(st.none(), unit)),
    )


def _rest(drift: FeatureDrift) -> tuple[str, float, float, bool]:
    return drift.test, drift.statistic, drift.threshold, drift.drifted


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_same(getattr(a, k), getattr(b, k)) for k in a.__dataclass_fields__)
    return a == b


@settings(max_examples=examples(60), deadline=None)
@given(reports())
def test_a_written_report_reads_back_as_the_same_report(tmp_path_factory, report):
    writer = FileDriftReportWriter(tmp_path_factory.mktemp("reports"))
    assert writer.latest() is None
    writer.write(report, "<html></html>")
    read = writer.latest()
    assert read is not None
    assert _same(read, report)


def test_a_report_broken_after_a_good_one_reads_as_none_not_as_the_old_one(tmp_path):
    writer = FileDriftReportWriter(tmp_path)
    report = DriftReport(
        "f" * 64, datetime(2026, 1, 1, tzinfo=UTC), 10, 10, "log", (FeatureDrift("age", "ks", 0.1, 0.05, False),),
        DriftVerdict(False, 0.0, (), ()),
    )  # fmt: skip
    writer.write(report, "<html></html>")
    assert writer.latest() == report
    path = tmp_path / "drift_report.json"
    path.write_text('{"checked_at": "not a date"}', encoding="utf-8")
    os.utime(path, (1, 1))  # another modification time than the good report's, whatever the clock
    assert writer.latest() is None
