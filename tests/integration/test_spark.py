"""`churnguard score --engine spark`: the champion's MLflow pyfunc model through
`mlflow.pyfunc.spark_udf` on Spark in local mode (PyPI pyspark, Debian's Java 17), against the
single-process `score` on the same 100,000 rows: the same columns, rows, rejects and reasons,
and probabilities equal to 1e-9, on the original schema, on Telco, and from the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import BUNDLED_DATA, SCHEMAS, TELCO_DATA, require_shared
from tests.integration.conftest import run_cli_process

ROWS = 100_000


pytestmark = pytest.mark.usefixtures("java")


def _score(workdir: Path, source: Path, out: Path, engine: str, env: dict[str, str] | None = None) -> str:
    env = {"SPARK_MASTER": "local[2]", "ENABLE_MLFLOW_TRACKING": "false", **(env or {})}
    result = run_cli_process(
        "score", "--engine", engine, "--in", str(source), "--out", str(out), "--workdir", str(workdir), env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    return result.stdout


def _read(location: Path) -> pd.DataFrame:
    if location.suffix == ".parquet":
        frame = pd.read_parquet(location)
    elif location.is_dir():
        frame = pd.concat([pd.read_csv(part) for part in sorted(location.glob("part-*.csv"))], ignore_index=True)
    else:
        frame = pd.read_csv(location)
    return frame.sort_values("row").reset_index(drop=True)


def _assert_same(local: Path, spark: Path) -> pd.DataFrame:
    expected, got = _read(local), _read(spark)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    assert (got["row"].to_numpy() == expected["row"].to_numpy()).all()
    assert np.abs(got["churn_probability"].to_numpy() - expected["churn_probability"].to_numpy()).max() <= 1e-9
    assert (got["churn_prediction"].to_numpy() == expected["churn_prediction"].to_numpy()).all()
    fields = [c for c in expected.columns if c not in ("churn_probability",)]
    pd.testing.assert_frame_equal(got[fields], expected[fields], check_dtype=False)
    return got


def _assert_same_rejects(local: Path, spark: Path) -> int:
    expected = pd.read_csv(local)
    got = _read(spark)
    pd.testing.assert_frame_equal(got, expected.sort_values("row").reset_index(drop=True), check_dtype=False)
    return len(got)


def test_spark_scores_100000_original_rows_as_the_single_process_score_does(trained_workdir, tmp_path):
    table = pd.read_csv(BUNDLED_DATA).drop(columns=["churn"])
    customers = table.sample(ROWS, replace=True, random_state=3).reset_index(drop=True)
    customers["age"] = customers["age"].astype(object)
    customers.loc[[5, 77_777], "age"] = "forty"  # rejected with reasons, by row number in the file
    customers.loc[9_001, "tenure_months"] = -4
    source = tmp_path / "customers.csv"
    customers.to_csv(source, index=False)

    printed = _score(trained_workdir, source, tmp_path / "local.parquet", "local")
    assert f"scored {ROWS - 3} customers" in printed
    # Spark's own defaults file (SPARK_CONF_DIR), as a cluster would set it: 1 MB splits, so the
    # 3.5 MB of rows land in several partitions and the row numbering must carry across them
    conf = tmp_path / "spark-conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.sql.files.maxPartitionBytes 1m\n")
    printed = _score(trained_workdir, source, tmp_path / "spark.parquet", "spark", {"SPARK_CONF_DIR": str(conf)})
    assert f"scored {ROWS - 3} customers" in printed
    assert "rejected 3 rows" in printed
    assert (tmp_path / "spark.parquet").is_dir()  # a Spark dataset: part files
    # the rows were numbered across partitions (the risky part): each part holds its own run of
    # row numbers, and a reject falls in each of the first two
    parts = [pd.read_parquet(part) for part in sorted((tmp_path / "spark.parquet").glob("part-*.parquet"))]
    parts = [part for part in parts if len(part)]
    assert len(parts) >= 3, f"{len(parts)} partition(s): the rows should be split over 1 MB partitions"
    starts = sorted(int(part["row"].min()) for part in parts)
    assert starts[0] == 1
    assert starts[1] > 9_001
    _assert_same(tmp_path / "local.parquet", tmp_path / "spark.parquet")
    assert _assert_same_rejects(tmp_path / "local.rejects.csv", tmp_path / "spark.rejects.csv") == 3
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left beside the output


def test_spark_scores_100000_telco_rows_with_labels_and_blanks_as_the_single_process_score_does(
    telco_workdir, tmp_path
):
    table = pd.read_csv(require_shared(TELCO_DATA)).drop(columns=["Churn"])
    customers = table.sample(ROWS, replace=True, random_state=4).reset_index(drop=True)
    customers.loc[10, "Contract"] = "Decade"  # not a label: rejected
    customers.loc[20, "TotalCharges"] = " "  # blank: imputed, scored
    customers.loc[30, "tenure"] = 1000  # out of range
    source = tmp_path / "telco.parquet"
    customers.to_parquet(source, index=False)
    env = {"SCHEMA_PATH": str(SCHEMAS / "telco.yaml")}

    _score(telco_workdir, source, tmp_path / "local.csv", "local", env)
    printed = _score(telco_workdir, source, tmp_path / "spark.csv", "spark", env)
    assert f"scored {ROWS - 2} customers" in printed
    got = _assert_same(tmp_path / "local.csv", tmp_path / "spark.csv")
    assert got["customerID"].notna().all()
    assert _assert_same_rejects(tmp_path / "local.rejects.csv", tmp_path / "spark.rejects.csv") == 2


def test_spark_scores_with_the_registry_champion(run_cli, tmp_path):
    """MODEL_STORE=mlflow: the udf loads models:/churn-model@champion from the registry."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "ENABLE_MLFLOW_TRACKING": "true", "MODEL_STORE": "mlflow"}
    trained = run_cli("pipeline", "--grid", "fast", "--data", str(BUNDLED_DATA), "--workdir", str(tmp_path), env=env)
    assert trained.code == 0, trained.err
    _score(tmp_path, BUNDLED_DATA, tmp_path / "local.parquet", "local", env)
    _score(tmp_path, BUNDLED_DATA, tmp_path / "spark.parquet", "spark", env)
    assert len(_assert_same(tmp_path / "local.parquet", tmp_path / "spark.parquet")) == 2000


def test_a_spark_input_missing_a_column_exits_2_before_any_task_and_writes_nothing(trained_workdir, tmp_path):
    source = tmp_path / "customers.csv"
    pd.read_csv(BUNDLED_DATA).drop(columns=["age"]).head(50).to_csv(source, index=False)
    result = run_cli_process(
        "score", "--engine", "spark", "--in", str(source), "--out", str(tmp_path / "out.parquet"),
        "--workdir", str(trained_workdir), env={"SPARK_MASTER": "local[1]", "ENABLE_MLFLOW_TRACKING": "false"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is a required column but is missing" in result.stderr
    assert "age" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv"]
