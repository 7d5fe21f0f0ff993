"""Use-case: score a whole file of customers in chunks with the champion (offline scoring).

Memory stays flat whatever the file size: batches come in one at a time, each is scored with
one model call (with explanations: one call over its substituted rows) and written out.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from churnguard.application.champion import ChampionCache
from churnguard.application.errors import ModelNotFound, TooManyRejected, require_schema
from churnguard.application.ports import (
    CustomerBatch,
    CustomerBatchSource,
    ModelStore,
    NoProgress,
    Progress,
    ScoredBatch,
    ScoredBatchWriter,
    ScoringEngine,
    ScoringJob,
    ScoringSummary,
)
from churnguard.domain.quality_gate import RejectLimit
from churnguard.domain.schema import TableSchema

FloatArray = npt.NDArray[np.float64]


class ScoreCustomers:
    def __init__(
        self,
        champion: ChampionCache,
        declared: TableSchema | None = None,
        progress: Progress | None = None,
        max_rejected_share: float | None = None,
    ) -> None:
        self._champion = champion
        self._declared = declared
        """A schema the user named (--schema): the champion's must be it."""
        self._progress = progress or NoProgress()
        self._max_rejected_share = max_rejected_share
        """The setting (MAX_REJECTED_SHARE); None: the schema's, else the default."""

    def __call__(self, source: CustomerBatchSource, writer: ScoredBatchWriter, explain: bool = False) -> ScoringSummary:
        """Score every customer of `source` with the champion, read by the champion's own schema;
        the output appears whole, or (on any failure) not at all."""
        try:
            return self._score(source, writer, explain)
        except BaseException:
            writer.abort()
            raise

    def _score(self, source: CustomerBatchSource, writer: ScoredBatchWriter, explain: bool) -> ScoringSummary:
        started = time.perf_counter()
        champion = self._champion.current()
        version = champion.version
        schema = version.schema
        require_schema(version, self._declared, "the schema named with --schema or SCHEMA_PATH")
        width = len(schema.fields)
        scored = rejected = 0
        at_risk: float | None = None
        self._progress.start("scoring", source.total_rows())
        for batch in source.batches(schema):
            writer.reject(batch.rejected)
            rejected += len(batch.rejected)
            count = len(batch.rows)
            self._progress.advance(count + len(batch.rejected))
            if count == 0:
                continue
            contributions = None
            if explain:  # every customer's substituted rows, in one model call per chunk
                probability, contributions = champion.explained(batch.raw)
            else:
                probability = champion.scoring.probability(batch.raw)
            survival = champion.survival_table(batch.raw)
            if survival is not None and survival.revenue_at_risk is not None:
                at_risk = (at_risk or 0.0) + float(survival.revenue_at_risk.sum())
            writer.write(
                ScoredBatch(batch, probability, champion.decide(probability), contributions, schema, survival),
                version.fingerprint,
                version.threshold,
            )
            scored += count
        if scored == 0:  # every row rejected: the output still has its columns, and no rows
            empty = CustomerBatch(
                np.empty(0, np.int64),
                np.empty((0, width)),
                (),
                np.empty(0, dtype=object) if schema.id_column else None,
            )
            contributions = np.empty((0, width)) if explain else None
            writer.write(
                ScoredBatch(
                    empty,
                    np.empty(0),
                    np.empty(0, np.bool_),
                    contributions,
                    schema,
                    champion.survival_table(empty.raw),
                ),
                version.fingerprint,
                version.threshold,
            )
        writer.commit()
        self._progress.finish()
        summary = ScoringSummary(
            scored, rejected, time.perf_counter() - started, version.fingerprint, revenue_at_risk=at_risk
        )
        refuse_rejects(summary, self._max_rejected_share, schema, writer.rejects_location)
        return summary


def refuse_rejects(summary: ScoringSummary, setting: float | None, schema: TableSchema, rejects: str | None) -> None:
    """TooManyRejected when the run rejected more than its limit (the output stays written:
    the rejects file is how the user finds the rows)."""
    limit = RejectLimit.resolve(setting, schema.quality.max_rejected_share, schema.name)
    problem = limit.problem(summary.rejected, summary.scored + summary.rejected)
    if problem is not None:
        raise TooManyRejected(f"{problem}; each rejected row, its id and its reasons -> {rejects}")


class ScoreOnEngine:
    """Offline scoring on another engine (`score --engine spark`): the champion's MLflow pyfunc
    model, applied where the data is, read by the champion's own schema."""

    def __init__(
        self,
        store: ModelStore,
        engine: ScoringEngine,
        declared: TableSchema | None = None,
        max_rejected_share: float | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._declared = declared
        self._max_rejected_share = max_rejected_share

    def __call__(self, source: str, out: str) -> ScoringSummary:
        version = self._store.champion()
        if version is None:
            raise ModelNotFound("no champion model yet; run `churnguard pipeline` first")
        require_schema(version, self._declared, "the schema named with --schema or SCHEMA_PATH")
        model = self._store.pyfunc_model(version.fingerprint)
        summary = self._engine.run(
            ScoringJob(model, version.schema, version.threshold, version.fingerprint, source, out)
        )
        refuse_rejects(summary, self._max_rejected_share, version.schema, summary.rejects_location)
        return summary
