"""Use-case: a prediction for one customer from the events posted with the request (`POST
/predict/events`), for callers that keep histories rather than feature rows.

The window features are computed by the domain's own definition (`churnguard.domain.events.
observe`, the one the SQL builders are held equal to), as of the requested date, from the events
strictly before it; then the customer is predicted as any other through `PredictChurn`, with the
static attributes given beside the events. A caller that keeps its own feature store posts the
window features to `/predict` instead: the champion's schema is the observation table's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from churnguard.application.errors import EventsUnavailable
from churnguard.application.predict_churn import PredictChurn, ServedPredictions
from churnguard.domain.errors import InvalidProfile
from churnguard.domain.events import ChurnKind, EventSchema, History, day_number, days_since, observe


@dataclass(frozen=True)
class PostedEvent:
    time: datetime | date
    """A date is its midnight; a time with a zone is read in UTC, one without as UTC."""
    type: str | None = None
    values: Mapping[str, float] | None = None


@dataclass(frozen=True)
class EventPrediction:
    served: ServedPredictions
    as_of: date
    features: dict[str, float | None]
    """The window features the prediction was made from (None: no value, imputed)."""


class PredictFromEvents:
    def __init__(self, predict: PredictChurn, schema: EventSchema | None, source: str = "") -> None:
        self._predict = predict
        self._schema = schema
        self._source = source
        self._table_hash = schema.observation_schema().hash if schema is not None else ""

    @property
    def schema(self) -> EventSchema | None:
        return self._schema

    def __call__(
        self,
        customer_id: str,
        as_of: date,
        events: Sequence[PostedEvent],
        attributes: Mapping[str, object],
        explain: bool = True,
        request_id: str = "",
    ) -> EventPrediction:
        schema = self._schema
        if schema is None:
            raise EventsUnavailable(
                "this server has no event schema: start it with `churnguard serve --events-schema FILE` "
                "(EVENTS_SCHEMA_PATH), the schema the champion's table was built with"
            )
        champion = self._predict.champion()
        if champion.schema.hash != self._table_hash:
            raise EventsUnavailable(
                f"the champion {champion.version.short_id} was trained on schema {champion.schema.name!r} "
                f"(hash {champion.schema.hash[:12]}), not on the table of event schema {schema.name!r} "
                f"({self._source}, hash {self._table_hash[:12]})"
            )
        history = self._history(schema, events)
        features = observe(schema, history, float(day_number(as_of)))
        if features is None:
            cancelled = schema.churn.kind is ChurnKind.CANCEL and (history.days < day_number(as_of)).any()
            rule = (
                f"the customer cancelled ({schema.churn.cancel_type!r}) before as_of {as_of}: no longer active"
                if cancelled
                else f"no event before as_of {as_of}: the customer is not active then (nothing to score)"
            )
            raise InvalidProfile("events", rule, len(events))
        named: dict[str, float | None] = {}
        for feature, value in zip(schema.features, features, strict=True):
            named[feature.name] = None if math.isnan(value) else (int(value) if feature.whole else value)
        record: dict[str, object] = {k: v for k, v in named.items() if v is not None}
        record.update(attributes)
        record[schema.source.id_column] = customer_id
        served = self._predict.records([record], explain, request_id=request_id)
        return EventPrediction(served, as_of, named)

    @staticmethod
    def _history(schema: EventSchema, events: Sequence[PostedEvent]) -> History:
        declared = schema.source.value_columns
        values = {
            name: np.zeros(len(events)) for name in declared
        }  # a value an event lacks is 0, as the builders read it
        for index, event in enumerate(events):
            for name, value in (event.values or {}).items():
                if name not in values:
                    rule = (
                        f"not a value column of event schema {schema.name!r} (it has {', '.join(declared) or 'none'})"
                    )
                    raise InvalidProfile(f"events[{index}].values.{name}", rule, value)
                if not math.isfinite(value):
                    raise InvalidProfile(f"events[{index}].values.{name}", "must be a finite number", value)
                values[name][index] = value
        days = np.array([days_since(event.time) for event in events], dtype=np.float64)
        return History(days, tuple(event.type for event in events), values)
