"""A serving-speed twin of a ChurnModel: the same arithmetic, without scikit-learn's per-call
overhead (a ColumnTransformer costs ~2.5 ms on 14 rows; the numpy below costs microseconds).

The preprocessing (StandardScaler, OneHotEncoder with known categories, passthrough) and a
linear final step are replayed in numpy from the fitted attributes; tree ensembles keep their
own predict_proba on the replayed features. Calibration is replayed too. At compile time the
twin is checked against the original on the model's background rows and on 2,000 customers
drawn across the schema's whole domain (every label and code, "other", numbers from their
bounds or well past the training range, fields at a substituted value); if they differ
by more than 1e-9 anywhere, the original is served instead. Training, evaluation and promotion
keep using the original model, so their metrics stay bit-identical; a property test draws more
customers from the same domain against every champion the suite trains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from churnguard.adapters.churn_model import ChurnModel, logit
from churnguard.adapters.survival_model import SurvivalModel, curves_from_risk
from churnguard.application.ports import ProbabilisticModel
from churnguard.domain.schema import FloatArray, UnseenPolicy

logger = logging.getLogger(__name__)

TOLERANCE = 1e-9
DOMAIN_ROWS = 2000
Step = Callable[[FloatArray], FloatArray]


def _columns(spec: Any, width: int) -> np.ndarray:
    indices = np.arange(width)[spec]
    return np.asarray(indices, dtype=np.intp)


def _transformer_step(transformer: Any, columns: np.ndarray) -> Step:
    if isinstance(transformer, StandardScaler):
        mean = transformer.mean_ if transformer.with_mean else np.zeros(len(columns))
        scale = transformer.scale_ if transformer.with_std else np.ones(len(columns))
        return lambda x: (x[:, columns] - mean) / scale
    if isinstance(transformer, OneHotEncoder):
        if transformer.drop is not None:
            raise NotImplementedError("OneHotEncoder with drop")
        categories = [np.asarray(c, dtype=np.float64) for c in transformer.categories_]

        def one_hot(x: FloatArray) -> FloatArray:
            return np.hstack(
                [
                    (x[:, [col]] == cats[None, :]).astype(np.float64)
                    for col, cats in zip(columns, categories, strict=True)
                ]
            )

        return one_hot
    if isinstance(transformer, str) and transformer == "passthrough":
        return lambda x: x[:, columns]
    if isinstance(transformer, FunctionTransformer) and transformer.func is None:  # how remainder passes through
        return lambda x: x[:, columns]
    raise NotImplementedError(type(transformer).__name__)


def _preprocess_step(preprocess: ColumnTransformer, width: int) -> Step:
    steps = [
        _transformer_step(transformer, _columns(columns, width))
        for _, transformer, columns in preprocess.transformers_
        if not (isinstance(transformer, str) and transformer == "drop") and len(_columns(columns, width))
    ]
    return lambda x: np.hstack([step(x) for step in steps])


def _fused_linear(preprocess: ColumnTransformer, final: LogisticRegression, width: int) -> Step:
    """The logistic model's probability, sigmoid of its `_linear_score`."""
    score = _linear_score(preprocess, final.coef_[0], float(final.intercept_[0]), width)
    return lambda x: 1.0 / (1.0 + np.exp(-score(x)))


@dataclass(frozen=True)
class LinearForm:
    """A linear model after its preprocessing, over the columns it reads: scaling and passthrough
    folded into one weight vector, one-hot blocks into per-code weight lookups,
    z = intercept + x @ dense + sum_f W_f[x_f]. The serving twin and the warehouse export of a
    Cox model are both this form."""

    dense: FloatArray
    intercept: float
    lookups: tuple[tuple[int, FloatArray, FloatArray], ...]
    """(column, its codes, the weight of each code)."""

    def score(self, x: FloatArray) -> FloatArray:
        z = x @ self.dense + self.intercept
        for column, categories, block in self.lookups:
            z += (x[:, column, None] == categories) @ block
        return np.asarray(z, dtype=np.float64)


def _linear_score(preprocess: ColumnTransformer, coefficients: FloatArray, intercept: float, width: int) -> Step:
    return linear_form(preprocess, coefficients, intercept, width).score


def linear_form(preprocess: ColumnTransformer, coefficients: FloatArray, intercept: float, width: int) -> LinearForm:
    """The LinearForm of a fitted ColumnTransformer and a linear final step's coefficients
    (NotImplementedError for a transformer it cannot fold)."""
    weights = np.asarray(coefficients, dtype=np.float64)
    dense = np.zeros(width)
    lookups: list[tuple[int, np.ndarray, np.ndarray]] = []
    offset = 0
    for _, transformer, spec in preprocess.transformers_:
        columns = _columns(spec, width)
        if (isinstance(transformer, str) and transformer == "drop") or not len(columns):
            continue
        if isinstance(transformer, OneHotEncoder):
            for column, categories in zip(columns, transformer.categories_, strict=True):
                block = weights[offset : offset + len(categories)]
                lookups.append((int(column), np.asarray(categories, dtype=np.float64), block))
                offset += len(categories)
            continue
        block = weights[offset : offset + len(columns)]
        if isinstance(transformer, StandardScaler):
            scale = transformer.scale_ if transformer.with_std else np.ones(len(columns))
            mean = transformer.mean_ if transformer.with_mean else np.zeros(len(columns))
            dense[columns] += block / scale
            intercept -= float(np.sum(block * mean / scale))
        else:
            _transformer_step(transformer, columns)  # raises for anything but passthrough
            dense[columns] += block
        offset += len(columns)
    if offset != len(weights):
        raise NotImplementedError("unexpected transformed width")
    return LinearForm(dense, intercept, tuple(lookups))


def _raw_probability(model: ChurnModel, width: int) -> Step:
    pipeline = model.pipeline
    steps = list(pipeline.named_steps.values())
    final = steps[-1]
    if isinstance(final, LogisticRegression) and len(steps) == 2 and isinstance(steps[0], ColumnTransformer):
        return _fused_linear(steps[0], final, width)
    preprocess: Step = (lambda x: x) if len(steps) == 1 else _preprocess_step(steps[0], width)
    return lambda x: np.asarray(final.predict_proba(preprocess(x))[:, 1], dtype=np.float64)


def _calibration(model: ChurnModel) -> Step:
    if model.calibration == "sigmoid":
        slope, offset = float(model.calibrator.coef_[0, 0]), float(model.calibrator.intercept_[0])
        return lambda p: 1.0 / (1.0 + np.exp(-(slope * logit(p) + offset)))
    if model.calibration == "isotonic":
        xs, ys = model.calibrator.X_thresholds_, model.calibrator.y_thresholds_
        return lambda p: np.interp(p, xs, ys)
    return lambda p: p


class CompiledSurvival:
    """A proportional-hazards SurvivalModel's curves from its risk score replayed in numpy."""

    def __init__(self, original: SurvivalModel, risk: Step) -> None:
        self.original = original
        self._columns = np.asarray(original.columns, dtype=np.intp)
        self._risk = risk
        assert original.baseline is not None
        self._baseline = original.baseline

    def curves(self, matrix: FloatArray) -> FloatArray:
        return curves_from_risk(self._risk(np.asarray(matrix, dtype=np.float64)[:, self._columns]), self._baseline)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


def _compiled_survival(survival: SurvivalModel) -> CompiledSurvival:
    steps = list(survival.pipeline.named_steps.values())
    if survival.baseline is None or len(steps) != 2 or not isinstance(steps[0], ColumnTransformer):
        raise NotImplementedError(f"a {survival.family} survival model")
    return CompiledSurvival(survival, _linear_score(steps[0], steps[1].coef_, 0.0, len(survival.columns)))


def compile_survival(survival: SurvivalModel | None, checked: FloatArray) -> Any:
    """The numpy twin of a Cox survival model when its curves equal the model's on `checked`
    model rows (to TOLERANCE); the model itself otherwise (or None without one)."""
    if survival is None:
        return None
    try:
        twin = _compiled_survival(survival)
        difference = float(np.max(np.abs(twin.curves(checked) - survival.curves(checked))))
    except (NotImplementedError, AttributeError, ValueError) as error:
        logger.info("serving the survival model as is: %s", error)
        return survival
    if difference > TOLERANCE:
        logger.warning("serving the survival model as is: compiled twin differs by %.3g", difference)
        return survival
    return twin


class ServingModel:
    """predict_proba over the (n, 16) model matrix, like the ChurnModel it was compiled from."""

    def __init__(self, original: ChurnModel, raw: Step, calibrate: Step, survival: Any = None) -> None:
        self.original = original
        self._raw = raw
        self._calibrate = calibrate
        self.survival = survival
        """The survival model as served (its compiled twin where it has one)."""

    def predict_proba(self, features: FloatArray) -> FloatArray:
        churn = self._calibrate(self._raw(np.asarray(features, dtype=np.float64)))
        return np.column_stack([1.0 - churn, churn])

    def __getattr__(self, name: str) -> Any:  # family, pipeline, background... for explainers
        return getattr(self.original, name)


def domain_rows(model: ChurnModel, rows: int = DOMAIN_ROWS, seed: int = 0) -> FloatArray:
    """Model rows of customers drawn across the schema's whole domain: every label or code (and
    "other" where the schema counts unseen values), numbers uniform over their declared bounds,
    or over three times the training range where a bound is open; a quarter of the rows with
    one field at its training mean, as a substituted row may hold it."""
    schema = model.table_schema()
    width = len(schema.fields)
    observed = np.asarray(model.background, dtype=np.float64)[:, :width]
    rng = np.random.default_rng(seed)
    raw = np.empty((rows, width), dtype=np.float64)
    for index, field in enumerate(schema.fields):
        if field.has_labels:
            codes = len(field.labels) + (1 if field.unseen is UnseenPolicy.OTHER else 0)
            raw[:, index] = rng.integers(0, codes, rows)
            continue
        low, high = float(np.nanmin(observed[:, index])), float(np.nanmax(observed[:, index]))
        span = max(high - low, 1.0)
        low = field.minimum if field.minimum is not None else low - span
        high = field.maximum if field.maximum is not None else high + span
        values = rng.uniform(low, high, rows)
        raw[:, index] = np.clip(np.round(values), low, high) if field.is_integer else values
    at_mean = rng.random(rows) < 0.25
    fields = rng.integers(0, width, rows)
    means = np.nanmean(observed, axis=0)
    raw[at_mean, fields[at_mean]] = means[fields[at_mean]]
    return schema.model_matrix(raw)


def compile_for_serving(model: ProbabilisticModel) -> ProbabilisticModel:
    """The fast twin when it reproduces the model on its background rows and across the
    schema's domain (`domain_rows`); the model otherwise."""
    if not isinstance(model, ChurnModel) or getattr(model, "background", None) is None:
        return model
    background = np.asarray(model.background, dtype=np.float64)
    try:
        twin = ServingModel(model, _raw_probability(model, background.shape[1]), _calibration(model))
        checked = np.vstack([background, domain_rows(model)])
        difference = float(np.max(np.abs(twin.predict_proba(checked) - model.predict_proba(checked))))
    except (NotImplementedError, AttributeError, ValueError) as error:
        logger.warning("serving the model as is: cannot compile it (%s)", error)
        return model
    if difference > TOLERANCE:
        logger.warning("serving the model as is: compiled twin differs by %.3g", difference)
        return model
    twin.survival = compile_survival(getattr(model, "survival", None), checked)
    return twin
