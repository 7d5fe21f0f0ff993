"""Use-cases of event histories: a generated history to try them on (`generate-data --events`), a
point-in-time training table (`churnguard events build`), and every active customer scored as
of a date (`churnguard score --as-of`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from churnguard.application.champion import ChampionCache
from churnguard.application.errors import InvalidOptions, ModelNotFound, require_schema
from churnguard.application.ports import (
    Clock,
    CustomerBatchSource,
    EventHistoryGenerator,
    EventSchemaReader,
    GeneratedHistory,
    ModelStore,
    ObservationBuilder,
    ObservationSummary,
    OutcomeReader,
    OutcomesReport,
    OutcomesReportWriter,
    ScoredBatchWriter,
    ScoredFileReader,
    ScoringSummary,
    TableSchemaWriter,
)
from churnguard.application.score_customers import ScoreCustomers
from churnguard.domain.events import EventSchema, day_number
from churnguard.domain.outcomes import MatchedOutcome, by_period
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)


def customers_location(events_out: str) -> str:
    """Where a generated history's customer table goes: `ev.parquet` -> `ev.customers.parquet`."""
    stem, dot, suffix = events_out.rpartition(".")
    return f"{stem}.customers.{suffix}" if dot else f"{events_out}.customers.csv"


class GenerateHistory:
    """A seeded subscription history (customers and their events) for demos, tests and benchmarks;
    `schemas/subscriptions.yaml` declares it."""

    def __init__(self, generator: EventHistoryGenerator) -> None:
        self._generator = generator

    def __call__(self, customers: int, seed: int, events_out: str) -> GeneratedHistory:
        generated = self._generator.generate(customers, seed, events_out, customers_location(events_out))
        logger.info("event history generated", extra={"events": generated.events, "customers": customers})
        return generated


@dataclass(frozen=True)
class BuiltObservations:
    events: EventSchema
    table: TableSchema
    """The observation table's own schema: what `train` and `pipeline` read it with."""
    table_schema_location: str
    summary: ObservationSummary


def table_schema_location(out: str) -> str:
    """Where the observation table's schema goes: beside it, `obs.csv` -> `obs.schema.yaml`."""
    stem = out.rsplit(".", 1)[0] if "." in out.replace("\\", "/").rsplit("/", 1)[-1] else out
    return f"{stem}.schema.yaml"


class BuildObservations:
    def __init__(self, reader: EventSchemaReader, builder: ObservationBuilder, writer: TableSchemaWriter) -> None:
        self._reader = reader
        self._builder = builder
        self._writer = writer

    def __call__(
        self,
        schema_location: str,
        events: str,
        out: str,
        cutoffs: Sequence[date] = (),
        until: date | None = None,
        customers: str | None = None,
    ) -> BuiltObservations:
        """The labelled rows of every cutoff (the schema's, or `cutoffs`) to `out`, and the
        table's schema beside it, so `pipeline --schema <that> --data <out>` trains on it with
        an out-of-time holdout."""
        schema = self._reader.load(schema_location)
        dates = tuple(sorted(cutoffs)) or schema.cutoffs.dates()
        summary = self._builder.build(schema, events, out, dates, until, customers=customers)
        table = schema.observation_schema()
        location = table_schema_location(out)
        self._writer.write(
            table,
            location,
            f"Written by `churnguard events build` from {schema_location} and {events}"
            f"{' with ' + customers if customers else ''}: the schema of\n"
            f"{out}, one row per customer and cutoff. Train with: churnguard pipeline --schema {location} "
            f"--data {out}",
        )
        logger.info("observation table built", extra={"rows": summary.rows, "out": out, "schema": location})
        return BuiltObservations(schema, table, location, summary)


@dataclass(frozen=True)
class ScoredAsOf:
    built: ObservationSummary
    observations: str
    """The table scored: each active customer's window features as of the date (kept, to audit)."""
    scored: ScoringSummary


def observations_location(out: str) -> str:
    """Where `score --as-of` keeps the rows it scored: beside its output, `s.csv` -> `s.observations.csv`."""
    stem, dot, suffix = out.rpartition(".")
    return f"{stem}.observations.{suffix}" if dot else f"{out}.observations.csv"


class ScoreAsOf:
    """Every customer active on a date, scored by the champion from their events before it."""

    def __init__(
        self,
        reader: EventSchemaReader,
        builder: ObservationBuilder,
        score: ScoreCustomers,
        champion: ChampionCache,
        batches: Callable[[str], CustomerBatchSource],
    ) -> None:
        self._reader = reader
        self._builder = builder
        self._score = score
        self._champion = champion
        self._batches = batches

    def __call__(
        self,
        schema_location: str,
        events: str,
        as_of: date,
        writer: ScoredBatchWriter,
        out: str,
        explain: bool = False,
        customers: str | None = None,
    ) -> ScoredAsOf:
        """The champion must have been trained on this event schema's table (same hash): the
        window features are built as it learnt them, as of `as_of`, then scored like a file."""
        schema = self._reader.load(schema_location)
        version = self._champion.current().version
        require_schema(version, schema.observation_schema(), f"event schema {schema_location}")
        location = observations_location(out)
        built = self._builder.build(schema, events, location, [as_of], labelled_only=False, customers=customers)
        scored = self._score(self._batches(location), writer, explain)
        logger.info("scored as of a date", extra={"as_of": as_of.isoformat(), "scored": scored.scored})
        return ScoredAsOf(built, location, scored)


def outcomes_location(scored: str) -> str:
    """Where `outcomes --as-of` keeps the realized labels it built: `s.csv` -> `s.outcomes.csv`."""
    stem, dot, suffix = scored.rpartition(".")
    return f"{stem}.outcomes.{suffix}" if dot else f"{scored}.outcomes.csv"


class OutcomesAsOf:
    """Outcomes that arrive by themselves: once the horizon after a scored date is over, the
    events say who churned; joined with what `score --as-of` estimated for each customer, they
    give the realized F1 and ROC-AUC beside the estimate made from the probabilities alone."""

    def __init__(
        self,
        reader: EventSchemaReader,
        builder: ObservationBuilder,
        labels: OutcomeReader,
        scored: ScoredFileReader,
        store: ModelStore,
        writer: OutcomesReportWriter,
        clock: Clock,
    ) -> None:
        self._reader = reader
        self._builder = builder
        self._labels = labels
        self._scored = scored
        self._store = store
        self._writer = writer
        self._clock = clock

    def __call__(
        self, schema_location: str, events: str, as_of: date, scored: str, customers: str | None = None
    ) -> tuple[OutcomesReport, Sequence[str]]:
        schema = self._reader.load(schema_location)
        champion = self._store.champion()
        if champion is None:
            raise ModelNotFound("no champion: the estimate beside the outcomes uses its decision threshold")
        rows = self._scored.read(scored, schema.source.id_column)
        versions = {version[:12] for version in rows.model_versions}
        if versions != {champion.fingerprint[:12]}:
            raise InvalidOptions(
                f"{scored} was scored by model {', '.join(sorted(versions))}; the champion is "
                f"{champion.fingerprint[:12]}: join outcomes in the workdir of the model that scored them"
            )
        location = outcomes_location(scored)
        built = self._builder.build(schema, events, location, [as_of], customers=customers)
        (count,) = built.cutoffs
        if count.rows and not count.labelled:
            raise InvalidOptions(
                f"the {schema.churn.horizon_days} days after {as_of} are not over: the events end on {built.until} "
                f"(exclusive), so who churned is not known yet"
            )
        known = {o.customer_id: o for o in self._labels.read(location, schema.observation_schema(), 0.0).outcomes}
        at = float(day_number(as_of)) * 86_400.0
        matched, unknown = [], []
        for customer, probability, predicted in zip(rows.ids, rows.probabilities, rows.predictions, strict=True):
            outcome = known.get(customer)
            if outcome is None:
                unknown.append(customer)
                continue
            matched.append(MatchedOutcome(customer, outcome.churned, probability, predicted, at, champion.threshold))
        period = float(schema.churn.horizon_days) * 86_400.0
        report = OutcomesReport(
            checked_at=self._clock.now(),
            model_version=champion.fingerprint,
            source=f"{events} as of {as_of}",
            received=len(known),
            matched=len(matched),
            unknown=unknown,
            duplicates=[],
            periods=[replace(p, start=at) for p in by_period(matched, period)],  # one period: the scored date
            period_seconds=period,
        )
        files = self._writer.write(report)
        logger.info("outcomes from events", extra={"as_of": as_of.isoformat(), "matched": len(matched)})
        return report, files
