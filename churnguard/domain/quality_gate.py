"""The promotion policy: which trained model may become the champion, and why."""

from __future__ import annotations

from dataclasses import dataclass

from churnguard.domain.uncertainty import Interval


@dataclass(frozen=True, slots=True)
class ChampionComparison:
    """The champion's holdout F1 and the paired F1 difference (candidate - champion) on the same rows."""

    champion_f1: float
    difference: Interval


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict with every reason that led to it, for logs, CLI and API alike."""

    promote: bool
    reasons: tuple[str, ...]
    candidate_f1: float
    champion_f1: float | None

    def summary(self) -> str:
        verdict = "PROMOTE" if self.promote else "REFUSE"
        return f"{verdict}: " + "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class QualityGate:
    """Promote only if holdout F1 >= `min_f1` and, when a champion exists, the candidate is
    not worse than it by more than `tolerance`.

    Against a champion the gate runs a non-inferiority test: the lower end of the confidence
    interval of the paired F1 difference must stay above -tolerance. A candidate that only
    looks better by noise, or only looks worse by noise within the margin, is judged on the
    interval, not on the point estimate. With an exact difference (no interval) this is the
    plain rule candidate_f1 >= champion_f1 - tolerance.
    """

    min_f1: float = 0.72
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_f1 <= 1.0:
            raise ValueError(f"min_f1 must be within [0, 1], got {self.min_f1}")
        if not 0.0 <= self.tolerance <= 1.0:
            raise ValueError(f"tolerance must be within [0, 1], got {self.tolerance}")

    def decide(self, candidate_f1: Interval | float, versus: ChampionComparison | None = None) -> GateDecision:
        candidate = candidate_f1 if isinstance(candidate_f1, Interval) else Interval.exact(candidate_f1)
        meets_floor = candidate.estimate >= self.min_f1
        shown = str(candidate) if candidate.low != candidate.high else f"{candidate.estimate:.4f}"
        reasons = [f"candidate F1 {shown} {'>=' if meets_floor else '<'} floor {self.min_f1:.4f}"]
        not_worse = True
        if versus is None:
            reasons.append("no champion yet")
        else:
            difference = versus.difference
            not_worse = difference.low >= -self.tolerance
            interval = (
                f"{difference.level:.0%} CI {difference.low:+.4f} to {difference.high:+.4f}"
                if difference.low != difference.high
                else "exact"
            )
            verdict = "not worse than" if not_worse else "may be worse than"
            reasons.append(
                f"vs champion F1 {versus.champion_f1:.4f}: difference {difference.estimate:+.4f} ({interval}); "
                f"lower bound {'>=' if not_worse else '<'} -{self.tolerance:.4f}, {verdict} the champion"
            )
        return GateDecision(
            promote=meets_floor and not_worse,
            reasons=tuple(reasons),
            candidate_f1=candidate.estimate,
            champion_f1=None if versus is None else versus.champion_f1,
        )
