"""The API serves its champion's schema: a Telco champion gets a Telco request model, metrics
and /schema; the original's own API tests pass unchanged against our app."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import textwrap

import httpx
import pytest

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.yaml_schema import load_schema
from churnguard.domain.customer import ORIGINAL_SCHEMA
from tests.conftest import ROOT, SCHEMAS, TELCO_DATA, require_shared
from tests.integration.api_server import ApiServer

ORIGINAL_CLIENTS = ROOT.parent / "shared" / "original"
KEY = "schema-test-key"


def telco_rows(count: int) -> list[dict[str, object]]:
    """Telco customers as a client sends them: labels as text, numbers as numbers, blanks left out."""
    schema = load_schema(SCHEMAS / "telco.yaml")
    with TELCO_DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    customers = []
    for row in rows:
        customer: dict[str, object] = {"customerID": row["customerID"]}
        for spec in schema.fields:
            value = row[spec.name].strip()
            if not value:
                continue
            if spec.has_labels:
                customer[spec.name] = int(value) if spec.numeric_labels else value
            else:
                customer[spec.name] = float(value) if spec.kind.value == "number" else int(value)
        customers.append(customer)
    return customers


@pytest.fixture(scope="module")
def telco_api(telco_workdir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("telco-api")
    shutil.copytree(telco_workdir / "models", workdir / "models")
    server = ApiServer(workdir, env={"ADMIN_API_KEY": KEY, "MODEL_POLL_SECONDS": "0"}).start()
    yield server
    server.stop()


def test_a_telco_champion_is_served_with_its_own_request_model(telco_api):
    openapi = httpx.get(telco_api.url + "/openapi.json").json()
    request = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    properties = request["properties"]
    schema = load_schema(SCHEMAS / "telco.yaml")
    assert list(properties) == ["customerID", *schema.raw_fields]
    assert properties["Contract"]["enum"] == ["Month-to-month", "One year", "Two year"]
    assert properties["tenure"] == {
        "description": "months as a customer", "maximum": 120, "minimum": 0, "title": "Tenure", "type": "integer",
    }  # fmt: skip
    assert properties["PaymentMethod"]["type"] == "string"  # unseen labels count as "other"
    assert set(request["required"]) == set(schema.raw_fields) - {"TotalCharges"}  # imputed: optional
    # The example /docs shows is the champion's most typical training customer, in the schema's
    # order, under an example id: a customer the model has seen the like of, and it is served.
    (example,) = request["examples"]
    typical = next(
        p["customer"] for p in httpx.get(telco_api.url + "/schema").json()["presets"] if p["name"] == "most typical"
    )
    assert example == {"customerID": "example-customer-1", **typical}
    assert list(example) == ["customerID", *schema.raw_fields]
    assert 0 < example["MonthlyCharges"] <= 120
    assert example["TotalCharges"] < 9000
    answer = httpx.post(telco_api.url + "/predict", json=example)
    assert answer.status_code == 200
    assert answer.json()["customer_id"] == "example-customer-1"


def test_telco_customers_are_scored_with_labels_and_their_id_echoed(telco_api):
    customers = telco_rows(40)
    body = httpx.post(telco_api.url + "/predict", json=customers[0]).json()
    assert body["customer_id"] == customers[0]["customerID"]
    values = {c["feature"]: c["value"] for c in body["feature_contributions"]}
    assert values["Contract"] == customers[0]["Contract"]  # a label, not its code
    assert len(values) == len(load_schema(SCHEMAS / "telco.yaml").fields)
    batch = httpx.post(telco_api.url + "/predict/batch", json={"customers": customers}).json()
    assert batch["scored"] == 40
    assert [p["customer_id"] for p in batch["predictions"]] == [c["customerID"] for c in customers]
    single = httpx.post(telco_api.url + "/predict?explain=none", json=customers[7]).json()
    assert batch["predictions"][7]["churn_probability"] == pytest.approx(single["churn_probability"], abs=1e-12)
    new = {k: v for k, v in customers[0].items() if k != "TotalCharges"}  # blank: imputed as 0
    assert httpx.post(telco_api.url + "/predict", json=new).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Contract": "Three year"}, "Contract"),
        ({"tenure": 121}, "tenure"),
        ({"MonthlyCharges": 0}, "MonthlyCharges"),
        ({"gender": 1}, "gender"),
        ({"age": 40}, "age"),
    ],
)
def test_a_telco_rejection_names_the_field_and_the_rule(telco_api, change, field):
    customer = {**telco_rows(1)[0], **change}
    response = httpx.post(telco_api.url + "/predict", json=customer)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_an_unseen_payment_method_counts_as_other_in_the_input_metrics(telco_api):
    customer = {**telco_rows(1)[0], "PaymentMethod": "Bitcoin"}
    assert httpx.post(telco_api.url + "/predict", json=customer).status_code == 200
    text = httpx.get(telco_api.url + "/metrics").text
    assert 'churnguard_input_payment_method_total{payment_method="other"} 1.0' in text
    assert 'churnguard_input_contract_total{contract="month_to_month"}' in text
    assert "churnguard_input_monthly_charges_bucket" in text
    assert "feature_monthly_charges_bucket" in text  # the original's naming rule, for any schema


def test_schema_and_model_info_describe_the_served_schema_with_presets_from_the_data(telco_api):
    schema = load_schema(SCHEMAS / "telco.yaml")
    served = httpx.get(telco_api.url + "/schema").json()
    assert (served["name"], served["hash"], served["id_column"]) == ("telco", schema.hash, "customerID")
    assert [f["name"] for f in served["fields"]] == list(schema.raw_fields)
    contract = next(f for f in served["fields"] if f["name"] == "Contract")
    assert [label["value"] for label in contract["labels"]] == ["Month-to-month", "One year", "Two year"]
    assert sum(contract["training_shares"].values()) == pytest.approx(1.0)
    presets = {p["name"]: p["customer"] for p in served["presets"]}
    assert list(presets) == ["highest risk", "lowest risk", "most typical"]
    scored = {
        name: httpx.post(telco_api.url + "/predict?explain=none", json=customer).json()["churn_probability"]
        for name, customer in presets.items()
    }
    assert scored["highest risk"] > scored["most typical"] > scored["lowest risk"]
    assert sum(served["training_probability_shares"]) == pytest.approx(1.0)
    info = httpx.get(telco_api.url + "/model-info").json()
    assert info["schema"]["name"] == "telco"
    assert info["schema"]["hash"] == schema.hash


def test_a_champion_of_another_schema_is_not_swapped_in(telco_api, trained_workdir):
    """The original's champion promoted into a Telco API's store: refused, the Telco one serves on."""
    before = httpx.get(telco_api.url + "/ready").json()["model_version"]
    store = FilesystemModelStore(telco_api.workdir / "models")
    original = FilesystemModelStore(trained_workdir / "models").champion()
    assert original is not None
    assert original.schema.hash == ORIGINAL_SCHEMA.hash
    shutil.copytree(
        trained_workdir / "models" / "versions" / original.fingerprint,
        telco_api.workdir / "models" / "versions" / original.fingerprint,
    )
    telco_champion = store.champion()
    store.set_champion(original.fingerprint)
    try:
        reload = httpx.post(telco_api.url + "/admin/reload", headers={"X-API-Key": KEY}).json()
        assert reload == {"reloaded": False, "model_version": before}
        assert httpx.get(telco_api.url + "/ready").json()["model_version"] == before
        text = httpx.get(telco_api.url + "/metrics").text
        assert 'churnguard_model_reloads_total{result="schema_changed"} 1.0' in text
        assert "reads another schema than this API serves" in telco_api.log_path.read_text()
    finally:
        assert telco_champion is not None
        store.set_champion(telco_champion.fingerprint)


def test_the_original_churnguard_api_tests_pass_unchanged_against_our_app(trained_workdir, tmp_path):
    """../shared/original/test_api.py imports `api.main`; a two-line module puts our app there."""
    original_tests = require_shared(ORIGINAL_CLIENTS / "test_api.py")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("")
    (tmp_path / "api" / "main.py").write_text(
        textwrap.dedent(
            """
            from churnguard.entrypoints.http.app import create_app

            app = create_app()
            """
        )
    )
    shutil.copy(original_tests, tmp_path / "test_api.py")
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "test_api.py"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "WORKDIR": str(tmp_path), "HOME": str(tmp_path),
             "ENABLE_MLFLOW_TRACKING": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "8 passed" in result.stdout


def test_make_pipeline_with_a_schema_and_a_table_trains_promotes_and_the_api_serves_it(tmp_path):
    """The README's `make run SCHEMA=... DATA=...`, its pipeline half (GRID=fast), then the API."""
    data = require_shared(TELCO_DATA)
    result = subprocess.run(
        ["make", "--no-print-directory", "ml-pipeline", f"SCHEMA={SCHEMAS / 'telco.yaml'}", f"DATA={data}",
         "MIN_F1=0.6", "GRID=fast", f"WORKDIR={tmp_path}", "ENABLE_MLFLOW_TRACKING=false"],
        cwd=ROOT, capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "champion is now" in result.stdout
    server = ApiServer(tmp_path, env={"MODEL_POLL_SECONDS": "0"}).start()
    try:
        assert httpx.get(server.url + "/schema").json()["name"] == "telco"
        customer = telco_rows(1)[0]
        assert httpx.post(server.url + "/predict", json=customer).json()["customer_id"] == customer["customerID"]
    finally:
        server.stop()
