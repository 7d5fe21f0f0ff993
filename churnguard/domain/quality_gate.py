"""The promotion policy: which trained model may become the champion, and why."""

from __future__ import annotations

from dataclasses import dataclass


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
    """Promote only if holdout F1 >= min_f1 and, when a champion exists, the candidate's F1
    is not lower than the champion's by more than `tolerance`.
    """

    min_f1: float = 0.72
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_f1 <= 1.0:
            raise ValueError(f"min_f1 must be within [0, 1], got {self.min_f1}")
        if self.tolerance < 0.0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")

    def decide(self, candidate_f1: float, champion_f1: float | None = None) -> GateDecision:
        reasons: list[str] = []
        meets_floor = candidate_f1 >= self.min_f1
        relation = ">=" if meets_floor else "<"
        reasons.append(f"candidate F1 {candidate_f1:.4f} {relation} floor {self.min_f1:.4f}")
        holds_against_champion = True
        if champion_f1 is None:
            reasons.append("no champion yet")
        else:
            holds_against_champion = candidate_f1 >= champion_f1 - self.tolerance
            delta = candidate_f1 - champion_f1
            verdict = "within" if holds_against_champion else "beyond"
            reasons.append(
                f"candidate F1 {candidate_f1:.4f} vs champion {champion_f1:.4f} "
                f"(delta {delta:+.4f}, {verdict} tolerance {self.tolerance:.4f})"
            )
        return GateDecision(
            promote=meets_floor and holds_against_champion,
            reasons=tuple(reasons),
            candidate_f1=candidate_f1,
            champion_f1=champion_f1,
        )
