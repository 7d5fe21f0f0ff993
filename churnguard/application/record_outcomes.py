"""Use-case: outcomes arrive (a customer churned, or stayed), are joined with what the champion
predicted for them, and the realized performance per period is reported beside the estimate."""

from __future__ import annotations

from collections.abc import Sequence

from churnguard.application.errors import ModelNotFound
from churnguard.application.ports import (
    Clock,
    ExperimentTracker,
    ModelStore,
    OutcomeLedger,
    OutcomeReader,
    OutcomesReport,
    OutcomesReportWriter,
)
from churnguard.domain.outcomes import by_period


class RecordOutcomes:
    def __init__(
        self,
        reader: OutcomeReader,
        ledger: OutcomeLedger,
        store: ModelStore,
        writer: OutcomesReportWriter,
        tracker: ExperimentTracker,
        clock: Clock,
    ) -> None:
        self._reader = reader
        self._ledger = ledger
        self._store = store
        self._writer = writer
        self._tracker = tracker
        self._clock = clock

    def __call__(self, location: str, period_seconds: float = 86_400.0) -> tuple[OutcomesReport, Sequence[str]]:
        """Read `location` by the champion's schema, join, keep, and report every period so far.
        Unknown ids and duplicates are in the report, never dropped silently."""
        champion = self._store.champion()
        if champion is None:
            raise ModelNotFound("no champion: outcomes are joined with the champion's logged predictions")
        now = self._clock.now()
        read = self._reader.read(location, champion.schema, now.timestamp())
        joined = self._ledger.record(read.outcomes, champion.schema.hash, champion.threshold)
        matched = self._ledger.matched(champion.schema.hash, champion.threshold)
        report = OutcomesReport(
            checked_at=now,
            model_version=champion.fingerprint,
            source=location,
            received=len(read.outcomes) + len(read.duplicates),
            matched=len(joined.matched),
            unknown=list(joined.unknown),
            duplicates=[*read.duplicates, *joined.already_recorded],
            periods=by_period(matched, period_seconds),
            period_seconds=period_seconds,
        )
        files = self._writer.write(report)
        self._tracker.record_outcomes(report, files)
        return report, files
