"""The `churnguard` command line: from a customer table to a served, monitored churn model.

Exit codes: 0 ok, 1 the quality gate refused the model, 2 bad input or usage,
3 a stored model failed an integrity check, 4 the tracking server does not answer,
5 `serve` cannot listen on its port.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from churnguard import __version__
from churnguard.application.errors import (
    DatasetUnreadable,
    EvaluationMismatch,
    InvalidDataset,
    ModelIntegrityError,
    ModelNotFound,
    TrackingUnavailable,
    Violation,
)
from churnguard.domain.errors import ChurnGuardError
from churnguard.domain.model_family import FamilySet
from churnguard.entrypoints.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_INTEGRITY,
    EXIT_UNAVAILABLE,
)
from churnguard.entrypoints.logging_setup import configure_logging

if TYPE_CHECKING:
    from churnguard.entrypoints.settings import Settings


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


COMMANDS = "churnguard.entrypoints.commands"
"""Where each command's handler lives (`cmd_<name>`), imported once a command is chosen."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churnguard", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log from this level on"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler="cmd_" + name.replace("-", "_"))
        return sub

    def schema_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--schema",
            type=Path,
            help="the table's schema YAML (default: SCHEMA_PATH or the original schema); a stored model "
            "reads tables by its own schema, which this must then equal",
        )

    def reject_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--max-rejected",
            type=float,
            metavar="SHARE",
            help="fail (exit 2) when more than this share of rows is rejected (default: MAX_REJECTED_SHARE, "
            "else the schema's quality.max_rejected_share, else 0.1)",
        )

    def workdir_option(sub: argparse.ArgumentParser, reads: str = "its champion from models/") -> None:
        sub.add_argument(
            "--workdir",
            type=Path,
            metavar="DIR",
            help=f"where it reads {reads}: the directory a `pipeline --workdir DIR` wrote"
            " (holds models/, reports/, mlflow.db and predictions.db; default: WORKDIR, else .)",
        )

    def data_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data", type=Path, help="training CSV (default: DATA_PATH or data/raw/churn.csv)")
        workdir_option(sub, "and writes models/, reports/ and runs")
        schema_option(sub)

    generate = command("generate-data", "write a synthetic customer table")
    generate.add_argument(
        "--rows", type=int, default=2000, help="rows to write (default: 2000); with --events: customers"
    )
    generate.add_argument("--seed", type=int, default=42, help="random seed: the same seed writes the same rows")
    generate.add_argument(
        "--out",
        type=Path,
        default=Path("data/raw/churn.csv"),
        help="the CSV to write; with --events the event file (.csv or .parquet), customers beside it (X.customers.csv)",
    )
    generate.add_argument(
        "--events",
        action="store_true",
        help="write a subscription event history and its customer table instead (schemas/subscriptions.yaml)",
    )
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

    data_options(command("validate", "check a CSV against the schema"))
    for name, text in (
        ("train", "validate, search, fit and store a model version"),
        ("pipeline", "validate -> train -> evaluate -> promote"),
    ):
        sub = command(name, text)
        data_options(sub)
        sub.add_argument("--grid", choices=["full", "fast"], help="grid size per family (default: GRID or full)")
        sub.add_argument(
            "--family",
            choices=[choice.value for choice in FamilySet],
            help="model families (default: FAMILY or default = logistic + hgb; gbm = the original grid)",
        )
        sub.add_argument("--search", choices=["grid", "halving"], help="exhaustive grid or successive halving")
    evaluate = command("evaluate", "recompute holdout metrics, write reports/eval_report.json")
    data_options(evaluate)
    evaluate.add_argument("--model", help="fingerprint or unique prefix (default: latest trained)")
    promote = command("promote", "apply the quality gate and switch the champion if it passes")
    data_options(promote)
    promote.add_argument("--model", help="fingerprint or unique prefix (default: latest trained)")
    predict = command("predict", "score customers with the champion (JSON in, JSON out)")
    predict.add_argument("--input", default="-", help="JSON file with one customer or a list (default: stdin)")
    workdir_option(predict)
    predict.add_argument("--no-explain", action="store_true", help="skip the contributions")
    schema_option(predict)
    export = command("export-sql", "the champion's Cox survival model as tables and one SQL query for a warehouse")
    export.add_argument(
        "--out", required=True, help="directory for coefficients.csv, baseline.csv, tables.sql, score.sql"
    )
    export.add_argument("--table", default="customers", help="the warehouse's customers table the query reads")
    workdir_option(export)
    schema_option(export)
    score = command("score", "score a CSV or Parquet file of customers in chunks")
    score.add_argument("--in", dest="input", help="customers .csv or .parquet (or --as-of with --events)")
    score.add_argument(
        "--as-of",
        metavar="DATE",
        help="score every customer active on DATE from their events before it (with --events and --events-schema;"
        " the champion must have been trained on that event schema's table)",
    )
    score.add_argument(
        "--events", help="--as-of: the events: .csv, .parquet, whitespace text or postgresql://...?table=T"
    )
    score.add_argument("--events-schema", type=Path, help="--as-of: the event schema the champion was trained on")
    score.add_argument(
        "--customers", help="--as-of: the customer table of the event schema's static attributes, if any"
    )
    score.add_argument("--out", required=True, help="scored .csv or .parquet (rejects go beside it)")
    score.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="local: this process, in chunks; spark: the champion's MLflow model on Spark (SPARK_MASTER,"
        " default local[*]); Spark writes --out as a dataset directory",
    )
    score.add_argument(
        "--explain", action="store_true", help="add each field's contribution (contribution_<field> columns)"
    )
    score.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk (memory stays flat)")
    score.add_argument(
        "--rank-by",
        metavar="COLUMN",
        help="order the output by this column, largest first (e.g. revenue_at_risk, churn_probability)",
    )
    reject_option(score)
    workdir_option(score)
    schema_option(score)
    schema = command("schema", "draft a schema from a table (init) or check a schema file (check)")
    schema.add_argument("action", choices=["init", "check"], help="init: draft one; check: validate a file")
    schema.add_argument("file", nargs="?", type=Path, help="check: the schema YAML to check")
    schema.add_argument("--data", type=Path, help="init: the CSV to profile")
    schema.add_argument("--label", help="init: the churn label column")
    schema.add_argument("--positive", help="init: the label value that means churn (default: guessed for 2 values)")
    schema.add_argument("--name", help="init: the schema's name (default: the CSV's file name)")
    schema.add_argument("--out", type=Path, help="init: where to write the YAML (default: print it)")
    schema.add_argument("--force", action="store_true", help="init: replace an existing --out file")
    schema.add_argument(
        "--events", help="init: draft an event schema from these events (a file or a PostgreSQL table) instead"
    )
    schema.add_argument("--id", dest="id_column", help="init --events: the customer id column")
    schema.add_argument("--time", dest="time_column", help="init --events: the event time column")
    schema.add_argument("--type", dest="type_column", help="init --events: the event type column (default: guessed)")
    schema.add_argument(
        "--time-format", help="init --events: the time's strptime format, e.g. %%Y%%m%%d (default: guessed)"
    )
    events = command("events", "build a point-in-time training table from an event history (events build)")
    events.add_argument("action", choices=["build"], help="build: one row per customer and cutoff, labelled")
    events.add_argument("--schema", type=Path, required=True, help="the event schema file (events:, churn:, cutoffs:)")
    events.add_argument(
        "--events",
        required=True,
        help="the events: a .csv, .parquet or whitespace-separated text file, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=events)",
    )
    events.add_argument("--out", type=Path, required=True, help="the table to write (.csv or .parquet)")
    events.add_argument(
        "--customers",
        help="the customer table (.csv, .parquet or postgresql://...?table=T) the schema's static attributes "
        "(customers.fields) are joined from, by id",
    )
    events.add_argument(
        "--cutoff",
        action="append",
        metavar="DATE",
        help="an observation date (ISO), repeatable (default: the schema's)",
    )
    events.add_argument(
        "--until", metavar="DATE", help="the first day the events do not cover (default: the day after the last event)"
    )
    events.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="local: DuckDB in this process (EVENTS_MEMORY_LIMIT); spark: the same SQL on Spark (SPARK_MASTER,"
        " default local[*]), for histories larger than one machine",
    )
    predictions = command("predictions", "export or prune the prediction log")
    predictions.add_argument(
        "action", choices=["export", "prune"], help="export: write it for analysts; prune: drop old rows"
    )
    predictions.add_argument("--since", help="export: ISO date/time (UTC unless given), default all")
    predictions.add_argument("--out", default="predictions.parquet", help="export: .parquet or .csv")
    predictions.add_argument("--older-than-days", type=float, help="prune: default PREDICTION_RETENTION_DAYS")
    workdir_option(predictions, "the prediction log")
    drift = command("drift", "compare current data with the champion's training data (exit 1 on drift)")
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
    reject_option(drift)
    drift.add_argument("--schedule", help="rerun every interval (30s, 15m, 1h, 1d) until stopped")
    outcomes = command("outcomes", "join later outcomes with the logged predictions: realized vs estimated")
    outcomes.add_argument("--in", dest="input", type=Path, help="CSV: the schema's id and label columns")
    outcomes.add_argument(
        "--as-of",
        metavar="DATE",
        help="instead of --in: the outcomes of customers scored as of DATE (`score --as-of`), from the events "
        "after it (with --events, --events-schema and --scored)",
    )
    outcomes.add_argument(
        "--events", help="--as-of: the events (a file or a PostgreSQL table), past the horizon after DATE"
    )
    outcomes.add_argument("--events-schema", type=Path, help="--as-of: the event schema the champion was trained on")
    outcomes.add_argument(
        "--scored", type=Path, help="--as-of or --scored-on: the file `score` wrote (with --scored-on: its forecasts)"
    )
    outcomes.add_argument(
        "--scored-on",
        metavar="DATE",
        help="time to churn: the date --scored was scored; --in then holds the id with churned_on or active_on",
    )
    outcomes.add_argument(
        "--period-days", type=float, help="--scored-on: days in a period (default: from the schema's unit)"
    )
    outcomes.add_argument("--customers", help="--as-of: the customer table of the schema's attributes")
    outcomes.add_argument("--period", default="1d", help="report period of prediction time (e.g. 1h, 1d; default 1d)")
    workdir_option(outcomes, "the prediction log and the champion")
    traffic = command("simulate-traffic", "send generated customers to a running API")
    traffic.add_argument(
        "--url", help="the API (default: http://HOST:PORT of the settings, i.e. where `churnguard serve` listens)"
    )
    traffic.add_argument("--rows", type=int, default=2000, help="customers to send (default: 2000)")
    traffic.add_argument("--seed", type=int, default=1, help="random seed of the customers drawn")
    traffic.add_argument("--batch-size", type=int, default=200, help="customers per /predict/batch request")
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
    serve = command("serve", "serve the API and UI with uvicorn")
    serve.add_argument("--host", help="bind address (default: HOST or API_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or API_PORT, else 8001)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    workdir_option(serve, "the champion it serves (and reloads when it changes)")
    serve.add_argument(
        "--events-schema",
        type=Path,
        help="the event schema the champion's table was built with: POST /predict/events computes window "
        "features from posted events by it (default: EVENTS_SCHEMA_PATH)",
    )
    settings = command("settings", "print the effective settings (secrets masked)")
    workdir_option(settings, "its paths")
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    from churnguard.entrypoints.settings import Settings

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
    if getattr(args, "max_rejected", None) is not None:
        settings = settings.with_overrides("drift", max_rejected_share=args.max_rejected)
    if hasattr(args, "data"):
        args.data = settings.paths.data_path
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    # MLflow's download bars belong on a terminal, not in a job's log
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", str(sys.stderr.isatty()).lower())
    from pydantic import ValidationError

    try:
        commands = importlib.import_module(COMMANDS)
        from churnguard.entrypoints.container import build_container

        container = build_container(_settings_from(args))
        container.wire(modules=[commands])
        try:
            return int(getattr(commands, args.handler)(args))
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


if __name__ == "__main__":
    sys.exit(main())
