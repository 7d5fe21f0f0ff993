"""Use-cases with schemas, on fakes: a stored model reads tables by its own schema."""

from dataclasses import replace

import pytest

from churnguard.application.draft_schema import DraftSchema
from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import SchemaDraft
from churnguard.application.promote_model import PromoteModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.errors import SchemaMismatch
from churnguard.domain.quality_gate import QualityGate
from churnguard.domain.schema import Field, Kind, LabelColumn, TableSchema
from tests.fakes import (
    FakeDatasetSource,
    FakeDatasetValidator,
    FakeExperimentTracker,
    FakeModelEvaluator,
    FakeModelStore,
    fake_dataset,
)

OTHER = TableSchema(
    "other", LabelColumn("Exited", (1,), (0,)), (Field("balance", Kind.NUMBER, minimum=0, maximum=1e6),)
)


def _world(declared: TableSchema | None = None):
    source = FakeDatasetSource({"data.csv": fake_dataset("data.csv")})
    validator = FakeDatasetValidator()
    store = FakeModelStore()
    validate = ValidateDataset(source, validator, named=declared)
    return validate, store


def test_a_stored_models_own_schema_reads_the_table():
    validate, store = _world()
    version = store.add("m1", f1=0.8)
    store.versions["m1"] = replace(version, schema=OTHER)
    assert validate.for_model("data.csv", store, "m1").schema == OTHER


def test_a_named_schema_other_than_the_models_is_refused_with_both_hashes():
    validate, store = _world(declared=ORIGINAL_SCHEMA)
    store.versions["m1"] = replace(store.add("m1", f1=0.8), schema=OTHER)
    with pytest.raises(SchemaMismatch) as refused:
        validate.for_model("data.csv", store, None)
    assert OTHER.short_hash in str(refused.value)
    assert ORIGINAL_SCHEMA.short_hash in str(refused.value)


def test_with_no_model_the_table_is_checked_before_saying_so():
    validate, store = _world()
    with pytest.raises(ModelNotFound):
        validate.for_model("data.csv", store, None)
    assert validate._validator.validated == ["data.csv"]


def test_a_champion_of_another_schema_is_not_compared_and_the_reason_says_so():
    store = FakeModelStore()
    store.add("champ", f1=0.9)
    store.versions["champ"] = replace(store.versions["champ"], schema=OTHER)
    store.champion_fingerprint = "champ"
    store.add("cand", f1=0.8, created_second=5)
    promote = PromoteModel(store, FakeModelEvaluator(), QualityGate(min_f1=0.5), FakeExperimentTracker(), 200)
    outcome = promote(fake_dataset("data.csv"), "cand")
    assert outcome.decision.promote
    assert any("reads another schema ('other'" in reason for reason in outcome.decision.reasons)
    assert store.champion_fingerprint == "cand"


class _Profiler:
    def __init__(self, text: str) -> None:
        self.text = text

    def profile(self, table, label, positive, name):
        return SchemaDraft(ORIGINAL_SCHEMA, {"label": label}, {})

    def render(self, draft, source):
        return self.text


class _Reader:
    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema

    def load(self, location):
        return self.schema

    def parse(self, text, location):
        return self.schema


def test_a_draft_that_does_not_read_back_as_itself_is_never_handed_out():
    source = FakeDatasetSource({"t.csv": fake_dataset("t.csv")})
    drafted = DraftSchema(source, _Profiler("ok"), _Reader(ORIGINAL_SCHEMA))("t.csv", "churn")
    assert drafted.text == "ok"
    assert drafted.draft.schema == ORIGINAL_SCHEMA
    with pytest.raises(AssertionError, match="does not read back"):
        DraftSchema(source, _Profiler("drifted"), _Reader(OTHER))("t.csv", "churn")


def test_schema_init_proposes_time_to_churn_where_a_tenure_and_a_monthly_charge_are_named():
    import pandas as pd

    from churnguard.adapters.schema_profiler import profile_table

    table = pd.DataFrame(
        {
            "tenure": [30, 5, 30, 72, 1, 5],
            "MonthlyCharges": [20.5, 70.0, 99.9, 45.0, 80.0, 20.5],
            "Churn": ["Yes", "No", "No", "Yes", "Yes", "No"],
        }
    )
    draft = profile_table(table, "Churn")
    assert draft.schema.survival is not None
    survival = draft.schema.survival
    assert (survival.duration, survival.value, survival.horizon, survival.unit) == (
        "tenure",
        "MonthlyCharges",
        12,
        "month",
    )
    assert "tenure counts the months a customer has stayed" in draft.notes["survival"]
    without = profile_table(table.rename(columns={"tenure": "visits"}), "Churn")
    assert without.schema.survival is None
    assert "survival" not in without.notes
