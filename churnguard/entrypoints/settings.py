"""One settings tree, read from the environment and a `.env` file with the original names.

Each section is its own BaseSettings so the flat, historical variable names (MIN_F1,
TEST_SIZE, MLFLOW_TRACKING_URI, ...) keep working, while providers receive typed sections.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard.domain.model_family import FamilySet

ENV_FILE_VARIABLE = "CHURNGUARD_ENV_FILE"
"""Names the dotenv file read beside the environment (default `.env` in the working directory)."""
_ENV = SettingsConfigDict(
    env_file=os.environ.get(ENV_FILE_VARIABLE, ".env"), env_file_encoding="utf-8", extra="ignore", case_sensitive=False
)


class PathSettings(BaseSettings):
    model_config = _ENV

    workdir: Path = Field(Path("."), description="models/, reports/ and mlflow.db live under it (WORKDIR)")
    data_path: Path = Field(Path("data/raw/churn.csv"), description="training CSV (DATA_PATH)")
    schema_path: Path | None = Field(
        None, description="the table's schema YAML (SCHEMA_PATH); unset: the original schema, schemas/original.yaml"
    )

    @property
    def models_dir(self) -> Path:
        return self.workdir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.workdir / "reports"

    @property
    def runs_dir(self) -> Path:
        return self.reports_dir / "runs"


class TrainingSettings(BaseSettings):
    model_config = _ENV

    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="holdout share (TEST_SIZE)")
    random_state: int = Field(42, description="seed for split, folds and model (RANDOM_STATE)")
    cv_folds: int = Field(5, ge=2, le=20, description="cross-validation folds (CV_FOLDS)")
    family: FamilySet = Field(
        FamilySet.DEFAULT, description="model families to search (FAMILY): default = logistic + hgb"
    )
    grid: Literal["full", "fast"] = Field("full", description="grid size per family (GRID)")
    search: Literal["grid", "halving"] = Field("grid", description="exhaustive or successive halving (SEARCH)")
    selection_metric: Literal["log_loss", "roc_auc"] = Field("log_loss", description="CV selection (SELECTION_METRIC)")
    calibration: Literal["auto", "none"] = Field("auto", description="calibrate if it lowers Brier (CALIBRATION)")
    threshold_strategy: Literal["f1", "expected_value"] = Field("f1", description="THRESHOLD_STRATEGY")
    contact_cost: float = Field(10.0, ge=0.0, description="cost per contacted customer (CONTACT_COST)")
    retained_value: float = Field(200.0, ge=0.0, description="value of a retained customer (RETAINED_VALUE)")
    offer_success_rate: float = Field(0.3, ge=0.0, le=1.0, description="OFFER_SUCCESS_RATE")
    n_jobs: int = Field(-1, description="parallel fits, -1 = all cores (N_JOBS)")
    keep_duplicates: bool = Field(
        False, description="keep rows repeated in every column (KEEP_DUPLICATES); dropped before the split by default"
    )


class GateSettings(BaseSettings):
    model_config = _ENV

    min_f1: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="holdout F1 floor for promotion (MIN_F1); unset: the schema's quality.min_f1, else the baselines",
    )
    f1_tolerance: float = Field(0.01, ge=0.0, le=1.0, description="allowed F1 drop vs champion (F1_TOLERANCE)")
    bootstrap_rounds: int = Field(1000, ge=100, le=100_000, description="resamples for intervals (BOOTSTRAP_ROUNDS)")


class MlflowSettings(BaseSettings):
    model_config = _ENV

    mlflow_tracking_uri: str = Field(
        "sqlite:///mlflow.db", description="MLFLOW_TRACKING_URI; a relative sqlite path lives under the workdir"
    )
    mlflow_experiment_name: str = Field("churn-classifier", description="MLFLOW_EXPERIMENT_NAME")
    mlflow_model_name: str = Field("churn-model", description="MLFLOW_MODEL_NAME")
    enable_mlflow_tracking: bool = Field(True, description="log runs to MLflow (ENABLE_MLFLOW_TRACKING)")
    enable_mlflow_tracing: bool = Field(False, description="trace predictions (ENABLE_MLFLOW_TRACING)")
    mlflow_trace_experiment_name: str = Field("churn-inference", description="MLFLOW_TRACE_EXPERIMENT_NAME")
    mlflow_tracking_password: SecretStr | None = Field(None, description="MLFLOW_TRACKING_PASSWORD")
    model_store: Literal["filesystem", "mlflow"] = Field(
        "filesystem", description="MODEL_STORE: filesystem (models/) or mlflow (the registry, champion alias)"
    )


class ApiSettings(BaseSettings):
    model_config = _ENV

    host: str = Field(
        "127.0.0.1",
        validation_alias=AliasChoices("host", "api_host"),
        description="bind address (HOST, or the original's API_HOST)",
    )
    port: int = Field(
        8001,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("port", "api_port"),
        description="port (PORT, or the original's API_PORT)",
    )
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes (WORKERS)")
    worker_healthcheck_seconds: int = Field(
        30,
        ge=1,
        description="restart a worker silent this long; uvicorn's 5 s killed workers still importing on a busy host",
    )
    model_poll_seconds: float = Field(10.0, ge=0.0, description="check for a new champion every N s, 0 = off")
    batch_limit: int = Field(10_000, ge=1, description="most customers in one /predict/batch (BATCH_LIMIT)")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest request body, 413 beyond (MAX_BODY_BYTES)")
    admin_api_key: SecretStr | None = Field(None, description="X-API-Key for /admin/*; unset disables them")
    predict_api_key: SecretStr | None = Field(
        None, description="X-API-Key required on /predict and /predict/batch (PREDICT_API_KEY); unset: open"
    )
    cors_allow_origins: str = Field(
        "", description="comma-separated origins allowed by CORS (CORS_ALLOW_ORIGINS); empty: CORS off"
    )
    mlflow_ui_url: str | None = Field(None, description="link shown in the UI's Monitoring view (MLFLOW_UI_URL)")
    grafana_url: str | None = Field(None, description="link shown in the UI's Monitoring view (GRAFANA_URL)")
    log_format: Literal["text", "json"] = Field(
        "text", description="log lines as text or one JSON object per line (LOG_FORMAT), in every worker"
    )
    access_log: bool = Field(False, description="one log line per HTTP request (ACCESS_LOG)")
    original_metric_names: bool = Field(
        True, description="also expose the original ChurnGuard's metric names on /metrics (ORIGINAL_METRIC_NAMES)"
    )


class PredictionLogSettings(BaseSettings):
    model_config = _ENV

    prediction_log_enabled: bool = Field(
        True,
        description="log every prediction of the API, `churnguard predict` and ChurnGuard.predict "
        "(PREDICTION_LOG_ENABLED)",
    )
    prediction_log_path: Path | None = Field(None, description="SQLite file (default <workdir>/predictions.db)")
    prediction_log_url: str | None = Field(
        None,
        description="PREDICTION_LOG_URL: postgresql://user@host:port/db for one log shared by every replica"
        " (password in the URL or PGPASSWORD); sqlite:///path for a file; unset: PREDICTION_LOG_PATH",
    )
    prediction_log_flush_seconds: float = Field(1.0, gt=0.0, le=60.0, description="PREDICTION_LOG_FLUSH_SECONDS")
    prediction_log_queue_size: int = Field(100_000, ge=100, description="PREDICTION_LOG_QUEUE_SIZE")
    prediction_retention_days: float = Field(90.0, ge=0.0, description="prune older rows; 0 keeps all")

    @field_validator("prediction_log_url")
    @classmethod
    def _known_engine(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("must start with postgresql:// (or postgres://) or sqlite:///")
        return url or None


class DriftSettings(BaseSettings):
    model_config = _ENV

    drift_share: float = Field(0.5, gt=0.0, le=1.0, description="share of drifted features for dataset drift")
    drift_min_rows: int = Field(100, ge=1, description="fewest current rows a drift check accepts")
    max_rejected_share: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="largest rejected share a score or drift run accepts (MAX_REJECTED_SHARE); unset: the "
        "schema's quality.max_rejected_share, else 0.1",
    )
    drift_window_days: float = Field(7.0, gt=0.0, description="default current window of the prediction log")


class SparkSettings(BaseSettings):
    model_config = _ENV

    spark_master: str = Field(
        "local[*]", description="SPARK_MASTER for `score --engine spark`: local[*] (all cores here) or a cluster URL"
    )
    spark_driver_memory: str = Field("2g", description="SPARK_DRIVER_MEMORY: the Spark driver's heap")


class EventSettings(BaseSettings):
    model_config = _ENV

    events_memory_limit: str = Field(
        "1GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="EVENTS_MEMORY_LIMIT: the event builder's memory (DuckDB spills to disk past it)",
    )
    events_schema_path: Path | None = Field(
        None,
        description="EVENTS_SCHEMA_PATH: the event schema POST /predict/events computes window features by "
        "(`serve --events-schema`)",
    )


class Settings(BaseModel):
    paths: PathSettings = Field(default_factory=PathSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    prediction_log: PredictionLogSettings = Field(default_factory=PredictionLogSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    events: EventSettings = Field(default_factory=EventSettings)

    @property
    def prediction_log_path(self) -> Path:
        url = self.prediction_log.prediction_log_url
        if url is not None and url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return self.prediction_log.prediction_log_path or self.paths.workdir / "predictions.db"

    @property
    def prediction_log_location(self) -> str:
        """Where predictions are logged: a PostgreSQL URL, or the SQLite file's path."""
        url = self.prediction_log.prediction_log_url
        if url is not None and not url.startswith("sqlite:///"):
            return url
        return str(self.prediction_log_path)

    def with_overrides(self, section: str, **values: Any) -> Settings:
        """A copy with some fields of one section replaced and re-validated (CLI flags)."""
        current: BaseSettings = getattr(self, section)
        updated = type(current).model_validate({**current.model_dump(), **values})
        return self.model_copy(update={section: updated})

    def effective(self) -> dict[str, dict[str, Any]]:
        """Every value in force, secrets masked, for `churnguard settings`."""
        return {
            name: {key: masked(value) if value is not None else None for key, value in section.model_dump().items()}
            for name, section in (
                ("paths", self.paths),
                ("training", self.training),
                ("gate", self.gate),
                ("mlflow", self.mlflow),
                ("api", self.api),
                ("prediction_log", self.prediction_log),
                ("drift", self.drift),
                ("spark", self.spark),
            )
        }


def environment_names() -> set[str]:
    """Every variable the settings tree reads (upper case), aliases included."""
    names: set[str] = set()
    for section in Settings.model_fields.values():
        model = section.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseSettings)
        for name, field in model.model_fields.items():
            names.add(name.upper())
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
            elif isinstance(alias, str):
                names.add(alias.upper())
    return names


def masked(value: Any) -> str:
    """A value as shown: a password inside a URL (user:password@host) masked."""
    return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1**********@", str(value))
