"""Time to churn: survival curves on a grid of whole periods, what a retention team asks of them,
and the Kaplan-Meier estimate that every survival model is compared with.

A customer's duration is counted in the schema's periods (Telco's `tenure`: months). One whose
label is negative is *censored* at their duration (still a customer then: they stay at least
that long), one whose label is positive churned at it. A curve holds S(t) = P(still a customer
after t periods) at t = 0, 1, ..., H; it is a step function, constant on [t, t + 1). So:

- a customer who has stayed `a` periods is asked about the periods after `a`, not after 0:
  S(t | a) = S(a + t) / S(a), the curve `conditional` returns;
- the probability of churning within h periods, 1 - S(h | a), grows with h by construction
  (S never increases);
- the expected remaining lifetime restricted to the horizon is the area under the conditional
  curve, sum over t < H of S(t | a): between 0 and H;
- revenue at risk = value per period x (H - that expected remaining lifetime).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from churnguard.domain.attribution import Contribution, Reference, contribution_matrix, ranked
from churnguard.domain.schema import TableSchema

FloatArray = npt.NDArray[np.float64]

HORIZONS = (1, 3, 6, 12)
"""The periods a retention team asks about: churn within a month, a quarter, half a year, a year."""


@dataclass(frozen=True)
class SurvivalCurve:
    """S(t) at t = 0, 1, ..., len - 1 whole periods: S(0) = 1, never increasing, within [0, 1]."""

    values: FloatArray

    def __post_init__(self) -> None:
        values = self.values
        if values.ndim != 1 or len(values) < 2:
            raise ValueError("a survival curve needs S(0) and at least one period after it")
        if not np.isclose(values[0], 1.0) or (values < 0).any() or (np.diff(values) > 1e-12).any():
            raise ValueError("a survival curve starts at 1, never increases and stays at or above 0")

    @property
    def horizon(self) -> int:
        """The last period the curve reaches."""
        return len(self.values) - 1

    def at(self, periods: float) -> float:
        """S(t) of the step function: S(floor(t)), and S(H) past the horizon."""
        index = int(min(max(np.floor(periods), 0), self.horizon))
        return float(self.values[index])

    def conditional(self, tenure: float, horizon: int) -> SurvivalCurve:
        """S(t | tenure) = S(tenure + t) / S(tenure) for t = 0 .. horizon: the curve of a customer
        who has already stayed `tenure` periods. Beyond this curve's horizon S is held at its
        last value (no information is invented, none is dropped); a customer whose survival has
        reached 0 is certain to leave within the next period."""
        return SurvivalCurve(conditional_curves(self.values[None, :], np.array([float(tenure)]), horizon)[0])

    def churn_within(self, horizons: Sequence[int] = HORIZONS) -> tuple[float, ...]:
        """P(churn within h periods) = 1 - S(h) for each h: never decreasing in h."""
        return tuple(1.0 - self.at(h) for h in horizons)

    def restricted_mean(self, horizon: int) -> float:
        """Expected periods still a customer within the next `horizon`: the area under the step
        function over [0, horizon)."""
        return float(sum(self.at(t) for t in range(horizon)))


def conditional_curves(curves: FloatArray, tenure: FloatArray, horizon: int) -> FloatArray:
    """Row i of `curves` (n, T + 1: S at 0 .. T) conditional on `tenure[i]`, at t = 0 .. horizon:
    S(floor(a) + t) / S(floor(a)), S held at S(T) past T; a row whose S(a) is 0 is certain to
    leave within the next period. The batch form of `SurvivalCurve.conditional` (which calls it)."""
    last = curves.shape[1] - 1
    start = np.clip(np.floor(tenure), 0, last).astype(np.intp)
    steps = np.minimum(start[:, None] + np.arange(horizon + 1)[None, :], last)
    values = np.take_along_axis(curves, steps, axis=1)
    first = values[:, 0]
    gone = first <= 0.0
    conditional = np.minimum(values / np.where(gone, 1.0, first)[:, None], 1.0)
    conditional[gone] = 0.0
    conditional[:, 0] = 1.0
    return np.asarray(conditional, dtype=np.float64)


def churn_within(conditional: FloatArray, horizons: Sequence[int]) -> FloatArray:
    """(n, len(horizons)) P(churn within h) from conditional curves (n, H + 1), h <= H."""
    return np.asarray(1.0 - conditional[:, list(horizons)], dtype=np.float64)


def restricted_means(conditional: FloatArray, horizon: int) -> FloatArray:
    """(n,) expected periods still a customer within the next `horizon`: the batch form of
    `SurvivalCurve.restricted_mean`."""
    return np.asarray(conditional[:, :horizon].sum(axis=1), dtype=np.float64)


def asked_horizons(horizon: int) -> tuple[int, ...]:
    """The horizons a forecast answers: the usual ones within the schema's, and the schema's own."""
    return tuple(sorted({h for h in HORIZONS if h <= horizon} | {horizon}))


def revenue_at_risk(value_per_period: float, horizon: int, expected_remaining: float) -> float:
    """The revenue a customer would bring over the horizon if they stayed, less what their
    expected remaining lifetime brings: value x (H - restricted mean)."""
    return value_per_period * (horizon - expected_remaining)


def kaplan_meier(durations: FloatArray, churned: npt.NDArray[np.bool_], horizon: int) -> SurvivalCurve:
    """The Kaplan-Meier estimate on the period grid 0 .. horizon. A churn at duration d counts
    in period ceil(d) (d = 3 months: gone after the third month, S(3) includes it; a churn at 0
    in the first period, since S(0) = 1); a censored customer at d is at risk through every
    period up to and including d."""
    if len(durations) != len(churned) or not len(durations):
        raise ValueError("durations and churn flags must be non-empty and aligned")
    if (durations < 0).any() or not np.isfinite(durations).all():
        raise ValueError("durations must be finite and >= 0")
    ends = np.where(churned, np.maximum(np.ceil(durations), 1.0), np.ceil(durations))
    values = np.ones(horizon + 1)
    survival = 1.0
    for t in range(1, horizon + 1):
        at_risk = int((ends >= t).sum())
        events = int(((ends == t) & churned).sum())
        if at_risk:
            survival *= 1.0 - events / at_risk
        values[t] = survival
    return SurvivalCurve(values)


@dataclass(frozen=True)
class SurvivalForecast:
    """What a customer's survival curve says, conditional on the periods they have stayed."""

    horizon: int
    unit: str
    tenure: float
    """The periods stayed so far: the curve starts there."""
    curve: tuple[float, ...]
    """S(t | tenure) for t = 0 .. horizon."""
    churn_within: tuple[tuple[int, float], ...]
    """(h, P(churn within h periods)) for each asked horizon, never decreasing in h."""
    expected_remaining: float
    """Expected periods still a customer within the horizon (the restricted mean)."""
    value: float | None
    """What the customer brings per period (the schema's `survival.value`), None if undeclared."""
    revenue_at_risk: float | None
    contributions: tuple[Contribution, ...] | None
    """Each field's contribution to P(churn within the horizon), in the leave-one-out form of the
    churn probability's (the duration's too: it is where the curve starts)."""


@dataclass(frozen=True)
class SurvivalTable:
    """Time to churn of n customers as columns: the batch form every output reads."""

    horizon: int
    unit: str
    horizons: tuple[int, ...]
    tenure: FloatArray
    curves: FloatArray
    """(n, horizon + 1) S(t | tenure)."""
    churn_within: FloatArray
    """(n, len(horizons)) P(churn within h | tenure)."""
    expected_remaining: FloatArray
    value: FloatArray | None
    revenue_at_risk: FloatArray | None
    contributions: FloatArray | None
    """(n, fields) contributions to P(churn within the horizon), when explained."""

    def forecasts(self, names: Sequence[str], filled: FloatArray) -> list[SurvivalForecast]:
        """One SurvivalForecast per customer (`filled`: their imputed encoded rows)."""
        out = []
        for index in range(len(self.tenure)):
            value = None if self.value is None else float(self.value[index])
            out.append(
                SurvivalForecast(
                    self.horizon,
                    self.unit,
                    float(self.tenure[index]),
                    tuple(self.curves[index].tolist()),
                    tuple(zip(self.horizons, self.churn_within[index].tolist(), strict=True)),
                    float(self.expected_remaining[index]),
                    value,
                    None if self.revenue_at_risk is None else float(self.revenue_at_risk[index]),
                    None
                    if self.contributions is None
                    else ranked(names, filled[index].tolist(), self.contributions[index].tolist()),
                )
            )
        return out


def survival_table(
    schema: TableSchema, filled: FloatArray, rows: FloatArray, curves: FloatArray, reference: Reference | None
) -> SurvivalTable:
    """Time to churn of n imputed customers from the survival curves of their model rows: one row
    each, or (with `reference`) each customer's block of substituted rows (`substituted_batch`),
    whose first row is the customer's own. Every row's curve is read from the tenure it holds
    (a substituted duration moves the start), so the duration's contribution is that of where
    the customer stands on the curve."""
    spec = schema.survival
    if spec is None:
        raise ValueError("the schema declares no survival key")
    horizon = spec.horizon
    duration = schema.raw_fields.index(spec.duration)
    block = reference.rows_per_customer if reference is not None else 1
    conditional = conditional_curves(curves, rows[:, duration], horizon)
    own = conditional[::block]
    horizons = asked_horizons(horizon)
    remaining = restricted_means(own, horizon)
    values = filled[:, schema.raw_fields.index(spec.value)] if spec.value is not None else None
    contributions = None
    if reference is not None:
        at_horizon = (1.0 - conditional[:, horizon]).reshape(len(filled), block)
        contributions = contribution_matrix(filled, reference, at_horizon)
    return SurvivalTable(
        horizon,
        spec.unit,
        horizons,
        filled[:, duration].copy(),
        own,
        churn_within(own, horizons),
        remaining,
        values,
        None if values is None else values * (horizon - remaining),
        contributions,
    )


@dataclass(frozen=True)
class HorizonOutcome:
    """What happened within h periods of a scoring, against what was forecast."""

    periods: int
    predicted: float
    """The mean forecast P(churn within h) over the customers with an outcome."""
    observed: float
    """1 - the Kaplan-Meier S(h) of those customers: churn within h, each customer followed as
    long as they were (a customer last seen active before h counts until then, as censored)."""
    churned: int
    """Customers seen to churn within h."""
    censored: int
    """Customers last seen active before h periods had passed."""
    customers: int


def realized_by_horizon(
    predicted: FloatArray, followed: FloatArray, churned: npt.NDArray[np.bool_], horizons: Sequence[int]
) -> tuple[HorizonOutcome, ...]:
    """Per horizon: forecast (`predicted`, (n, len(horizons))) against the Kaplan-Meier estimate
    from each customer's periods followed since the scoring and whether they churned then."""
    curve = kaplan_meier(followed, churned, max(horizons)).values
    ends = np.where(churned, np.maximum(np.ceil(followed), 1.0), followed)
    return tuple(
        HorizonOutcome(
            h,
            float(np.mean(predicted[:, index])),
            float(1.0 - curve[h]),
            int((churned & (ends <= h)).sum()),
            int((~churned & (followed < h)).sum()),
            len(followed),
        )
        for index, h in enumerate(horizons)
    )
