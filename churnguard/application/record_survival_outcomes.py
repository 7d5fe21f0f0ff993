"""Use-case: outcomes with dates (who churned when, who was still a customer at a date) against
the time-to-churn forecasts a scoring wrote: realized churn within each horizon, censoring
respected, beside what was forecast."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from churnguard.application.errors import InvalidOptions, ModelNotFound
from churnguard.application.ports import (
    Clock,
    ModelStore,
    OutcomeDateReader,
    ScoredFileReader,
    SurvivalOutcomesReport,
    SurvivalOutcomesWriter,
)
from churnguard.domain.survival import asked_horizons, realized_by_horizon

PERIOD_DAYS = {"month": 365.25 / 12, "week": 7.0, "day": 1.0, "year": 365.25}
"""How long a period of each unit a schema may name is, in days."""


class RecordSurvivalOutcomes:
    def __init__(
        self,
        scored: ScoredFileReader,
        dates: OutcomeDateReader,
        store: ModelStore,
        writer: SurvivalOutcomesWriter,
        clock: Clock,
    ) -> None:
        self._scored = scored
        self._dates = dates
        self._store = store
        self._writer = writer
        self._clock = clock

    def __call__(
        self, scored: str, scored_on: date, outcomes: str, period_days: float | None = None
    ) -> tuple[SurvivalOutcomesReport, Sequence[str]]:
        champion = self._store.champion()
        if champion is None:
            raise ModelNotFound("no champion: its schema says what a period is and which horizons were forecast")
        schema = champion.schema
        spec = schema.survival
        if spec is None or schema.id_column is None:
            raise InvalidOptions(
                f"the champion's schema ({schema.name!r}) declares no survival key and id column: "
                "there are no time-to-churn forecasts to hold outcomes against"
            )
        days = period_days if period_days is not None else PERIOD_DAYS.get(spec.unit)
        if days is None or days <= 0:
            raise InvalidOptions(f"--period-days: the schema's unit {spec.unit!r} has no known length; name it in days")
        horizons = asked_horizons(spec.horizon)
        forecasts = self._scored.read_forecasts(scored, schema.id_column, [f"churn_within_{h}" for h in horizons])
        known = dict(zip(forecasts.ids, range(len(forecasts.ids)), strict=True))
        rows: list[int] = []
        followed: list[float] = []
        churned: list[bool] = []
        unknown: list[str] = []
        for outcome in self._dates.read_dates(outcomes, schema.id_column, scored_on):
            row = known.get(outcome.customer_id)
            if row is None:
                unknown.append(outcome.customer_id)
                continue
            rows.append(row)
            followed.append((outcome.on - scored_on).days / days)
            churned.append(outcome.churned)
        if not rows:
            raise InvalidOptions(f"no customer of {outcomes} is in {scored}: nothing to hold against the forecasts")
        predicted = np.asarray(forecasts.values, dtype=np.float64)[rows]
        report = SurvivalOutcomesReport(
            checked_at=self._clock.now(),
            model_version=champion.fingerprint,
            scored=scored,
            outcomes=outcomes,
            scored_on=scored_on,
            unit=spec.unit,
            period_days=days,
            horizons=realized_by_horizon(predicted, np.asarray(followed), np.asarray(churned), horizons),
            matched=len(rows),
            unknown=unknown,
        )
        return report, self._writer.write_survival_outcomes(report)
