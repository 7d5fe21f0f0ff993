"""`churnguard schema init --events`: an event file never seen before to a draft event schema that
reads back as itself and builds a table whose every row is labelled; the YAML form of any event
schema reads back as that schema."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard.adapters.yaml_event_schema import YamlEventSchemaReader, dump_event_schema, parse_event_schema
from churnguard.domain.events import EventSchema
from churnguard.domain.schema import Field, Kind
from churnguard.entrypoints.cli import main
from churnguard.entrypoints.exit_codes import EXIT_OK
from tests.conftest import examples, require_shared
from tests.event_strategies import event_schemas
from tests.integration.test_events import CDNOW

ATTRIBUTES = st.lists(
    st.sampled_from(
        [
            Field("plan", Kind.CATEGORY, labels=("basic", "premium"), fixed=True),
            Field("age", Kind.INTEGER, minimum=18, maximum=100, unit="years"),
            Field("senior", Kind.BINARY, labels=(0, 1), help="65 or older"),
        ]
    ),
    unique_by=lambda f: f.name,
    max_size=3,
)


@given(event_schemas(), ATTRIBUTES, st.sampled_from([None, "%Y%m%d"]))
@settings(max_examples=examples(100))
def test_any_event_schema_reads_back_from_its_yaml_form(schema: EventSchema, attributes, time_format):
    from dataclasses import replace

    schema = replace(schema, attributes=tuple(attributes), source=replace(schema.source, time_format=time_format))
    assert parse_event_schema(yaml.safe_load(dump_event_schema(schema)), "x") == schema


def _labelled_everywhere(said: str) -> None:
    cutoff_lines = [line for line in said.splitlines() if line.startswith(("  1", "  2"))]
    assert cutoff_lines
    assert all("churn rate" in line for line in cutoff_lines), said  # no cutoff whose horizon is not over


def test_cdnow_drafts_an_inactivity_schema_from_its_raw_file_that_builds_labelled_rows(tmp_path, capsys):
    require_shared(CDNOW)
    drafted = tmp_path / "cdnow.yaml"
    argv = ["schema", "init", "--events", str(CDNOW), "--id", "customer_id", "--time", "date", "--out", str(drafted)]
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err
    assert "date: the time: written %Y%m%d" in err
    assert "history: 69,659 events of 23,570 customers, 1997-01-01 to 1998-06-30" in err
    schema = YamlEventSchemaReader().load(str(drafted))
    assert schema.source.time_format == "%Y%m%d"
    assert schema.source.value_columns == ("dollar_value", "number_of_cds")
    assert schema.churn.kind.value == "inactivity"
    assert 28 <= schema.churn.horizon_days <= 365
    last = schema.cutoffs.dates()[-1]
    assert last + timedelta(days=schema.churn.horizon_days) <= pd.Timestamp("1998-07-01").date()
    out = tmp_path / "observations.csv"
    assert main(["events", "build", "--schema", str(drafted), "--events", str(CDNOW), "--out", str(out)]) == EXIT_OK
    _labelled_everywhere(capsys.readouterr().out)
    assert pd.read_csv(out)["churn"].notna().all()


def test_a_generated_history_drafts_its_type_values_and_cancellation(tmp_path, capsys):
    events = tmp_path / "events.csv"
    assert main(["generate-data", "--events", "--rows", "300", "--seed", "5", "--out", str(events)]) == EXIT_OK
    drafted = tmp_path / "drafted.yaml"
    argv = ["schema", "init", "--events", str(events), "--id", "customer_id", "--time", "time"]
    assert main([*argv, "--out", str(drafted)]) == EXIT_OK
    schema = YamlEventSchemaReader().load(str(drafted))
    assert (schema.source.type_column, schema.source.value_columns) == ("type", ("amount", "minutes"))
    assert (schema.churn.kind.value, schema.churn.cancel_type) == ("cancel", "cancel")
    per_type = {f.event_type for f in schema.features if f.event_type}
    assert per_type == {"session", "payment", "support"}  # the cancellation is the label, never a feature
    capsys.readouterr()
    out = tmp_path / "observations.csv"
    assert main(["events", "build", "--schema", str(drafted), "--events", str(events), "--out", str(out)]) == EXIT_OK
    _labelled_everywhere(capsys.readouterr().out)
    assert main([*argv, "--out", str(drafted)]) == 2  # an existing draft is not replaced without --force
    assert "--force" in capsys.readouterr().err


def test_a_draft_that_cannot_be_made_names_the_column_or_the_option(tmp_path, capsys):
    events = tmp_path / "events.csv"
    pd.DataFrame({"who": ["a", "b"], "when": ["yesterday", "today"]}).to_csv(events, index=False)
    base = ["schema", "init", "--events", str(events)]
    assert main([*base, "--id", "customer", "--time", "when"]) == 2
    assert "no column 'customer' (--id; it has when, who)" in capsys.readouterr().err
    assert main([*base, "--id", "who", "--time", "when"]) == 2
    assert "column 'when' does not read as a time" in capsys.readouterr().err
    assert main([*base, "--id", "who"]) == 2
    assert "takes --id COLUMN and --time COLUMN" in capsys.readouterr().err
    pd.DataFrame({"who": ["a", "b"], "when": ["2024-01-01", "2024-01-20"]}).to_csv(events, index=False)
    assert main([*base, "--id", "who", "--time", "when"]) == 2
    assert "the history spans 19 days: too short" in capsys.readouterr().err
