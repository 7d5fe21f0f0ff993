"""Time to churn: the survival families, their censoring-aware search and metrics, and the
fitted survival model a champion carries beside its classifier.

A row's duration is the schema's `survival.duration` field; a churned row's event happens in
period ceil(d) (at least 1), a censored row is at risk through period ceil(d): the same grid
the domain's Kaplan-Meier estimate counts on, so a model and its baseline read time alike.
The duration (and the fields declared to encode it) are never features: the model reads
`TableSchema.survival_features`.

Families (scikit-survival): `cox`, a proportional-hazards model with a ridge penalty, and
`rsf`, a random survival forest (non-linear). Measured on Telco on 2 cores, the
gradient-boosted survival learner took 22 to 46 s per fit for no better concordance than Cox,
so a search over it could not keep under a minute; the forest fits in under a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnguard.domain.quality_gate import SurvivalComparison
from churnguard.domain.schema import FieldKind, FloatArray, TableSchema
from churnguard.domain.survival import kaplan_meier
from churnguard.domain.uncertainty import Interval

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

SURVIVAL_TRUSTED_TYPES = (
    "churnguard.adapters.survival_model.SurvivalModel",
    "sksurv.linear_model.coxph.CoxPHSurvivalAnalysis",
    "sksurv.linear_model.coxph.BreslowEstimator",
    "sksurv.functions.StepFunction",
    "sksurv.ensemble.forest.RandomSurvivalForest",
    "sksurv.tree.tree.SurvivalTree",
    "sklearn.tree._tree.Tree",
)
"""Types beyond skops' defaults that a stored survival model holds."""

AUC_TIMES = (3, 6, 12)
"""The periods at which time-dependent ROC-AUC is reported."""
EVALUATION_QUANTILE = 0.8
"""Metrics that weight by the inverse probability of censoring stop at this quantile of the
training durations: past it too few customers remain for the weights to be stable."""
DECILES = 10


@dataclass(frozen=True)
class SurvivalTimes:
    """Rows' event-grid times (whole periods) and whether each churned then (else censored)."""

    periods: FloatArray
    churned: BoolArray

    @classmethod
    def of(cls, schema: TableSchema, filled: FloatArray, target: npt.NDArray[np.int64]) -> SurvivalTimes:
        """From imputed encoded rows and their labels, by the schema's duration field."""
        assert schema.survival is not None
        durations = filled[:, schema.raw_fields.index(schema.survival.duration)]
        churned = np.asarray(target, dtype=bool)
        ceiling = np.ceil(durations)
        return cls(np.where(churned, np.maximum(ceiling, 1.0), ceiling), churned)

    def structured(self, cap: float | None = None) -> Any:
        """scikit-survival's record array; with `cap`, rows past it are censored at it."""
        from sksurv.util import Surv

        periods, churned = self.periods, self.churned
        if cap is not None:
            churned = churned & (periods <= cap)
            periods = np.minimum(periods, cap)
        return Surv.from_arrays(churned, periods)

    def subset(self, rows: Any) -> SurvivalTimes:
        return SurvivalTimes(self.periods[rows], self.churned[rows])


def on_grid(values: FloatArray, times: FloatArray, last: int, before: float) -> FloatArray:
    """Step functions known at `times` (n, len(times)) read at t = 0 .. last: each row's value at
    the latest time <= t, `before` ahead of the first."""
    index = np.searchsorted(times, np.arange(last + 1), side="right") - 1
    padded = np.hstack([np.full((values.shape[0], 1), before), values])
    return np.asarray(padded[:, index + 1], dtype=np.float64)


class SurvivalModel:
    """S(t | x) on the period grid 0 .. `periods` for rows of the model matrix.

    `baseline`, for a proportional-hazards family, is the Breslow cumulative baseline hazard on
    that grid: S(t | x) = exp(-H0(t) exp(f(x))) from one risk score f(x) per row, which is how
    the fitted estimator computes its own curves (a test holds them equal).
    """

    def __init__(
        self,
        pipeline: Any,
        family: str,
        columns: Sequence[int],
        periods: int,
        baseline: FloatArray | None,
        kaplan_meier: FloatArray | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.family = family
        self.columns = [int(c) for c in columns]
        self.periods = int(periods)
        self.baseline = baseline
        self.kaplan_meier = kaplan_meier
        """The training split's Kaplan-Meier curve on the same grid: the population a customer's
        curve is shown against."""

    def inputs(self, matrix: FloatArray) -> FloatArray:
        return np.asarray(matrix[:, self.columns], dtype=np.float64)

    def risk(self, matrix: FloatArray) -> FloatArray:
        """The estimator's risk score (higher: sooner to churn)."""
        return np.asarray(self.pipeline.predict(self.inputs(matrix)), dtype=np.float64)

    def curves(self, matrix: FloatArray) -> FloatArray:
        """(n, periods + 1) S(t | x), t = 0 .. periods."""
        if self.baseline is not None:
            return curves_from_risk(self.risk(matrix), self.baseline)
        estimator = self.pipeline[-1]
        values = self.pipeline.predict_survival_function(self.inputs(matrix), return_array=True)
        return on_grid(np.asarray(values, dtype=np.float64), estimator.unique_times_, self.periods, 1.0)


def curves_from_risk(risk: FloatArray, baseline: FloatArray) -> FloatArray:
    """Proportional hazards: S(t | x) = exp(-H0(t) exp(risk))."""
    return np.asarray(np.exp(-np.outer(np.exp(risk), baseline)), dtype=np.float64)


# --- the families -------------------------------------------------------------------------------


def _inputs(schema: TableSchema) -> tuple[list[int], list[int], list[int]]:
    """(model-matrix columns the survival model reads, their nominal ones, their numeric ones),
    the last two as positions among the first."""
    names = schema.survival_features
    kinds = dict(zip(schema.model_features, schema.model_kinds(), strict=True))
    nominal = [i for i, name in enumerate(names) if kinds[name] is FieldKind.NOMINAL]
    numeric = [i for i, name in enumerate(names) if kinds[name] is FieldKind.NUMERIC]
    return schema.feature_index(names), nominal, numeric


def cox(params: Mapping[str, Any], random_state: int, schema: TableSchema, n_jobs: int) -> Pipeline:
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    _, nominal, numeric = _inputs(schema)
    preprocess = ColumnTransformer(
        [
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), nominal),
            ("scale", StandardScaler(), numeric),
        ],
        remainder="passthrough",
    )
    return Pipeline([("preprocess", preprocess), ("model", CoxPHSurvivalAnalysis(ties="efron", **params))])


def random_survival_forest(params: Mapping[str, Any], random_state: int, schema: TableSchema, n_jobs: int) -> Pipeline:
    from sksurv.ensemble import RandomSurvivalForest

    forest = RandomSurvivalForest(max_features="sqrt", random_state=random_state, n_jobs=n_jobs, **params)
    return Pipeline([("model", forest)])


@dataclass(frozen=True)
class SurvivalFamily:
    name: str
    builder: Callable[[Mapping[str, Any], int, TableSchema, int], Pipeline]
    grids: Mapping[str, Mapping[str, Sequence[Any]]]
    proportional: bool
    """Its curves are exp(-H0(t) exp(risk)): served from a risk score and a baseline."""

    def candidates(self, size: str) -> list[dict[str, Any]]:
        grid = self.grids[size]
        names = sorted(grid)
        return [dict(zip(names, values, strict=True)) for values in product(*(grid[name] for name in names))]


SURVIVAL_FAMILIES: Mapping[str, SurvivalFamily] = {
    "cox": SurvivalFamily(
        "cox", cox, {"full": {"alpha": [0.01, 0.1, 1.0, 10.0]}, "fast": {"alpha": [0.1, 1.0]}}, proportional=True
    ),
    "rsf": SurvivalFamily(
        "rsf",
        random_survival_forest,
        {
            "full": {"n_estimators": [100], "min_samples_leaf": [20, 40]},
            "fast": {"n_estimators": [50], "min_samples_leaf": [40]},
        },
        proportional=False,
    ),
}


# --- search, fit and metrics -------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalCandidate:
    family: str
    params: Mapping[str, Any]
    fold_concordance: FloatArray
    fit_seconds: float

    @property
    def concordance(self) -> float:
        return float(np.mean(self.fold_concordance))


@dataclass(frozen=True)
class SurvivalFit:
    model: SurvivalModel
    best: SurvivalCandidate
    candidates: tuple[SurvivalCandidate, ...]
    seconds: float

    def cv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "family": c.family,
                "params": dict(c.params),
                "cv_concordance": c.concordance,
                "split_concordance": c.fold_concordance.tolist(),
                "fit_seconds": c.fit_seconds,
            }
            for c in sorted(self.candidates, key=lambda c: -c.concordance)
        ]


def _fit(
    family: SurvivalFamily,
    params: Mapping[str, Any],
    schema: TableSchema,
    x: FloatArray,
    times: SurvivalTimes,
    seed: int,
    n_jobs: int,
) -> Pipeline:
    known = times.periods > 0  # censored at 0: at risk at no event time, nothing to learn from
    pipeline = family.builder(params, seed, schema, n_jobs)
    columns, _, _ = _inputs(schema)
    return pipeline.fit(x[known][:, columns], times.subset(known).structured())


def harrell(times: SurvivalTimes, risk: FloatArray) -> float:
    from sksurv.metrics import concordance_index_censored

    return float(concordance_index_censored(times.churned, times.periods, risk)[0])


def fit_survival(
    schema: TableSchema,
    x_train: FloatArray,
    times: SurvivalTimes,
    folds: Sequence[tuple[Any, Any]],
    grid_size: str,
    seed: int,
    n_jobs: int,
) -> SurvivalFit:
    """Every candidate of every family on the classifier's folds (stratified by the churn label,
    so each fold keeps the share of censored customers), scored by Harrell's concordance on
    the held-out fold; the best refitted on the whole training split."""
    started = time.perf_counter()
    columns, _, _ = _inputs(schema)
    candidates: list[SurvivalCandidate] = []
    for family in SURVIVAL_FAMILIES.values():
        for params in family.candidates(grid_size):
            fit_started = time.perf_counter()
            scores = []
            for fit_rows, held_rows in folds:
                pipeline = _fit(family, params, schema, x_train[fit_rows], times.subset(fit_rows), seed, n_jobs)
                scores.append(harrell(times.subset(held_rows), pipeline.predict(x_train[held_rows][:, columns])))
            candidates.append(
                SurvivalCandidate(family.name, params, np.array(scores), time.perf_counter() - fit_started)
            )
    best = max(candidates, key=lambda c: (c.concordance, c.family == "cox"))
    family = SURVIVAL_FAMILIES[best.family]
    pipeline = _fit(family, best.params, schema, x_train, times, seed, n_jobs)
    periods = int(times.periods.max())
    baseline = None
    if family.proportional:
        hazard = pipeline[-1].cum_baseline_hazard_
        baseline = on_grid(np.asarray(hazard.y, dtype=np.float64)[None, :], np.asarray(hazard.x), periods, 0.0)[0]
    population = kaplan_meier(times.periods, times.churned, periods).values
    model = SurvivalModel(pipeline, best.family, columns, periods, baseline, population)
    logger.info("survival: selected %s %s (CV concordance %.4f)", best.family, dict(best.params), best.concordance)
    return SurvivalFit(model, best, tuple(candidates), time.perf_counter() - started)


def survival_metrics(
    model: SurvivalModel, x_test: FloatArray, train: SurvivalTimes, test: SurvivalTimes, horizon: int
) -> dict[str, float]:
    """Censoring-aware holdout metrics (prefix `survival_`):

    - concordance (Harrell) and concordance_uno (IPCW, up to the evaluation cap `tau`);
    - auc_<t>: cumulative/dynamic ROC-AUC of P(churn by t) at each of AUC_TIMES within the cap;
    - ibs and ibs_km: the integrated Brier score over 1 .. tau of the model and of the training
      split's Kaplan-Meier curve (the no-skill baseline);
    - calibration_gap: the largest |predicted - Kaplan-Meier observed| churn within `horizon`
      over the deciles of predicted risk.
    """
    from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score

    tau = evaluation_cap(train, test)
    known = train.structured()
    capped = test.structured(cap=tau)
    curves = model.curves(x_test)
    risk = ranking_risk(model, x_test, curves, horizon)
    metrics = {
        "survival_concordance": harrell(test, risk),
        "survival_concordance_uno": float(concordance_index_ipcw(known, capped, risk, tau=tau)[0]),
        "survival_tau": tau,
    }
    auc_times = [t for t in AUC_TIMES if t < tau]
    if auc_times:
        churn_by = 1.0 - curves[:, [min(t, model.periods) for t in auc_times]]
        aucs, _ = cumulative_dynamic_auc(known, capped, churn_by, auc_times)
        metrics.update({f"survival_auc_{t}": float(a) for t, a in zip(auc_times, aucs, strict=True)})
    grid = np.arange(1, int(tau))
    if len(grid) >= 2:
        estimate = curves[:, np.minimum(grid, model.periods)]
        baseline = kaplan_meier(train.periods, train.churned, int(tau)).values[grid]
        metrics["survival_ibs"] = float(integrated_brier_score(known, capped, estimate, grid))
        metrics["survival_ibs_km"] = float(
            integrated_brier_score(known, capped, np.tile(baseline, (len(x_test), 1)), grid)
        )
    predicted = 1.0 - curves[:, min(horizon, model.periods)]
    metrics["survival_calibration_gap"] = max(row["gap"] for row in calibration_deciles(predicted, test, horizon))
    return metrics


def calibration_deciles(predicted: FloatArray, test: SurvivalTimes, horizon: int) -> list[dict[str, float]]:
    """Per decile of predicted churn within `horizon`: the mean predicted, the Kaplan-Meier
    observed (censoring respected), and their gap."""
    order = np.argsort(predicted, kind="stable")
    rows = []
    for chunk in np.array_split(order, DECILES):
        if not len(chunk):
            continue
        observed = 1.0 - kaplan_meier(test.periods[chunk], test.churned[chunk], horizon).values[horizon]
        mean = float(predicted[chunk].mean())
        rows.append({"predicted": mean, "observed": float(observed), "gap": abs(mean - float(observed))})
    return rows


SURVIVAL_ROUNDS = 200
"""Bootstrap rounds of the survival gate: each scores two models' concordance and Brier score."""


def evaluation_cap(train: SurvivalTimes, test: SurvivalTimes) -> float:
    """Where censoring-weighted metrics stop: EVALUATION_QUANTILE of the training durations,
    and before the last holdout time."""
    tau = float(np.floor(np.quantile(train.periods, EVALUATION_QUANTILE)))
    return min(tau, float(test.periods.max()) - 1.0)


def _concordance_and_ibs(
    risk: FloatArray, curves: FloatArray, train: Any, test: SurvivalTimes, tau: float, periods: int
) -> tuple[float, float]:
    from sksurv.metrics import integrated_brier_score

    grid = np.arange(1, int(tau))
    estimate = curves[:, np.minimum(grid, periods)]
    return harrell(test, risk), float(integrated_brier_score(train, test.structured(cap=tau), estimate, grid))


def ranking_risk(model: SurvivalModel, x_test: FloatArray, curves: FloatArray, horizon: int) -> FloatArray:
    """What the concordance ranks customers by: a proportional-hazards model's risk score, else
    the probability of churning within the horizon."""
    if model.baseline is not None:
        return model.risk(x_test)
    return np.asarray(1.0 - curves[:, min(horizon, model.periods)], dtype=np.float64)


def _bootstrap(
    models: Sequence[SurvivalModel],
    x_test: FloatArray,
    train: SurvivalTimes,
    test: SurvivalTimes,
    horizon: int,
    rounds: int,
    seed: int,
) -> tuple[FloatArray, FloatArray]:
    """((models, 2) concordance and integrated Brier of each model on the holdout, (draws,
    models, 2) the same on resamples of the holdout rows, drawn jointly for every model)."""
    tau = evaluation_cap(train, test)
    known = train.structured()
    scored = []
    for model in models:
        curves = model.curves(x_test)
        scored.append((ranking_risk(model, x_test, curves, horizon), curves, model.periods))
    whole = np.array([_concordance_and_ibs(r, c, known, test, tau, p) for r, c, p in scored])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        rows = rng.integers(0, len(x_test), len(x_test))
        sample = test.subset(rows)
        if not sample.churned.any() or sample.periods.max() <= tau:
            continue
        draws.append([_concordance_and_ibs(r[rows], c[rows], known, sample, tau, p) for r, c, p in scored])
    return whole, np.asarray(draws, dtype=np.float64).reshape(-1, len(models), 2)


def _percentiles(spread: FloatArray) -> tuple[FloatArray, FloatArray]:
    """95 % percentile bounds of (draws, 2) values (zeros when no draw counted)."""
    if not len(spread):
        return np.zeros(2), np.zeros(2)
    low, high = np.percentile(spread, [2.5, 97.5], axis=0)
    return low, high


def metric_intervals(
    model: SurvivalModel,
    x_test: FloatArray,
    train: SurvivalTimes,
    test: SurvivalTimes,
    horizon: int,
    rounds: int = SURVIVAL_ROUNDS,
    seed: int = 0,
) -> dict[str, Interval]:
    """95 % bootstrap intervals (holdout rows resampled) of Harrell's concordance and the
    integrated Brier score, around the holdout's own values."""
    whole, draws = _bootstrap([model], x_test, train, test, horizon, rounds, seed)
    (concordance, ibs), (low, high) = whole[0], _percentiles(draws[:, 0])
    return {
        "survival_concordance": Interval(float(concordance), float(low[0]), float(high[0])),
        "survival_ibs": Interval(float(ibs), float(low[1]), float(high[1])),
    }


def paired_comparison(
    candidate: SurvivalModel,
    champion: SurvivalModel,
    x_test: FloatArray,
    train: SurvivalTimes,
    test: SurvivalTimes,
    horizon: int,
    rounds: int = SURVIVAL_ROUNDS,
    seed: int = 0,
) -> SurvivalComparison:
    """Both models on the same holdout rows, and the bootstrap of candidate - champion that
    resamples those rows jointly for both (95 % percentile intervals)."""
    whole, draws = _bootstrap([candidate, champion], x_test, train, test, horizon, rounds, seed)
    (c_a, ibs_a), (c_b, ibs_b) = whole
    low, high = _percentiles(draws[:, 0] - draws[:, 1])
    return SurvivalComparison(
        float(c_a),
        float(c_b),
        Interval(float(c_a - c_b), float(low[0]), float(high[0])),
        float(ibs_a),
        float(ibs_b),
        Interval(float(ibs_a - ibs_b), float(low[1]), float(high[1])),
    )
