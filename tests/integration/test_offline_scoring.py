import pandas as pd
import pytest

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.domain.attribution import leave_one_out
from churnguard.domain.customer import RAW_FIELDS, CustomerProfile
from tests.conftest import BUNDLED_DATA


@pytest.fixture
def customers(tmp_path):
    table = pd.read_csv(BUNDLED_DATA).head(300).drop(columns=["churn"]).astype({"age": object})
    table.loc[3, "age"] = "old"
    table.loc[10, "tenure_months"] = 500
    table.loc[20, "contract_type"] = 2.5
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    return path


def test_scoring_a_csv_scores_good_rows_and_rejects_bad_ones_with_reasons(
    run_cli, trained_workdir, customers, tmp_path
):
    out = tmp_path / "scored.csv"
    result = run_cli(
        "score", "--in", str(customers), "--out", str(out), "--workdir", str(trained_workdir), "--chunk-rows", "64"
    )
    assert result.code == 0, result.err
    scored = pd.read_csv(out)
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv")
    assert len(scored) == 297
    assert rejects["row"].tolist() == [4, 11, 21]
    assert "age: must be an integer >= 18 and <= 100 (got old)" in rejects["reasons"][0]
    assert "tenure_months" in rejects["reasons"][1]
    assert "contract_type: must be one of {0, 1, 2} (got 2.5)" in rejects["reasons"][2]
    assert scored["churn_probability"].between(0, 1).all()
    store = FilesystemModelStore(trained_workdir / "models")
    version = store.champion()
    assert version is not None
    assert ((scored["churn_probability"] >= version.threshold) == scored["churn_prediction"].astype(bool)).all()


def test_scoring_to_parquet_with_explanations_matches_the_domain_attribution(
    run_cli, trained_workdir, customers, tmp_path
):
    out = tmp_path / "scored.parquet"
    result = run_cli("score", "--in", str(customers), "--out", str(out), "--explain", "--workdir", str(trained_workdir))
    assert result.code == 0, result.err
    scored = pd.read_parquet(out)
    store = FilesystemModelStore(trained_workdir / "models")
    version = store.champion()
    assert version is not None
    model = store.load(version.fingerprint)
    first = scored.iloc[0]
    profile = CustomerProfile.from_mapping({name: first[name].item() for name in RAW_FIELDS})
    probability, contributions = leave_one_out(
        lambda m: model.predict_proba(m)[:, 1], version.schema, profile.encoded(), version.reference
    )
    assert first["churn_probability"] == pytest.approx(probability, abs=1e-12)
    for contribution in contributions:
        assert first[f"contribution_{contribution.feature}"] == pytest.approx(contribution.contribution, abs=1e-12)


def test_a_file_missing_a_column_exits_2_and_writes_nothing(run_cli, trained_workdir, tmp_path):
    table = pd.read_csv(BUNDLED_DATA).head(10).drop(columns=["age"])
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    result = run_cli("score", "--in", str(path), "--out", str(tmp_path / "out.csv"), "--workdir", str(trained_workdir))
    assert result.code == 2
    assert "age" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv"]


def test_a_true_false_column_is_rejected_as_the_api_and_validate_reject_it(run_cli, trained_workdir, tmp_path):
    table = pd.read_csv(BUNDLED_DATA).head(20).drop(columns=["churn"]).astype({"partner": bool})
    path = tmp_path / "bools.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "scored.csv"
    result = run_cli("score", "--in", str(path), "--out", str(out), "--workdir", str(trained_workdir))
    assert result.code == 2  # a run that scored nobody fails, and says where the rejects are
    assert "every one of the 20 rows was rejected" in result.err
    assert str(tmp_path / "scored.rejects.csv") in result.err
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv")
    assert rejects["row"].tolist() == list(range(1, 21))
    assert {reason.split(" (got")[0] for reason in rejects["reasons"]} == {"partner: must be one of {0, 1}"}
    assert len(pd.read_csv(out)) == 0  # the columns, no rows (it was an empty file)
    assert "churn_probability" in pd.read_csv(out).columns
    parquet = tmp_path / "scored.parquet"
    result = run_cli("score", "--in", str(path), "--out", str(parquet), "--workdir", str(trained_workdir), "--explain")
    assert result.code == 2
    written = pd.read_parquet(parquet)
    assert len(written) == 0
    assert {"churn_probability", "contribution_partner", "model_version"} <= set(written.columns)
