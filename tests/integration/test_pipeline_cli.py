import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.sklearn_evaluation import features_and_target
from churnguard.application.champion import probability_of
from tests.conftest import BUNDLED_DATA, SHARED_DATA, require_shared
from tests.integration.conftest import read_json, run_cli_process


def test_pipeline_leaves_a_champion_whose_evaluation_matches_training_exactly(trained_workdir):
    champion = read_json(trained_workdir / "models" / "champion.json")["fingerprint"]
    metadata = read_json(trained_workdir / "models" / "versions" / champion / "metadata.json")
    report = read_json(trained_workdir / "reports" / "eval_report.json")
    assert report["model_fingerprint"] == champion
    assert report["metrics"] == metadata["metrics"]
    assert report["matches_training_metrics"] is True
    assert report["holdout_rows"] == 400
    assert set(report["classification_report"]) >= {"stays", "churns", "accuracy"}
    assert metadata["metrics"]["f1"] >= 0.72
    assert 0.1 < metadata["threshold"] < 0.9
    assert report["threshold"] == metadata["threshold"]
    assert metadata["params"]["family"] in ("logistic", "hgb")
    assert metadata["params"]["calibration"] in ("none", "sigmoid", "isotonic")
    for name in ("f1", "roc_auc", "brier"):
        interval = report["intervals"][name]
        assert interval["low"] <= interval["high"]
        assert interval["estimate"] == pytest.approx(metadata["metrics"][name], rel=1e-12)
    assert metadata["libraries"]["scikit-learn"]
    assert set(metadata["attribution"]) == {
        "gender", "age", "partner", "dependents", "tenure_months", "monthly_charges", "contract_type",
        "payment_method", "paperless_billing", "internet_service", "online_security", "tech_support", "num_tickets",
    }  # fmt: skip
    assert 0.25 < metadata["churn_rate"] < 0.45
    contract = metadata["attribution"]["contract_type"]
    assert contract["values"] == [0.0, 1.0, 2.0]  # every label, by its training share
    assert sum(contract["weights"]) == pytest.approx(1.0)
    assert 0.0 < metadata["baselines"]["no_skill_f1"] < metadata["baselines"]["plain_f1"] < 1.0


def test_the_stored_champion_loads_and_scores_the_data(trained_workdir):
    store = FilesystemModelStore(trained_workdir / "models")
    champion = store.champion()
    assert champion is not None
    model = store.load(champion.fingerprint)
    features, target = features_and_target(pd.read_csv(BUNDLED_DATA))
    probability = probability_of(model, features)
    assert probability.shape == (2000,)
    assert np.all((probability > 0) & (probability < 1))
    # it ranks and it is calibrated: a constant or shuffled model fails both
    assert roc_auc_score(target, probability) > 0.85
    assert probability.mean() == pytest.approx(target.mean(), abs=0.03)
    predicted = probability >= champion.threshold
    assert f1_score(target, predicted) >= 0.72


def test_evaluate_from_a_separate_process_reproduces_the_training_metrics(trained_workdir, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(trained_workdir, workdir)
    (workdir / "reports" / "eval_report.json").unlink()
    result = run_cli_process("evaluate", "--data", str(BUNDLED_DATA), "--workdir", str(workdir))
    assert result.returncode == 0, result.stderr
    assert "matches the training run's holdout metrics exactly" in result.stdout
    champion = read_json(workdir / "models" / "champion.json")["fingerprint"]
    metadata = read_json(workdir / "models" / "versions" / champion / "metadata.json")
    assert read_json(workdir / "reports" / "eval_report.json")["metrics"] == metadata["metrics"]


def test_training_twice_gives_the_same_fingerprint_and_identical_probabilities(run_cli, tmp_path):
    fingerprints, probabilities = [], []
    for name in ("first", "second"):
        workdir = tmp_path / name
        result = run_cli("train", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(workdir))
        assert result.code == 0, result.err
        store = FilesystemModelStore(workdir / "models")
        version = store.latest()
        assert version is not None
        fingerprints.append(version.fingerprint)
        features, _ = features_and_target(pd.read_csv(BUNDLED_DATA))
        probabilities.append(probability_of(store.load(version.fingerprint), features))
    assert fingerprints[0] == fingerprints[1]
    np.testing.assert_array_equal(probabilities[0], probabilities[1])


def test_a_refused_model_exits_1_and_leaves_no_champion(run_cli, tmp_path):
    result = run_cli(
        "pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path), env={"MIN_F1": "0.99"}
    )
    assert result.code == 1
    assert "REFUSE: candidate F1" in result.out
    assert "< floor 0.9900" in result.out
    assert not (tmp_path / "models" / "champion.json").exists()
    assert len(list((tmp_path / "models" / "versions").iterdir())) == 1


def test_promote_without_any_model_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("promote", "--workdir", str(tmp_path))
    assert result.code == 2
    assert "no trained model" in result.err
    assert not (tmp_path / "models").exists()


def test_invalid_settings_are_named_and_exit_2(run_cli, tmp_path):
    result = run_cli("validate", "--data", str(BUNDLED_DATA), env={"TEST_SIZE": "1.5"})
    assert result.code == 2
    assert "test_size" in result.err


def test_settings_prints_the_effective_values(run_cli, tmp_path):
    result = run_cli("settings", "--workdir", str(tmp_path), env={"MIN_F1": "0.8"})
    assert result.code == 0
    values = json.loads(result.out)
    assert values["gate"]["min_f1"] == "0.8"
    assert values["paths"]["workdir"] == str(tmp_path)
    assert values["mlflow"]["mlflow_tracking_uri"] == "sqlite:///mlflow.db"


def test_the_pipeline_runs_on_the_original_dataset(run_cli, tmp_path):
    require_shared(SHARED_DATA)
    result = run_cli("pipeline", "--grid", "fast", "--data", str(SHARED_DATA), "--workdir", str(tmp_path))
    assert result.code == 0, result.err
    report = read_json(tmp_path / "reports" / "eval_report.json")
    assert report["metrics"]["roc_auc"] > 0.88


def test_the_expected_value_strategy_sets_a_campaign_threshold(run_cli, tmp_path):
    env = {"THRESHOLD_STRATEGY": "expected_value", "CONTACT_COST": "50", "RETAINED_VALUE": "200"}
    result = run_cli("train", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path), env=env)
    assert result.code == 0, result.err
    version = FilesystemModelStore(tmp_path / "models").latest()
    assert version is not None
    assert version.settings["threshold_strategy"] == "expected_value"
    assert version.settings["campaign"] == {"contact_cost": 50.0, "retained_value": 200.0, "success_rate": 0.3}
    # contacting pays only when P(churn) * 0.3 * 200 > 50, so the threshold sits near 0.83
    assert 0.6 < version.threshold < 0.95
    assert "(expected_value, chosen on out-of-fold predictions)" in result.out
