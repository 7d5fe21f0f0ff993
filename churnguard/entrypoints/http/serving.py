"""What the API's routes share: the champion, the schema it serves, metrics and the log.

The served schema is fixed when the app is built: the store's champion's, else the configured
one (SCHEMA_PATH, default the original). The request model, the input metrics and the UI are
that schema's, so a champion of another schema is never swapped in while the process runs:
it is refused with a log line and `churnguard_model_reloads_total{result="schema_changed"}`,
and the current champion keeps serving until a restart picks the new schema up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from churnguard.application.champion import Champion, ChampionCache, Refresh
from churnguard.application.errors import ModelNotFound
from churnguard.application.predict_churn import EncodedCustomer, PredictChurn, ServedPredictions
from churnguard.application.predict_from_events import PredictFromEvents
from churnguard.domain.customer import ORIGINAL_SCHEMA, Customer, CustomerProfile
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.reference_profile import ReferenceProfile
from churnguard.domain.schema import TableSchema, schema_to_mapping
from churnguard.entrypoints.container import Container
from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.http.request_model import customer_model, example_of
from churnguard.entrypoints.settings import Settings

logger = logging.getLogger("churnguard.api")


def served_schema(container: Container) -> TableSchema:
    """The champion's schema if the store has one, else the configured schema."""
    try:
        champion = container.model_store().champion()
    except Exception:  # a store that cannot answer yet (MLflow starting): serve the configured schema
        logger.warning("model store unavailable at startup; serving the configured schema", exc_info=True)
        champion = None
    schema: TableSchema = champion.schema if champion is not None else container.schema()
    return schema


class Serving:
    """Start-up and reload: the served schema, the champion kept current, and what the routes
    show of it (metrics, the reference profile, the Model view's charts)."""

    def __init__(self, settings: Settings, container: Container, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.container = container
        self.metrics = metrics
        self.champion: ChampionCache = container.champion_cache()
        self.schema = served_schema(container)
        self.original = self.schema.hash == ORIGINAL_SCHEMA.hash
        self.profile: ReferenceProfile | None = None
        self.kaplan_meier: list[float] | None = None
        """The champion's training split's Kaplan-Meier curve (time to churn), for the UI."""
        self.customer_model: type[BaseModel] = customer_model(self.schema, self.request_example())
        self.predict_churn: PredictChurn = container.predict_churn(loaded_only=True)
        events_schema = settings.events.events_schema_path
        self.predict_from_events = PredictFromEvents(
            self.predict_churn,
            container.event_schema_reader().load(str(events_schema)) if events_schema else None,
            str(events_schema or ""),
        )
        self.tracer = container.inference_tracer()
        self.prediction_log = container.prediction_log()
        self.diagnostics: ModelDiagnostics | None = None
        self.history = container.prediction_history()
        self.drift_reports = container.drift_reports()
        self.outcome_reports = container.outcome_reports()
        self._dropped_seen = 0
        # Called after a new champion is swapped in: /docs' request example becomes its most
        # typical customer, and the app drops the OpenAPI document it had cached.
        self.on_swap: list[Callable[[], None]] = []
        logger.info("serving schema", extra={"schema": self.schema.name, "schema_hash": self.schema.short_hash})

    def request_example(self) -> dict[str, Any]:
        """/docs' example request: the champion's most typical training customer, once loaded."""
        typical = self.profile.presets.get("most typical") if self.profile is not None else None
        return example_of(self.schema, typical)

    @property
    def no_model_yet(self) -> str:
        """What to do when the store holds no champion: said once in the log, by /ready and
        /model-info, and by the UI's banner (which reads /ready)."""
        workdir = self.settings.paths.workdir.resolve()
        return f"no model yet: run `churnguard pipeline --workdir {workdir}`; this API loads the champion it promotes"

    def load_champion(self, reason: str) -> bool:
        """Load and verify the store's champion; swap it in if it changed. True if swapped."""
        metrics = self.metrics
        try:
            refresh = self.champion.refresh(self.schema)
            if refresh.outcome is Refresh.Outcome.SCHEMA_CHANGED:
                assert refresh.refused is not None
                metrics.reloads.labels("schema_changed").inc()
                logger.error(
                    "champion not loaded: it reads another schema than this API serves; "
                    "the current champion keeps serving until a restart",
                    extra={
                        "model_version": refresh.refused.short_id,
                        "schema": refresh.refused.schema.name,
                        "schema_hash": refresh.refused.schema.short_hash,
                        "served_schema": self.schema.name,
                        "served_schema_hash": self.schema.short_hash,
                        "reason": reason,
                    },
                )
            if refresh.outcome is Refresh.Outcome.NONE and reason == "startup":
                logger.warning(self.no_model_yet)
            if refresh.outcome is not Refresh.Outcome.LOADED:
                return False
            champion = refresh.champion
            assert champion is not None
            profile = self.champion.profile(champion)
            diagnostics = self._diagnostics(champion)
        except ModelNotFound:
            return False
        except Exception:
            metrics.reloads.labels("failed").inc()
            logger.exception("champion reload failed; keeping the current model", extra={"reason": reason})
            return False
        self.profile = profile
        self.diagnostics = diagnostics
        known = getattr(champion.survival, "kaplan_meier", None)
        self.kaplan_meier = None if known is None else [float(v) for v in known]
        metrics.declare_inputs(self.schema, profile)
        version = champion.version
        metrics.reloads.labels("loaded").inc()
        metrics.model_swapped(
            version.fingerprint,
            str(version.params.get("family", "")),
            version.f1,
            version.threshold,
            version.churn_rate,
            champion.form.value,
        )
        logger.info(
            "champion loaded",
            extra={"model_version": version.short_id, "reason": reason, "serving_form": champion.form.value},
        )
        for hook in self.on_swap:
            hook()
        return True

    def _diagnostics(self, champion: Champion) -> ModelDiagnostics | None:
        """The charts of the Model view are not worth refusing a verified champion over: a store
        that cannot hand them over now is logged, and the view says they are missing."""
        try:
            return self.container.model_store().diagnostics(champion.version.fingerprint)
        except Exception:
            logger.warning(
                "champion diagnostics unavailable", exc_info=True, extra={"model_version": champion.version.short_id}
            )
            return None

    def serving_model(self) -> Champion:
        """The verified champion the lifespan, the poller or /admin/reload loaded."""
        return self.champion.loaded()

    def customer(self, checked: BaseModel) -> EncodedCustomer:
        """A request body the request model accepted -> the domain's customer (checked again by
        the field rules, which raise InvalidProfile)."""
        values = checked.model_dump()
        if self.original:
            return CustomerProfile.from_mapping(values)
        return Customer.from_record(self.schema, values)

    def count(self, served: ServedPredictions) -> None:
        """Count served predictions in the metrics (the use-case logged them)."""
        metrics = self.metrics
        dropped = served.log_dropped
        if dropped > self._dropped_seen:
            metrics.dropped_predictions.inc(dropped - self._dropped_seen)
            self._dropped_seen = dropped
        if metrics.inputs is not None and served.rows:
            metrics.inputs.observe(served.rows)
        for prediction in served.predictions:
            metrics.outcome[prediction.churns].inc()
            metrics.churn_probability.observe(prediction.probability)
            forecast = prediction.survival
            if forecast is not None:
                metrics.churn_within_horizon.observe(forecast.churn_within[-1][1])
                if forecast.revenue_at_risk is not None:
                    metrics.revenue_at_risk.observe(forecast.revenue_at_risk)

    def schema_body(self) -> Mapping[str, Any]:
        return schema_json(self.schema, self.profile, self.kaplan_meier)


def schema_json(
    schema: TableSchema, profile: ReferenceProfile | None, kaplan_meier: list[float] | None = None
) -> dict[str, Any]:
    """GET /schema: the served schema as the UI builds its form from it, with the presets and
    label shares of the champion's training data (and, for time to churn, its Kaplan-Meier
    curve: S(t) at t = 0, 1, ... periods)."""
    fields = []
    for spec in schema.fields:
        item: dict[str, Any] = {
            "name": spec.name,
            "kind": spec.kind.value,
            "title": spec.title,
            "help": spec.help,
            "unit": spec.unit,
            "rule": spec.rule,
            "required": spec.missing.policy.value == "refuse",
            "fixed": spec.fixed,
        }
        if spec.has_labels:
            item["labels"] = [
                {"value": int(label) if spec.numeric_labels else label, "name": spec.shown_label(label)}
                for label in spec.labels
            ]
            item["other_allowed"] = spec.unseen.value == "other"
        else:
            item.update(
                minimum=spec.minimum,
                maximum=spec.maximum,
                minimum_inclusive=spec.minimum_inclusive,
                maximum_inclusive=spec.maximum_inclusive,
                integer=spec.kind.value == "integer",
            )
            if profile is not None and profile.buckets.get(spec.name):
                item["training_deciles"] = list(profile.buckets[spec.name])
        if profile is not None and spec.name in profile.label_shares:
            item["training_shares"] = dict(profile.label_shares[spec.name])
        fields.append(item)
    return {
        "name": schema.name,
        "hash": schema.hash,
        "description": schema.description,
        "id_column": schema.id_column,
        "label": schema.label.column,
        "fields": fields,
        "features": [
            {"name": f.name, "title": f.title, "help": f.help, "operation": f.operation.value, "inputs": list(f.inputs)}
            for f in schema.features
        ],
        "presets": [] if profile is None else [{"name": n, "customer": dict(c)} for n, c in profile.presets.items()],
        "training_probability_shares": None if profile is None else list(profile.probability_shares),
        "declaration": schema_to_mapping(schema),
        **(
            {}
            if schema.survival is None
            else {
                "survival": {
                    "duration": schema.survival.duration,
                    "value": schema.survival.value,
                    "horizon": schema.survival.horizon,
                    "unit": schema.survival.unit,
                    "training_kaplan_meier": kaplan_meier,
                }
            }
        ),
    }
