"""ChurnGuard inside another program: one object with the product's verbs, over the same
container, use-cases and adapters as the CLI and the API.

    import pandas as pd
    from churnguard import ChurnGuard

    guard = ChurnGuard.in_memory(grid="fast")        # no files, no servers
    outcome = guard.fit(pd.read_csv("customers.csv"))  # validate -> train -> evaluate -> promote
    [prediction] = guard.predict({"gender": 0, "age": 47, ...})  # logged, as the API's are
    guard.close()  # writes what the prediction log still queues

`ChurnGuard()` reads settings as the CLI does (environment, `.env`) and keeps models, reports
and runs where they say; `ChurnGuard.in_memory()` keeps them in Python objects. Every method
takes a DataFrame or a CSV path, reads it by the schema in force (the champion's for scoring and
drift), and returns the domain's and use-cases' own result objects; bad input raises the
errors the CLI reports (`InvalidDataset`, `InvalidProfile`, `ModelNotFound`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import pandas as pd

from churnguard.application.build_observations import BuiltObservations
from churnguard.application.champion import ChurnPrediction
from churnguard.application.detect_drift import DriftOutcome, DriftSource
from churnguard.application.ports import Dataset, EvaluationReport, GeneratedHistory, ScoringSummary
from churnguard.application.predict_from_events import EventPrediction, PostedEvent, PredictFromEvents
from churnguard.application.promote_model import PromotionOutcome
from churnguard.application.run_pipeline import PipelineOutcome
from churnguard.application.train_model import TrainingOutcome
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.container import Container, build_container
from churnguard.entrypoints.settings import Settings

Data: TypeAlias = pd.DataFrame | str | Path
"""A table of customers: a DataFrame, or the path of a CSV file."""


class _NamedFrames(Protocol):
    def add(self, frame: pd.DataFrame, name: str | None = None) -> str: ...


@dataclass(frozen=True)
class Scores:
    """Scored customers with the columns `churnguard score` writes, and the rows it refused."""

    table: pd.DataFrame
    rejected: pd.DataFrame
    """`row` (1-based, in the input's order) and `reasons`, one per refused row."""
    summary: ScoringSummary


_SECTIONS = {
    name: section
    for section in ("paths", "training", "gate", "mlflow", "api", "prediction_log", "drift", "spark")
    for name in type(getattr(Settings(), section)).model_fields
}


class ChurnGuard:
    """The product's verbs for a program that embeds it (see the module docstring)."""

    def __init__(self, settings: Settings | None = None, *, in_memory: bool = False, **overrides: Any) -> None:
        """`overrides`: any setting by its field name (`grid="fast"`, `min_f1=0.6`,
        `schema_path="schemas/telco.yaml"`), validated as the environment's values are."""
        settings = settings or Settings()
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in overrides.items():
            if name not in _SECTIONS:
                raise TypeError(f"{name!r} is not a ChurnGuard setting")
            by_section.setdefault(_SECTIONS[name], {})[name] = value
        for section, values in by_section.items():
            settings = settings.with_overrides(section, **values)
        self.settings = settings
        self.container: Container = build_container(settings, in_memory=in_memory)

    @classmethod
    def in_memory(cls, **overrides: Any) -> ChurnGuard:
        """Models, reports, tracking and the prediction log kept in memory: no files, no servers."""
        return cls(Settings(), in_memory=True, **{"enable_mlflow_tracking": False, **overrides})

    def _location(self, data: Data) -> str:
        if isinstance(data, pd.DataFrame):
            frames: _NamedFrames = self.container.dataset_source()
            return frames.add(data)
        return str(data)

    @property
    def schema(self) -> TableSchema:
        """The schema new tables are read by: SCHEMA_PATH (`schema_path=`), else the original's."""
        schema: TableSchema = self.container.schema()
        return schema

    def validate(self, data: Data) -> Dataset:
        """The table checked by the schema; raises InvalidDataset naming every broken rule."""
        dataset: Dataset = self.container.validate_dataset()(self._location(data))
        return dataset

    def train(self, data: Data) -> TrainingOutcome:
        """Validate, search, fit, calibrate and store a model version (not yet the champion)."""
        outcome: TrainingOutcome = self.container.train_model().file(self._location(data))
        return outcome

    def evaluate(self, data: Data, model: str | None = None) -> EvaluationReport:
        """Holdout metrics of `model` (default: the latest trained) on `data`."""
        report, _ = self.container.evaluate_model().file(self._location(data), model)
        return report

    def promote(self, data: Data, model: str | None = None) -> PromotionOutcome:
        """The quality gate on `model` (default: the latest), paired against the champion."""
        outcome: PromotionOutcome = self.container.promote_model().file(self._location(data), model)
        return outcome

    def fit(self, data: Data) -> PipelineOutcome:
        """validate -> train -> evaluate -> promote, as `churnguard pipeline`."""
        outcome: PipelineOutcome = self.container.run_pipeline()(self._location(data))
        return outcome

    def predict(
        self,
        customers: Mapping[str, object] | Sequence[Mapping[str, object]] | pd.DataFrame | pd.Series,
        explain: bool = True,
    ) -> list[ChurnPrediction]:
        """The champion's prediction for each customer (a dict, a list of them, a DataFrame or
        one of its rows), with each field's contribution unless `explain=False`.

        Values are read by the rules `fit` reads a table by: a row of the DataFrame a model was
        trained on predicts as it is, text that reads as a number ("29.85") included.
        """
        if isinstance(customers, pd.DataFrame):
            records: list[Mapping[str, object]] = list(customers.to_dict("records"))
        elif isinstance(customers, pd.Series | Mapping):
            records = [dict(customers)]
        else:
            records = list(customers)
        served = self.container.predict_churn().records(records, explain, cells=True)
        predictions: list[ChurnPrediction] = served.predictions
        return predictions

    def generate_history(self, customers: int, seed: int, out: str | Path) -> GeneratedHistory:
        """A seeded subscription history and its customer table beside it (`X.customers.csv`),
        as `churnguard generate-data --events` writes them (`schemas/subscriptions.yaml`)."""
        made: GeneratedHistory = self.container.generate_history()(customers, seed, str(out))
        return made

    def build_observations(
        self,
        events_schema: str | Path,
        events: str | Path,
        out: str | Path,
        cutoffs: Sequence[date] = (),
        customers: str | Path | None = None,
    ) -> BuiltObservations:
        """An event history to a labelled point-in-time table (and its schema beside it), as
        `churnguard events build` does; `fit` it with `ChurnGuard(schema_path=events_schema)`."""
        built: BuiltObservations = self.container.build_observations()(
            str(events_schema), str(events), str(out), cutoffs, customers=str(customers) if customers else None
        )
        return built

    def predict_events(
        self,
        events_schema: str | Path,
        customer_id: str,
        events: Sequence[PostedEvent | Mapping[str, Any]],
        as_of: date | None = None,
        attributes: Mapping[str, object] | None = None,
        explain: bool = True,
    ) -> EventPrediction:
        """One customer from their events, as `POST /predict/events` answers: the window features
        as of `as_of` (default: today, UTC) from the events strictly before it, then the champion's
        prediction. An event is a PostedEvent or a mapping of `time` (a date, a datetime or ISO
        text), `type` and `values`."""
        posted = [e if isinstance(e, PostedEvent) else _posted(e) for e in events]
        schema = self.container.event_schema_reader().load(str(events_schema))
        predict = PredictFromEvents(self.container.predict_churn(), schema, str(events_schema))
        return predict(customer_id, as_of or datetime.now(UTC).date(), posted, attributes or {}, explain)

    def close(self) -> None:
        """Write the predictions still queued for the log and export pending traces; `with
        ChurnGuard() as guard:` calls it on the way out."""
        self.container.prediction_log().close()
        self.container.inference_tracer().close()

    def __enter__(self) -> ChurnGuard:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def score(self, data: pd.DataFrame, explain: bool = False) -> Scores:
        """Every customer of `data` scored by the champion, as `churnguard score` does."""
        writer = self.container.frame_writer()
        summary: ScoringSummary = self.container.score_customers()(
            self.container.customer_frame(data), writer, explain=explain
        )
        return Scores(writer.scored, writer.rejected, summary)

    def drift(self, current: Data) -> DriftOutcome:
        """Drift of `current` against the champion's training data, and the verdict."""
        outcome: DriftOutcome = self.container.check_drift()(DriftSource(file=self._location(current)))
        return outcome


def _posted(event: Mapping[str, Any]) -> PostedEvent:
    time = event["time"]
    if isinstance(time, str):
        time = datetime.fromisoformat(time) if "T" in time or " " in time else date.fromisoformat(time)
    return PostedEvent(time, event.get("type"), event.get("values"))
