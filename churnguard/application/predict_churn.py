"""Use-case: serve predictions. Every online prediction (HTTP /predict and /predict/batch, CLI
`predict`, the embedded `ChurnGuard.predict`) goes through `PredictChurn`:

records or checked customers in -> checked by the champion's schema (per-row refusals for a
batch) -> the champion predicts and explains (one model call) -> logged through the
PredictionLog port (a setting, on by default) -> traced -> out.

No tables and no I/O on the hot path: the log's writer thread does the writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from churnguard.application.champion import Champion, ChampionCache, ChurnPrediction, encoded_rows
from churnguard.application.errors import ExplanationUnavailable, require_schema
from churnguard.application.ports import (
    InferenceTrace,
    InferenceTracer,
    ModelExplainer,
    PredictionLog,
    PredictionRecord,
    ShapExplanation,
    TraceSpan,
)
from churnguard.domain.customer import Customer
from churnguard.domain.errors import InvalidProfile, SchemaMismatch
from churnguard.domain.schema import TableSchema

TRACE_NAME = "churn-prediction"


class EncodedCustomer(Protocol):
    """A checked customer: CustomerProfile (the original's API) or Customer (any schema)."""

    @property
    def schema_hash(self) -> str:
        """The hash of the schema that checked it."""
        ...

    def encoded(self) -> list[float]:
        """The fields as the model reads them, in the schema's order (NaN: to impute)."""
        ...

    def as_dict(self) -> Mapping[str, object]: ...


@dataclass(frozen=True)
class RowRefusal:
    """A record of a batch refused by the champion's schema: its position, the field, the rule."""

    index: int
    field: str
    rule: str


@dataclass(frozen=True)
class ServedPredictions:
    champion: Champion
    """The one champion that made every prediction of the call."""
    customers: list[EncodedCustomer]
    predictions: list[ChurnPrediction]
    positions: list[int]
    """Each prediction's position among the records given."""
    refused: list[RowRefusal]
    rows: list[list[float]]
    """Each customer's encoded fields (NaN where imputed), as logged."""
    shap: list[ShapExplanation] | None = None
    log_dropped: int = 0
    """Records the prediction log has dropped so far (its queue was full or its store failed)."""

    @property
    def schema(self) -> TableSchema:
        return self.champion.schema


def customer_id(customer: EncodedCustomer) -> object:
    """The customer's id (the schema's id column), None when it has none."""
    return getattr(customer, "customer_id", None)


class PredictChurn:
    """`log_predictions`: write each prediction to the log (a business record: who was scored,
    by which version, with what result). `loaded_only`: never load a champion on a request (a
    server loads at start-up and on reload), so a bad model file is not read on every call."""

    def __init__(
        self,
        champion: ChampionCache,
        tracer: InferenceTracer,
        log: PredictionLog | None = None,
        explainer: ModelExplainer | None = None,
        declared: TableSchema | None = None,
        log_predictions: bool = True,
        loaded_only: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._champion = champion
        self._tracer = tracer
        self._log = log if log_predictions else None
        self._explainer = explainer
        self._declared = declared
        """A schema the user named (--schema): the champion's must be it."""
        self._loaded_only = loaded_only
        self._clock = clock

    def champion(self) -> Champion:
        """The champion this use-case predicts with now."""
        if self._loaded_only:
            return self._champion.loaded()
        champion = self._champion.current()
        require_schema(champion.version, self._declared, "the schema named with --schema or SCHEMA_PATH")
        return champion

    def records(
        self,
        records: Sequence[Mapping[str, object]],
        explain: bool = True,
        shap: bool = False,
        request_id: str = "",
        partial: bool = False,
        cells: bool = False,
    ) -> ServedPredictions:
        """Check each record by the champion's own schema, then predict them all in one model call.

        `cells`: the records are rows of a table, read by the rules a table is trained by (text
        that reads as a number is one); else they are JSON values, as the API takes them.

        A record that breaks the schema raises InvalidProfile naming its position, the field and
        the rule; with `partial`, it is refused alone (ServedPredictions.refused) and the others
        are predicted.
        """
        champion = self.champion()
        schema = champion.schema
        customers: list[EncodedCustomer] = []
        positions: list[int] = []
        refused: list[RowRefusal] = []
        for index, record in enumerate(records):
            try:
                customers.append(Customer.from_record(schema, record, cells))
                positions.append(index)
            except InvalidProfile as error:
                if not partial:
                    raise InvalidProfile(f"customer {index}: {error.field}", error.rule, error.value) from None
                refused.append(RowRefusal(index, error.field, error.rule))
        return self(customers, explain, shap, request_id, positions, refused, champion)

    def __call__(
        self,
        customers: Sequence[EncodedCustomer],
        explain: bool = True,
        shap: bool = False,
        request_id: str = "",
        positions: Sequence[int] | None = None,
        refused: Sequence[RowRefusal] = (),
        champion: Champion | None = None,
    ) -> ServedPredictions:
        """Predict customers already checked by the champion's schema (SchemaMismatch otherwise)
        with one champion for the whole call: no mixed versions within a batch, nor between a
        prediction and its SHAP values. `shap` needs an explainer (ExplanationUnavailable)."""
        started = time.time_ns()
        champion = champion or self.champion()
        version = champion.version
        schema = version.schema
        for customer in customers:
            if customer.schema_hash != schema.hash:
                # a caller bug, not bad input: customers are checked by the champion's schema first
                raise SchemaMismatch(f"a customer checked by another schema than the champion {version.short_id}'s")
        if shap and self._explainer is None:
            raise ExplanationUnavailable("no SHAP explainer is configured")

        features_started = time.time_ns()
        raw = encoded_rows([customer.encoded() for customer in customers], len(schema.fields))
        filled = champion.scoring.filled(raw)
        rows = champion.model_rows(filled, explain)
        features_ended = time.time_ns()
        scores = champion.score(rows) if len(rows) else rows[:, 0]
        inference_ended = time.time_ns()
        predictions = champion.predictions(filled, scores, explain, rows)
        shap_values = champion.shap(self._explainer, raw) if shap and self._explainer is not None else None
        ended = time.time_ns()

        rows = raw.tolist()
        log_dropped = 0
        if self._log is not None:
            if predictions:
                self._record(predictions, customers, rows, schema.hash, request_id)
            log_dropped = self._log.dropped_records
        served = ServedPredictions(
            champion,
            list(customers),
            predictions,
            list(range(len(customers))) if positions is None else list(positions),
            list(refused),
            rows,
            shap_values,
            log_dropped,
        )
        if self._tracer.enabled:
            self._trace(served, len(rows), started, features_started, features_ended, inference_ended, ended)
        return served

    def _record(
        self,
        predictions: Sequence[ChurnPrediction],
        customers: Sequence[EncodedCustomer],
        rows: list[list[float]],
        schema_hash: str,
        request_id: str,
    ) -> None:
        assert self._log is not None
        now = self._clock()
        self._log.record(
            [
                PredictionRecord(
                    now,
                    request_id,
                    p.model_version,
                    tuple(row),
                    p.probability,
                    int(p.churns),
                    schema_hash,
                    None if (identity := customer_id(customer)) is None else str(identity),
                )
                for p, row, customer in zip(predictions, rows, customers, strict=True)
            ]
        )

    def _trace(
        self,
        served: ServedPredictions,
        matrix_rows: int,
        started: int,
        features_started: int,
        features_ended: int,
        inference_ended: int,
        ended: int,
    ) -> None:
        predictions = served.predictions
        version = served.champion.version
        inputs = {"customers": [customer.as_dict() for customer in served.customers]}
        outputs = {
            "probabilities": [p.probability for p in predictions],
            "predictions": [int(p.churns) for p in predictions],
        }
        explained = [
            {c.feature: c.contribution for c in p.contributions} for p in predictions if p.contributions is not None
        ]
        self._tracer.record(
            InferenceTrace(
                name=TRACE_NAME,
                start_ns=started,
                end_ns=ended,
                inputs=inputs,
                outputs=outputs,
                model_version=version.fingerprint,
                spans=(
                    TraceSpan("feature-engineering", features_started, features_ended, inputs, {"rows": matrix_rows}),
                    TraceSpan("model-inference", features_ended, inference_ended, {"model": version.short_id}, outputs),
                    TraceSpan(
                        "explainability",
                        inference_ended,
                        ended,
                        {"method": "expected change over the training distribution"},
                        {"contributions": explained},
                    ),
                ),
            )
        )
