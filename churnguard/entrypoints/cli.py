"""The `churnguard` command line: generate-data, validate, train, evaluate, promote, pipeline, settings.

Exit codes: 0 ok, 1 the quality gate refused the model, 2 bad input or usage,
3 a stored model failed an integrity check, 4 the tracking server does not answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dependency_injector.wiring import Provide, inject
from pydantic import ValidationError

from churnguard import __version__
from churnguard.application.detect_drift import CheckDrift, DriftSource
from churnguard.application.draft_schema import DraftSchema
from churnguard.application.errors import (
    DatasetUnreadable,
    EvaluationMismatch,
    InvalidDataset,
    ModelIntegrityError,
    ModelNotFound,
    TrackingUnavailable,
    Violation,
)
from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.generate_customers import GenerateData, ManagePredictions, SimulateTraffic
from churnguard.application.ports import (
    CustomerBatchSource,
    Dataset,
    InferenceTracer,
    ModelStore,
    SchemaReader,
    ScoredBatchWriter,
)
from churnguard.application.predict_churn import PredictChurn
from churnguard.application.promote_model import PromoteModel, PromotionOutcome
from churnguard.application.record_outcomes import RecordOutcomes
from churnguard.application.run_pipeline import RunPipeline
from churnguard.application.score_customers import ScoreCustomers, ScoreOnEngine
from churnguard.application.train_model import TrainingOutcome, TrainModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.errors import ChurnGuardError
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.container import Container, build_container
from churnguard.entrypoints.logging_setup import CONFIGURE_IN_WORKERS, configure_logging
from churnguard.entrypoints.presenters import prediction_json
from churnguard.entrypoints.settings import Settings, masked

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTEGRITY, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
logger = logging.getLogger("churnguard.cli")


class UsageError(ChurnGuardError):
    """A command-line argument or input file the command cannot use."""


def violations_table(violations: Sequence[Violation]) -> str:
    """A fixed-width table: column, rule, count, failing values and row numbers (first 20 each)."""
    header = ("column", "rule", "count", "failing values", "rows")
    rows = [
        (v.column, v.rule, str(v.count), ", ".join(v.failing_values) or "-", ", ".join(map(str, v.rows)) or "-")
        for v in violations
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    lines.insert(1, "  ".join("-" * width for width in widths) + "  " + "-" * len(header[-1]))
    return "\n".join(lines)


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
def cmd_train(
    args: argparse.Namespace,
    validate: ValidateDataset = Provide[Container.validate_dataset],
    train: TrainModel = Provide[Container.train_model],
) -> int:
    dataset = validate(str(args.data))
    _print_duplicates(dataset)
    _print_training(train(dataset))
    return EXIT_OK


@inject
def cmd_evaluate(
    args: argparse.Namespace,
    validate: ValidateDataset = Provide[Container.validate_dataset],
    evaluate: EvaluateModel = Provide[Container.evaluate_model],
    store: ModelStore = Provide[Container.model_store],
) -> int:
    report, location = evaluate(validate.for_model(str(args.data), store, args.model), args.model)
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
def cmd_promote(
    args: argparse.Namespace,
    validate: ValidateDataset = Provide[Container.validate_dataset],
    promote: PromoteModel = Provide[Container.promote_model],
    store: ModelStore = Provide[Container.model_store],
) -> int:
    return _print_promotion(promote(validate.for_model(str(args.data), store, args.model), args.model))


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
    result = predict.records(records, explain=not args.no_explain)
    schema = result.schema
    output = [prediction_json(prediction, schema) for prediction in result.predictions]
    if schema.id_column:
        for customer, item in zip(result.customers, output, strict=True):
            item[schema.id_column] = customer.customer_id
    print(json.dumps(output if isinstance(payload, list) else output[0], indent=2))
    tracer.close()  # export the traces of this run before the process ends
    return EXIT_OK


@inject
def cmd_settings(args: argparse.Namespace, settings: Settings = Provide[Container.settings]) -> int:
    print(json.dumps(settings.effective(), indent=2))
    return EXIT_OK


@inject
def cmd_score(
    args: argparse.Namespace,
    score: ScoreCustomers = Provide[Container.score_customers],
    on_engine: Callable[[], ScoreOnEngine] = Provide[Container.score_on_engine.provider],
    customer_file: Callable[..., CustomerBatchSource] = Provide[Container.customer_file.provider],
    scored_writer: Callable[..., ScoredBatchWriter] = Provide[Container.scored_writer.provider],
) -> int:
    if args.engine == "spark":
        if args.explain:
            raise UsageError("--explain is not available with --engine spark (use the single-process engine)")
        summary = on_engine()(args.input, args.out)
        rejects_location = summary.rejects_location
    else:
        writer = scored_writer(Path(args.out))
        summary = score(customer_file(Path(args.input), args.chunk_rows), writer, explain=args.explain)
        rejects_location = writer.rejects_location
    rate = summary.scored / summary.seconds if summary.seconds else 0.0
    print(
        f"scored {summary.scored} customers ({rate:,.0f} rows/s) with model {summary.model_version[:12]} -> {args.out}"
    )
    if summary.rejected:
        print(f"rejected {summary.rejected} rows, with reasons, -> {rejects_location}")
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
    write_text: Callable[[Path, str], None] = Provide[Container.text_writer],
) -> int:
    """`schema init`: profile a CSV into a draft schema; `schema check FILE`: validate one."""
    if args.action == "check":
        if args.file is None:
            raise UsageError("schema check needs the schema file: churnguard schema check FILE")
        print(_describe_schema(reader.load(str(args.file)), str(args.file)))
        return EXIT_OK
    if args.data is None or args.label is None:
        raise UsageError("schema init needs --data CSV and --label COLUMN")
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
def cmd_outcomes(args: argparse.Namespace, record: RecordOutcomes = Provide[Container.record_outcomes]) -> int:
    """Join outcomes (id + label) with the logged predictions; realized vs estimated per period."""
    report, files = record(str(args.input), _duration_seconds(args.period, "--period"))
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


@inject
def cmd_generate_data(args: argparse.Namespace, generate: GenerateData = Provide[Container.generate_data]) -> int:
    """The original's synthetic process for the original schema; a bootstrap of `--from` for any other."""
    source = str(args.source) if args.source else None
    generated = generate(args.rows, args.seed, args.drift or [], str(args.out), source)
    how = generated.how if source is None else f"{generated.how} of {source}"
    shifted = f", shifts {', '.join(generated.shifts)}" if generated.shifts else ""
    print(
        f"wrote {generated.rows} rows ({how}, seed {args.seed}, churn rate {generated.churn_rate:.3f}{shifted}) "
        f"to {args.out}"
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churnguard", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def schema_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--schema",
            type=Path,
            help="the table's schema YAML (default: SCHEMA_PATH or the original schema); a stored model "
            "reads tables by its own schema, which this must then equal",
        )

    def data_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data", type=Path, help="training CSV (default: DATA_PATH or data/raw/churn.csv)")
        sub.add_argument("--workdir", type=Path, help="holds models/, reports/ and mlflow.db (default: .)")
        schema_option(sub)

    generate = command("generate-data", cmd_generate_data, "write a synthetic customer table")
    generate.add_argument("--rows", type=int, default=2000)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=Path, default=Path("data/raw/churn.csv"))
    generate.add_argument(
        "--drift",
        action="append",
        metavar="SHIFT",
        help="shift the population by field: FIELD*FACTOR, FIELD+AMOUNT, FIELD=LABEL:SHARE (any schema); "
        "the original's named drifts too: age_shift, charges_scale, fiber_share, new_customer_share, extra_tickets",
    )
    generate.add_argument(
        "--from", dest="source", type=Path, help="draw rows from this table (schemas other than the original)"
    )
    schema_option(generate)

    data_options(command("validate", cmd_validate, "check a CSV against the schema"))
    for name, handler, text in (
        ("train", cmd_train, "validate, search, fit and store a model version"),
        ("pipeline", cmd_pipeline, "validate -> train -> evaluate -> promote"),
    ):
        sub = command(name, handler, text)
        data_options(sub)
        sub.add_argument("--grid", choices=["full", "fast"], help="grid size per family (default: GRID or full)")
        sub.add_argument(
            "--family",
            choices=["default", "all", "gbm", "logistic", "hgb"],
            help="model families (default: FAMILY or default = logistic + hgb; gbm = the original grid)",
        )
        sub.add_argument("--search", choices=["grid", "halving"], help="exhaustive grid or successive halving")
    evaluate = command("evaluate", cmd_evaluate, "recompute holdout metrics, write reports/eval_report.json")
    data_options(evaluate)
    evaluate.add_argument("--model", help="fingerprint or unique prefix (default: latest trained)")
    promote = command("promote", cmd_promote, "apply the quality gate and switch the champion if it passes")
    data_options(promote)
    promote.add_argument("--model", help="fingerprint or unique prefix (default: latest trained)")
    predict = command("predict", cmd_predict, "score customers with the champion (JSON in, JSON out)")
    predict.add_argument("--input", default="-", help="JSON file with one customer or a list (default: stdin)")
    predict.add_argument("--workdir", type=Path)
    predict.add_argument("--no-explain", action="store_true", help="skip the leave-one-out contributions")
    schema_option(predict)
    score = command("score", cmd_score, "score a CSV or Parquet file of customers in chunks")
    score.add_argument("--in", dest="input", required=True, help="customers .csv or .parquet")
    score.add_argument("--out", required=True, help="scored .csv or .parquet (rejects go beside it)")
    score.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="local: this process, in chunks; spark: the champion's MLflow model on Spark (SPARK_MASTER,"
        " default local[*]); Spark writes --out as a dataset directory",
    )
    score.add_argument("--explain", action="store_true", help="add the 13 leave-one-out contributions")
    score.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk (memory stays flat)")
    score.add_argument("--workdir", type=Path)
    schema_option(score)
    schema = command("schema", cmd_schema, "draft a schema from a table (init) or check a schema file (check)")
    schema.add_argument("action", choices=["init", "check"])
    schema.add_argument("file", nargs="?", type=Path, help="check: the schema YAML to check")
    schema.add_argument("--data", type=Path, help="init: the CSV to profile")
    schema.add_argument("--label", help="init: the churn label column")
    schema.add_argument("--positive", help="init: the label value that means churn (default: guessed for 2 values)")
    schema.add_argument("--name", help="init: the schema's name (default: the CSV's file name)")
    schema.add_argument("--out", type=Path, help="init: where to write the YAML (default: print it)")
    predictions = command("predictions", cmd_predictions, "export or prune the prediction log")
    predictions.add_argument("action", choices=["export", "prune"])
    predictions.add_argument("--since", help="export: ISO date/time (UTC unless given), default all")
    predictions.add_argument("--out", default="predictions.parquet", help="export: .parquet or .csv")
    predictions.add_argument("--older-than-days", type=float, help="prune: default PREDICTION_RETENTION_DAYS")
    predictions.add_argument("--workdir", type=Path)
    drift = command("drift", cmd_drift, "compare current data with the champion's training data (exit 1 on drift)")
    data_options(drift)
    drift.add_argument("--current", type=Path, help="a CSV of customers instead of the prediction log")
    drift.add_argument(
        "--log",
        action="append",
        metavar="PATH",
        help="prediction log: a SQLite file or glob (one per API replica) or a postgresql:// URL; repeatable"
        " (default: PREDICTION_LOG_URL, else PREDICTION_LOG_PATH)",
    )
    drift.add_argument("--last", type=int, help="the last N logged predictions instead of a time window")
    drift.add_argument("--days", type=float, help="time window of the prediction log (default: DRIFT_WINDOW_DAYS)")
    drift.add_argument("--split", action="store_true", help="the original's mode: 75/25 split of --data")
    drift.add_argument("--schedule", help="rerun every interval (30s, 15m, 1h, 1d) until stopped")
    outcomes = command(
        "outcomes", cmd_outcomes, "join later outcomes with the logged predictions: realized vs estimated"
    )
    outcomes.add_argument("--in", dest="input", type=Path, required=True, help="CSV: the schema's id and label columns")
    outcomes.add_argument("--period", default="1d", help="report period of prediction time (e.g. 1h, 1d; default 1d)")
    outcomes.add_argument("--workdir", type=Path)
    traffic = command("simulate-traffic", cmd_simulate_traffic, "send generated customers to a running API")
    traffic.add_argument(
        "--url", help="the API (default: http://HOST:PORT of the settings, i.e. where `churnguard serve` listens)"
    )
    traffic.add_argument("--rows", type=int, default=2000)
    traffic.add_argument("--seed", type=int, default=1)
    traffic.add_argument("--batch-size", type=int, default=200)
    traffic.add_argument(
        "--drift",
        action="append",
        metavar="SHIFT",
        help="shift the customers by field: FIELD*FACTOR, FIELD+AMOUNT, FIELD=LABEL:SHARE (any schema); "
        "the original's named drifts too: age_shift, charges_scale, fiber_share, new_customer_share, extra_tickets",
    )
    traffic.add_argument(
        "--from", dest="source", type=Path, help="draw customers from this table (schemas other than the original)"
    )
    schema_option(traffic)
    serve = command("serve", cmd_serve, "serve the API and UI with uvicorn")
    serve.add_argument("--host", help="bind address (default: HOST or API_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or API_PORT, else 8001)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    serve.add_argument("--workdir", type=Path)
    settings = command("settings", cmd_settings, "print the effective settings (secrets masked)")
    settings.add_argument("--workdir", type=Path)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    paths: dict[str, object] = {}
    if getattr(args, "workdir", None) is not None:
        paths["workdir"] = args.workdir
    if getattr(args, "data", None) is not None:
        paths["data_path"] = args.data
    if getattr(args, "schema", None) is not None:
        paths["schema_path"] = args.schema
    if paths:
        settings = settings.with_overrides("paths", **paths)
    training = {name: getattr(args, name) for name in ("grid", "family", "search") if getattr(args, name, None)}
    if training:
        settings = settings.with_overrides("training", **training)
    if hasattr(args, "data"):
        args.data = settings.paths.data_path
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    # MLflow's download bars belong on a terminal, not in a job's log
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", str(sys.stderr.isatty()).lower())
    try:
        container = build_container(_settings_from(args))
        container.wire(modules=[__name__])
        try:
            return int(args.handler(args))
        finally:
            container.unwire()
    except InvalidDataset as error:
        print(f"error: {error}\n{violations_table(error.violations)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ModelIntegrityError, EvaluationMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INTEGRITY
    except TrackingUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (DatasetUnreadable, ModelNotFound, ChurnGuardError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
