"""`generate-data --events` and the customer table an event schema joins: a seeded subscription
history, its invariants, and its static attributes reaching the observation table by id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.adapters.subscription_history import END, START, SubscriptionHistoryGenerator
from churnguard.entrypoints.cli import main
from churnguard.entrypoints.exit_codes import EXIT_OK
from tests.conftest import SCHEMAS, examples

SCHEMA = SCHEMAS / "subscriptions.yaml"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("subscriptions")
    events = folder / "events.csv"
    assert main(["generate-data", "--events", "--rows", "600", "--seed", "7", "--out", str(events)]) == EXIT_OK
    return events, folder / "events.customers.csv"


def _read(events: Path) -> pd.DataFrame:
    frame = pd.read_csv(events) if events.suffix == ".csv" else pd.read_parquet(events)
    frame["time"] = pd.to_datetime(frame["time"])
    return frame


def _invariants(events: pd.DataFrame, customers: pd.DataFrame) -> None:
    assert customers["customer_id"].is_unique
    assert set(events["customer_id"]) <= set(customers["customer_id"])
    assert events["time"].min() >= pd.Timestamp(START)
    assert events["time"].max() < pd.Timestamp(END)
    assert set(events["type"]) <= {"session", "payment", "support", "cancel"}
    # values belong to their event type: minutes to sessions, amounts to payments
    assert events.loc[events["type"] == "session", "minutes"].gt(0).all()
    assert events.loc[events["type"] != "session", "minutes"].isna().all()
    assert events.loc[events["type"] == "payment", "amount"].isin([9.99, 15.99, 24.99]).all()
    assert events.loc[events["type"] != "payment", "amount"].isna().all()
    # a cancellation is a customer's last event and their only one
    cancels = events[events["type"] == "cancel"]
    assert cancels["customer_id"].is_unique
    last = events.groupby("customer_id")["time"].max()
    assert (cancels.set_index("customer_id")["time"] == last.reindex(cancels["customer_id"])).all()
    # nothing before sign-up
    signup = pd.to_datetime(customers.set_index("customer_id")["signup"])
    assert (events["time"] >= signup.reindex(events["customer_id"]).to_numpy()).all()


def test_a_generated_history_is_a_subscription_story_and_the_seed_repeats_it(history, tmp_path, capsys):
    events, customers = history
    frame, table = _read(events), pd.read_csv(customers)
    _invariants(frame, table)
    assert len(table) == 600
    assert set(table.columns) == {"customer_id", "plan", "channel", "age", "signup"}
    assert 60 <= len(frame) / len(table) <= 140  # about 100 events a customer: the scale benchmark's ratio
    assert 0.2 < frame.loc[frame["type"] == "cancel", "customer_id"].nunique() / len(table) < 0.7
    again = tmp_path / "again.csv"
    assert main(["generate-data", "--events", "--rows", "600", "--seed", "7", "--out", str(again)]) == EXIT_OK
    assert again.read_bytes() == events.read_bytes()
    assert (tmp_path / "again.customers.csv").read_bytes() == customers.read_bytes()
    other = tmp_path / "other.csv"
    assert main(["generate-data", "--events", "--rows", "600", "--seed", "8", "--out", str(other)]) == EXIT_OK
    assert other.read_bytes() != events.read_bytes()
    assert "customers to" in capsys.readouterr().out


@given(customers=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 25))
@settings(max_examples=examples(25), deadline=None)
def test_any_size_seed_and_chunk_keep_the_invariants(tmp_path_factory, customers, seed, chunk):
    folder = tmp_path_factory.mktemp("generated")
    made = SubscriptionHistoryGenerator(chunk_customers=chunk).generate(
        customers, seed, str(folder / "e.parquet"), str(folder / "c.parquet")
    )
    frame, table = _read(folder / "e.parquet"), pd.read_parquet(folder / "c.parquet")
    assert (made.customers, made.events) == (len(table), len(frame)) == (customers, len(frame))
    assert made.churned == int((frame["type"] == "cancel").sum())
    if len(frame):
        _invariants(frame, table)


def test_a_generated_history_builds_with_its_customers_joined_by_id(history, tmp_path, capsys):
    events, customers = history
    out = tmp_path / "observations.parquet"
    argv = ["events", "build", "--schema", str(SCHEMA), "--events", str(events), "--out", str(out)]
    assert main([*argv, "--customers", str(customers)]) == EXIT_OK
    built = pd.read_parquet(out)
    table = pd.read_csv(customers).set_index("customer_id")
    assert list(built.columns[-4:]) == ["plan", "channel", "age", "churn"]
    joined = table.reindex(built["customer_id"])
    assert (built["plan"].to_numpy() == joined["plan"].to_numpy()).all()
    assert (built["age"].to_numpy() == joined["age"].to_numpy()).all()
    assert built["age"].dtype == np.int64  # an integer field is written as one, in Parquet too
    assert built["cutoff"].nunique() == 13
    # no customer is observed after their cancellation
    cancelled = pd.read_csv(events).query("type == 'cancel'").set_index("customer_id")["time"].str[:10]
    after = built["cutoff"].to_numpy() > cancelled.reindex(built["customer_id"]).fillna("9999").to_numpy()
    assert not after.any()


def test_static_attributes_need_their_table_and_its_cells_are_read_by_their_fields(history, tmp_path, capsys):
    events, customers = history
    out = tmp_path / "observations.csv"
    argv = ["events", "build", "--schema", str(SCHEMA), "--events", str(events), "--out", str(out)]
    assert main(argv) == 2
    assert "declares customer attributes (plan, channel, age): give --customers FILE" in capsys.readouterr().err
    bad = pd.read_csv(customers)
    bad.loc[3, "age"] = "forty"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main([*argv, "--customers", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert "column 'age' must hold a whole number (integer field customers.fields.age), got 'forty'" in err
    twice = pd.concat([pd.read_csv(customers), pd.read_csv(customers).head(1)])
    twice.to_csv(tmp_path / "twice.csv", index=False)
    assert main([*argv, "--customers", str(tmp_path / "twice.csv")]) == 2
    assert "customer 'c0000001' appears twice (customer_id must be unique)" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written


def test_an_event_schema_reads_as_the_table_its_builder_writes(history, tmp_path, capsys):
    """`--schema events.yaml` and `--schema <out>.schema.yaml` are one schema: the same hash."""
    from churnguard.adapters.yaml_schema import load_schema

    events, customers = history
    out = tmp_path / "observations.csv"
    argv = ["events", "build", "--schema", str(SCHEMA), "--events", str(events), "--customers", str(customers)]
    assert main([*argv, "--out", str(out)]) == EXIT_OK
    assert load_schema(SCHEMA).hash == load_schema(tmp_path / "observations.schema.yaml").hash
    from churnguard.adapters.yaml_schema import YamlSchemaReader

    assert YamlSchemaReader().parse(SCHEMA.read_text(), "text") == load_schema(SCHEMA)  # text reads as the file does
    capsys.readouterr()
    assert main(["schema", "check", str(SCHEMA)]) == EXIT_OK
    said = capsys.readouterr().out
    assert f"hash {load_schema(SCHEMA).hash[:12]}" in said
    assert "15 fields" in said


def test_a_history_past_the_builders_memory_limit_is_refused_naming_the_setting(history, tmp_path, capsys, monkeypatch):
    events, customers = history
    out = tmp_path / "observations.csv"
    argv = ["events", "build", "--schema", str(SCHEMA), "--events", str(events), "--customers", str(customers)]
    monkeypatch.setenv("EVENTS_MEMORY_LIMIT", "lots")
    assert main([*argv, "--out", str(out)]) == 2
    assert "events_memory_limit" in capsys.readouterr().err
    monkeypatch.setenv("EVENTS_MEMORY_LIMIT", "1MB")
    assert main([*argv, "--out", str(out)]) == 2
    assert "memory limit of 1MB (EVENTS_MEMORY_LIMIT): raise it" in capsys.readouterr().err
    assert not out.exists()


def test_events_and_customers_build_alike_from_postgresql_tables(history, postgres_url, tmp_path, capsys):
    """`--events postgresql://...?table=events`: the table read as its exported file is, the
    customer table too; a missing table is named."""
    import psycopg

    events, customers = history
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE events (customer_id text, time timestamp, type text, minutes float8, amount float8)"
        )
        connection.execute("CREATE SCHEMA shop")
        connection.execute(
            "CREATE TABLE shop.customers (customer_id text, plan text, channel text, age integer, signup date)"
        )
        for table, path in (("events", events), ("shop.customers", customers)):
            with connection.cursor().copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
                copy.write(path.read_bytes())
    argv = ["events", "build", "--schema", str(SCHEMA)]
    assert main([*argv, "--events", str(events), "--customers", str(customers), "--out", str(tmp_path / "f.csv")]) == 0
    from_pg = [*argv, "--events", f"{postgres_url}?table=events", "--customers", f"{postgres_url}?table=shop.customers"]
    assert main([*from_pg, "--out", str(tmp_path / "pg.csv")]) == 0
    files, tables = pd.read_csv(tmp_path / "f.csv"), pd.read_csv(tmp_path / "pg.csv")
    assert list(tables.columns) == list(files.columns)
    assert tables.select_dtypes("object").equals(files.select_dtypes("object"))
    np.testing.assert_allclose(tables.select_dtypes("number"), files.select_dtypes("number"), rtol=1e-12)
    capsys.readouterr()
    assert main([*argv, "--events", f"{postgres_url}?table=nothing", "--customers", str(customers), "--out",
                 str(tmp_path / "x.csv")]) == 2  # fmt: skip
    assert "no table 'nothing' in that database" in capsys.readouterr().err
