"""Schema files, and the whole CLI on tables ChurnGuard has never seen: made up by Hypothesis,
IBM's Telco sample, and the original's bundled table read through its schema file."""

from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.yaml_schema import dump_schema, load_schema
from churnguard.domain.customer import ORIGINAL_SCHEMA
from tests.conftest import BUNDLED_DATA, SCHEMAS, TELCO_DATA, examples, require_shared
from tests.integration.conftest import read_json
from tests.schema_strategies import table_for, table_schemas

TELCO_SCHEMA = SCHEMAS / "telco.yaml"


def test_the_bundled_original_schema_file_is_the_domain_default():
    assert load_schema(SCHEMAS / "original.yaml") == ORIGINAL_SCHEMA


@given(table_schemas())
def test_any_schema_reads_back_from_its_yaml_form(schema):
    assert load_schema_text(dump_schema(schema)) == schema


def load_schema_text(text: str):
    from churnguard.adapters.yaml_schema import parse_schema

    return parse_schema(yaml.safe_load(text), "<text>")


def test_schema_check_describes_each_bundled_schema(run_cli):
    for name, fields in (("original", 13), ("telco", 19)):
        result = run_cli("schema", "check", str(SCHEMAS / f"{name}.yaml"))
        assert result.code == 0, result.err
        assert f"schema '{name}'" in result.out
        assert f"{fields} fields" in result.out


BROKEN = """
name: broken
label: {column: Churn, positive: Yes}
fields:
  tenure: {kind: integer, minimum: 10, maximum: 5}
  Partner: {kind: binary, labels: [No, Yes]}
  Plan: {kind: category, labels: [basic], colour: blue}
  Spend: {kind: number, minimum: 0, maximum: 100, missing: {policy: constant}}
features:
  per_month: {op: ratio, inputs: [Spend, months]}
"""


def test_a_broken_schema_exits_2_naming_every_problem_by_its_key_path_and_writes_nothing(run_cli, tmp_path):
    schema = tmp_path / "broken.yaml"
    schema.write_text(BROKEN)
    workdir = tmp_path / "work"
    workdir.mkdir()
    for command in (("schema", "check", str(schema)), ("validate", "--schema", str(schema), "--workdir", str(workdir))):
        result = run_cli(*command)
        assert result.code == 2
        assert "Traceback" not in result.err
        # YAML reads unquoted Yes/No as true/false: pydantic names the shape errors first
        assert "label.positive" in result.err
        assert "fields.Plan.colour: is not a schema key" in result.err
    fixed = BROKEN.replace("positive: Yes", 'positive: "Yes"').replace("[No, Yes]", '["No", "Yes"]')
    schema.write_text(fixed.replace(", colour: blue", ""))
    result = run_cli("schema", "check", str(schema))
    assert result.code == 2
    for expected in (
        "fields.tenure.maximum: must be greater than minimum",
        "fields.Plan.labels: a category needs at least two labels",
        "fields.Spend.missing.value: a constant imputation needs a value",
        "features.per_month.inputs: 'months' is not a field or an earlier feature",
        "features.per_month.floor: must be > 0",
    ):
        assert expected in result.err, result.err
    assert list(workdir.iterdir()) == []


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@given(table_schemas(), st.integers(0, 2**16))
@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_whole_cli_works_on_a_table_it_has_never_seen(run_cli, generated_dir, schema, seed):
    """validate -> train -> evaluate -> promote -> score on a made-up schema and table; then a
    cell that breaks its field's rule exits 2 naming the column and the rule."""
    case = generated_dir / f"case-{seed}-{schema.hash[:8]}"
    case.mkdir(exist_ok=True)
    schema_file = case / "schema.yaml"
    schema_file.write_text(dump_schema(schema))
    table = table_for(schema, 240, seed)
    data = case / "table.csv"
    table.to_csv(data, index=False)
    workdir = case / "work"
    common = ("--schema", str(schema_file), "--workdir", str(workdir))
    result = run_cli("validate", "--data", str(data), *common)
    assert result.code == 0, result.err
    distinct = table.drop_duplicates()
    counts = distinct[schema.label.column].isin(schema.label.positive).value_counts()
    if len(counts) < 2 or counts.min() < 8:  # e.g. one binary field: a handful of distinct rows
        result = run_cli("train", "--data", str(data), "--grid", "fast", *common)
        assert result.code == 2
        assert "training needs at least 8 of each" in result.err
        return
    for command in (
        ("train", "--data", str(data), "--grid", "fast", "--family", "logistic", *common),
        ("evaluate", "--data", str(data), *common),
    ):
        result = run_cli(*command)
        assert result.code == 0, f"{command[0]}: {result.err}"
    result = run_cli("promote", "--data", str(data), *common, env={"MIN_F1": "0"})
    assert result.code == 0, result.err
    out = case / "scored.csv"
    customers = table.drop(columns=[schema.label.column])
    customers.to_csv(case / "customers.csv", index=False)
    result = run_cli("score", "--in", str(case / "customers.csv"), "--out", str(out), "--explain", *common)
    assert result.code == 0, result.err
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == len(table)  # scoring keeps repeated rows: every customer gets a score
    assert scored["churn_probability"].between(0, 1).all()
    assert {f"contribution_{name}" for name in schema.raw_fields} <= set(scored.columns)
    if schema.id_column:
        assert scored[schema.id_column].tolist() == table[schema.id_column].tolist()

    spec = schema.fields[0]
    broken = table.astype({spec.name: object})
    broken.loc[3, spec.name] = "not-a-label" if spec.numeric_labels or not spec.has_labels else 10**9
    if spec.has_labels and not spec.numeric_labels:
        broken.loc[3, spec.name] = "surely-unseen"
    bad = case / "bad.csv"
    broken.to_csv(bad, index=False)
    refuses = not (spec.kind.value == "category" and spec.unseen.value == "other" and not spec.numeric_labels)
    result = run_cli("validate", "--data", str(bad), *common)
    if refuses:
        assert result.code == 2, result.out
        assert spec.name in result.err
        assert spec.rule in result.err
        before = sorted(p.name for p in (workdir / "models" / "versions").iterdir())
        result = run_cli("train", "--data", str(bad), "--grid", "fast", *common)
        assert result.code == 2
        assert sorted(p.name for p in (workdir / "models" / "versions").iterdir()) == before  # nothing written
    else:
        assert result.code == 0, result.err


def test_telco_trains_to_the_quality_bar_and_is_promoted(telco_workdir):
    champion = read_json(telco_workdir / "models" / "champion.json")["fingerprint"]
    metadata = read_json(telco_workdir / "models" / "versions" / champion / "metadata.json")
    assert metadata["metrics"]["roc_auc"] >= 0.845  # plain logistic regression: 0.842 on this split
    assert metadata["metrics"]["f1"] >= 0.6
    assert metadata["schema"]["name"] == "telco"
    assert metadata["schema_hash"] == load_schema(TELCO_SCHEMA).hash
    assert metadata["imputation"] == {"TotalCharges": 0.0}
    assert "customerID" not in metadata["attribution"]
    report = read_json(telco_workdir / "reports" / "eval_report.json")
    assert report["matches_training_metrics"] is True
    assert report["holdout_rows"] == 1409


def test_telco_scoring_carries_the_id_and_writes_labels(run_cli, telco_workdir, tmp_path):
    table = pd.read_csv(require_shared(TELCO_DATA)).head(300).drop(columns=["Churn"])
    table.loc[5, "Contract"] = "Weekly"
    table.loc[6, "PaymentMethod"] = "Crypto"  # unseen: other
    customers = tmp_path / "customers.csv"
    table.to_csv(customers, index=False)
    out = tmp_path / "scored.parquet"
    result = run_cli("score", "--in", str(customers), "--out", str(out), "--workdir", str(telco_workdir))
    assert result.code == 0, result.err
    scored = pd.read_parquet(out)
    assert len(scored) == 299
    assert scored["customerID"].tolist() == table["customerID"].drop(index=5).tolist()
    assert set(scored["Contract"]) <= {"Month-to-month", "One year", "Two year"}
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv")
    assert rejects["row"].tolist() == [6]
    assert "Contract: must be one of {Month-to-month, One year, Two year} (got Weekly)" in rejects["reasons"][0]


def test_telco_predict_explains_in_the_tables_labels(run_cli, telco_workdir, tmp_path):
    customer = pd.read_csv(require_shared(TELCO_DATA)).iloc[0].drop("Churn").to_dict()
    customer["TotalCharges"] = None  # blank: imputed with the fitted 0
    path = tmp_path / "customer.json"
    path.write_text(json.dumps(customer))
    result = run_cli("predict", "--input", str(path), "--workdir", str(telco_workdir))
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["customer_id"] == customer["customerID"]  # echoed under the API's key
    values = {item["feature"]: item["value"] for item in body["feature_contributions"]}
    assert values["Contract"] == "Month-to-month"
    assert values["gender"] == "Female"
    assert values["TotalCharges"] == 0.0
    customer["Contract"] = "Weekly"
    path.write_text(json.dumps(customer))
    result = run_cli("predict", "--input", str(path), "--workdir", str(telco_workdir))
    assert result.code == 2
    assert "customer 0: Contract: must be one of {Month-to-month, One year, Two year}" in result.err


def test_a_table_or_schema_other_than_the_models_is_refused_naming_both_hashes(run_cli, telco_workdir):
    original = load_schema(SCHEMAS / "original.yaml")
    telco = load_schema(TELCO_SCHEMA)
    result = run_cli(
        "evaluate", "--data", str(TELCO_DATA), "--schema", str(SCHEMAS / "original.yaml"),
        "--workdir", str(telco_workdir),
    )  # fmt: skip
    assert result.code == 2
    assert original.short_hash in result.err
    assert telco.short_hash in result.err
    result = run_cli("evaluate", "--data", str(BUNDLED_DATA), "--workdir", str(telco_workdir))
    assert result.code == 2  # another table altogether: said once, with the way out
    assert "holds 1 of the 19 fields of schema 'telco'" in result.err
    assert "--schema FILE" in result.err


def test_schema_init_drafts_a_schema_that_validates_and_trains_on_telco(run_cli, tmp_path):
    data = require_shared(TELCO_DATA)
    draft = tmp_path / "draft.yaml"
    result = run_cli("schema", "init", "--data", str(data), "--label", "Churn", "--out", str(draft))
    assert result.code == 0, result.err
    assert "customerID: id column" in result.err
    assert "TotalCharges" in result.err
    assert "imputed" in result.err
    draft.write_text(draft.read_text() + "# a hand edit\n")
    again = run_cli("schema", "init", "--data", str(data), "--label", "Churn", "--out", str(draft))
    assert again.code == 2
    assert "exists (perhaps edited by hand): refusing to replace it; pass --force" in again.err
    assert draft.read_text().endswith("# a hand edit\n")  # untouched
    forced = run_cli("schema", "init", "--data", str(data), "--label", "Churn", "--out", str(draft), "--force")
    assert forced.code == 0, forced.err
    assert not draft.read_text().endswith("# a hand edit\n")
    schema = load_schema(draft)
    assert schema.id_column == "customerID"
    assert schema.label.positive == ("Yes",)
    assert len(schema.fields) == 19
    result = run_cli(  # no MIN_F1: the draft declares no floor, the table's baselines decide
        "pipeline", "--data", str(data), "--schema", str(draft), "--grid", "fast", "--workdir", str(tmp_path / "w")
    )
    assert result.code == 0, result.err
    assert "no floor declared" in result.out
    metadata = read_json(next((tmp_path / "w" / "models" / "versions").iterdir()) / "metadata.json")
    assert metadata["metrics"]["roc_auc"] > 0.82


def test_a_duplicated_id_is_a_violation_naming_its_rows(run_cli, tmp_path):
    table = pd.read_csv(require_shared(TELCO_DATA)).head(30)
    table.loc[9, "customerID"] = table.loc[2, "customerID"]
    path = tmp_path / "dup.csv"
    table.to_csv(path, index=False)
    result = run_cli("validate", "--data", str(path), "--schema", str(TELCO_SCHEMA))
    assert result.code == 2
    row = next(line for line in result.err.splitlines() if line.startswith("customerID"))
    assert "must be unique" in row
    assert row.rstrip().endswith("3, 10")


def test_rows_repeated_in_every_column_are_reported_and_dropped_before_the_split(run_cli, tmp_path):
    table = pd.read_csv(BUNDLED_DATA)
    doubled = tmp_path / "doubled.csv"
    pd.concat([table, table]).to_csv(doubled, index=False)
    result = run_cli("validate", "--data", str(doubled))
    assert result.code == 0, result.err
    assert "4000 rows" in result.out
    assert "2000 rows repeat an earlier row in every column: dropped before the split" in result.out
    workdir = tmp_path / "w"
    result = run_cli("train", "--data", str(doubled), "--grid", "fast", "--workdir", str(workdir))
    assert result.code == 0, result.err
    assert "(400 rows)" in result.out  # the holdout of 2,000 distinct rows, not of 4,000
    kept = run_cli("train", "--data", str(doubled), "--grid", "fast", "--workdir", str(tmp_path / "k"),
                   env={"KEEP_DUPLICATES": "true"})  # fmt: skip
    assert kept.code == 0, kept.err
    assert "(800 rows)" in kept.out


def test_a_gzipped_table_is_read_as_such_and_other_encodings_are_named(run_cli, tmp_path):
    packed = tmp_path / "churn.csv.gz"
    packed.write_bytes(gzip.compress(BUNDLED_DATA.read_bytes()))
    result = run_cli("validate", "--data", str(packed))
    assert result.code == 0, result.err
    assert "2000 rows" in result.out
    wide = tmp_path / "utf16.csv"
    wide.write_bytes(BUNDLED_DATA.read_text().encode("utf-16"))
    result = run_cli("validate", "--data", str(wide))
    assert result.code == 2
    assert "UTF-16" in result.err
    assert "iconv" in result.err
    latin = tmp_path / "latin.csv"
    latin.write_bytes(BUNDLED_DATA.read_bytes().replace(b"gender", "g\u00e9nder".encode("latin-1"), 1))
    result = run_cli("validate", "--data", str(latin))
    assert result.code == 2
    assert "not UTF-8" in result.err
    assert "WINDOWS-1252" in result.err


def test_a_model_version_stores_its_schema_and_a_version_without_one_reads_as_the_original(
    two_trained_versions, tmp_path
):
    workdir, versions = two_trained_versions
    stored = workdir / "models" / "versions" / versions[0].fingerprint / "metadata.json"
    metadata = read_json(stored)
    assert metadata["schema_hash"] == ORIGINAL_SCHEMA.hash
    assert FilesystemModelStore(workdir / "models").get(versions[0].fingerprint).schema == ORIGINAL_SCHEMA
    # a version written before schemas existed has no "schema" key: it is the original's
    old = tmp_path / "models" / "versions" / versions[0].fingerprint
    old.mkdir(parents=True)
    old_metadata = {k: v for k, v in metadata.items() if k not in ("schema", "schema_hash", "imputation")}
    (old / "metadata.json").write_text(json.dumps(old_metadata))
    version = FilesystemModelStore(tmp_path / "models").get(versions[0].fingerprint)
    assert version.schema == ORIGINAL_SCHEMA
    assert version.imputation == {}


def test_generate_data_draws_any_schemas_customers_with_shifts_named_by_field(run_cli, tmp_path):
    data = require_shared(TELCO_DATA)
    out = tmp_path / "shifted.csv"
    result = run_cli(
        "generate-data", "--schema", str(TELCO_SCHEMA), "--from", str(data), "--rows", "3000", "--seed", "3",
        "--out", str(out), "--drift", "MonthlyCharges*1.2", "--drift", "tenure+6",
        "--drift", "Contract=Month-to-month:0.7",
    )  # fmt: skip
    assert result.code == 0, result.err
    shifted = pd.read_csv(out)
    source = pd.read_csv(data)
    assert len(shifted) == 3000
    assert shifted["customerID"].is_unique
    assert (shifted["Contract"] == "Month-to-month").mean() == pytest.approx(0.7, abs=1 / 3000)
    assert shifted["tenure"].mean() > source["tenure"].mean() + 4  # +6, less what the 120 cap clips
    assert shifted["MonthlyCharges"].mean() > source["MonthlyCharges"].mean() * 1.15
    assert run_cli("validate", "--data", str(out), "--schema", str(TELCO_SCHEMA)).code == 0
    refused = run_cli("generate-data", "--schema", str(TELCO_SCHEMA), "--rows", "5", "--out", str(tmp_path / "x.csv"))
    assert refused.code == 2
    assert "--from" in refused.err
    wrong = run_cli(
        "generate-data", "--schema", str(TELCO_SCHEMA), "--from", str(data), "--out", str(tmp_path / "y.csv"),
        "--drift", "Contract*2",
    )  # fmt: skip
    assert wrong.code == 2
    assert "Contract is a category; shift its labels with Contract=LABEL:SHARE" in wrong.err
    assert not (tmp_path / "y.csv").exists()


def test_the_original_keeps_its_named_drifts_and_takes_field_shifts_too(run_cli, tmp_path):
    out = tmp_path / "o.csv"
    result = run_cli(
        "generate-data", "--rows", "1000", "--seed", "1", "--out", str(out),
        "--drift", "age_shift=10", "--drift", "contract_type=0:0.9",
    )  # fmt: skip
    assert result.code == 0, result.err
    table = pd.read_csv(out)
    assert (table["contract_type"] == 0).mean() == pytest.approx(0.9, abs=1e-3)
    plain = run_cli("generate-data", "--rows", "1000", "--seed", "1", "--out", str(tmp_path / "p.csv"))
    assert plain.code == 0
    assert table["age"].mean() > pd.read_csv(tmp_path / "p.csv")["age"].mean() + 5


def test_drift_compares_a_file_of_any_schemas_customers_with_the_champions_reference(run_cli, telco_workdir, tmp_path):
    """The reference is stored encoded; --current is encoded by the champion's schema the same
    way, and each field gets a test of its kind (categorical for labels, numerical for numbers)."""
    workdir = tmp_path / "workdir"
    shutil.copytree(telco_workdir / "models", workdir / "models")
    unshifted, shifted = tmp_path / "unshifted.csv", tmp_path / "shifted.csv"
    common = (
        "generate-data",
        "--schema",
        str(TELCO_SCHEMA),
        "--from",
        str(TELCO_DATA),
        "--rows",
        "2000",
        "--seed",
        "5",
    )
    assert run_cli(*common, "--out", str(unshifted)).code == 0
    result = run_cli(
        *common, "--out", str(shifted), "--drift", "MonthlyCharges*1.3", "--drift", "tenure+12",
        "--drift", "Contract=Month-to-month:0.9",
    )  # fmt: skip
    assert result.code == 0, result.err
    control = run_cli("drift", "--current", str(unshifted), "--workdir", str(workdir))
    assert control.code == 0, control.out + control.err
    assert read_json(workdir / "reports" / "drift_report.json")["drifted_features"] == []
    result = run_cli("drift", "--current", str(shifted), "--workdir", str(workdir))
    assert result.code == 1, result.out + result.err
    report = read_json(workdir / "reports" / "drift_report.json")
    assert sorted(report["drifted_features"]) == ["Contract", "MonthlyCharges", "tenure"]
    tests = {f["feature"]: f["test"] for f in report["features"]}
    assert "Wasserstein" in tests["MonthlyCharges"]
    assert "Wasserstein" not in tests["Contract"]
    log = run_cli("drift", "--workdir", str(workdir))  # the log has no Telco predictions yet
    assert log.code == 2
    assert "0 current rows; drift needs at least 100 (current data: prediction log" in log.err


def test_the_label_can_be_written_as_column_and_positive_value():
    from churnguard.adapters.yaml_schema import parse_schema

    short = parse_schema(
        {"name": "bank", "label": {"Exited": 1}, "fields": {"Balance": {"kind": "number", "minimum": 0}}}, "<short>"
    )
    assert short.label.column == "Exited"
    assert short.label.positive == (1,)
    assert short.label.negative == ()


def test_another_table_read_by_the_default_schema_says_so_once_and_what_to_do(run_cli):
    """Telco without --schema: one violation that names the schema and the way out, not 34."""
    result = run_cli("validate", "--data", str(require_shared(TELCO_DATA)))
    assert result.code == 2
    assert "failed validation with 1 violation" in result.err
    assert "holds 1 of the 13 fields of schema 'original'" in result.err
    assert "--schema FILE" in result.err
    assert "churnguard schema init" in result.err
