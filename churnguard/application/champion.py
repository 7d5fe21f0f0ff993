"""The champion: one loaded model version and the one composition that scores with it.

impute -> model matrix -> one model call -> decide -> explain is written here once. The API,
the CLI, the embedded API, file scoring, evaluation, drift and the pyfunc model all score
through `Scoring` (a schema, its fitted imputation and a model) or `Champion` (that, plus the
version's threshold and attribution baselines).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import (
    ModelExplainer,
    ModelStore,
    ProbabilisticModel,
    ShapExplanation,
    SurvivalModel,
)
from churnguard.domain.attribution import Contribution, Reference, contribution_matrix, ranked, substituted_batch
from churnguard.domain.customer import ORIGINAL_PRESETS, ORIGINAL_SCHEMA
from churnguard.domain.model_version import ModelVersion, decide
from churnguard.domain.reference_profile import ReferenceProfile, profile_reference
from churnguard.domain.schema import Imputation, TableSchema
from churnguard.domain.survival import SurvivalForecast, SurvivalTable, survival_table

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
PROFILE_SAMPLE = 20_000


class ServingForm(enum.StrEnum):
    """Which object answers the champion's model calls."""

    COMPILED = "compiled"
    """The numpy twin compiled from the fitted model (proved equal to it when loaded)."""
    FITTED = "fitted"
    """The fitted model itself: its family has no twin, or the twin did not reproduce it."""


def probability_of(model: ProbabilisticModel, matrix: FloatArray) -> FloatArray:
    """One model call: P(churn) of each row of a model matrix (the positive class's column)."""
    return np.asarray(model.predict_proba(matrix)[:, 1], dtype=np.float64)


@dataclass(frozen=True)
class Scoring:
    """Encoded rows (NaN where a value is to be imputed) -> churn probabilities."""

    schema: TableSchema
    imputation: Mapping[str, float]
    model: ProbabilisticModel

    def filled(self, raw: FloatArray) -> FloatArray:
        """The rows with the imputation fitted at training applied."""
        return Imputation(self.imputation).apply(self.schema, raw) if self.imputation else raw

    def matrix(self, raw: FloatArray) -> FloatArray:
        """The model matrix of encoded rows: imputed, then the engineered features."""
        return self.schema.model_matrix(self.filled(raw))

    def score(self, matrix: FloatArray) -> FloatArray:
        return probability_of(self.model, matrix)

    def probability(self, raw: FloatArray) -> FloatArray:
        return self.score(self.matrix(raw))

    def explained(self, filled: FloatArray, reference: Reference) -> tuple[FloatArray, FloatArray]:
        """(n,) probabilities and (n, fields) contributions of n imputed rows, from one model call
        over their substituted rows (the domain's batch form)."""
        scores = self.score(substituted_batch(self.schema, filled, reference)).reshape(
            len(filled), reference.rows_per_customer
        )
        return scores[:, 0], contribution_matrix(filled, reference, scores)

    def survival_table(self, raw: FloatArray) -> SurvivalTable | None:
        """Time to churn of encoded rows (no explanation), None unless the schema declares it and
        the model carries a survival model: what offline scoring and the pyfunc model write."""
        survival: SurvivalModel | None = getattr(self.model, "survival", None)
        if survival is None or self.schema.survival is None:
            return None
        filled = self.filled(raw)
        rows = self.schema.model_matrix(filled)
        return survival_table(self.schema, filled, rows, survival.curves(rows), None)

    def influence(self, filled: FloatArray, reference: Reference, chunk: int = 1024) -> dict[str, float]:
        """Per raw field: its mean |contribution| over imputed rows (the drift report's weights),
        `chunk` rows per model call so memory stays flat."""
        total = np.zeros(len(self.schema.fields))
        for start in range(0, len(filled), chunk):
            total += np.abs(self.explained(filled[start : start + chunk], reference)[1]).sum(axis=0)
        mean = total / max(len(filled), 1)
        return {name: float(value) for name, value in zip(self.schema.raw_fields, mean, strict=True)}


@dataclass(frozen=True)
class ChurnPrediction:
    probability: float
    churns: bool
    threshold: float
    model_version: str
    churn_rate_baseline: float
    contributions: tuple[Contribution, ...] | None
    survival: SurvivalForecast | None = None
    """Time to churn, where the schema declares it and the champion carries a survival model."""


@dataclass(frozen=True)
class Champion:
    """One verified model version, ready to score, decide and explain."""

    version: ModelVersion
    model: ProbabilisticModel
    form: ServingForm = ServingForm.FITTED

    @cached_property
    def scoring(self) -> Scoring:
        return Scoring(self.version.schema, self.version.imputation, self.model)

    @property
    def schema(self) -> TableSchema:
        return self.version.schema

    def score(self, matrix: FloatArray) -> FloatArray:
        return self.scoring.score(matrix)

    def decide(self, probability: FloatArray) -> BoolArray:
        return decide(probability, self.version.threshold)

    def explained(self, raw: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(n,) probabilities and (n, fields) contributions of n encoded rows."""
        return self.scoring.explained(self.scoring.filled(raw), self.version.reference)

    # the prediction in three steps (model rows -> one model call -> predictions), so a caller
    # can time each (the inference trace's spans)
    def model_rows(self, filled: FloatArray, explain: bool) -> FloatArray:
        """The model matrix of imputed rows; with `explain`, each row's block of substituted rows."""
        if explain:
            return substituted_batch(self.schema, filled, self.version.reference)
        return self.schema.model_matrix(filled)

    @property
    def survival(self) -> SurvivalModel | None:
        """The survival model, where the schema declares time to churn and the version has one."""
        model: SurvivalModel | None = getattr(self.model, "survival", None)
        return model if self.schema.survival is not None else None

    def curves(self, rows: FloatArray) -> FloatArray | None:
        """S(t | x) of model rows on the period grid (one call of the survival model), None
        without one."""
        survival = self.survival
        return None if survival is None or not len(rows) else survival.curves(rows)

    def survival_table(self, raw: FloatArray) -> SurvivalTable | None:
        return self.scoring.survival_table(raw)

    def predictions(
        self, filled: FloatArray, scores: FloatArray, explain: bool, rows: FloatArray | None = None
    ) -> list[ChurnPrediction]:
        """Decide and explain from the scores of `rows = model_rows(filled, explain)`; with the
        rows, the survival forecast too where the champion has a survival model."""
        version = self.version
        schema = version.schema
        explanations: list[tuple[Contribution, ...] | None]
        if explain:
            reference = version.reference
            blocks = scores.reshape(len(filled), reference.rows_per_customer)
            probability = blocks[:, 0]
            names = schema.raw_fields
            explanations = [
                ranked(names, row, sizes)
                for row, sizes in zip(
                    filled.tolist(), contribution_matrix(filled, reference, blocks).tolist(), strict=True
                )
            ]
        else:
            probability = scores
            explanations = [None] * len(filled)
        churns = self.decide(probability).tolist()
        curves = None if rows is None else self.curves(rows)
        forecasts: list[SurvivalForecast | None] = (
            [None] * len(filled)
            if curves is None or rows is None
            else list(
                survival_table(schema, filled, rows, curves, version.reference if explain else None).forecasts(
                    schema.raw_fields, filled
                )
            )
        )
        return [
            ChurnPrediction(p, bool(c), version.threshold, version.fingerprint, version.churn_rate, e, s)
            for p, c, e, s in zip(probability.tolist(), churns, explanations, forecasts, strict=True)
        ]

    def shap(self, explainer: ModelExplainer, raw: FloatArray) -> list[ShapExplanation]:
        """Exact SHAP values of the uncalibrated log-odds of each encoded row (ExplanationUnavailable
        if the family has no exact explainer)."""
        return explainer.explain(self.model, self.scoring.matrix(raw))


@dataclass(frozen=True)
class Refresh:
    """What `ChampionCache.refresh` did."""

    class Outcome(enum.StrEnum):
        UNCHANGED = "unchanged"
        NONE = "none"
        LOADED = "loaded"
        SCHEMA_CHANGED = "schema_changed"

    outcome: Outcome
    champion: Champion | None = None
    """The champion serving after the refresh (None if there is none)."""
    refused: ModelVersion | None = None
    """The store's champion, when it was refused for reading another schema."""


@dataclass
class ChampionCache:
    """The champion, loaded once from the store and kept until `reload` or `refresh`.

    `prepare` turns the verified model into the object that serves it (the compiled twin when
    it reproduces the model); by default the model itself.
    """

    store: ModelStore
    prepare: Callable[[ProbabilisticModel], ProbabilisticModel] | None = None
    _loaded: Champion | None = field(default=None, init=False)
    _profiles: dict[str, ReferenceProfile] = field(default_factory=dict, init=False)

    def current(self) -> Champion:
        """The loaded champion (loading it on first use); raises ModelNotFound if there is none."""
        loaded = self._loaded
        if loaded is None:
            loaded = self.reload()
        return loaded

    def peek(self) -> Champion | None:
        """The loaded champion, without trying to load one."""
        return self._loaded

    def loaded(self) -> Champion:
        """The champion already loaded, never loading one (a server's requests: a bad model file
        would otherwise be read again on every request)."""
        loaded = self._loaded
        if loaded is None:
            raise ModelNotFound(
                "no verified champion loaded: promote one (churnguard pipeline), "
                "or see the service log for why it was refused"
            )
        return loaded

    def reload(self) -> Champion:
        """Load and verify the store's champion, then swap it in with one reference assignment,
        so a request sees either the old model or the new one, never a mix."""
        version = self.store.champion()
        if version is None:
            raise ModelNotFound("no champion model yet; run `churnguard pipeline` first")
        return self._swap(version)

    def refresh(self, schema: TableSchema) -> Refresh:
        """Swap in the store's champion if it changed and reads `schema` (what a server was built
        for: its request model, metrics and UI); a champion of another schema is refused and the
        current one keeps serving. Errors of the store or the model file propagate."""
        current = self._loaded
        latest = self.store.champion()
        if latest is None:
            return Refresh(Refresh.Outcome.NONE, current)
        if current is not None and current.version.fingerprint == latest.fingerprint:
            return Refresh(Refresh.Outcome.UNCHANGED, current)
        if latest.schema.hash != schema.hash:
            return Refresh(Refresh.Outcome.SCHEMA_CHANGED, current, refused=latest)
        return Refresh(Refresh.Outcome.LOADED, self._swap(latest))

    def _swap(self, version: ModelVersion) -> Champion:
        model = self.store.load(version.fingerprint)
        served = self.prepare(model) if self.prepare is not None else model
        champion = Champion(version, served, ServingForm.FITTED if served is model else ServingForm.COMPILED)
        self._loaded = champion
        return champion

    def profile(self, champion: Champion, sample: int = PROFILE_SAMPLE) -> ReferenceProfile | None:
        """What the served product shows of `champion`'s training split (None if the version was
        stored without one); computed once per version, on at most `sample` rows."""
        version = champion.version
        cached = self._profiles.get(version.fingerprint)
        if cached is not None:
            return cached
        schema = version.schema
        try:
            reference = self.store.reference(version.fingerprint)
        except ModelNotFound:
            return None
        # the stored snapshot holds the schema's encoded fields, in its order (an opaque table here)
        raw = np.asarray(reference, dtype=np.float64).reshape(-1, len(schema.fields))
        if raw.shape[0] > sample:
            raw = raw[np.random.default_rng(0).choice(raw.shape[0], sample, replace=False)]
        probability = champion.scoring.probability(raw)
        named = ORIGINAL_PRESETS if schema.hash == ORIGINAL_SCHEMA.hash else None
        profile = profile_reference(schema, raw, probability, named)
        self._profiles = {version.fingerprint: profile}
        return profile


def encoded_rows(customers: Sequence[Sequence[float]], width: int) -> FloatArray:
    """Customers' encoded fields as one (n, width) matrix."""
    return np.array(customers, dtype=np.float64).reshape(len(customers), width)
