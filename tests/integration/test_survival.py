"""Time to churn on Telco (issue 27): the survival model a champion carries beside its classifier,
its censoring-aware metrics, and the survival object on every local prediction path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from churnguard.adapters.churn_model import ChurnModel
from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.serving_model import CompiledSurvival, compile_for_serving, domain_rows
from churnguard.adapters.survival_model import SurvivalModel
from churnguard.application.champion import Scoring
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.survival import SurvivalCurve
from churnguard.entrypoints.container import build_container
from churnguard.entrypoints.http.app import create_app
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from churnguard.entrypoints.settings import Settings
from tests.conftest import TELCO_DATA, require_shared


def _champion(workdir: Path) -> tuple[ModelVersion, ChurnModel]:
    store = FilesystemModelStore(workdir / "models")
    version = store.champion()
    assert version is not None
    model = store.load(version.fingerprint)
    assert isinstance(model, ChurnModel)
    return version, model


def _customers(count: int) -> list[dict[str, object]]:
    """The first Telco customers as a JSON client sends them: numbers as numbers."""
    with require_shared(TELCO_DATA).open(newline="") as handle:
        rows = [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]
    out = []
    for row in rows:
        del row["Churn"]
        out.append({name: _number(value) for name, value in row.items()})
    return out


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _numbers(survival: dict) -> list[float]:
    """A survival object's numbers in one order: the curve, the horizons, the lifetime and value,
    then each field's contribution by name."""
    contributions = sorted((c["feature"], c["contribution"]) for c in survival["contributions"])
    return [
        *survival["curve"],
        *(item["probability"] for item in survival["churn_within"]),
        survival["expected_remaining"],
        survival["revenue_at_risk"],
        *(size for _, size in contributions),
    ]


def test_the_survival_model_never_reads_the_duration_nor_what_encodes_it(telco_workdir):
    version, model = _champion(telco_workdir)
    survival = model.survival
    assert isinstance(survival, SurvivalModel)
    read = {version.schema.model_features[c] for c in survival.columns}
    assert read == set(version.schema.survival_features)
    assert not read & {"tenure", "TotalCharges", "log_tenure", "log_total_charges", "new_customer"}
    assert "month_to_month_log_tenure" not in read  # computed from log_tenure
    assert {"Contract", "MonthlyCharges", "month_to_month", "services"} <= read
    assert version.params["survival_family"] in ("cox", "rsf")


def test_the_champions_curves_are_the_fitted_estimators_and_the_served_twin_reproduces_them(telco_workdir):
    _, model = _champion(telco_workdir)
    survival = model.survival
    rows = domain_rows(model, rows=300)
    ours = survival.curves(rows)
    assert ours[:, 0] == pytest.approx(1.0)
    assert (np.diff(ours, axis=1) <= 1e-12).all()
    if survival.baseline is not None:  # proportional hazards: the estimator's own step functions
        functions = survival.pipeline.predict_survival_function(survival.inputs(rows))
        theirs = np.array([[f(t) if t >= f.x[0] else 1.0 for t in range(survival.periods + 1)] for f in functions])
        assert np.abs(ours - theirs).max() < 1e-12
        served = getattr(compile_for_serving(model), "survival", None)
        assert isinstance(served, CompiledSurvival)
        assert np.abs(served.curves(rows) - ours).max() < 1e-9


def test_holdout_metrics_respect_censoring_and_beat_kaplan_meier(telco_workdir):
    report = json.loads((telco_workdir / "reports" / "eval_report.json").read_text(encoding="utf-8"))
    for name in ("survival_concordance", "survival_ibs"):  # bootstrap intervals around the holdout's value
        interval = report["intervals"][name]
        assert interval["low"] < interval["estimate"] == report["metrics"][name] < interval["high"]
    assert report["intervals"]["survival_ibs"]["high"] < report["metrics"]["survival_ibs_km"]
    version, _ = _champion(telco_workdir)
    metrics = version.metrics
    # measured on this split: Cox C 0.855, integrated Brier 0.087 against Kaplan-Meier's 0.176
    assert metrics["survival_concordance"] > 0.83
    assert metrics["survival_concordance_uno"] > 0.83
    assert metrics["survival_ibs"] < 0.7 * metrics["survival_ibs_km"]
    assert metrics["survival_ibs_km"] == pytest.approx(0.176, abs=0.01)
    assert metrics["survival_auc_3"] > 0.85
    assert metrics["survival_auc_12"] > 0.87
    assert 0 <= metrics["survival_calibration_gap"] < 0.1


def test_predict_answers_the_curve_from_the_customers_tenure_on(telco_workdir, monkeypatch):
    monkeypatch.setenv("WORKDIR", str(telco_workdir))
    monkeypatch.setenv("LOG_PREDICTIONS", "false")
    version, model = _champion(telco_workdir)
    schema = version.schema
    customers = _customers(40)
    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        answers = [client.post("/predict", json=customer) for customer in customers]
        batch = client.post("/predict/batch?explain=loo", json={"customers": customers})
    assert all(answer.status_code == 200 for answer in answers), answers[0].text
    assert batch.status_code == 200, batch.text
    bodies = [answer.json() for answer in answers]
    for body, from_batch in zip(bodies, batch.json()["predictions"], strict=True):
        assert _numbers(from_batch["survival"]) == pytest.approx(_numbers(body["survival"]), abs=1e-12)

    raw = schema.check({name: np.array([c[name] for c in customers], dtype=object) for name in schema.raw_fields}).raw
    filled = Scoring(schema, version.imputation, model).filled(raw)
    unconditional = model.survival.curves(schema.model_matrix(filled))
    tenures = set()
    for customer, body, curve in zip(customers, bodies, unconditional, strict=True):
        shown = body["survival"]
        tenure = float(str(customer["tenure"]))
        charge = float(str(customer["MonthlyCharges"]))
        tenures.add(tenure)
        assert shown["tenure"] == tenure
        assert shown["horizon"] == 12
        assert shown["unit"] == "month"
        expected = SurvivalCurve(curve).conditional(tenure, 12)
        assert shown["curve"] == pytest.approx(expected.values.tolist(), abs=1e-12)
        within = [item["probability"] for item in shown["churn_within"]]
        assert [item["periods"] for item in shown["churn_within"]] == [1, 3, 6, 12]
        assert within == pytest.approx(list(expected.churn_within((1, 3, 6, 12))), abs=1e-12)
        assert within == sorted(within)
        remaining = expected.restricted_mean(12)
        assert shown["expected_remaining"] == pytest.approx(remaining, abs=1e-12)
        assert shown["value_per_period"] == charge
        assert shown["revenue_at_risk"] == pytest.approx(charge * (12 - remaining), abs=1e-9)
        named = {item["feature"]: item["value"] for item in shown["contributions"]}
        assert set(named) == set(schema.raw_fields)
        assert named["Contract"] == customer["Contract"]  # labels shown as the table writes them
    assert len(tenures) > 10


def test_a_customers_tenure_moves_where_the_curve_starts(telco_workdir, monkeypatch):
    """The duration is the time axis: the same customer asked at a later tenure is asked about
    the months after it, S(a + t) / S(a), not about the months after sign-up."""
    monkeypatch.setenv("WORKDIR", str(telco_workdir))
    monkeypatch.setenv("LOG_PREDICTIONS", "false")
    (customer,) = _customers(1)
    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        curves = {}
        for tenure in (0, 12, 24):
            answer = client.post("/predict?explain=none", json={**customer, "tenure": tenure})
            assert answer.status_code == 200, answer.text
            assert answer.json()["survival"]["contributions"] is None
            curves[tenure] = answer.json()["survival"]["curve"]
    # the survival model does not read the tenure, so the three share one curve S from sign-up;
    # each answer is that curve from its own start: chained, the year from 0 and the year from 12
    # give S(24), which the year from 12 and the year from 24 continue
    first, second, third = (np.array(curves[t]) for t in (0, 12, 24))
    assert first[0] == second[0] == third[0] == 1.0
    assert not np.allclose(first, second)
    s_24 = first[12] * second[12]
    assert 0.0 < s_24 < first[12] < 1.0
    assert s_24 * third[12] < s_24  # churn goes on after two years


def test_the_original_schema_answers_as_it_always_did(trained_workdir, monkeypatch):
    monkeypatch.setenv("WORKDIR", str(trained_workdir))
    monkeypatch.setenv("LOG_PREDICTIONS", "false")
    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        body = client.post("/predict", json=dict(EXAMPLE_CUSTOMER)).json()
    assert "survival" not in body
    assert set(body) == {
        "churn_prediction",
        "churn_probability",
        "risk_band",
        "threshold",
        "model_version",
        "churn_rate_baseline",
        "feature_contributions",
    }


def test_score_writes_time_to_churn_columns_and_totals_revenue_at_risk(telco_workdir, run_cli, tmp_path):
    source = tmp_path / "customers.csv"
    pd.read_csv(require_shared(TELCO_DATA)).head(500).to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    result = run_cli("score", "--in", str(source), "--out", str(out), "--workdir", str(telco_workdir))
    assert result.code == 0, result.err
    scored = pd.read_csv(out)
    columns = ["churn_within_1", "churn_within_3", "churn_within_6", "churn_within_12"]
    assert {*columns, "expected_remaining", "revenue_at_risk"} <= set(scored.columns)
    assert (np.diff(scored[columns].to_numpy(), axis=1) >= 0).all()
    total = float(scored["revenue_at_risk"].sum())
    assert f"revenue at risk {total:,.2f} in all" in result.out

    version, model = _champion(telco_workdir)
    schema = version.schema
    raw = schema.check({name: scored[name].to_numpy() for name in schema.raw_fields}).raw
    table = Scoring(schema, version.imputation, model).survival_table(raw)
    assert table is not None
    assert table.revenue_at_risk is not None
    assert np.abs(scored["revenue_at_risk"].to_numpy() - table.revenue_at_risk).max() < 1e-9
    assert np.abs(scored["churn_within_12"].to_numpy() - table.churn_within[:, -1]).max() < 1e-12


def test_served_revenue_at_risk_is_a_prometheus_histogram(telco_workdir, monkeypatch):
    monkeypatch.setenv("WORKDIR", str(telco_workdir))
    monkeypatch.setenv("LOG_PREDICTIONS", "false")
    customers = _customers(5)
    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        bodies = [client.post("/predict", json=customer).json() for customer in customers]
        metrics = client.get("/metrics").text
    total = sum(body["survival"]["revenue_at_risk"] for body in bodies)
    samples = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines() if line[:1] != "#"}
    assert samples["churnguard_revenue_at_risk_count"] == 5
    assert samples["churnguard_revenue_at_risk_sum"] == pytest.approx(total, rel=1e-9)
    assert samples["churnguard_churn_within_horizon_probability_count"] == 5
    highest = max(body["survival"]["revenue_at_risk"] for body in bodies)
    above = min(b for b in (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0) if b >= highest)
    assert samples[f'churnguard_revenue_at_risk_bucket{{le="{above}"}}'] == 5


def test_score_ranks_a_whole_table_by_revenue_at_risk(telco_workdir, run_cli, tmp_path):
    table = pd.read_csv(require_shared(TELCO_DATA), dtype=str).head(300)
    table.loc[0, "customerID"] = "0001-LEADING"  # an id written as text stays that text
    source = tmp_path / "customers.csv"
    table.to_csv(source, index=False)
    plain, ranked = tmp_path / "plain.csv", tmp_path / "ranked.csv"
    for out, extra in ((plain, ()), (ranked, ("--rank-by", "revenue_at_risk"))):
        result = run_cli("score", "--in", str(source), "--out", str(out), "--workdir", str(telco_workdir), *extra)
        assert result.code == 0, result.err
    first, second = pd.read_csv(plain, dtype=str), pd.read_csv(ranked, dtype=str)
    at_risk = second["revenue_at_risk"].astype(float)
    assert at_risk.is_monotonic_decreasing
    # the same rows, cell for cell as written, only in another order
    assert second.sort_values("row", key=lambda r: r.astype(int)).reset_index(drop=True).equals(first)
    assert "0001-LEADING" in set(second["customerID"])

    refused = run_cli(
        "score", "--in", str(source), "--out", str(tmp_path / "no.parquet"), "--workdir", str(telco_workdir),
        "--rank-by", "lifetime_value",
    )  # fmt: skip
    assert refused.code == 2
    assert "--rank-by lifetime_value: the scored output has no such column" in refused.err
    assert "revenue_at_risk" in refused.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "plain.csv", "ranked.csv"]


def test_the_schema_endpoint_carries_the_training_customers_kaplan_meier_curve(telco_workdir, monkeypatch):
    """What the UI draws behind a customer's curve: the training split's Kaplan-Meier estimate."""
    from churnguard.adapters.sklearn_evaluation import encoded_table, split_rows
    from churnguard.domain.survival import kaplan_meier

    monkeypatch.setenv("WORKDIR", str(telco_workdir))
    monkeypatch.setenv("LOG_PREDICTIONS", "false")
    settings = Settings()
    with TestClient(create_app(settings, build_container(settings))) as client:
        declared = client.get("/schema").json()["survival"]
    assert (declared["duration"], declared["value"], declared["horizon"], declared["unit"]) == (
        "tenure",
        "MonthlyCharges",
        12,
        "month",
    )
    version, _ = _champion(telco_workdir)
    raw, target = encoded_table(pd.read_csv(require_shared(TELCO_DATA)), version.schema)
    train, _ = split_rows(target, 0.2, 42, None, 0)
    tenure = raw[train, version.schema.raw_fields.index("tenure")]
    expected = kaplan_meier(tenure, target[train].astype(bool), 72).values
    assert declared["training_kaplan_meier"] == pytest.approx(expected.tolist(), abs=1e-12)


def test_the_exported_sql_scores_telco_in_postgresql_as_python_does(telco_workdir, postgres_url, run_cli, tmp_path):
    """Warehouse scoring: the Cox champion's coefficients and baseline hazard as tables, one SQL
    query over the raw customers table (text cells, blanks and all), the same answers to 1e-9."""
    import psycopg

    out = tmp_path / "sql"
    exported = run_cli("export-sql", "--workdir", str(telco_workdir), "--out", str(out), "--table", "telco")
    assert exported.code == 0, exported.err
    assert sorted(p.name for p in out.iterdir()) == ["baseline.csv", "coefficients.csv", "score.sql", "tables.sql"]
    cells = pd.read_csv(require_shared(TELCO_DATA), dtype=str, keep_default_na=False)
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE telco (" + ", ".join(f'"{c}" TEXT' for c in cells.columns) + ")")
        with db.cursor() as cursor, cursor.copy("COPY telco FROM STDIN") as copy:
            for row in cells.itertuples(index=False):
                copy.write_row(tuple(row))
        db.execute((out / "tables.sql").read_text(encoding="utf-8"))
        cursor = db.execute((out / "score.sql").read_text(encoding="utf-8"))
        names = [column.name for column in cursor.description or ()]
        warehouse = pd.DataFrame(cursor.fetchall(), columns=names).set_index("customerID")

    version, model = _champion(telco_workdir)
    schema = version.schema
    table = pd.read_csv(require_shared(TELCO_DATA))
    checked = schema.check({name: table[name].to_numpy() for name in schema.raw_fields})
    assert checked.ok.all()
    scoring = Scoring(schema, version.imputation, model)
    ours = scoring.survival_table(checked.raw)
    assert ours is not None
    assert ours.revenue_at_risk is not None
    theirs = warehouse.loc[table["customerID"]]
    risk = model.survival.risk(schema.model_matrix(scoring.filled(checked.raw)))
    assert np.abs(theirs["risk"].to_numpy(dtype=float) - risk).max() < 1e-9
    for index, h in enumerate(ours.horizons):
        assert np.abs(theirs[f"churn_within_{h}"].to_numpy(dtype=float) - ours.churn_within[:, index]).max() < 1e-9
    assert np.abs(theirs["expected_remaining"].to_numpy(dtype=float) - ours.expected_remaining).max() < 1e-9
    assert np.abs(theirs["revenue_at_risk"].to_numpy(dtype=float) - ours.revenue_at_risk).max() < 1e-9


def test_a_champion_without_time_to_churn_has_nothing_to_export(trained_workdir, run_cli, tmp_path):
    refused = run_cli("export-sql", "--workdir", str(trained_workdir), "--out", str(tmp_path / "sql"))
    assert refused.code == 2
    assert "forecasts no time to churn: its schema ('original') declares no survival key" in refused.err
    assert not (tmp_path / "sql").exists()


def test_drift_watches_the_probability_of_churning_within_the_horizon(telco_workdir, run_cli, tmp_path):
    import shutil

    from churnguard.adapters.drift_report_writer import drift_report_from_json

    workdir = tmp_path / "work"
    shutil.copytree(telco_workdir / "models", workdir / "models")
    table = pd.read_csv(require_shared(TELCO_DATA))
    shifted, steady = tmp_path / "month-to-month.csv", tmp_path / "sample.csv"
    table[table["Contract"] == "Month-to-month"].head(800).to_csv(shifted, index=False)
    table.sample(800, random_state=1).to_csv(steady, index=False)
    seen = {}
    for name, current in (("shifted", shifted), ("steady", steady)):
        result = run_cli("drift", "--workdir", str(workdir), "--current", str(current))
        assert result.code in (0, 1), result.err
        document = json.loads((workdir / "reports" / "drift_report.json").read_text(encoding="utf-8"))
        within = drift_report_from_json(document).horizon_prediction
        assert within is not None
        assert within.feature == "churn_within_12"
        assert f"time to churn: churn_within_12 {within.test} {within.statistic:.4f}" in result.out
        seen[name] = within
    assert seen["shifted"].drifted
    assert not seen["steady"].drifted
    assert seen["shifted"].statistic > 5 * seen["steady"].statistic


def test_outcomes_with_dates_are_held_against_the_forecasts_of_a_scored_file(telco_workdir, run_cli, tmp_path):
    """Outcomes drawn from the champion's own curves (who churns in which month after the
    scoring, some followed for less than a year) come back as forecast, censoring respected;
    outcomes that are not the forecast's do not."""
    from datetime import date, timedelta

    workdir = tmp_path / "work"
    import shutil

    shutil.copytree(telco_workdir / "models", workdir / "models")
    table = pd.read_csv(require_shared(TELCO_DATA))
    source, scored = tmp_path / "customers.csv", tmp_path / "scored.csv"
    table.to_csv(source, index=False)
    assert run_cli("score", "--in", str(source), "--out", str(scored), "--workdir", str(workdir)).code == 0

    version, model = _champion(workdir)
    schema = version.schema
    survival = Scoring(schema, version.imputation, model).survival_table(
        schema.check({name: table[name].to_numpy() for name in schema.raw_fields}).raw
    )
    assert survival is not None
    rng = np.random.default_rng(3)
    scored_on, month = date(2026, 1, 1), 365.25 / 12
    draw = rng.random(len(table))
    # the month a customer churns in: the first t with S(t | tenure) < u (past 12: not within the year)
    churn_month = np.where(survival.curves[:, 1:] < draw[:, None], 1, 0).argmax(axis=1) + 1
    churns = survival.curves[:, -1] < draw
    followed = rng.uniform(0.5, 14.0, len(table))  # months each customer was watched for
    seen_leaving = churns & (churn_month - 0.5 <= followed)
    rows: list[tuple[str, str, str]] = []
    for customer, left, when, watched in zip(table["customerID"], seen_leaving, churn_month, followed, strict=True):
        if left:
            rows.append((customer, (scored_on + timedelta(days=(when - 0.5) * month)).isoformat(), ""))
        else:
            rows.append((customer, "", (scored_on + timedelta(days=watched * month)).isoformat()))
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame(rows, columns=["customerID", "churned_on", "active_on"]).to_csv(outcomes, index=False)

    result = run_cli(
        "outcomes", "--scored", str(scored), "--scored-on", "2026-01-01", "--in", str(outcomes),
        "--workdir", str(workdir),
    )  # fmt: skip
    assert result.code == 0, result.err
    report = json.loads((workdir / "reports" / "survival_outcomes_report.json").read_text(encoding="utf-8"))
    assert report["matched"] == len(table)
    assert [h["periods"] for h in report["horizons"]] == [1, 3, 6, 12]
    for h in report["horizons"]:
        assert abs(h["observed"] - h["predicted"]) < 0.03, h
        assert h["censored"] > 0
    assert "churn within 12 months: forecast" in result.out

    # everyone gone within the first month: not what was forecast
    left = pd.DataFrame({"customerID": table["customerID"], "churned_on": "2026-01-15", "active_on": ""})
    left.to_csv(outcomes, index=False)
    result = run_cli(
        "outcomes", "--scored", str(scored), "--scored-on", "2026-01-01", "--in", str(outcomes),
        "--workdir", str(workdir),
    )  # fmt: skip
    report = json.loads((workdir / "reports" / "survival_outcomes_report.json").read_text(encoding="utf-8"))
    assert report["horizons"][0]["observed"] == 1.0
    assert report["horizons"][0]["predicted"] < 0.2

    # a row with both dates, and a date before the scoring: refused by name, nothing written
    bad = pd.DataFrame(
        {
            "customerID": ["7590-VHVEG", "5575-GNVDE"],
            "churned_on": ["2026-02-01", "2025-12-01"],
            "active_on": ["2026-03-01", ""],
        }
    )
    bad.to_csv(outcomes, index=False)
    (workdir / "reports" / "survival_outcomes_report.json").unlink()
    refused = run_cli(
        "outcomes", "--scored", str(scored), "--scored-on", "2026-01-01", "--in", str(outcomes),
        "--workdir", str(workdir),
    )  # fmt: skip
    assert refused.code == 2
    assert "churned_on" in refused.err
    assert "must not be before the scoring (2026-01-01)" in refused.err
    assert "give one of churned_on" in refused.err
    assert not (workdir / "reports" / "survival_outcomes_report.json").exists()
