"""ScoreCustomers with fakes: every batch scored in one model call, rejects passed on, the
domain's attribution, and nothing committed when the source fails."""

from __future__ import annotations

import numpy as np
import pytest

from churnguard.application.champion import ChampionCache
from churnguard.application.errors import TooManyRejected
from churnguard.application.ports import CustomerBatch, RejectedRow, ScoredBatch
from churnguard.application.score_customers import ScoreCustomers
from churnguard.domain.attribution import contributions_of, substituted_rows
from churnguard.domain.customer import ORIGINAL_SCHEMA, RAW_FIELDS
from churnguard.domain.errors import SchemaMismatch
from tests.fakes import ORIGINAL_REFERENCE, FakeModelStore, LinearChurnModel
from tests.unit.test_customer_profile import VALID

ROWS = ORIGINAL_REFERENCE.rows_per_customer
AGES = ORIGINAL_REFERENCE.values[RAW_FIELDS.index("age")]


class Source:
    def __init__(self, batches: list[CustomerBatch], fail_after: int | None = None) -> None:
        self._batches = batches
        self._fail_after = fail_after

    def total_rows(self) -> int | None:
        return sum(len(b.rows) + len(b.rejected) for b in self._batches)

    def batches(self, schema):
        for index, batch in enumerate(self._batches):
            if self._fail_after is not None and index == self._fail_after:
                raise OSError("the disk went away")
            yield batch


class Writer:
    def __init__(self) -> None:
        self.written: list[ScoredBatch] = []
        self.rejected: list[RejectedRow] = []
        self.committed = self.aborted = False

    def write(self, scored, model_version, threshold):
        self.written.append(scored)

    def reject(self, rows):
        self.rejected.extend(rows)

    def commit(self):
        self.committed = True

    def abort(self):
        self.aborted = True

    @property
    def rejects_location(self) -> str:
        return "memory://rejects"


def _score(threshold: float = 0.5, max_rejected_share: float | None = 0.5):
    store = FakeModelStore()
    model = LinearChurnModel()
    store.crown(model, threshold=threshold)
    return ScoreCustomers(ChampionCache(store), max_rejected_share=max_rejected_share), model


def _batch(first_row: int, count: int, rejected: tuple[RejectedRow, ...] = ()) -> CustomerBatch:
    raw = np.tile(np.asarray(ORIGINAL_SCHEMA.check_record(VALID), dtype=np.float64), (count, 1))
    raw[:, RAW_FIELDS.index("age")] = np.arange(count) + 20.0
    raw[0, RAW_FIELDS.index("age")] = AGES[0]  # one customer at the first value of the age distribution
    return CustomerBatch(np.arange(first_row, first_row + count), raw, rejected)


def test_each_batch_is_one_model_call_with_the_domains_attribution():
    score, model = _score()
    writer = Writer()
    batches = [_batch(1, 5, (RejectedRow(6, "age: too young"),)), _batch(7, 3)]
    summary = score(Source(batches), writer, explain=True)
    assert (summary.scored, summary.rejected) == (8, 1)
    assert model.calls == [(5 * ROWS, 16), (3 * ROWS, 16)]  # one call per batch: customers x rows each
    assert writer.committed
    assert not writer.aborted
    assert [r.row for r in writer.rejected] == [6]
    first = writer.written[0]
    for i in range(5):
        rows = np.asarray(ORIGINAL_SCHEMA.model_matrix(batches[0].raw[i : i + 1]))
        assert first.probability[i] == pytest.approx(model.predict_proba(rows)[0, 1], abs=1e-12)
        scores = model.predict_proba(substituted_rows(ORIGINAL_SCHEMA, batches[0].raw[i], ORIGINAL_REFERENCE))[:, 1]
        by_field = {
            c.feature: c.contribution
            for c in contributions_of(ORIGINAL_SCHEMA, batches[0].raw[i], ORIGINAL_REFERENCE, scores)
        }
        assert first.contributions is not None
        assert first.contributions[i].tolist() == pytest.approx([by_field[name] for name in RAW_FIELDS], abs=1e-12)


def test_the_threshold_decides_and_without_explain_one_row_per_customer():
    score, model = _score(threshold=0.0)
    writer = Writer()
    score(Source([_batch(1, 4)]), writer)
    assert model.calls == [(4, 16)]
    assert writer.written[0].churns.all()
    assert writer.written[0].contributions is None


def test_a_failing_source_aborts_the_output_and_commits_nothing():
    score, _ = _score()
    writer = Writer()
    with pytest.raises(OSError, match="the disk went away"):
        score(Source([_batch(1, 2), _batch(3, 2)], fail_after=1), writer)
    assert writer.aborted
    assert not writer.committed


def test_a_declared_schema_that_is_not_the_champions_is_refused_before_scoring():
    from churnguard.adapters.yaml_schema import load_schema
    from tests.conftest import SCHEMAS

    store = FakeModelStore()
    _, model = _score()
    store.crown(model, fingerprint="a" * 64)
    writer = Writer()
    with pytest.raises(SchemaMismatch, match="telco"):
        ScoreCustomers(ChampionCache(store), declared=load_schema(SCHEMAS / "telco.yaml"))(
            Source([_batch(1, 1)]), writer
        )
    assert writer.aborted
    assert model.calls == []
    ScoreCustomers(ChampionCache(store), declared=ORIGINAL_SCHEMA)(Source([_batch(1, 1)]), writer)
    assert writer.committed


@pytest.mark.parametrize(
    ("share", "scored", "fails"),
    [(None, 9, False), (None, 8, True), (0.95, 1, False), (0.05, 8, True), (1.0, 0, True)],
)
def test_a_run_past_its_reject_limit_fails_after_writing_its_rejects(share, scored, fails):
    """The default limit is 10 %; every run that scored nobody fails. The output and the rejects
    stay written: the rejects file is how the user finds the customers."""
    score, _ = _score(max_rejected_share=share)
    writer = Writer()
    rejected = tuple(RejectedRow(100 + i, "age: too young", f"C{i}") for i in range(10 - scored))
    batches = (
        [_batch(1, scored, rejected)] if scored else [CustomerBatch(np.empty(0, np.int64), np.empty((0, 13)), rejected)]
    )
    if fails:
        with pytest.raises(TooManyRejected, match=rf"{10 - scored} of 10 rows|every one of the 10 rows"):
            score(Source(batches), writer)
    else:
        assert score(Source(batches), writer).rejected == 10 - scored
    assert writer.committed
    assert [r.id for r in writer.rejected] == [f"C{i}" for i in range(10 - scored)]
