"""The composition root: the only module that names concrete adapters.

Tests and embedders swap any adapter with `container.<name>.override(fake)`.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable
from typing import Any

from dependency_injector import containers, providers

from churnguard.adapters.log_location import log_engine
from churnguard.application.build_observations import (
    BuildObservations,
    GenerateHistory,
    OutcomesAsOf,
    ScoreAsOf,
)
from churnguard.application.champion import ChampionCache
from churnguard.application.detect_drift import CheckDrift, DetectDrift
from churnguard.application.draft_schema import DraftEventSchema, DraftSchema
from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.export_survival import ExportSurvivalSql
from churnguard.application.generate_customers import GenerateData, ManagePredictions, SimulateTraffic
from churnguard.application.ports import (
    ExperimentTracker,
    InferenceTracer,
    ModelStore,
    OutcomeLedger,
    PredictionArchive,
    PredictionHistory,
    PredictionLog,
    TableWriter,
    TrainingPlan,
)
from churnguard.application.predict_churn import PredictChurn
from churnguard.application.promote_model import PromoteModel
from churnguard.application.record_outcomes import RecordOutcomes
from churnguard.application.record_survival_outcomes import RecordSurvivalOutcomes
from churnguard.application.run_pipeline import RunPipeline
from churnguard.application.score_customers import ScoreCustomers, ScoreOnEngine
from churnguard.application.train_model import TrainModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.decision_threshold import RetentionCampaign, ThresholdStrategy
from churnguard.domain.drift_policy import DriftPolicy
from churnguard.domain.model_family import FAMILY_SETS
from churnguard.domain.quality_gate import QualityGate
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.settings import MlflowSettings, PathSettings, Settings, TrainingSettings


def _file_batches(location: str) -> Any:
    """A CSV or Parquet file of customers at `location`, read in chunks (`score --as-of`)."""
    from pathlib import Path

    from churnguard.adapters.file_scoring import CustomerFile

    return CustomerFile(Path(location))


def _adapter(path: str) -> Callable[..., Any]:
    """The adapter `module:name`, imported when its provider first builds it: a command pays
    only for the adapters it uses (MLflow, skops, matplotlib and Evidently take seconds)."""
    module, _, name = path.partition(":")

    def build(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    build.__qualname__ = build.__name__ = name
    build.adapter_path = path  # type: ignore[attr-defined]
    return build


def named_schema(paths: PathSettings) -> TableSchema | None:
    """SCHEMA_PATH (or --schema) read and validated; None when unset. A stored model's own
    schema must then be it."""
    from churnguard.adapters.yaml_schema import load_schema

    return load_schema(paths.schema_path) if paths.schema_path is not None else None


def schema_or_original(named: TableSchema | None) -> TableSchema:
    """The schema a new table is read with: the named one, else the original's."""
    return named or ORIGINAL_SCHEMA


def training_plan(training: TrainingSettings) -> TrainingPlan:

    return TrainingPlan(
        families=FAMILY_SETS[training.family],
        family_set=training.family,
        grid_size=training.grid,
        search=training.search,
        selection_metric=training.selection_metric,
        calibration=training.calibration,
        threshold_strategy=ThresholdStrategy(training.threshold_strategy),
        campaign=RetentionCampaign(
            contact_cost=training.contact_cost,
            retained_value=training.retained_value,
            success_rate=training.offer_success_rate,
        ),
        test_size=training.test_size,
        random_state=training.random_state,
        cv_folds=training.cv_folds,
        n_jobs=training.n_jobs,
    )


def tracking_uri(paths: PathSettings, mlflow: MlflowSettings) -> str:
    """MLFLOW_TRACKING_URI, with a relative sqlite path placed under the workdir."""
    uri = mlflow.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{(paths.workdir / uri.removeprefix('sqlite:///')).resolve()}"
    return uri


def build_experiment_tracker(paths: PathSettings, mlflow: MlflowSettings) -> ExperimentTracker:
    if not mlflow.enable_mlflow_tracking:
        from churnguard.adapters.jsonl_experiment_tracker import JsonlExperimentTracker

        return JsonlExperimentTracker(paths.runs_dir)
    from churnguard.adapters.mlflow_experiment_tracker import MlflowExperimentTracker, is_remote

    uri = tracking_uri(paths, mlflow)
    local_artifacts = None if is_remote(uri) else (paths.workdir / "mlartifacts").resolve().as_uri()
    return MlflowExperimentTracker(uri, mlflow.mlflow_experiment_name, mlflow.mlflow_model_name, local_artifacts)


def build_model_store(paths: PathSettings, mlflow: MlflowSettings) -> ModelStore:
    if mlflow.model_store == "mlflow":
        from churnguard.adapters.mlflow_model_store import MlflowModelStore

        return MlflowModelStore(tracking_uri(paths, mlflow), mlflow.mlflow_model_name, paths.models_dir / ".lock")
    from churnguard.adapters.filesystem_model_store import FilesystemModelStore

    return FilesystemModelStore(paths.models_dir)


def build_inference_tracer(paths: PathSettings, mlflow: MlflowSettings) -> InferenceTracer:
    if not mlflow.enable_mlflow_tracing:
        from churnguard.adapters.null_inference_tracer import NullInferenceTracer

        return NullInferenceTracer()
    from churnguard.adapters.mlflow_inference_tracer import MlflowInferenceTracer

    return MlflowInferenceTracer(tracking_uri(paths, mlflow), mlflow.mlflow_trace_experiment_name)


def build_prediction_log(settings: Settings) -> PredictionLog:
    config = settings.prediction_log
    if not config.prediction_log_enabled:
        from churnguard.adapters.prediction_log_queue import NoPredictionLog

        return NoPredictionLog()
    location = settings.prediction_log_location
    return log_engine(location).open_log(
        location,
        config.prediction_log_flush_seconds,
        config.prediction_log_queue_size,
        config.prediction_retention_days,
    )


def build_prediction_history(settings: Settings) -> PredictionHistory:
    return log_engine(settings.prediction_log_location).history(settings.prediction_log_location)


def build_prediction_archive(settings: Settings, writer: TableWriter) -> PredictionArchive:
    return log_engine(settings.prediction_log_location).archive(settings.prediction_log_location, writer)


def build_outcome_ledger(settings: Settings) -> OutcomeLedger:
    return log_engine(settings.prediction_log_location).ledger(settings.prediction_log_location)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(_adapter("churnguard.adapters.system_clock:SystemClock"))
    progress = providers.Factory(_adapter("churnguard.adapters.terminal_progress:progress_on_terminal"))
    # CSV files by path, and DataFrames an embedding program hands over by name
    dataset_source = providers.Singleton(_adapter("churnguard.adapters.csv_dataset_source:FrameDatasetSource"))
    named_schema = providers.Singleton(named_schema, paths=settings.provided.paths)
    schema = providers.Callable(schema_or_original, named=named_schema)
    dataset_validator = providers.Singleton(
        _adapter("churnguard.adapters.pandera_dataset_validator:PanderaDatasetValidator"),
        drop_duplicates=providers.Callable(operator.not_, settings.provided.training.keep_duplicates),
    )
    model_trainer = providers.Singleton(_adapter("churnguard.adapters.sklearn_model_trainer:SklearnModelTrainer"))
    model_evaluator = providers.Singleton(
        _adapter("churnguard.adapters.sklearn_evaluation:SklearnModelEvaluator"),
        bootstrap_rounds=settings.provided.gate.bootstrap_rounds,
    )
    model_store = providers.Singleton(build_model_store, paths=settings.provided.paths, mlflow=settings.provided.mlflow)
    report_writer = providers.Singleton(
        _adapter("churnguard.adapters.json_report_writer:JsonReportWriter"),
        reports_dir=settings.provided.paths.reports_dir,
    )
    experiment_tracker = providers.Singleton(
        build_experiment_tracker, paths=settings.provided.paths, mlflow=settings.provided.mlflow
    )

    plan = providers.Factory(training_plan, training=settings.provided.training)
    quality_gate = providers.Factory(
        QualityGate, min_f1=settings.provided.gate.min_f1, tolerance=settings.provided.gate.f1_tolerance
    )

    schema_reader = providers.Singleton(_adapter("churnguard.adapters.yaml_schema:YamlSchemaReader"))
    draft_schema = providers.Factory(
        DraftSchema,
        source=dataset_source,
        profiler=providers.Singleton(_adapter("churnguard.adapters.schema_profiler:PandasSchemaProfiler")),
        reader=schema_reader,
    )
    event_schema_reader = providers.Singleton(_adapter("churnguard.adapters.yaml_event_schema:YamlEventSchemaReader"))
    observation_builder = providers.Singleton(
        _adapter("churnguard.adapters.duckdb_observation_builder:DuckdbObservationBuilder"),
        memory_limit=settings.provided.events.events_memory_limit,
    )
    table_schema_writer = providers.Singleton(_adapter("churnguard.adapters.yaml_event_schema:YamlTableSchemaWriter"))
    build_observations = providers.Factory(
        BuildObservations, reader=event_schema_reader, builder=observation_builder, writer=table_schema_writer
    )
    draft_event_schema = providers.Factory(
        DraftEventSchema,
        profiler=providers.Singleton(
            _adapter("churnguard.adapters.duckdb_event_profiler:DuckdbEventProfiler"), builder=observation_builder
        ),
        reader=event_schema_reader,
    )
    build_observations_on_spark = providers.Factory(
        BuildObservations,
        reader=event_schema_reader,
        builder=providers.Singleton(
            _adapter("churnguard.adapters.spark_observation_builder:SparkObservationBuilder"),
            master=settings.provided.spark.spark_master,
            driver_memory=settings.provided.spark.spark_driver_memory,
        ),
        writer=table_schema_writer,
    )
    generate_history = providers.Factory(
        GenerateHistory,
        generator=providers.Singleton(
            _adapter("churnguard.adapters.subscription_history:SubscriptionHistoryGenerator")
        ),
    )
    validate_dataset = providers.Factory(
        ValidateDataset,
        source=dataset_source,
        validator=dataset_validator,
        named=named_schema,
    )
    train_model = providers.Factory(
        TrainModel,
        trainer=model_trainer,
        store=model_store,
        tracker=experiment_tracker,
        clock=clock,
        plan=plan,
        validate=validate_dataset,
    )
    evaluate_model = providers.Factory(
        EvaluateModel,
        evaluator=model_evaluator,
        store=model_store,
        writer=report_writer,
        tracker=experiment_tracker,
        clock=clock,
        validate=validate_dataset,
    )
    promote_model = providers.Factory(
        PromoteModel,
        store=model_store,
        evaluator=model_evaluator,
        gate=quality_gate,
        tracker=experiment_tracker,
        bootstrap_rounds=settings.provided.gate.bootstrap_rounds,
        validate=validate_dataset,
    )
    inference_tracer = providers.Singleton(
        build_inference_tracer, paths=settings.provided.paths, mlflow=settings.provided.mlflow
    )
    prediction_log = providers.Singleton(build_prediction_log, settings=settings)
    drift_policy = providers.Factory(
        DriftPolicy, drift_share=settings.provided.drift.drift_share, min_rows=settings.provided.drift.drift_min_rows
    )
    drift_reports = providers.Singleton(
        _adapter("churnguard.adapters.drift_report_writer:FileDriftReportWriter"),
        reports_dir=settings.provided.paths.reports_dir,
    )
    detect_drift = providers.Factory(
        DetectDrift,
        detector=providers.Singleton(_adapter("churnguard.adapters.evidently_drift_detector:EvidentlyDriftDetector")),
        store=model_store,
        writer=drift_reports,
        tracker=experiment_tracker,
        clock=clock,
        policy=drift_policy,
        f1_floor=settings.provided.gate.min_f1,
    )
    check_drift = providers.Factory(
        CheckDrift,
        samples=providers.Singleton(
            _adapter("churnguard.adapters.drift_samples:PandasDriftSamples"),
            default_log=settings.provided.prediction_log_location,
            random_state=settings.provided.training.random_state,
            source=dataset_source,
            max_rejected_share=settings.provided.drift.max_rejected_share,
        ),
        store=model_store,
        detect=detect_drift,
        declared=named_schema,
    )
    prediction_history = providers.Singleton(build_prediction_history, settings=settings)
    table_writer = providers.Singleton(_adapter("churnguard.adapters.csv_dataset_source:FileTableWriter"))
    text_writer = providers.Object(_adapter("churnguard.adapters.atomic_files:atomic_write_text"))
    customer_generator = providers.Singleton(_adapter("churnguard.adapters.customer_generator:PandasCustomerGenerator"))
    generate_data = providers.Factory(
        GenerateData, generator=customer_generator, writer=table_writer, validate=validate_dataset, progress=progress
    )
    simulate_traffic = providers.Factory(
        SimulateTraffic,
        generator=customer_generator,
        sender=providers.Singleton(_adapter("churnguard.adapters.httpx_traffic_sender:HttpxTrafficSender")),
        validate=validate_dataset,
    )
    manage_predictions = providers.Factory(
        ManagePredictions,
        archive=providers.Singleton(build_prediction_archive, settings=settings, writer=table_writer),
        store=model_store,
        declared=named_schema,
        progress=progress,
    )
    outcome_reports = providers.Singleton(
        _adapter("churnguard.adapters.drift_report_writer:FileOutcomesReportWriter"),
        reports_dir=settings.provided.paths.reports_dir,
    )
    record_outcomes = providers.Factory(
        RecordOutcomes,
        reader=providers.Singleton(_adapter("churnguard.adapters.outcome_file:CsvOutcomeReader")),
        ledger=providers.Singleton(build_outcome_ledger, settings=settings),
        store=model_store,
        writer=outcome_reports,
        tracker=experiment_tracker,
        clock=clock,
    )
    survival_outcomes = providers.Factory(
        RecordSurvivalOutcomes,
        scored=providers.Singleton(_adapter("churnguard.adapters.outcome_file:ScoredFileReader")),
        dates=providers.Singleton(_adapter("churnguard.adapters.outcome_file:CsvOutcomeReader")),
        store=model_store,
        writer=report_writer,
        clock=clock,
    )
    outcomes_as_of = providers.Factory(
        OutcomesAsOf,
        reader=event_schema_reader,
        builder=observation_builder,
        labels=providers.Singleton(_adapter("churnguard.adapters.outcome_file:CsvOutcomeReader")),
        scored=providers.Singleton(_adapter("churnguard.adapters.outcome_file:ScoredFileReader")),
        store=model_store,
        writer=outcome_reports,
        clock=clock,
    )
    customer_file = providers.Factory(_adapter("churnguard.adapters.file_scoring:CustomerFile"))
    customer_frame = providers.Factory(_adapter("churnguard.adapters.file_scoring:FrameCustomers"))
    scored_writer = providers.Factory(_adapter("churnguard.adapters.file_scoring:FileScoredWriter"))
    frame_writer = providers.Factory(_adapter("churnguard.adapters.file_scoring:FrameScoredWriter"))
    champion_cache = providers.Singleton(
        ChampionCache, store=model_store, prepare=_adapter("churnguard.adapters.serving_model:compile_for_serving")
    )
    model_explainer = providers.Singleton(_adapter("churnguard.adapters.shap_explainer:ShapExplainer"))
    predict_churn = providers.Factory(
        PredictChurn,
        champion=champion_cache,
        tracer=inference_tracer,
        log=prediction_log,
        explainer=model_explainer,
        declared=named_schema,
    )
    score_on_engine = providers.Factory(
        ScoreOnEngine,
        store=model_store,
        engine=providers.Factory(
            _adapter("churnguard.adapters.spark_scoring:SparkScoringEngine"),
            master=settings.provided.spark.spark_master,
            driver_memory=settings.provided.spark.spark_driver_memory,
            progress=progress,
        ),
        max_rejected_share=settings.provided.drift.max_rejected_share,
        declared=named_schema,
    )
    export_survival_sql = providers.Factory(
        ExportSurvivalSql,
        champion=champion_cache,
        exporter=providers.Factory(_adapter("churnguard.adapters.cox_sql_export:CoxSqlExporter")),
    )
    score_customers = providers.Factory(
        ScoreCustomers,
        champion=champion_cache,
        declared=named_schema,
        progress=progress,
        max_rejected_share=settings.provided.drift.max_rejected_share,
    )
    score_as_of = providers.Factory(
        ScoreAsOf,
        reader=event_schema_reader,
        builder=observation_builder,
        score=score_customers,
        champion=champion_cache,
        batches=providers.Object(_file_batches),
    )
    run_pipeline = providers.Factory(
        RunPipeline, validate=validate_dataset, train=train_model, evaluate=evaluate_model, promote=promote_model
    )


def build_container(settings: Settings, in_memory: bool = False) -> Container:
    """The application's object graph; `in_memory`: every port that would write a file or call
    a server is kept in Python objects instead (models, reports, tracking, the prediction log)."""
    container = Container(settings=settings)
    if in_memory:
        container.model_store.override(
            providers.Singleton(_adapter("churnguard.adapters.in_memory:InMemoryModelStore"))
        )
        container.experiment_tracker.override(
            providers.Singleton(_adapter("churnguard.adapters.in_memory:InMemoryExperimentTracker"))
        )
        container.report_writer.override(
            providers.Singleton(_adapter("churnguard.adapters.in_memory:InMemoryReportWriter"))
        )
        container.drift_reports.override(
            providers.Singleton(_adapter("churnguard.adapters.in_memory:InMemoryDriftReportWriter"))
        )
        container.prediction_log.override(
            providers.Singleton(_adapter("churnguard.adapters.in_memory:InMemoryPredictionLog"))
        )
        container.inference_tracer.override(
            providers.Singleton(_adapter("churnguard.adapters.null_inference_tracer:NullInferenceTracer"))
        )
    return container
