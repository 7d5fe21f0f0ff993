"""MLflow tracking, registry and tracing, against a real `mlflow server` and the embedded sqlite store."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.mlflow_inference_tracer import MlflowInferenceTracer
from churnguard.application.champion import ChampionCache
from churnguard.application.predict_churn import PredictChurn
from churnguard.domain.customer import RAW_FIELDS, CustomerProfile
from tests.conftest import BUNDLED_DATA
from tests.integration.conftest import cli_output, read_json
from tests.integration.mlflow_server import MlflowServer
from tests.integration.ports import free_port

CUSTOMER = {
    "gender": 0, "age": 47, "partner": 0, "dependents": 0, "tenure_months": 2, "monthly_charges": 98.5,
    "contract_type": 0, "payment_method": 2, "paperless_billing": 1, "internet_service": 2,
    "online_security": 0, "tech_support": 0, "num_tickets": 4,
}  # fmt: skip


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["server", "embedded"])
def tracked(request, tmp_path_factory):
    """The fast pipeline run against a tracking store, then one traced prediction: once per
    store for this module's read-only tests."""
    workdir = tmp_path_factory.mktemp(f"tracked-{request.param}")
    if request.param == "server":
        uri = request.getfixturevalue("mlflow_server").uri
    else:
        uri = f"sqlite:///{workdir / 'mlflow.db'}"
    model_name, trace_experiment = "churn-model", "churn-inference"
    env = {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_MODEL_NAME": model_name,
        "MLFLOW_TRACE_EXPERIMENT_NAME": trace_experiment,
        "ENABLE_MLFLOW_TRACING": "true",
        "ENABLE_MLFLOW_TRACKING": "true",
    }
    code, _ = cli_output("pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(workdir), env=env)
    assert code == 0
    customer = workdir / "customer.json"
    customer.write_text(json.dumps(CUSTOMER))
    code, printed = cli_output("predict", "--input", str(customer), "--workdir", str(workdir), env=env)
    assert code == 0
    return {
        "uri": uri,
        "workdir": workdir,
        "model_name": model_name,
        "trace_experiment": trace_experiment,
        "prediction": json.loads(printed),
    }


def test_a_training_run_is_fully_tracked(tracked):
    client = MlflowClient(tracked["uri"])
    workdir = tracked["workdir"]
    champion = read_json(workdir / "models" / "champion.json")["fingerprint"]
    metadata = read_json(workdir / "models" / "versions" / champion / "metadata.json")
    run = client.get_run(metadata["run_id"])
    metrics = run.data.metrics
    assert len(metrics) >= 30, sorted(metrics)
    for name in ("f1", "accuracy", "precision", "recall", "roc_auc", "balanced_accuracy", "average_precision",
                 "train_f1", "train_roc_auc", "eval_f1"):  # fmt: skip
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["f1"] == pytest.approx(metadata["metrics"]["f1"])
    assert metrics["eval_f1"] == pytest.approx(metadata["metrics"]["f1"])
    assert metrics["gap_f1"] == pytest.approx(metrics["train_f1"] - metrics["f1"])
    assert 0.0 < metrics["brier"] < 0.25
    params = run.data.params
    assert params["fingerprint"] == champion
    assert params["data_hash"] == metadata["data_hash"]
    assert params["feature_count"] == "16"
    assert params["dataset_rows"] == "2000"
    assert float(params["threshold"]) == pytest.approx(metadata["threshold"])
    assert "search.logistic.C" in params
    assert run.data.tags["sklearn_version"]
    assert run.data.tags["python_version"]

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "training")}
    pngs = {p for p in artifacts if p.endswith(".png")}
    assert len(artifacts) >= 10, artifacts
    for expected in ("confusion_matrix", "roc_curve", "precision_recall", "calibration_curve", "feature_importances",
                     "learning_curve", "shap_summary_bar", "shap_summary_beeswarm", "probability_histogram",
                     "correlation_matrix"):  # fmt: skip
        assert f"training/{expected}.png" in pngs
    for expected in ("feature_importances.csv", "feature_statistics.csv", "cv_results.csv", "family_comparison.csv"):
        assert f"training/{expected}" in artifacts
    local = Path(client.download_artifacts(run.info.run_id, "training/roc_curve.png", str(workdir)))
    assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert run.inputs is not None
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "churn-training"
    assert inputs[0].tags[0].value == "training"


def test_the_promoted_model_is_the_registrys_champion_and_scores_like_our_adapter(tracked):
    client = MlflowClient(tracked["uri"])
    name = tracked["model_name"]
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.tags["gate.decision"] == "promote"
    assert "floor" in champion.tags["gate.reasons"]
    fingerprint = read_json(tracked["workdir"] / "models" / "champion.json")["fingerprint"]
    assert champion.tags["fingerprint"] == fingerprint

    mlflow.set_tracking_uri(tracked["uri"])
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    frame = pd.read_csv(BUNDLED_DATA)[list(RAW_FIELDS)].head(200)
    theirs = np.asarray(pyfunc.predict(frame), dtype=float)
    store = FilesystemModelStore(tracked["workdir"] / "models")
    from churnguard.adapters.sklearn_evaluation import features_and_target

    features, _ = features_and_target(pd.read_csv(BUNDLED_DATA).head(200))
    ours = store.load(fingerprint).predict_proba(features)[:, 1]
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12)
    assert tracked["prediction"]["churn_probability"] == pytest.approx(
        float(pyfunc.predict(pd.DataFrame([CUSTOMER]))[0]), abs=1e-6
    )


def test_a_prediction_leaves_a_trace_with_the_three_spans(tracked):
    client = MlflowClient(tracked["uri"])
    experiment = client.get_experiment_by_name(tracked["trace_experiment"])
    assert experiment is not None
    traces = client.search_traces(locations=[experiment.experiment_id])
    assert len(traces) == 1
    spans = {span.name: span for span in traces[0].data.spans}
    assert set(spans) == {"churn-prediction", "feature-engineering", "model-inference", "explainability"}
    root = spans["churn-prediction"]
    assert root.inputs["customers"][0]["age"] == CUSTOMER["age"]
    assert root.outputs["probabilities"][0] == pytest.approx(tracked["prediction"]["churn_probability"], abs=1e-6)
    for child in ("feature-engineering", "model-inference", "explainability"):
        assert spans[child].parent_id == root.span_id
        assert root.start_time_ns <= spans[child].start_time_ns <= spans[child].end_time_ns <= root.end_time_ns


def test_training_against_a_tracking_server_that_does_not_answer_fails_fast(run_cli, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        "pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path),
        env={"MLFLOW_TRACKING_URI": uri, "ENABLE_MLFLOW_TRACKING": "true"},
    )  # fmt: skip
    assert result.code == 4
    assert f"MLflow tracking server {uri} does not answer" in result.err  # the preflight, not a retry loop
    assert not (tmp_path / "models").exists()


def test_a_prediction_still_answers_when_the_tracking_server_dies(trained_workdir, tmp_path):
    server = MlflowServer(tmp_path / "doomed").start()
    tracer = MlflowInferenceTracer(server.uri, "churn-inference")
    predict = PredictChurn(ChampionCache(FilesystemModelStore(trained_workdir / "models")), tracer)
    customer = CustomerProfile.from_mapping(CUSTOMER)
    try:
        before = predict([customer]).predictions
        assert tracer.flush(30)
        assert tracer.exported_traces == 1
        assert tracer.dropped_traces == 0
    finally:
        server.stop()
    after = predict([customer]).predictions  # the trace is exported off the caller's thread
    assert after[0].probability == before[0].probability
    assert tracer.flush(30)
    assert tracer.dropped_traces == 1
    assert tracer.exported_traces == 1
    tracer.close()


def test_the_registry_can_be_the_model_store_the_gate_and_serving_read(run_cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "ENABLE_MLFLOW_TRACKING": "true", "MODEL_STORE": "mlflow"}
    first = run_cli("pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path), env=env)
    assert first.code == 0, first.err
    assert not (tmp_path / "models" / "versions").exists()
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias("churn-model", "champion")
    assert str(champion.version) == "1"

    second = run_cli(
        "pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path),
        env={**env, "RANDOM_STATE": "7"},
    )  # fmt: skip
    assert second.code in (0, 1), second.err
    assert "vs champion F1" in second.out  # the gate read the champion from the registry

    customer = tmp_path / "customer.json"
    customer.write_text(json.dumps(CUSTOMER))
    predicted = run_cli("predict", "--input", str(customer), "--workdir", str(tmp_path), env=env)
    assert predicted.code == 0, predicted.err
    serving = client.get_model_version_by_alias("churn-model", "champion")
    assert json.loads(predicted.out)["model_version"] == serving.tags["fingerprint"]


def test_a_telco_champion_is_tracked_registered_and_scored_by_mlflow_in_its_own_labels(run_cli, tmp_path):
    """Another schema end to end through MLflow: params, the schema artifact, the registry as the
    store, and the pyfunc model scoring raw Telco rows (labels, a blank TotalCharges) exactly as
    `churnguard score` does."""
    import mlflow
    import pandas as pd

    from churnguard.adapters.shap_explainer import ShapExplainer
    from tests.conftest import SCHEMAS, TELCO_DATA, require_shared

    data = require_shared(TELCO_DATA)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "ENABLE_MLFLOW_TRACKING": "true", "MODEL_STORE": "mlflow", "MIN_F1": "0.55"}
    schema = str(SCHEMAS / "telco.yaml")
    result = run_cli(
        "pipeline", "--grid", "fast", "--family", "logistic", "--data", str(data), "--schema", schema,
        "--workdir", str(tmp_path), env=env,
    )  # fmt: skip
    assert result.code == 0, result.err
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias("churn-model", "champion")
    assert champion.run_id is not None
    run = client.get_run(champion.run_id)
    assert run.data.params["schema_name"] == "telco"
    assert run.data.params["feature_count"] == "26"
    assert run.data.params["imputation"] == "{'TotalCharges': 0.0}"
    assert "schema/schema.yaml" in [a.path for a in client.list_artifacts(run.info.run_id, "schema")]
    # Telco declares time to churn: its metrics, search and plots are in the run
    assert 0.8 < run.data.metrics["survival_concordance"] < 1.0
    assert run.data.metrics["survival_ibs"] < run.data.metrics["survival_ibs_km"]
    assert run.data.metrics["survival_cv_concordance"] > 0.8
    training = {a.path for a in client.list_artifacts(run.info.run_id, "training")}
    assert {
        "training/survival_curve.png",
        "training/survival_calibration.png",
        "training/survival_calibration.json",
        "training/survival_cv_results.csv",
    } <= training

    rows = pd.read_csv(data, skipinitialspace=True).head(400).drop(columns=["Churn"])
    rows.loc[0, "TotalCharges"] = None
    customers = tmp_path / "customers.csv"
    rows.to_csv(customers, index=False)
    out = tmp_path / "scored.csv"
    scored = run_cli("score", "--in", str(customers), "--out", str(out), "--workdir", str(tmp_path), env=env)
    assert scored.code == 0, scored.err
    ours = pd.read_csv(out)
    pyfunc = mlflow.pyfunc.load_model("models:/churn-model@champion")
    theirs = pyfunc.predict(rows.drop(columns=["customerID"]))
    # Telco's schema declares time to churn: the pyfunc model answers the columns score writes
    forecasts = ["churn_within_1", "churn_within_3", "churn_within_6", "churn_within_12"]
    assert list(theirs.columns) == ["churn_probability", *forecasts, "expected_remaining", "revenue_at_risk"]
    for column in theirs.columns:
        assert abs(theirs[column].to_numpy() - ours[column].to_numpy()).max() < 1e-12, column
    assert (theirs["revenue_at_risk"] >= 0).all()
    assert (theirs["revenue_at_risk"] > 0).mean() > 0.9

    from churnguard.adapters.mlflow_model_store import MlflowModelStore

    store = MlflowModelStore(uri, "churn-model", tmp_path / "models" / ".lock")
    version = store.champion()
    assert version is not None
    assert version.schema.name == "telco"
    model = store.load(version.fingerprint)
    from churnguard.domain.schema import Imputation

    raw = version.schema.check({name: rows[name].to_numpy() for name in version.schema.raw_fields}).raw[:3]
    matrix = version.schema.model_matrix(Imputation(version.imputation).apply(version.schema, raw))
    (explanation, *_) = ShapExplainer().explain(model, matrix)
    assert {"month_to_month_log_tenure", "TotalCharges"} <= set(explanation.values)
    assert any(name.startswith("Contract_") for name in explanation.values)  # one-hot, named by the schema
    assert explanation.expected_value + sum(explanation.values.values()) == pytest.approx(
        explanation.log_odds, abs=1e-9
    )

    # what the API shows of the champion comes from the registry as well: diagnostics, presets
    diagnostics = store.diagnostics(version.fingerprint)
    assert diagnostics is not None
    assert diagnostics.roc_auc == pytest.approx(version.metrics["roc_auc"], abs=1e-9)
    assert sum(diagnostics.confusion.values()) == diagnostics.holdout_rows
    from churnguard.application.champion import ChampionCache

    cache = ChampionCache(store)
    profile = cache.profile(cache.reload())
    assert profile is not None
    assert list(profile.presets) == ["highest risk", "lowest risk", "most typical"]
