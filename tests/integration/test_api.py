"""The inference API over real HTTP: uvicorn on a free loopback port, httpx as the client."""

import json
import shutil
import threading
import time

import httpx
import pytest

from churnguard.adapters.churn_model import logit
from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.domain.attribution import leave_one_out
from churnguard.domain.customer import ORIGINAL_SCHEMA, CustomerProfile
from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER
from tests.integration.api_server import ApiServer, predict_until_every_worker_answers
from tests.original_features import profiles_matrix

KEY = "test-admin-key"


@pytest.fixture(scope="module")
def two_versions(two_trained_versions):
    """The shared two-version workdir and its fingerprints, oldest first (copy models/ to use it)."""
    workdir, versions = two_trained_versions
    return workdir, [version.fingerprint for version in versions]


def _serve_first_version(two_versions, workdir):
    source, fingerprints = two_versions
    shutil.copytree(source / "models", workdir / "models")
    FilesystemModelStore(workdir / "models").set_champion(fingerprints[0])
    return ApiServer(workdir, env={"ADMIN_API_KEY": KEY, "MODEL_POLL_SECONDS": "0", "BATCH_LIMIT": "50"}).start()


@pytest.fixture(scope="module")
def shared_api(two_versions, tmp_path_factory):
    """One server for the tests that change nothing it serves (counters are read as deltas)."""
    server = _serve_first_version(two_versions, tmp_path_factory.mktemp("api"))
    yield server, two_versions[1]
    server.stop()


@pytest.fixture
def api(two_versions, tmp_path):
    """A server of the test's own, for a test that switches its champion."""
    server = _serve_first_version(two_versions, tmp_path)
    yield server, two_versions[1]
    server.stop()


def _sample(text: str, series: str) -> float:
    """A sample's value in a Prometheus text exposition (0 when the series is absent)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_predict_answers_with_decision_explanation_and_version(shared_api):
    server, fingerprints = shared_api
    response = httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == fingerprints[0]
    assert 0 < body["churn_probability"] < 1
    assert body["churn_prediction"] == int(body["churn_probability"] >= body["threshold"])
    assert body["risk_band"] in ("low", "medium", "high")
    assert len(body["feature_contributions"]) == 13
    sizes = [abs(c["contribution"]) for c in body["feature_contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    assert 0 < body["churn_rate_baseline"] < 1
    assert response.headers["x-request-id"]
    assert (
        httpx.post(server.url + "/predict?explain=none", json=EXAMPLE_CUSTOMER).json()["feature_contributions"] is None
    )


def test_the_returned_attribution_is_the_domain_functions(shared_api):
    server, fingerprints = shared_api
    store = FilesystemModelStore(server.workdir / "models")
    version, model = store.get(fingerprints[0]), store.load(fingerprints[0])
    profile = CustomerProfile.from_mapping(EXAMPLE_CUSTOMER)
    probability, contributions = leave_one_out(
        lambda matrix: model.predict_proba(matrix)[:, 1], version.schema, profile.encoded(), version.reference
    )
    body = httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER).json()
    assert body["churn_probability"] == pytest.approx(probability, abs=1e-12)
    assert [c["feature"] for c in body["feature_contributions"]] == [c.feature for c in contributions]
    assert [c["contribution"] for c in body["feature_contributions"]] == pytest.approx(
        [c.contribution for c in contributions], abs=1e-12
    )


def test_shap_values_add_up_to_the_raw_log_odds(shared_api):
    server, fingerprints = shared_api
    body = httpx.post(server.url + "/predict?explain=shap", json=EXAMPLE_CUSTOMER).json()
    shap = body["shap"]
    assert shap["output"] == "log_odds_uncalibrated"
    assert shap["expected_value"] + sum(shap["values"].values()) == pytest.approx(shap["log_odds"], abs=1e-6)
    model = FilesystemModelStore(server.workdir / "models").load(fingerprints[0])
    matrix = profiles_matrix([CustomerProfile.from_mapping(EXAMPLE_CUSTOMER)])
    raw = model.uncalibrated_probability(matrix)  # type: ignore[attr-defined]
    assert shap["log_odds"] == pytest.approx(float(logit(raw)[0]), abs=1e-6)


def test_shap_on_an_hgb_champion_is_a_422_that_says_why(hgb_workdir, tmp_path):
    shutil.copytree(hgb_workdir / "models", tmp_path / "models")
    server = ApiServer(tmp_path).start()
    try:
        assert httpx.get(server.url + "/model-info").json()["family"] == "hgb"
        refused = httpx.post(server.url + "/predict?explain=shap", json=EXAMPLE_CUSTOMER)
        explained = httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER)
    finally:
        server.stop()
    assert refused.status_code == 422, refused.text
    assert "not available for this hgb model" in refused.json()["detail"], refused.text
    assert explained.status_code == 200  # leave-one-out explains any family
    assert len(explained.json()["feature_contributions"]) == 13


def test_serving_and_the_training_report_read_one_shap_choice(hgb_workdir, trained_workdir, tmp_path):
    """A family serving refuses SHAP for gets no SHAP plots in its training report; one that
    serving explains gets them, from the same explainer."""
    from churnguard.adapters.shap_explainer import ShapExplainer
    from churnguard.adapters.training_report import _shap_plots
    from churnguard.application.errors import ExplanationUnavailable

    for workdir, explained in ((hgb_workdir, False), (trained_workdir, True)):
        store = FilesystemModelStore(workdir / "models")
        version = store.champion()
        assert version is not None
        model = store.load(version.fingerprint)
        features = list(version.schema.model_features)
        background = model.background  # type: ignore[attr-defined]
        (tmp_path / version.short_id).mkdir()
        plots = _shap_plots(tmp_path / version.short_id, model, background, 0, features)  # type: ignore[arg-type]
        if explained:
            (explanation,) = ShapExplainer().explain(model, background[:1])
            assert [path.name for path in plots] == ["shap_summary_bar.png", "shap_summary_beeswarm.png"]
            assert explanation.explainer == "LinearExplainer"  # the champion here is a logistic model
        else:
            with pytest.raises(ExplanationUnavailable, match="not available for this hgb model"):
                ShapExplainer().explain(model, background[:1])
            assert plots == []


def test_health_ready_model_info_and_metrics(shared_api):
    server, fingerprints = shared_api
    health = httpx.get(server.url + "/health").json()
    assert health == {"status": "ok", "model_loaded": True, "model_version": fingerprints[0]}
    assert httpx.get(server.url + "/ready").json() == {"status": "ready", "model_version": fingerprints[0]}
    info = httpx.get(server.url + "/model-info").json()
    assert info["model_version"] == fingerprints[0]
    assert info["family"] == "logistic"
    assert 0 < info["metrics"]["f1"] <= 1
    assert len(info["features"]) == 16
    assert info["schema"] == {
        "name": "original",
        "hash": ORIGINAL_SCHEMA.hash,
        "fields": list(ORIGINAL_SCHEMA.raw_fields),
    }
    counted = (
        'churnguard_http_requests_total{method="POST",route="/predict",status="200"}',
        'churnguard_input_contract_type_total{contract_type="month_to_month"}',
        'churnguard_input_age_years_bucket{le="+Inf"}',
        # the original ChurnGuard's names, derived from ours at scrape time
        "predict_total",
        'http_requests_total{endpoint="/predict",method="POST",status="200"}',
        'feature_contract_type_total{contract_type="month_to_month"}',
    )
    before = httpx.get(server.url + "/metrics").text
    for _ in range(3):
        assert httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER).status_code == 200
    text = httpx.get(server.url + "/metrics").text
    series = {line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE churnguard_")}
    assert len(series) >= 15, series
    assert {name: _sample(text, name) - _sample(before, name) for name in counted} == dict.fromkeys(counted, 3.0)
    assert "churnguard_model_loaded 1.0" in text
    index = httpx.get(server.url + "/")
    assert index.status_code == 200
    assert '<a href="/docs">' in index.text
    openapi = httpx.get(server.url + "/openapi.json").json()
    assert {"/predict", "/predict/batch", "/health", "/ready", "/model-info", "/metrics", "/admin/reload"} <= set(
        openapi["paths"]
    )
    # /predict reads its query itself (hot path); the documented parameter must match what it accepts
    (explain,) = openapi["paths"]["/predict"]["post"]["parameters"]
    assert (explain["name"], explain["in"], explain["schema"]["enum"]) == ("explain", "query", ["loo", "shap", "none"])
    bogus = httpx.post(server.url + "/predict?explain=everything", json=EXAMPLE_CUSTOMER)
    assert bogus.status_code == 422
    assert bogus.json()["errors"][0]["field"] == "query.explain"


def test_a_batch_is_scored_with_per_row_errors(shared_api):
    server, _ = shared_api
    customers = [EXAMPLE_CUSTOMER, {**EXAMPLE_CUSTOMER, "age": 5}, {**EXAMPLE_CUSTOMER, "tenure_months": 40}]
    response = httpx.post(server.url + "/predict/batch", json={"customers": customers})
    assert response.status_code == 200
    body = response.json()
    assert body["scored"] == 2
    assert body["rejected"] == 1
    assert body["predictions"][1] is None
    assert body["errors"][0]["index"] == 1
    assert body["errors"][0]["errors"][0]["field"] == "age"
    single = httpx.post(server.url + "/predict?explain=none", json=customers[2]).json()
    assert body["predictions"][2]["churn_probability"] == pytest.approx(single["churn_probability"], abs=1e-12)
    over = httpx.post(server.url + "/predict/batch", json={"customers": [EXAMPLE_CUSTOMER] * 51})
    assert over.status_code == 413
    assert "limit of 50" in over.json()["detail"]


MALFORMED = [
    ("missing field", {k: v for k, v in EXAMPLE_CUSTOMER.items() if k != "age"}, 422, "age"),
    ("wrong type", {**EXAMPLE_CUSTOMER, "age": "old"}, 422, "age"),
    ("2.7 children", {**EXAMPLE_CUSTOMER, "dependents": 2.7}, 422, "dependents"),
    ("out of range", {**EXAMPLE_CUSTOMER, "tenure_months": 500}, 422, "tenure_months"),
    ("unknown category", {**EXAMPLE_CUSTOMER, "contract_type": 7}, 422, "contract_type"),
    ("boolean for a code", {**EXAMPLE_CUSTOMER, "gender": True}, 422, "gender"),
    ("extra field", {**EXAMPLE_CUSTOMER, "shoe_size": 44}, 422, "shoe_size"),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_json_bodies_are_4xx_naming_the_field(shared_api, case, body, status, field):
    server, _ = shared_api
    response = httpx.post(server.url + "/predict", json=body)
    assert response.status_code == status, case
    assert field in response.json()["detail"]
    assert httpx.get(server.url + "/health").status_code == 200


@pytest.mark.parametrize(
    ("case", "raw", "status", "fragment"),
    [
        ("NaN", json.dumps(EXAMPLE_CUSTOMER).replace("98.53", "NaN"), 422, "monthly_charges"),
        ("Infinity", json.dumps(EXAMPLE_CUSTOMER).replace("98.53", "Infinity"), 422, "monthly_charges"),
        ("empty body", "", 422, "body"),
        ("not JSON", "{this is not json", 422, "JSON"),
        ("5 MiB body", "[" + "1," * (5 << 19) + "1]", 413, "limit"),
    ],
)
def test_raw_bodies_that_are_not_a_customer_are_4xx(shared_api, case, raw, status, fragment):
    server, _ = shared_api
    response = httpx.post(server.url + "/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status, (case, response.text)
    assert fragment.lower() in response.text.lower()
    assert httpx.get(server.url + "/health").status_code == 200


def test_admin_reload_needs_the_key(shared_api):
    server, _ = shared_api
    assert httpx.post(server.url + "/admin/reload").status_code == 401
    assert httpx.post(server.url + "/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    ok = httpx.post(server.url + "/admin/reload", headers={"X-API-Key": KEY})
    assert ok.status_code == 200
    assert ok.json()["reloaded"] is False


def test_hot_reload_under_load_fails_no_request_and_mixes_no_versions(api):
    server, fingerprints = api
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                response = client.post("/predict", json=EXAMPLE_CUSTOMER)
                seen.append((response.status_code, response.json().get("model_version")))

    def answered(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(seen) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    answered(50)  # the old champion is serving under load
    FilesystemModelStore(server.workdir / "models").set_champion(fingerprints[1])
    reloaded = httpx.post(server.url + "/admin/reload", headers={"X-API-Key": KEY}, timeout=30).json()
    answered(len(seen) + 50)  # and the new one after the reload
    stop.set()
    for thread in threads:
        thread.join()
    assert reloaded == {"reloaded": True, "model_version": fingerprints[1]}
    assert len(seen) >= 100
    assert {status for status, _ in seen} == {200}
    versions = [version for _, version in seen]
    assert set(versions) == set(fingerprints)
    switch = versions.index(fingerprints[1])
    assert fingerprints[0] not in versions[switch + 8 :]  # in-flight requests may finish on the old model


def test_without_a_champion_predict_is_503_until_one_is_promoted(two_versions, tmp_path):
    source, fingerprints = two_versions
    server = ApiServer(tmp_path, env={"MODEL_POLL_SECONDS": "0.3"}).start()
    try:
        assert httpx.get(server.url + "/health").json()["model_loaded"] is False
        ready = httpx.get(server.url + "/ready")
        assert ready.status_code == 503
        what_to_do = f"no model yet: run `churnguard pipeline --workdir {tmp_path.resolve()}`"
        assert what_to_do in ready.json()["detail"]
        assert what_to_do in httpx.get(server.url + "/model-info").json()["detail"]
        log = (tmp_path / f"api-{server.port}.log").read_text()
        assert log.count(what_to_do) == 1  # said once at start, not at every poll
        response = httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER)
        assert response.status_code == 503
        assert "no verified champion loaded" in response.json()["detail"]
        shutil.copytree(source / "models", tmp_path / "models")
        FilesystemModelStore(tmp_path / "models").set_champion(fingerprints[1])
        deadline = time.monotonic() + 10
        while httpx.get(server.url + "/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(server.url + "/ready").json()["model_version"] == fingerprints[1]
        assert httpx.post(server.url + "/predict", json=EXAMPLE_CUSTOMER).status_code == 200
    finally:
        server.stop()


def test_metrics_are_aggregated_over_several_workers(two_versions, tmp_path):
    source, fingerprints = two_versions
    shutil.copytree(source / "models", tmp_path / "models")
    FilesystemModelStore(tmp_path / "models").set_champion(fingerprints[0])
    server = ApiServer(tmp_path, workers=2).start()
    try:
        sent, pids = predict_until_every_worker_answers(server, EXAMPLE_CUSTOMER, at_least=40)
        text = httpx.get(server.url + "/metrics").text
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("churnguard_predictions_total{")
        )
        assert total == float(sent)
        assert len(pids) == 2, "both workers should have answered"
    finally:
        server.stop()


def test_the_api_and_the_cli_report_the_package_version(shared_api):
    from importlib.metadata import version

    import churnguard
    from tests.integration.conftest import run_cli_process

    server, _ = shared_api
    assert httpx.get(server.url + "/openapi.json").json()["info"]["version"] == churnguard.__version__
    printed = run_cli_process("--version")
    assert printed.returncode == 0
    assert printed.stdout.strip() == f"churnguard {churnguard.__version__}"
    assert version("churnguard") == churnguard.__version__  # the wheel's, from the same attribute
