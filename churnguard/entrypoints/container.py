"""The composition root: the only module that names concrete adapters.

Tests and embedders swap any adapter with `container.<name>.override(fake)`.
"""

from __future__ import annotations

import operator
from pathlib import Path

from dependency_injector import containers, providers

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.adapters.csv_dataset_source import FileTableWriter
from churnguard.adapters.customer_generator import PandasCustomerGenerator
from churnguard.adapters.drift_report_writer import FileDriftReportWriter, FileOutcomesReportWriter
from churnguard.adapters.drift_samples import PandasDriftSamples
from churnguard.adapters.evidently_drift_detector import EvidentlyDriftDetector
from churnguard.adapters.file_scoring import CustomerFile, FileScoredWriter, FrameCustomers, FrameScoredWriter
from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.httpx_traffic_sender import HttpxTrafficSender
from churnguard.adapters.in_memory import (
    FrameDatasetSource,
    InMemoryDriftReportWriter,
    InMemoryExperimentTracker,
    InMemoryModelStore,
    InMemoryPredictionLog,
    InMemoryReportWriter,
)
from churnguard.adapters.json_report_writer import JsonReportWriter
from churnguard.adapters.jsonl_experiment_tracker import JsonlExperimentTracker
from churnguard.adapters.mlflow_experiment_tracker import MlflowExperimentTracker, is_remote
from churnguard.adapters.mlflow_inference_tracer import MlflowInferenceTracer, NullInferenceTracer
from churnguard.adapters.mlflow_model_store import MlflowModelStore
from churnguard.adapters.model_families import FAMILY_SETS
from churnguard.adapters.outcome_file import CsvOutcomeReader
from churnguard.adapters.pandera_dataset_validator import PanderaDatasetValidator
from churnguard.adapters.postgres_prediction_log import (
    PostgresOutcomeLedger,
    PostgresPredictionArchive,
    PostgresPredictionHistory,
    PostgresPredictionLog,
    is_postgres,
)
from churnguard.adapters.prediction_log_queue import NoPredictionLog
from churnguard.adapters.schema_profiler import PandasSchemaProfiler
from churnguard.adapters.serving_model import compile_for_serving
from churnguard.adapters.shap_explainer import ShapExplainer
from churnguard.adapters.sklearn_evaluation import SklearnModelEvaluator
from churnguard.adapters.sklearn_model_trainer import SklearnModelTrainer
from churnguard.adapters.spark_scoring import SparkScoringEngine
from churnguard.adapters.sqlite_prediction_log import (
    SqliteOutcomeLedger,
    SqlitePredictionArchive,
    SqlitePredictionHistory,
    SqlitePredictionLog,
)
from churnguard.adapters.system_clock import SystemClock
from churnguard.adapters.terminal_progress import progress_on_terminal
from churnguard.adapters.yaml_schema import YamlSchemaReader, load_schema
from churnguard.application.detect_drift import CheckDrift, DetectDrift
from churnguard.application.draft_schema import DraftSchema
from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.generate_customers import GenerateData, ManagePredictions, SimulateTraffic
from churnguard.application.ports import (
    ExperimentTracker,
    InferenceTracer,
    ModelStore,
    OutcomeLedger,
    PredictionArchive,
    PredictionHistory,
    PredictionLog,
    TrainingPlan,
)
from churnguard.application.predict_churn import ChampionCache, PredictChurn
from churnguard.application.promote_model import PromoteModel
from churnguard.application.record_outcomes import RecordOutcomes
from churnguard.application.run_pipeline import RunPipeline
from churnguard.application.score_customers import ScoreCustomers, ScoreOnEngine
from churnguard.application.train_model import TrainModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.decision_threshold import RetentionCampaign, ThresholdStrategy
from churnguard.domain.drift_policy import DriftPolicy
from churnguard.domain.quality_gate import QualityGate
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.settings import MlflowSettings, PathSettings, Settings, TrainingSettings


def named_schema(paths: PathSettings) -> TableSchema | None:
    """SCHEMA_PATH (or --schema) read and validated; None when unset. A stored model's own
    schema must then be it."""
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
        return JsonlExperimentTracker(paths.runs_dir)
    uri = tracking_uri(paths, mlflow)
    local_artifacts = None if is_remote(uri) else (paths.workdir / "mlartifacts").resolve().as_uri()
    return MlflowExperimentTracker(uri, mlflow.mlflow_experiment_name, mlflow.mlflow_model_name, local_artifacts)


def build_model_store(paths: PathSettings, mlflow: MlflowSettings) -> ModelStore:
    if mlflow.model_store == "mlflow":
        return MlflowModelStore(tracking_uri(paths, mlflow), mlflow.mlflow_model_name, paths.models_dir / ".lock")
    return FilesystemModelStore(paths.models_dir)


def build_inference_tracer(paths: PathSettings, mlflow: MlflowSettings) -> InferenceTracer:
    if not mlflow.enable_mlflow_tracing:
        return NullInferenceTracer()
    return MlflowInferenceTracer(tracking_uri(paths, mlflow), mlflow.mlflow_trace_experiment_name)


def build_prediction_log(settings: Settings) -> PredictionLog:
    config = settings.prediction_log
    if not config.prediction_log_enabled:
        return NoPredictionLog()
    flush, queue, retention = (
        config.prediction_log_flush_seconds,
        config.prediction_log_queue_size,
        config.prediction_retention_days,
    )
    location = settings.prediction_log_location
    if is_postgres(location):
        return PostgresPredictionLog(location, flush, queue, retention)
    return SqlitePredictionLog(settings.prediction_log_path, flush, queue, retention)


def build_prediction_history(settings: Settings) -> PredictionHistory:
    location = settings.prediction_log_location
    return PostgresPredictionHistory(location) if is_postgres(location) else SqlitePredictionHistory(Path(location))


def build_prediction_archive(settings: Settings, writer: FileTableWriter) -> PredictionArchive:
    location = settings.prediction_log_location
    if is_postgres(location):
        return PostgresPredictionArchive(location, writer)
    return SqlitePredictionArchive(Path(location), writer)


def build_outcome_ledger(settings: Settings) -> OutcomeLedger:
    location = settings.prediction_log_location
    return PostgresOutcomeLedger(location) if is_postgres(location) else SqliteOutcomeLedger(Path(location))


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    progress = providers.Factory(progress_on_terminal)
    # CSV files by path, and DataFrames an embedding program hands over by name
    dataset_source = providers.Singleton(FrameDatasetSource)
    named_schema = providers.Singleton(named_schema, paths=settings.provided.paths)
    schema = providers.Callable(schema_or_original, named=named_schema)
    dataset_validator = providers.Singleton(
        PanderaDatasetValidator,
        drop_duplicates=providers.Callable(operator.not_, settings.provided.training.keep_duplicates),
    )
    model_trainer = providers.Singleton(SklearnModelTrainer)
    model_evaluator = providers.Singleton(
        SklearnModelEvaluator, bootstrap_rounds=settings.provided.gate.bootstrap_rounds
    )
    model_store = providers.Singleton(build_model_store, paths=settings.provided.paths, mlflow=settings.provided.mlflow)
    report_writer = providers.Singleton(JsonReportWriter, reports_dir=settings.provided.paths.reports_dir)
    experiment_tracker = providers.Singleton(
        build_experiment_tracker, paths=settings.provided.paths, mlflow=settings.provided.mlflow
    )

    plan = providers.Factory(training_plan, training=settings.provided.training)
    quality_gate = providers.Factory(
        QualityGate, min_f1=settings.provided.gate.min_f1, tolerance=settings.provided.gate.f1_tolerance
    )

    schema_reader = providers.Singleton(YamlSchemaReader)
    draft_schema = providers.Factory(
        DraftSchema, source=dataset_source, profiler=providers.Singleton(PandasSchemaProfiler), reader=schema_reader
    )
    validate_dataset = providers.Factory(
        ValidateDataset,
        source=dataset_source,
        validator=dataset_validator,
        named=named_schema,
    )
    train_model = providers.Factory(
        TrainModel, trainer=model_trainer, store=model_store, tracker=experiment_tracker, clock=clock, plan=plan
    )
    evaluate_model = providers.Factory(
        EvaluateModel,
        evaluator=model_evaluator,
        store=model_store,
        writer=report_writer,
        tracker=experiment_tracker,
        clock=clock,
    )
    promote_model = providers.Factory(
        PromoteModel,
        store=model_store,
        evaluator=model_evaluator,
        gate=quality_gate,
        tracker=experiment_tracker,
        bootstrap_rounds=settings.provided.gate.bootstrap_rounds,
    )
    inference_tracer = providers.Singleton(
        build_inference_tracer, paths=settings.provided.paths, mlflow=settings.provided.mlflow
    )
    prediction_log = providers.Singleton(build_prediction_log, settings=settings)
    drift_policy = providers.Factory(
        DriftPolicy, drift_share=settings.provided.drift.drift_share, min_rows=settings.provided.drift.drift_min_rows
    )
    drift_reports = providers.Singleton(FileDriftReportWriter, reports_dir=settings.provided.paths.reports_dir)
    detect_drift = providers.Factory(
        DetectDrift,
        detector=providers.Singleton(EvidentlyDriftDetector),
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
            PandasDriftSamples,
            default_log=settings.provided.prediction_log_location,
            random_state=settings.provided.training.random_state,
            source=dataset_source,
        ),
        store=model_store,
        detect=detect_drift,
        declared=named_schema,
    )
    prediction_history = providers.Singleton(build_prediction_history, settings=settings)
    table_writer = providers.Singleton(FileTableWriter)
    text_writer = providers.Object(atomic_write_text)
    customer_generator = providers.Singleton(PandasCustomerGenerator)
    generate_data = providers.Factory(
        GenerateData, generator=customer_generator, writer=table_writer, validate=validate_dataset, progress=progress
    )
    simulate_traffic = providers.Factory(
        SimulateTraffic,
        generator=customer_generator,
        sender=providers.Singleton(HttpxTrafficSender),
        validate=validate_dataset,
    )
    manage_predictions = providers.Factory(
        ManagePredictions,
        archive=providers.Singleton(build_prediction_archive, settings=settings, writer=table_writer),
        store=model_store,
        declared=named_schema,
        progress=progress,
    )
    outcome_reports = providers.Singleton(FileOutcomesReportWriter, reports_dir=settings.provided.paths.reports_dir)
    record_outcomes = providers.Factory(
        RecordOutcomes,
        reader=providers.Singleton(CsvOutcomeReader),
        ledger=providers.Singleton(build_outcome_ledger, settings=settings),
        store=model_store,
        writer=outcome_reports,
        tracker=experiment_tracker,
        clock=clock,
    )
    customer_file = providers.Factory(CustomerFile)
    customer_frame = providers.Factory(FrameCustomers)
    scored_writer = providers.Factory(FileScoredWriter)
    frame_writer = providers.Factory(FrameScoredWriter)
    champion_cache = providers.Singleton(ChampionCache, store=model_store, prepare=compile_for_serving)
    model_explainer = providers.Singleton(ShapExplainer)
    predict_churn = providers.Factory(
        PredictChurn, champion=champion_cache, tracer=inference_tracer, declared=named_schema
    )
    score_on_engine = providers.Factory(
        ScoreOnEngine,
        store=model_store,
        engine=providers.Factory(
            SparkScoringEngine,
            master=settings.provided.spark.spark_master,
            driver_memory=settings.provided.spark.spark_driver_memory,
            progress=progress,
        ),
        declared=named_schema,
    )
    score_customers = providers.Factory(
        ScoreCustomers,
        champion=champion_cache,
        declared=named_schema,
        progress=progress,
    )
    run_pipeline = providers.Factory(
        RunPipeline, validate=validate_dataset, train=train_model, evaluate=evaluate_model, promote=promote_model
    )


def build_container(settings: Settings, in_memory: bool = False) -> Container:
    """The application's object graph; `in_memory`: every port that would write a file or call
    a server is kept in Python objects instead (models, reports, tracking, the prediction log)."""
    container = Container(settings=settings)
    if in_memory:
        container.model_store.override(providers.Singleton(InMemoryModelStore))
        container.experiment_tracker.override(providers.Singleton(InMemoryExperimentTracker))
        container.report_writer.override(providers.Singleton(InMemoryReportWriter))
        container.drift_reports.override(providers.Singleton(InMemoryDriftReportWriter))
        container.prediction_log.override(providers.Singleton(InMemoryPredictionLog))
        container.inference_tracer.override(providers.Singleton(NullInferenceTracer))
    return container
