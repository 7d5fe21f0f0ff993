"""`churnguard events build --engine spark`: the same SQL on Spark in local mode, held equal to
the DuckDB builder on the same histories: every feature, attribute and label at every cutoff,
and the same summary (random histories, a generated subscription history with its customer
table, and CDNOW's raw purchase file with its time format)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from churnguard.adapters.duckdb_observation_builder import DuckdbObservationBuilder
from churnguard.adapters.spark_observation_builder import SparkObservationBuilder, java_time_pattern
from churnguard.adapters.yaml_event_schema import YamlEventSchemaReader
from churnguard.application.errors import InvalidOptions
from churnguard.domain.events import EPOCH, EventSchema
from churnguard.entrypoints.cli import main
from churnguard.entrypoints.exit_codes import EXIT_OK
from tests.conftest import SCHEMAS, examples, require_shared
from tests.event_strategies import event_schemas, histories
from tests.integration.test_events import CDNOW, _events_file

pytestmark = pytest.mark.usefixtures("java")
SPARK = SparkObservationBuilder(master="local[2]")


def _same_tables(duckdb_out: Path, spark_out: Path, id_column: str) -> pd.DataFrame:
    def read(path: Path) -> pd.DataFrame:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={id_column: str})
        return frame.sort_values(["cutoff", id_column]).reset_index(drop=True)

    local, spark = read(duckdb_out), read(spark_out)
    assert list(spark.columns) == list(local.columns)
    assert len(spark) == len(local)
    for column in local.columns:
        if local[column].dtype.kind in "fiu":
            np.testing.assert_allclose(
                spark[column].to_numpy(dtype=float), local[column].to_numpy(dtype=float), rtol=1e-9, atol=1e-9,
                equal_nan=True, err_msg=column,
            )  # fmt: skip
        else:
            assert spark[column].astype(str).tolist() == local[column].astype(str).tolist(), column
    return local


@given(
    event_schemas(),
    st.lists(histories(), min_size=1, max_size=6),
    st.lists(st.integers(1, 130), min_size=1, max_size=4, unique=True),
)
@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_spark_builder_equals_the_duckdb_builder_on_any_history(tmp_path, schema: EventSchema, customers, days):
    customers = [h for h in customers if len(h.days)]
    assume(customers)
    source = tmp_path / "events.csv"
    _events_file(source, customers)
    cutoffs = [EPOCH + timedelta(days=day) for day in days]
    until = EPOCH + timedelta(days=150)  # some horizons not over: NULL labels kept and compared too
    local = DuckdbObservationBuilder(threads=1).build(
        schema, str(source), str(tmp_path / "local.parquet"), cutoffs, until, labelled_only=False
    )
    spark = SPARK.build(schema, str(source), str(tmp_path / "spark.parquet"), cutoffs, until, labelled_only=False)
    assert spark.cutoffs == local.cutoffs
    assert (spark.events, spark.customers, spark.first_event) == (local.events, local.customers, local.first_event)
    _same_tables(tmp_path / "local.parquet", tmp_path / "spark.parquet", "customer")


def test_a_generated_history_and_its_customers_build_alike_on_spark(tmp_path, capsys):
    events = tmp_path / "events.csv"
    assert main(["generate-data", "--events", "--rows", "400", "--seed", "3", "--out", str(events)]) == EXIT_OK
    argv = ["events", "build", "--schema", str(SCHEMAS / "subscriptions.yaml"), "--events", str(events)]
    argv += ["--customers", str(tmp_path / "events.customers.csv")]
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "local.csv")]) == EXIT_OK
    local_said = capsys.readouterr().out.replace("local.", "OUT.")
    assert main([*argv, "--engine", "spark", "--out", str(tmp_path / "spark.csv")]) == EXIT_OK
    assert capsys.readouterr().out.replace("spark.", "OUT.") == local_said  # the same summary, cutoff by cutoff
    table = _same_tables(tmp_path / "local.csv", tmp_path / "spark.csv", "customer_id")
    assert table["cutoff"].nunique() == 13
    assert set(table["plan"]) == {"basic", "standard", "premium"}
    assert not list(tmp_path.glob(".*spark*"))  # Spark's staging directory is gone


def test_cdnow_builds_alike_on_spark_from_its_whitespace_text_and_time_format(tmp_path):
    require_shared(CDNOW)
    schema = YamlEventSchemaReader().load(str(SCHEMAS / "cdnow.yaml"))
    cutoffs = [date(1997, 4, 1), date(1997, 12, 31), date(1998, 6, 1)]
    local = DuckdbObservationBuilder().build(
        schema, str(CDNOW), str(tmp_path / "local.csv"), cutoffs, labelled_only=False
    )
    spark = SPARK.build(schema, str(CDNOW), str(tmp_path / "spark.csv"), cutoffs, labelled_only=False)
    assert spark.cutoffs == local.cutoffs
    assert [c.rows for c in local.cutoffs] == [23570, 23570, 23570]
    _same_tables(tmp_path / "local.csv", tmp_path / "spark.csv", "customer_id")


def test_a_time_format_reads_as_its_spark_pattern_or_is_refused_naming_the_directive():
    assert java_time_pattern("%Y%m%d") == "yyyyMMdd"
    assert java_time_pattern("%d/%m/%Y %H:%M:%S") == "dd/MM/yyyy HH:mm:ss"
    assert java_time_pattern("%Y-%m-%dT%H:%M") == "yyyy-MM-dd'T'HH:mm"
    with pytest.raises(InvalidOptions, match="%b has no Spark form"):
        java_time_pattern("%d %b %Y")
