"""The `churnguard` commands: each parses what argparse left, calls one use-case from the
container and presents its result. Imported by `cli.main` only once a command is chosen, so
`--version` and `--help` never pay for the container's wiring (which imports FastAPI).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from dependency_injector.wiring import Provide, inject

from churnguard.application.build_observations import (
    BuildObservations,
    GenerateHistory,
    OutcomesAsOf,
    ScoreAsOf,
)
from churnguard.application.detect_drift import CheckDrift, DriftSource
from churnguard.application.draft_schema import DraftEventSchema, DraftSchema
from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.export_survival import ExportSurvivalSql
from churnguard.application.generate_customers import GenerateData, ManagePredictions, SimulateTraffic
from churnguard.application.ports import (
    CustomerBatchSource,
    Dataset,
    InferenceTracer,
    PredictionLog,
    SchemaReader,
    ScoredBatchWriter,
)
from churnguard.application.predict_churn import PredictChurn, customer_id
from churnguard.application.promote_model import PromoteModel, PromotionOutcome
from churnguard.application.record_outcomes import RecordOutcomes
from churnguard.application.record_survival_outcomes import RecordSurvivalOutcomes
from churnguard.application.run_pipeline import RunPipeline
from churnguard.application.score_customers import ScoreCustomers, ScoreOnEngine
from churnguard.application.train_model import TrainingOutcome, TrainModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.container import Container
from churnguard.entrypoints.exit_codes import EXIT_OK, EXIT_PORT_IN_USE, EXIT_REFUSED, UsageError
from churnguard.entrypoints.logging_setup import CONFIGURE_IN_WORKERS, configure_logging
from churnguard.entrypoints.presenters import NO_ID, prediction_json
from churnguard.entrypoints.settings import Settings, masked


def _print_training(outcome: TrainingOutcome) -> None:
    version, trained = outcome.version, outcome.trained
    metrics, cv = version.metrics, trained.cv_summary
    calibration = trained.calibration
    print(f"trained model {version.fingerprint}")
    print(f"  family     {trained.family} {json.dumps(dict(trained.params), sort_keys=True)}")
    print(
        f"  search     {int(cv['cv_candidates'])} candidates from {int(cv['cv_fit_groups'])} fits per fold "
        f"x {version.settings['cv_folds']} folds in {trained.search_seconds:.1f}s; "
        f"best CV log loss {cv['cv_best_log_loss']:.4f}, ROC-AUC {cv['cv_best_roc_auc']:.4f}"
    )
    for row in trained.family_table:
        print(
            f"    {row['family']:<9} {row['candidates']:>3} candidates  CV log loss {row['cv_log_loss']:.4f}  "
            f"ROC-AUC {row['cv_roc_auc']:.4f}  F1@0.5 {row['cv_f1_at_0_5']:.4f}  fits {row['fit_seconds']:.1f}s"
        )
    print(
        f"  calibrate  {calibration['method']} (CV Brier {calibration['brier_before']:.4f} -> "
        f"{calibration['brier_after']:.4f})"
    )
    print(f"  threshold  {trained.threshold:.4f} ({trained.threshold_strategy}, chosen on out-of-fold predictions)")
    print(
        f"  holdout    F1 {metrics['f1']:.4f}  ROC-AUC {metrics['roc_auc']:.4f}  Brier {metrics['brier']:.4f}  "
        f"accuracy {metrics['accuracy']:.4f}  precision {metrics['precision']:.4f}  recall {metrics['recall']:.4f}  "
        f"({trained.holdout_rows} rows)"
    )
    if trained.periods:
        periods = trained.periods
        print(
            f"  out of time  trained on cutoffs {periods['train_from']} to {periods['train_to']}, "
            f"held out {periods['holdout_from']} to {periods['holdout_to']}"
        )


def _print_promotion(outcome: PromotionOutcome) -> int:
    decision = outcome.decision
    print(f"quality gate for {outcome.candidate.short_id}: {decision.summary()}")
    if decision.promote:
        print(f"champion is now {outcome.candidate.fingerprint}")
        return EXIT_OK
    return EXIT_REFUSED


@inject
def cmd_validate(args: argparse.Namespace, validate: ValidateDataset = Provide[Container.validate_dataset]) -> int:
    dataset = validate(str(args.data))
    schema = dataset.schema
    print(
        f"valid: {dataset.location}: {dataset.rows} rows, sha256 {dataset.data_hash} "
        f"(schema {schema.name} {schema.short_hash})"
    )
    _print_duplicates(dataset)
    return EXIT_OK


def _print_duplicates(dataset: Dataset) -> None:
    if dataset.duplicates:
        kept = len(dataset.table) == dataset.rows
        print(
            f"  {dataset.duplicates} rows repeat an earlier row in every column: "
            + ("kept (KEEP_DUPLICATES=true)" if kept else "dropped before the split, so none sits on both sides")
        )


@inject
def cmd_train(args: argparse.Namespace, train: TrainModel = Provide[Container.train_model]) -> int:
    outcome = train.file(str(args.data))
    assert outcome.dataset is not None
    _print_duplicates(outcome.dataset)
    _print_training(outcome)
    return EXIT_OK


@inject
def cmd_evaluate(args: argparse.Namespace, evaluate: EvaluateModel = Provide[Container.evaluate_model]) -> int:
    report, location = evaluate.file(str(args.data), args.model)
    evaluation = report.evaluation
    print(f"evaluated {report.fingerprint} on {evaluation.holdout_rows} holdout rows -> {location}")
    print(f"  threshold {evaluation.threshold:.4f}, accuracy {evaluation.metrics['accuracy']:.4f}")
    for name, interval in evaluation.intervals.items():
        print(f"  {name:<8} {interval}")
    if report.same_data_as_training:
        print("  matches the training run's holdout metrics exactly")
    else:
        print("  data differs from the model's training data: metrics are on this data's holdout split")
    return EXIT_OK


@inject
def cmd_promote(args: argparse.Namespace, promote: PromoteModel = Provide[Container.promote_model]) -> int:
    return _print_promotion(promote.file(str(args.data), args.model))


@inject
def cmd_pipeline(args: argparse.Namespace, pipeline: RunPipeline = Provide[Container.run_pipeline]) -> int:
    outcome = pipeline(str(args.data))
    _print_training(outcome.training)
    print(f"evaluation report {outcome.report_location} (matches training: {outcome.report.matches_training_metrics})")
    return _print_promotion(outcome.promotion)


@inject
def cmd_predict(
    args: argparse.Namespace,
    predict: PredictChurn = Provide[Container.predict_churn],
    tracer: InferenceTracer = Provide[Container.inference_tracer],
    log: PredictionLog = Provide[Container.prediction_log],
) -> int:
    """Score customers given as a JSON object or a list of objects (a file, or - for stdin)."""
    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
        payload = json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --input {args.input}: {error}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--input is not valid JSON: {error}") from None
    records = payload if isinstance(payload, list) else [payload]
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise UsageError(f"customer {index}: expected a JSON object of the champion's fields")
    try:
        served = predict.records(records, explain=not args.no_explain)
    finally:
        log.close()  # write the logged predictions and export the traces before the process ends
        tracer.close()
    schema = served.schema
    output = [
        prediction_json(prediction, schema, customer_id(customer) if schema.id_column else NO_ID)
        for prediction, customer in zip(served.predictions, served.customers, strict=True)
    ]
    print(json.dumps(output if isinstance(payload, list) else output[0], indent=2))
    return EXIT_OK


@inject
def cmd_settings(args: argparse.Namespace, settings: Settings = Provide[Container.settings]) -> int:
    print(json.dumps(settings.effective(), indent=2))
    return EXIT_OK


@inject
def cmd_export_sql(args: argparse.Namespace, export: ExportSurvivalSql = Provide[Container.export_survival_sql]) -> int:
    for path in export(args.table, args.out):
        print(f"wrote {path}")
    return EXIT_OK


@inject
def cmd_score(
    args: argparse.Namespace,
    score: ScoreCustomers = Provide[Container.score_customers],
    on_engine: Callable[[], ScoreOnEngine] = Provide[Container.score_on_engine.provider],
    customer_file: Callable[..., CustomerBatchSource] = Provide[Container.customer_file.provider],
    scored_writer: Callable[..., ScoredBatchWriter] = Provide[Container.scored_writer.provider],
    as_of: Callable[[], ScoreAsOf] = Provide[Container.score_as_of.provider],
) -> int:
    if args.as_of is not None:
        return _score_as_of(args, as_of(), scored_writer(Path(args.out)))
    if args.input is None:
        raise UsageError("score needs --in FILE, or --as-of DATE with --events and --events-schema")
    if args.events or args.events_schema or args.customers:
        raise UsageError("--events, --events-schema and --customers go with --as-of DATE")
    if args.engine == "spark":
        if args.explain:
            raise UsageError("--explain is not available with --engine spark (use the single-process engine)")
        summary = on_engine()(args.input, args.out)
        rejects_location = summary.rejects_location
    else:
        writer = scored_writer(Path(args.out), rank_by=args.rank_by)
        summary = score(customer_file(Path(args.input), args.chunk_rows), writer, explain=args.explain)
        rejects_location = writer.rejects_location
    rate = summary.scored / summary.seconds if summary.seconds else 0.0
    print(
        f"scored {summary.scored} customers ({rate:,.0f} rows/s) with model {summary.model_version[:12]} -> {args.out}"
    )
    if summary.revenue_at_risk is not None:
        print(f"revenue at risk {summary.revenue_at_risk:,.2f} in all (columns churn_within_<h>, revenue_at_risk)")
    if summary.rejected:
        print(f"rejected {summary.rejected} rows, with reasons, -> {rejects_location}")
    return EXIT_OK


def _score_as_of(args: argparse.Namespace, score: ScoreAsOf, writer: ScoredBatchWriter) -> int:
    if args.events is None or args.events_schema is None or args.input is not None or args.engine != "local":
        raise UsageError("--as-of takes --events FILE and --events-schema FILE (and no --in, no --engine spark)")
    day = _iso_date(args.as_of, "--as-of")
    customers = str(args.customers) if args.customers else None
    done = score(
        str(args.events_schema), str(args.events), day, writer, str(args.out), args.explain, customers=customers
    )
    print(
        f"scored {done.scored.scored:,} customers active on {day} from {done.built.events:,} events "
        f"(before it) with model {done.scored.model_version[:12]} -> {args.out}; their rows: {done.observations}"
    )
    if done.scored.rejected:
        print(f"rejected {done.scored.rejected} rows, with reasons, -> {writer.rejects_location}")
    return EXIT_OK


@inject
def cmd_predictions(
    args: argparse.Namespace,
    settings: Settings = Provide[Container.settings],
    predictions: ManagePredictions = Provide[Container.manage_predictions],
) -> int:
    """Export or prune the prediction log (the API writes it)."""
    from datetime import UTC, datetime, timedelta

    path = masked(settings.prediction_log_location)
    if args.action == "prune":
        days = (
            args.older_than_days
            if args.older_than_days is not None
            else settings.prediction_log.prediction_retention_days
        )
        removed = predictions.prune(datetime.now(UTC) - timedelta(days=days))
        print(f"pruned {removed} predictions older than {days:g} days from {path}")
        return EXIT_OK
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise UsageError(
            f"--since {args.since!r} is not an ISO date or time (e.g. 2026-11-01 or 2026-11-01T12:00)"
        ) from None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if Path(args.out).suffix.lower() not in (".csv", ".parquet"):
        raise UsageError("--out must end in .csv or .parquet")
    exported = predictions.export(str(args.out), since)
    print(f"exported {exported} predictions from {path} to {args.out}")
    return EXIT_OK


@inject
def cmd_schema(
    args: argparse.Namespace,
    reader: SchemaReader = Provide[Container.schema_reader],
    draft_schema: DraftSchema = Provide[Container.draft_schema],
    draft_events: Callable[[], DraftEventSchema] = Provide[Container.draft_event_schema.provider],
    write_text: Callable[[Path, str], None] = Provide[Container.text_writer],
) -> int:
    """`schema init`: profile a CSV (or an event file) into a draft schema; `schema check FILE`: validate one."""
    if args.action == "check":
        if args.file is None:
            raise UsageError("schema check needs the schema file: churnguard schema check FILE")
        print(_describe_schema(reader.load(str(args.file)), str(args.file)))
        return EXIT_OK
    if args.out is not None and Path(args.out).exists() and not args.force:
        raise UsageError(
            f"{args.out} exists (perhaps edited by hand): refusing to replace it; pass --force to replace it, "
            "or --out another file"
        )
    if args.events is not None:
        return _draft_event_schema(args, draft_events(), write_text)
    if args.data is None or args.label is None:
        raise UsageError("schema init needs --data CSV and --label COLUMN (or --events FILE --id COL --time COL)")
    drafted = draft_schema(str(args.data), args.label, args.positive, args.name)
    for column, note in drafted.draft.notes.items():
        print(f"  {column}: {note}", file=sys.stderr)
    for column, reason in drafted.draft.left_out.items():
        print(f"  {column}: left out, {reason}", file=sys.stderr)
    if args.out is None:
        print(drafted.text, end="")
    else:
        write_text(Path(args.out), drafted.text)
        print(f"wrote {args.out}: {_describe_schema(drafted.draft.schema, str(args.out))}")
    return EXIT_OK


def _draft_event_schema(
    args: argparse.Namespace, draft: DraftEventSchema, write_text: Callable[[Path, str], None]
) -> int:
    if args.id_column is None or args.time_column is None or args.label is not None:
        raise UsageError("schema init --events FILE takes --id COLUMN and --time COLUMN (and no --label)")
    drafted = draft(str(args.events), args.id_column, args.time_column, args.type_column, args.time_format, args.name)
    for key, note in drafted.draft.notes.items():
        print(f"  {key}: {note}", file=sys.stderr)
    schema = drafted.draft.schema
    if args.out is None:
        print(drafted.text, end="")
        return EXIT_OK
    write_text(Path(args.out), drafted.text)
    print(
        f"wrote {args.out}: event schema {schema.name!r}, {len(schema.features)} window features, churn: "
        f"{schema.churn.description}, {schema.cutoffs.count} cutoffs from {schema.cutoffs.first}"
    )
    print(f"next: churnguard events build --schema {args.out} --events {args.events} --out TABLE.csv")
    return EXIT_OK


def _iso_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO date (e.g. 1997-07-01)") from None


@inject
def cmd_events(
    args: argparse.Namespace,
    local: Callable[[], BuildObservations] = Provide[Container.build_observations.provider],
    spark: Callable[[], BuildObservations] = Provide[Container.build_observations_on_spark.provider],
) -> int:
    """`events build`: an event history to a labelled table, one row per customer and cutoff."""
    build = spark() if args.engine == "spark" else local()
    if Path(args.out).suffix.lower() not in (".csv", ".parquet"):
        raise UsageError("--out must end in .csv or .parquet")
    cutoffs = tuple(_iso_date(text, "--cutoff") for text in args.cutoff or ())
    until = _iso_date(args.until, "--until") if args.until else None
    customers = str(args.customers) if args.customers else None
    built = build(str(args.schema), str(args.events), str(args.out), cutoffs, until, customers=customers)
    summary = built.summary
    print(
        f"{summary.events:,} events of {summary.customers:,} customers, {summary.first_event} to {summary.until}"
        f" (exclusive); churn: {built.events.churn.description}"
    )
    for count in summary.cutoffs:
        if count.labelled:
            rate = count.churned / count.labelled
            print(f"  {count.cutoff}: {count.rows:,} active, churn rate {rate:.1%}")
        else:
            print(f"  {count.cutoff}: {count.rows:,} active, label unknown until the horizon is over: left out")
    print(f"wrote {args.out}: {summary.labelled:,} labelled rows; its schema: {built.table_schema_location}")
    print(f"next: churnguard pipeline --schema {built.table_schema_location} --data {args.out} --workdir WORKDIR")
    return EXIT_OK


def _describe_schema(schema: TableSchema, location: str) -> str:
    positive = ", ".join(str(value) for value in schema.label.positive)
    return (
        f"valid: schema {schema.name!r} ({location}, hash {schema.short_hash}): {len(schema.fields)} fields, "
        f"{len(schema.features)} engineered features, {len(schema.model_features)} model inputs; "
        f"label {schema.label.column} (churn = {positive})" + (f"; id {schema.id_column}" if schema.id_column else "")
    )


def _duration_seconds(text: str, option: str = "--schedule") -> float:
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        seconds = -1.0
    if not seconds > 0:
        raise UsageError(f"{option} {text!r}: expected a duration like 30s, 15m, 1h or 1d")
    return seconds


@inject
def cmd_drift(
    args: argparse.Namespace,
    settings: Settings = Provide[Container.settings],
    check_drift: CheckDrift = Provide[Container.check_drift],
) -> int:
    """Drift of the current data (prediction log window, --current CSV or --split) vs the reference."""
    import time
    from datetime import UTC, datetime, timedelta

    from churnguard.domain.drift_policy import NotEnoughRows

    def source() -> DriftSource:
        if args.split:
            return DriftSource(split_of=str(args.data))
        if args.current:
            return DriftSource(file=str(args.current))
        if args.last:
            return DriftSource(logs=tuple(args.log or ()), last=args.last)
        days = args.days or settings.drift.drift_window_days
        return DriftSource(logs=tuple(args.log or ()), since=datetime.now(UTC) - timedelta(days=days))

    interval = _duration_seconds(args.schedule) if args.schedule else None
    while True:
        try:
            outcome = check_drift(source())
        except NotEnoughRows as error:
            if interval is None:
                raise UsageError(str(error)) from None
            print(f"skipped: {error}", flush=True)
        else:
            report = outcome.report
            verdict = report.verdict
            print(("" if verdict.drifted else "no drift: ") + "; ".join(verdict.reasons), flush=True)
            print(f"current: {report.current_rows} rows from {report.current_source}", flush=True)
            within = report.horizon_prediction
            if within is not None:
                print(
                    f"time to churn: {within.feature} {within.test} {within.statistic:.4f} (threshold "
                    f"{within.threshold:g}): {'DRIFTED' if within.drifted else 'no drift'}",
                    flush=True,
                )
            if report.estimated is not None:
                estimated = report.estimated
                low, high = estimated.f1_interval
                warn = (
                    f"  WARNING: under the gate's F1 floor {report.f1_floor:.2f}"
                    if report.f1_floor is not None and estimated.f1 < report.f1_floor
                    else ""
                )
                print(
                    f"estimated performance on {estimated.rows} rows (no labels needed): F1 {estimated.f1:.3f} "
                    f"(95% {low:.3f} to {high:.3f}), precision {estimated.precision:.3f}, recall "
                    f"{estimated.recall:.3f}, ROC-AUC {estimated.roc_auc:.3f}{warn}",
                    flush=True,
                )
            print("reports: " + ", ".join(outcome.files), flush=True)
            if interval is None:
                return EXIT_REFUSED if verdict.drifted else EXIT_OK
        assert interval is not None
        time.sleep(interval)


@inject
def cmd_outcomes(
    args: argparse.Namespace,
    record: Callable[[], RecordOutcomes] = Provide[Container.record_outcomes.provider],
    as_of: Callable[[], OutcomesAsOf] = Provide[Container.outcomes_as_of.provider],
    survival: Callable[[], RecordSurvivalOutcomes] = Provide[Container.survival_outcomes.provider],
) -> int:
    """Join outcomes (id + label) with the logged predictions, or (--as-of) the outcomes the events
    tell with what `score --as-of` estimated; realized vs estimated per period. With --scored-on:
    outcomes with dates against the time-to-churn forecasts of a scored file, per horizon."""
    if args.scored_on is not None:
        if args.input is None or args.scored is None or args.as_of or args.events or args.events_schema:
            raise UsageError("outcomes --scored-on DATE takes --scored FILE and --in OUTCOMES (and no --as-of)")
        day = _iso_date(args.scored_on, "--scored-on")
        made, written = survival()(str(args.scored), day, str(args.input), args.period_days)
        print(
            f"{made.matched:,} customers of {args.scored} with an outcome since {day} "
            f"({made.period_days:g} days a {made.unit}); {len(made.unknown)} unknown"
        )
        for h in made.horizons:
            print(
                f"  churn within {h.periods} {made.unit}{'s' if h.periods != 1 else ''}: forecast "
                f"{h.predicted:.1%}, observed {h.observed:.1%} (Kaplan-Meier: {h.churned:,} churned, "
                f"{h.censored:,} followed for less)"
            )
        print("report: " + ", ".join(written))
        return EXIT_OK
    if args.as_of is not None:
        if None in (args.events, args.events_schema, args.scored) or args.input is not None:
            raise UsageError("outcomes --as-of DATE takes --events, --events-schema and --scored (and no --in)")
        customers = str(args.customers) if args.customers else None
        day = _iso_date(args.as_of, "--as-of")
        report, files = as_of()(str(args.events_schema), str(args.events), day, str(args.scored), customers)
        print(
            f"{report.received:,} customers active on {day} with a known outcome; {report.matched:,} of the "
            f"{report.matched + len(report.unknown):,} in {args.scored} joined, {len(report.unknown)} unknown"
        )
    elif args.input is None or args.events or args.events_schema or args.scored or args.customers:
        raise UsageError("outcomes needs --in FILE, or --as-of DATE with --events, --events-schema and --scored")
    else:
        report, files = record()(str(args.input), _duration_seconds(args.period, "--period"))
        print(
            f"{report.received} outcomes from {args.input}: {report.matched} joined with their prediction, "
            f"{len(report.unknown)} unknown ids, {len(report.duplicates)} duplicates"
        )
    if report.unknown:
        print(f"  unknown (no logged prediction before the outcome): {', '.join(report.unknown[:10])}")
    if report.duplicates:
        print(f"  duplicates (the first outcome counts): {', '.join(report.duplicates[:10])}")
    for period in report.periods:
        low, high = period.estimated.f1_interval
        print(
            f"  {datetime.fromtimestamp(period.start, UTC):%Y-%m-%d %H:%M}: {period.rows} customers, realized F1 "
            f"{period.realized_f1:.3f} / ROC-AUC {period.realized_roc_auc:.3f}; estimated F1 {period.estimated.f1:.3f} "
            f"({low:.3f} to {high:.3f})"
        )
    print("report: " + ", ".join(files))
    return EXIT_OK


@inject
def cmd_simulate_traffic(
    args: argparse.Namespace,
    simulate: SimulateTraffic = Provide[Container.simulate_traffic],
    settings: Settings = Provide[Container.settings],
) -> int:
    """Send generated customers to a running API through /predict/batch."""
    # serve may listen on every interface; the traffic dials it on loopback
    wildcard = ("0.0.0.0", "::", "")  # nosec B104 - compared with, never bound
    host = "127.0.0.1" if settings.api.host in wildcard else settings.api.host
    url = args.url or f"http://{host}:{settings.api.port}"
    summary = simulate(
        url, args.rows, args.seed, args.drift or [], args.batch_size, str(args.source) if args.source else None
    )
    print(f"sent {summary.sent} customers to {url}: {summary.scored} scored, {summary.rejected} rejected")
    return EXIT_OK


@inject
def cmd_serve(args: argparse.Namespace, settings: Settings = Provide[Container.settings]) -> int:
    """Run the API with uvicorn; worker processes rebuild their settings from the environment."""
    import tempfile

    import uvicorn

    api = settings.api
    host, port, workers = args.host or api.host, args.port or api.port, args.workers or api.workers
    os.environ["WORKDIR"] = str(settings.paths.workdir.resolve())
    if args.events_schema is not None:  # the workers read their settings from the environment
        if not Path(args.events_schema).is_file():
            raise UsageError(f"--events-schema {args.events_schema}: no such file")
        os.environ["EVENTS_SCHEMA_PATH"] = str(Path(args.events_schema).resolve())
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="churnguard-metrics-")
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        # a container's /tmp starts empty (the deploy files point here); after a restart in the same
        # pod it holds the dead workers' files, which the collector would add to the new ones
        Path(metrics_dir).mkdir(parents=True, exist_ok=True)
        for stale in Path(metrics_dir).glob("*.db"):
            stale.unlink()
    os.environ[CONFIGURE_IN_WORKERS] = f"{args.log_level}:{api.log_format}"
    configure_logging(args.log_level, api.log_format)
    taken = _port_taken(host, port)
    if taken is not None:  # said before any model is loaded, with a code of its own
        print(
            f"error: cannot listen on {host}:{port}: {taken} (address already in use: another server, perhaps "
            "another `churnguard serve`?); choose a port with --port or PORT",
            file=sys.stderr,
        )
        return EXIT_PORT_IN_USE
    print(f"serving ChurnGuard on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''})", flush=True)
    uvicorn.run(
        "churnguard.entrypoints.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=api.worker_healthcheck_seconds,
        log_level=args.log_level.lower(),  # uvicorn says when each worker has started
        access_log=False,
    )
    return EXIT_OK


def _port_taken(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None. uvicorn binds with SO_REUSEADDR too, so a
    port this can bind, it can."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


@inject
def cmd_generate_data(
    args: argparse.Namespace,
    generate: GenerateData = Provide[Container.generate_data],
    history: Callable[[], GenerateHistory] = Provide[Container.generate_history.provider],
) -> int:
    """The original's synthetic process for the original schema; a bootstrap of `--from` for any
    other; `--events`: a subscription history."""
    if args.events:
        if args.source or args.drift or args.schema:
            raise UsageError("--events takes --rows, --seed and --out only (schemas/subscriptions.yaml declares it)")
        made = history()(args.rows, args.seed, str(args.out))
        print(
            f"wrote {made.events:,} events of {made.customers:,} customers ({made.first_day} to {made.until}, "
            f"exclusive; {made.churned:,} cancelled, seed {args.seed}) to {made.events_location}, "
            f"the customers to {made.customers_location}"
        )
        print(
            f"next: churnguard events build --schema schemas/subscriptions.yaml --events {made.events_location} "
            f"--customers {made.customers_location} --out OBSERVATIONS.csv"
        )
        return EXIT_OK
    source = str(args.source) if args.source else None
    generated = generate(args.rows, args.seed, args.drift or [], str(args.out), source)
    how = generated.how if source is None else f"{generated.how} of {source}"
    shifted = f", shifts {', '.join(generated.shifts)}" if generated.shifts else ""
    print(
        f"wrote {generated.rows} rows ({how}, seed {args.seed}, churn rate {generated.churn_rate:.3f}{shifted}) "
        f"to {args.out}"
    )
    return EXIT_OK
