"""`churnguard events build` on real engines: the DuckDB builder held to the domain's definition on
random histories, CDNOW from the raw purchase file to a champion trained out of time."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from churnguard.adapters.duckdb_observation_builder import DuckdbObservationBuilder
from churnguard.domain.events import EPOCH, EventSchema, History, churned, day_number, observe
from tests.conftest import SCHEMAS, examples, require_shared
from tests.event_strategies import event_schemas, histories

CDNOW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdnow.txt"


def _events_file(path: Path, customers: list[History]) -> None:
    rows = [
        {
            "customer": f"c{index:03d}",
            "day": (EPOCH + timedelta(days=int(day))).isoformat(),
            "type": history.types[k],
            "amount": history.values["amount"][k],
            "items": history.values["items"][k],
        }
        for index, history in enumerate(customers)
        for k, day in enumerate(history.days)
    ]
    pd.DataFrame(rows, columns=["customer", "day", "type", "amount", "items"]).to_csv(path, index=False)


@given(
    event_schemas(),
    st.lists(histories(), min_size=1, max_size=6),
    st.lists(st.integers(1, 130), min_size=1, max_size=4, unique=True),
)
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_duckdb_builder_is_the_definition_on_any_history(tmp_path, schema: EventSchema, customers, cutoff_days):
    """Every feature and label at every cutoff, as `observe` and `churned` compute them one
    customer at a time; the same customers active; nothing else."""
    customers = [h for h in customers if len(h.days)]
    assume(customers)
    source, out = tmp_path / "events.csv", tmp_path / "observations.csv"
    _events_file(source, customers)
    cutoffs = [EPOCH + timedelta(days=day) for day in cutoff_days]
    until = EPOCH + timedelta(days=200)  # every horizon over: every label known
    DuckdbObservationBuilder(threads=1).build(schema, str(source), str(out), cutoffs, until)
    built = pd.read_csv(out, dtype={"customer": str})
    expected = []
    for index, history in enumerate(customers):
        for cutoff in sorted(cutoffs):
            features = observe(schema, history, float(day_number(cutoff)))
            if features is not None:
                label = int(churned(schema, history, float(day_number(cutoff))))
                expected.append((cutoff.isoformat(), f"c{index:03d}", *features, label))
    got = [
        (row["cutoff"], row["customer"], *(row[f.name] for f in schema.features), int(row["churn"]))
        for row in built.to_dict("records")
    ]
    assert sorted(r[:2] for r in got) == sorted(r[:2] for r in expected)  # the same customers active
    for mine, theirs in zip(sorted(got, key=lambda r: r[:2]), sorted(expected, key=lambda r: r[:2]), strict=True):
        np.testing.assert_allclose(
            np.asarray(mine[2:], dtype=float), np.asarray(theirs[2:], dtype=float), rtol=1e-9, equal_nan=True
        )


@pytest.fixture(scope="module")
def cdnow_table(tmp_path_factory) -> tuple[Path, Path]:
    """CDNOW's raw purchase file built at three cutoffs: two to train on, the latest held out."""
    require_shared(CDNOW)
    from churnguard.entrypoints.cli import main

    folder = tmp_path_factory.mktemp("cdnow")
    out = folder / "observations.csv"
    argv = ["events", "build", "--schema", str(SCHEMAS / "cdnow.yaml"), "--events", str(CDNOW), "--out", str(out)]
    for cutoff in ("1997-04-01", "1997-07-01", "1997-12-31"):
        argv += ["--cutoff", cutoff]
    assert main(argv) == 0
    return out, folder / "observations.schema.yaml"


def test_cdnow_builds_from_the_raw_purchase_file_with_every_customer_active(cdnow_table, capsys):
    out, schema_file = cdnow_table
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert table.groupby("cutoff").size().to_dict() == {"1997-04-01": 23570, "1997-07-01": 23570, "1997-12-31": 23570}
    assert table["customer_id"].str.len().eq(5).all()
    first = table[(table["customer_id"] == "00001") & (table["cutoff"] == "1997-04-01")].iloc[0]
    # customer 00001 bought once, on 1997-01-01, for $11.77: 90 days before the cutoff, never again
    assert (first["purchases_91d"], first["spend_91d"], first["days_since_last"], first["churn"]) == (1, 11.77, 90, 1)
    assert schema_file.is_file()


@pytest.fixture(scope="module")
def cdnow_champion(cdnow_table, tmp_path_factory) -> Path:
    """The docs' walk-through, in process: the table trained out of time (fast grid)."""
    from churnguard.entrypoints.cli import main

    out, schema_file = cdnow_table
    workdir = tmp_path_factory.mktemp("cdnow-work")
    argv = ["pipeline", "--schema", str(schema_file), "--data", str(out), "--workdir", str(workdir), "--grid", "fast"]
    assert main(argv) == 0
    return workdir


def test_cdnow_trains_out_of_time_and_the_report_names_the_periods(cdnow_champion):
    workdir = cdnow_champion
    report = json.loads((workdir / "reports" / "eval_report.json").read_text())
    # the latest cutoff held out; a training row's 182-day label ends before it begins
    assert report["periods"] == {
        "train_from": "1997-04-01",
        "train_to": "1997-07-01",
        "holdout_from": "1997-12-31",
        "holdout_to": "1997-12-31",
    }
    assert report["holdout_rows"] == 23570
    assert report["metrics"]["roc_auc"] > 0.75  # the fast grid; benchmarks/events.py measures the quality
    assert date.fromisoformat(report["periods"]["train_to"]) + timedelta(days=182) <= date(1997, 12, 31)


def test_every_customer_active_on_a_date_is_scored_from_their_events_before_it(cdnow_champion, tmp_path, capsys):
    from churnguard.entrypoints.cli import main

    out = tmp_path / "scored.csv"
    argv = ["score", "--as-of", "1998-06-01", "--events", str(CDNOW), "--events-schema", str(SCHEMAS / "cdnow.yaml"),
            "--out", str(out), "--workdir", str(cdnow_champion)]  # fmt: skip
    assert main(argv) == 0
    assert "scored 23,570 customers active on 1998-06-01" in capsys.readouterr().out
    scored = pd.read_csv(out, dtype={"customer_id": str})
    rows = pd.read_csv(tmp_path / "scored.observations.csv", dtype={"customer_id": str})
    assert len(scored) == len(rows) == 23570
    assert set(rows["cutoff"]) == {"1998-06-01"}
    assert rows["churn"].isna().all()  # its 26 weeks are not in the data: unknown
    assert scored["churn_probability"].between(0, 1).all()
    # customers who bought lately are less likely to have churned than long-lapsed ones
    merged = rows[["customer_id", "days_since_last"]].merge(scored[["customer_id", "churn_probability"]])
    recent = merged[merged["days_since_last"] < 30]["churn_probability"].mean()
    lapsed = merged[merged["days_since_last"] > 300]["churn_probability"].mean()
    assert recent < lapsed


def test_scoring_as_of_a_date_with_another_event_schema_is_refused_naming_both(cdnow_champion, tmp_path, capsys):
    from churnguard.entrypoints.cli import main

    other = tmp_path / "other.yaml"
    other.write_text((SCHEMAS / "cdnow.yaml").read_text().replace("purchases_28d: {op: count, days: 28}", ""))
    argv = ["score", "--as-of", "1998-06-01", "--events", str(CDNOW), "--events-schema", str(other),
            "--out", str(tmp_path / "scored.csv"), "--workdir", str(cdnow_champion)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "was trained with schema 'cdnow'" in err
    assert str(other) in err
    assert not (tmp_path / "scored.csv").exists()


def test_an_observation_table_with_a_bad_cutoff_or_a_customer_twice_at_one_is_refused(cdnow_table, tmp_path, capsys):
    from churnguard.entrypoints.cli import main

    out, schema_file = cdnow_table
    table = pd.read_csv(out, dtype={"customer_id": str}).head(50)
    bad_time = table.copy()
    bad_time.loc[3, "cutoff"] = "July 1997"
    twice = pd.concat([table, table.iloc[[7]]], ignore_index=True)
    for frame, rule, row in (
        (bad_time, "must be an ISO date (the observation time rows are split by)", "4"),
        (twice, "must be unique per observation time: the same id twice at one time", "8, 51"),
    ):
        path = tmp_path / "bad.csv"
        frame.to_csv(path, index=False)
        assert main(["validate", "--schema", str(schema_file), "--data", str(path)]) == 2
        err = capsys.readouterr().err
        assert rule in err
        assert row in err


def test_outcomes_arrive_from_the_events_after_a_scored_date_beside_the_estimate(cdnow_champion, tmp_path, capsys):
    """Scored as of 1997-12-31; the 182 days after it end with the data: the events say who
    churned, and the report's realized ROC-AUC is that of the scored probabilities on those labels."""
    from sklearn.metrics import roc_auc_score

    from churnguard.entrypoints.cli import main

    schema, scored = str(SCHEMAS / "cdnow.yaml"), tmp_path / "scored.csv"
    common = [
        "--as-of",
        "1997-12-31",
        "--events",
        str(CDNOW),
        "--events-schema",
        schema,
        "--workdir",
        str(cdnow_champion),
    ]
    assert main(["score", *common, "--out", str(scored)]) == 0
    capsys.readouterr()
    assert main(["outcomes", *common, "--scored", str(scored)]) == 0
    said = capsys.readouterr().out
    assert "23,570 customers active on 1997-12-31 with a known outcome; 23,570 of the 23,570" in said
    labels = pd.read_csv(tmp_path / "scored.outcomes.csv", dtype={"customer_id": str})[["customer_id", "churn"]]
    joined = pd.read_csv(scored, dtype={"customer_id": str}).merge(labels, on="customer_id")
    report = json.loads(next((cdnow_champion / "reports").glob("outcomes*.json")).read_text())
    (period,) = report["periods"]
    assert period["rows"] == 23570
    assert period["churn_rate"] == pytest.approx(joined["churn"].mean())
    assert period["start"] == "1997-12-31T00:00:00+00:00"
    assert period["realized"]["roc_auc"] == pytest.approx(roc_auc_score(joined["churn"], joined["churn_probability"]))
    assert 0.5 < period["estimated"]["f1"] < 1  # the estimate from the probabilities alone, beside it
    # 1998-06-01's 26 weeks are not over: refused, saying when they end
    late = tmp_path / "late.csv"
    later = [*common[:1], "1998-06-01", *common[2:]]
    assert main(["score", *later, "--out", str(late)]) == 0
    capsys.readouterr()
    assert main(["outcomes", *later, "--scored", str(late)]) == 2
    assert "the 182 days after 1998-06-01 are not over: the events end on 1998-07-01" in capsys.readouterr().err


def _cdnow_events(customer: str) -> list[dict]:
    purchases = pd.read_csv(CDNOW, sep=r"\s+", dtype=str)
    mine = purchases[purchases["customer_id"] == customer]
    return [
        {"time": f"{d[:4]}-{d[4:6]}-{d[6:]}", "values": {"number_of_cds": float(n), "dollar_value": float(v)}}
        for d, n, v in zip(mine["date"], mine["number_of_cds"], mine["dollar_value"], strict=True)
    ]


def _client(workdir: Path, monkeypatch, events_schema: Path | None):
    from fastapi.testclient import TestClient

    from churnguard.entrypoints.container import build_container
    from churnguard.entrypoints.http.app import create_app
    from churnguard.entrypoints.settings import Settings

    monkeypatch.setenv("WORKDIR", str(workdir))
    monkeypatch.setenv("PREDICTION_LOG_ENABLED", "false")
    if events_schema is None:
        monkeypatch.delenv("EVENTS_SCHEMA_PATH", raising=False)
    else:
        monkeypatch.setenv("EVENTS_SCHEMA_PATH", str(events_schema))
    settings = Settings()
    return TestClient(create_app(settings, build_container(settings)))


def test_the_api_answers_from_posted_events_as_the_builder_and_predict_do(cdnow_champion, tmp_path, monkeypatch):
    """POST /predict/events: the window features as of a date from the events before it, the
    very row `events build` writes for that customer and date, and /predict's answer for it."""
    from churnguard.adapters.yaml_event_schema import YamlEventSchemaReader

    schema_file = SCHEMAS / "cdnow.yaml"
    schema = YamlEventSchemaReader().load(str(schema_file))
    DuckdbObservationBuilder().build(
        schema, str(CDNOW), str(tmp_path / "rows.csv"), [date(1998, 6, 1)], labelled_only=False
    )
    rows = pd.read_csv(tmp_path / "rows.csv", dtype={"customer_id": str}).set_index("customer_id")
    events = _cdnow_events("00002")
    later = {"time": "1998-06-20", "values": {"number_of_cds": 9.0, "dollar_value": 99.0}}  # after as_of: unseen
    with _client(cdnow_champion, monkeypatch, schema_file) as client:
        answer = client.post(
            "/predict/events", json={"customer_id": "00002", "as_of": "1998-06-01", "events": [*events, later]}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        expected = rows.loc["00002"]
        assert body["as_of"] == "1998-06-01"
        assert body["features"] == pytest.approx({f.name: expected[f.name] for f in schema.features})
        row = {
            "customer_id": "00002",
            "cutoff": "1998-06-01",
            **{f.name: expected[f.name].item() for f in schema.features},
        }
        direct = client.post("/predict", json=row).json()
        assert body["churn_probability"] == pytest.approx(direct["churn_probability"], abs=1e-12)
        assert body["feature_contributions"] == direct["feature_contributions"]
        assert body["customer_id"] == "00002"
        wrong = client.post("/predict/events", json={"customer_id": "x", "as_of": "1998-06-01",
                            "events": [{"time": "1997-02-01", "values": {"price": 3.0}}]})  # fmt: skip
        assert wrong.status_code == 422
        assert wrong.json()["errors"] == [
            {"field": "events[0].values.price", "rule": "not a value column of event schema 'cdnow' (it has "
             "number_of_cds, dollar_value)"}]  # fmt: skip
        early = client.post("/predict/events", json={"customer_id": "00002", "as_of": "1996-01-01", "events": events})
        assert early.status_code == 422
        assert "no event before as_of 1996-01-01" in early.json()["detail"]
    from churnguard import ChurnGuard

    with ChurnGuard(workdir=cdnow_champion, prediction_log_enabled=False) as guard:  # embedded, the same answer
        made = guard.predict_events(schema_file, "00002", [*events, later], as_of=date(1998, 6, 1))
    assert made.served.predictions[0].probability == pytest.approx(body["churn_probability"], abs=1e-12)
    assert made.features == body["features"]
    with _client(cdnow_champion, monkeypatch, None) as client:
        refused = client.post("/predict/events", json={"customer_id": "00002", "events": events})
        assert refused.status_code == 409
        assert "serve --events-schema FILE" in refused.json()["detail"]
    other = tmp_path / "other.yaml"
    other.write_text(schema_file.read_text().replace("purchases_28d: {op: count, days: 28}", ""))
    with _client(cdnow_champion, monkeypatch, other) as client:
        refused = client.post("/predict/events", json={"customer_id": "00002", "events": events})
        assert refused.status_code == 409
        assert "not on the table of event schema 'cdnow'" in refused.json()["detail"]
