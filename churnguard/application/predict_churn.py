"""Use-case: score customers with the champion and explain each score.

The hot path builds one model matrix for the whole request (with explanations: the 14
leave-one-out rows of every customer) and makes exactly one model call; no tables, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from churnguard.application.errors import ModelNotFound, require_schema
from churnguard.application.ports import InferenceTrace, InferenceTracer, ModelStore, ProbabilisticModel, TraceSpan
from churnguard.domain.attribution import Contribution, contributions_of, substituted_rows
from churnguard.domain.customer import ORIGINAL_PRESETS, ORIGINAL_SCHEMA, Customer
from churnguard.domain.errors import InvalidProfile, SchemaMismatch
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.reference_profile import ReferenceProfile, profile_reference
from churnguard.domain.schema import Imputation, TableSchema

TRACE_NAME = "churn-prediction"
PROFILE_SAMPLE = 20_000


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
class ChurnPrediction:
    probability: float
    churns: bool
    threshold: float
    model_version: str
    churn_rate_baseline: float
    contributions: tuple[Contribution, ...] | None


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    model: ProbabilisticModel

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(matrix)[:, 1], dtype=np.float64)


class ChampionCache:
    """The champion, loaded once from the store and kept until `reload`.

    `prepare` turns the verified model into the object that serves it (e.g. a faster twin
    with the same arithmetic); by default the model itself.
    """

    def __init__(
        self, store: ModelStore, prepare: Callable[[ProbabilisticModel], ProbabilisticModel] | None = None
    ) -> None:
        self._store = store
        self._prepare = prepare or (lambda model: model)
        self._loaded: LoadedModel | None = None
        self._profiles: dict[str, ReferenceProfile] = {}

    def current(self) -> LoadedModel:
        """The loaded champion (loading it on first use); raises ModelNotFound if there is none."""
        loaded = self._loaded
        if loaded is None:
            loaded = self.reload()
        return loaded

    def peek(self) -> LoadedModel | None:
        """The loaded champion, without trying to load one."""
        return self._loaded

    def reload(self) -> LoadedModel:
        """Load and verify the store's champion, then swap it in with one reference assignment,
        so a request sees either the old model or the new one, never a mix."""
        champion = self._store.champion()
        if champion is None:
            raise ModelNotFound("no champion model yet; run `churnguard pipeline` first")
        loaded = LoadedModel(champion, self._prepare(self._store.load(champion.fingerprint)))
        self._loaded = loaded
        return loaded

    def profile(self, loaded: LoadedModel, sample: int = PROFILE_SAMPLE) -> ReferenceProfile | None:
        """What the served product shows of `loaded`'s training split (None if the version was
        stored without one); computed once per version, on at most `sample` rows."""
        cached = self._profiles.get(loaded.version.fingerprint)
        if cached is not None:
            return cached
        version = loaded.version
        schema = version.schema
        try:
            reference = self._store.reference(version.fingerprint)
        except ModelNotFound:
            return None
        # the stored snapshot holds the schema's encoded fields, in its order (an opaque table here)
        raw = np.asarray(reference, dtype=np.float64).reshape(-1, len(schema.fields))
        if raw.shape[0] > sample:
            raw = raw[np.random.default_rng(0).choice(raw.shape[0], sample, replace=False)]
        filled = Imputation(version.imputation).apply(schema, raw) if version.imputation else raw
        probability = loaded.score(schema.model_matrix(filled))
        named = ORIGINAL_PRESETS if schema.hash == ORIGINAL_SCHEMA.hash else None
        profile = profile_reference(schema, raw, probability, named)
        self._profiles = {version.fingerprint: profile}
        return profile


@dataclass(frozen=True)
class RecordPredictions:
    """Predictions for customers given as JSON records, and the schema that read them."""

    predictions: list[ChurnPrediction]
    customers: list[Customer]
    schema: TableSchema


class PredictChurn:
    def __init__(self, champion: ChampionCache, tracer: InferenceTracer, declared: TableSchema | None = None) -> None:
        self._champion = champion
        self._tracer = tracer
        self._declared = declared
        """A schema the user named (--schema): the champion's must be it."""

    def records(self, records: Sequence[Mapping[str, object]], explain: bool = True) -> RecordPredictions:
        """Check each record by the champion's own schema, then score them all in one call.

        InvalidProfile names the record's position, the field and the rule.
        """
        loaded = self._champion.current()
        require_schema(loaded.version, self._declared, "the schema named with --schema or SCHEMA_PATH")
        schema = loaded.version.schema
        customers = []
        for index, record in enumerate(records):
            try:
                customers.append(Customer.from_record(schema, record))
            except InvalidProfile as error:
                raise InvalidProfile(f"customer {index}: {error.field}", error.rule, error.value) from None
        return RecordPredictions(self(customers, explain=explain, model=loaded), customers, schema)

    def __call__(
        self, profiles: Sequence[EncodedCustomer], explain: bool = True, model: LoadedModel | None = None
    ) -> list[ChurnPrediction]:
        """Score with `model` if given (so a caller can use the same model for more work), else the
        current champion, taken once for the whole call: no mixed versions within a batch.

        Customers must have been checked by the champion's schema (SchemaMismatch otherwise).
        """
        started = time.time_ns()
        loaded = model or self._champion.current()
        version = loaded.version
        schema = version.schema
        baselines = version.feature_means
        for profile in profiles:
            if profile.schema_hash != schema.hash:
                # a caller bug, not bad input: customers are checked by the champion's schema first
                raise SchemaMismatch(f"a customer checked by another schema than the champion {version.short_id}'s")

        features_started = time.time_ns()
        encoded = [profile.encoded() for profile in profiles]
        if version.imputation:
            filled = Imputation(version.imputation).apply(schema, np.array(encoded, dtype=np.float64))
            encoded = filled.tolist()
        if explain:
            rows = np.vstack([substituted_rows(schema, values, baselines) for values in encoded])
        else:
            rows = schema.model_matrix(np.array(encoded, dtype=np.float64).reshape(len(encoded), len(schema.fields)))
        features_ended = time.time_ns()

        scores = loaded.score(rows)
        inference_ended = time.time_ns()

        per_profile = 1 + len(schema.fields) if explain else 1
        predictions = []
        for index, values in enumerate(encoded):
            block = scores[index * per_profile : (index + 1) * per_profile]
            probability = float(block[0])
            contributions = contributions_of(schema, values, baselines, block) if explain else None
            predictions.append(
                ChurnPrediction(
                    probability=probability,
                    churns=probability >= version.threshold,
                    threshold=version.threshold,
                    model_version=version.fingerprint,
                    churn_rate_baseline=version.churn_rate,
                    contributions=contributions,
                )
            )
        ended = time.time_ns()
        if not self._tracer.enabled:
            return predictions
        self._trace(
            profiles, predictions, version, len(rows), started, features_started, features_ended, inference_ended, ended
        )
        return predictions

    def _trace(
        self,
        profiles: Sequence[EncodedCustomer],
        predictions: Sequence[ChurnPrediction],
        version: ModelVersion,
        matrix_rows: int,
        started: int,
        features_started: int,
        features_ended: int,
        inference_ended: int,
        ended: int,
    ) -> None:
        inputs = {"customers": [profile.as_dict() for profile in profiles]}
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
                        {"method": "leave-one-out"},
                        {"contributions": explained},
                    ),
                ),
            )
        )
