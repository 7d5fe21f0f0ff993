"""The embedding API: `from churnguard import ChurnGuard`, in memory and on files, on the
original table and on Telco, with the CLI's errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import churnguard
from churnguard import ChurnGuard
from churnguard.adapters.in_memory import InMemoryModelStore
from churnguard.application.errors import InvalidDataset
from churnguard.domain.errors import InvalidProfile
from tests.conftest import BUNDLED_DATA, SCHEMAS, TELCO_DATA, require_shared


@pytest.fixture(scope="module")
def fitted() -> tuple[ChurnGuard, pd.DataFrame]:
    guard = ChurnGuard.in_memory(grid="fast")
    table = pd.read_csv(BUNDLED_DATA)
    outcome = guard.fit(table)
    assert outcome.promotion.decision.promote
    return guard, table


def test_predict_and_score_agree_on_every_customer(fitted):
    guard, table = fitted
    customers = table.drop(columns="churn").head(200)
    scores = guard.score(customers)
    predictions = guard.predict(customers.to_dict("records"), explain=False)
    assert scores.summary.scored == 200
    assert scores.rejected.empty
    assert np.abs(scores.table["churn_probability"].to_numpy() - [p.probability for p in predictions]).max() < 1e-12
    assert scores.table["churn_prediction"].tolist() == [int(p.churns) for p in predictions]
    assert {p.model_version for p in predictions} == {guard.container.model_store().champion().fingerprint}


def test_bad_rows_are_rejected_with_reasons_and_a_bad_customer_raises(fitted):
    guard, table = fitted
    customers = table.drop(columns="churn").head(10).astype({"age": object})
    customers.loc[3, "age"] = "old"
    scores = guard.score(customers)
    assert scores.rejected["row"].tolist() == [4]
    assert "age" in scores.rejected["reasons"][0]
    with pytest.raises(InvalidProfile, match="age"):
        guard.predict({**customers.iloc[0].to_dict(), "age": 7})
    with pytest.raises(InvalidDataset) as raised:
        guard.validate(table.drop(columns="tenure_months"))
    assert "tenure_months" in str(raised.value.violations)


def test_drift_of_a_shifted_population_is_found(fitted):
    guard, table = fitted
    shifted = table.drop(columns="churn").sample(600, random_state=2).reset_index(drop=True)
    shifted["monthly_charges"] = (shifted["monthly_charges"] * 1.6).clip(upper=200)
    shifted["contract_type"] = 0
    control = guard.drift(table.drop(columns="churn").sample(600, random_state=2).reset_index(drop=True))
    assert not control.report.verdict.drifted, control.report.verdict.reasons
    assert control.report.verdict.drifted_features == ()
    outcome = guard.drift(shifted)
    assert outcome.report.verdict.drifted
    assert sorted(outcome.report.verdict.drifted_features) == ["contract_type", "monthly_charges"]
    assert outcome.files == ["memory://drift/2"]


def test_settings_are_keywords_and_an_unknown_one_is_refused():
    with pytest.raises(TypeError, match="'gird' is not a ChurnGuard setting"):
        ChurnGuard.in_memory(gird="fast")
    with pytest.raises(ValueError, match="min_f1"):
        ChurnGuard.in_memory(min_f1=2.0)
    assert churnguard.__all__ == ["ChurnGuard", "Scores", "__version__"]


def test_on_files_a_second_program_serves_the_first_ones_champion(tmp_path):
    first = ChurnGuard(workdir=tmp_path, enable_mlflow_tracking=False, grid="fast")
    first.fit(BUNDLED_DATA)
    assert (tmp_path / "models" / "champion.json").exists()
    customer = pd.read_csv(BUNDLED_DATA).drop(columns="churn").iloc[5].to_dict()
    again = ChurnGuard(workdir=tmp_path, enable_mlflow_tracking=False)
    assert again.predict(customer)[0].probability == first.predict(customer)[0].probability


def test_a_telco_model_in_memory_with_an_adapter_of_ones_own():
    store = InMemoryModelStore()
    guard = ChurnGuard.in_memory(schema_path=SCHEMAS / "telco.yaml", min_f1=0.5, grid="fast")
    guard.container.model_store.override(store)
    table = pd.read_csv(require_shared(TELCO_DATA))
    guard.fit(table)
    champion = store.champion()
    assert champion is not None
    assert champion.schema.name == "telco"
    customers = table.drop(columns="Churn")
    assert customers["TotalCharges"].dtype == object  # pandas reads it as text: the CSV has blanks
    # A row of the table the model was fitted on predicts as it is, by the rules fit read it by:
    # as a dict ("29.85" is a number there), as a Series, or as a one-row DataFrame.
    [prediction] = guard.predict(customers.iloc[0].to_dict())
    assert customers.iloc[0].to_dict()["TotalCharges"] == "29.85"
    [as_series] = guard.predict(customers.iloc[0])
    [as_frame] = guard.predict(customers.iloc[[0]])
    scored = guard.score(customers.head(1)).table
    assert prediction.probability == pytest.approx(scored["churn_probability"][0], abs=1e-12)
    assert as_series.probability == as_frame.probability == prediction.probability
    blank = customers[customers["TotalCharges"].str.strip() == ""].head(2)
    assert [p.probability for p in guard.predict(blank)] == pytest.approx(guard.score(blank).table["churn_probability"])
    with pytest.raises(InvalidProfile, match="TotalCharges"):
        guard.predict({**customers.iloc[0].to_dict(), "TotalCharges": "twenty"})
    assert prediction.contributions is not None
    assert {c.feature for c in prediction.contributions} >= {"Contract", "tenure"}
