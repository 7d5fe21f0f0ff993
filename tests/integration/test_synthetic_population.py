import numpy as np
import pandas as pd
import pytest

from churnguard.adapters.csv_dataset_source import CsvDatasetSource
from churnguard.adapters.pandera_dataset_validator import PanderaDatasetValidator
from churnguard.adapters.synthetic_population import Drift, churn_probability, generate_population
from churnguard.domain.customer import ORIGINAL_SCHEMA
from tests.conftest import BUNDLED_DATA


def test_the_bundled_data_is_regenerated_bit_identically(run_cli, tmp_path):
    out = tmp_path / "churn.csv"
    result = run_cli("generate-data", "--rows", "2000", "--seed", "42", "--out", str(out))
    assert result.code == 0, result.err
    assert out.read_bytes() == BUNDLED_DATA.read_bytes()


def test_generated_data_passes_the_schema_and_matches_the_original_facts():
    table = generate_population(50_000, seed=1)
    dataset = PanderaDatasetValidator().validate(CsvDatasetSource().load(str(BUNDLED_DATA)), ORIGINAL_SCHEMA)
    assert dataset.rows == 2000
    assert 0.30 < table["churn"].mean() < 0.40
    assert table["age"].between(18, 80).all()
    assert table["tenure_months"].between(1, 72).all()
    assert table["monthly_charges"].between(18.25, 118.75).all()
    assert table["partner"].mean() == pytest.approx(0.52, abs=0.01)
    shares = table["internet_service"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, [0.22, 0.34, 0.44], atol=0.01)
    no_internet = table["internet_service"] == 0
    assert (table.loc[no_internet, ["online_security", "tech_support"]] == 0).all().all()
    by_contract = table.groupby("contract_type")["churn"].mean()
    assert by_contract[0] > by_contract[1] > by_contract[2]
    long_tenure = table["tenure_months"] > 48
    assert (table.loc[long_tenure, "contract_type"] == 2).mean() > (
        table.loc[~long_tenure, "contract_type"] == 2
    ).mean()


def test_the_oracle_is_the_probability_the_labels_were_drawn_from():
    table = generate_population(200_000, seed=3)
    probability = churn_probability(table)
    assert np.all((probability > 0) & (probability < 1))
    bins = pd.cut(probability, np.linspace(0, 1, 11))
    calibration = pd.DataFrame({"p": probability, "y": table["churn"]}).groupby(bins, observed=True).mean()
    np.testing.assert_allclose(calibration["y"], calibration["p"], atol=0.02)


def test_drift_shifts_only_the_named_distribution():
    base = generate_population(50_000, seed=5)
    older = generate_population(50_000, seed=5, drift=Drift.parse(["age_shift=10"]))
    assert older["age"].mean() - base["age"].mean() == pytest.approx(10, abs=0.6)
    assert older["internet_service"].value_counts(normalize=True)[2] == pytest.approx(0.44, abs=0.01)
    fiber = generate_population(50_000, seed=5, drift=Drift.parse(["fiber_share=0.8"]))
    assert fiber["internet_service"].value_counts(normalize=True)[2] == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize("bad", ["age_shift", "nonsense=1", "age_shift=old", "fiber_share=1.5"])
def test_a_bad_drift_option_exits_2(run_cli, tmp_path, bad):
    result = run_cli("generate-data", "--rows", "10", "--out", str(tmp_path / "x.csv"), "--drift", bad)
    assert result.code == 2
    assert "drift" in result.err
    assert not (tmp_path / "x.csv").exists()
