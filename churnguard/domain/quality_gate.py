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
class SurvivalComparison:
    """Candidate and champion survival models on the same holdout rows: Harrell's concordance
    (higher is better) and the integrated Brier score (lower is better), each with the paired
    bootstrap interval of candidate - champion."""

    candidate_concordance: float
    champion_concordance: float
    concordance_difference: Interval
    candidate_ibs: float
    champion_ibs: float
    ibs_difference: Interval

    def verdict(self, tolerance: float) -> tuple[bool, str]:
        """Not worse: the difference's interval stays within `tolerance` of the champion on both."""
        c, ibs = self.concordance_difference, self.ibs_difference
        not_worse = c.low >= -tolerance and ibs.high <= tolerance
        return not_worse, (
            f"survival vs champion: concordance {self.candidate_concordance:.4f} vs {self.champion_concordance:.4f} "
            f"({c.level:.0%} CI of the difference {c.low:+.4f} to {c.high:+.4f}), integrated Brier "
            f"{self.candidate_ibs:.4f} vs {self.champion_ibs:.4f} ({ibs.low:+.4f} to {ibs.high:+.4f}); "
            f"{'not worse than' if not_worse else 'may be worse than'} the champion by more than {tolerance:.4f}"
        )


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict with every reason that led to it, for logs, CLI and API alike."""

    promote: bool
    reasons: tuple[str, ...]
    candidate_f1: float
    champion_f1: float | None
    floor: F1Floor | None = None
    """The floor the candidate was judged against (stored with it when it is promoted)."""

    def summary(self) -> str:
        verdict = "PROMOTE" if self.promote else "REFUSE"
        return f"{verdict}: " + "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class F1Floor:
    """The F1 floor a candidate was judged against, and where it came from (a setting, the
    table's schema, or the baselines when neither declares one)."""

    value: float
    source: str

    def as_json(self) -> dict[str, float | str]:
        return {"value": self.value, "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, float | str]) -> F1Floor:
        return cls(float(data["value"]), str(data["source"]))


@dataclass(frozen=True, slots=True)
class Baselines:
    """What a model with no skill and a plain model score on the candidate's holdout."""

    no_skill_f1: float
    """Flagging every customer: F1 = 2p / (1 + p) at churn rate p."""
    plain_f1: float | None = None
    """A plain logistic regression fitted on the same training split (None: not measured)."""


def no_skill_f1(churn_rate: float) -> float:
    """The F1 of flagging every customer, the best a classifier with no skill reaches."""
    return 2.0 * churn_rate / (1.0 + churn_rate) if churn_rate > 0 else 0.0


@dataclass(frozen=True, slots=True)
class QualityGate:
    """Promote only if the candidate clears the F1 floor and, when a champion exists, is not
    worse than it by more than `tolerance`.

    The floor: `min_f1` (the MIN_F1 setting) if set, else the schema's `quality.min_f1`, else
    the baselines. A declared floor is met by the point estimate. Without one, the candidate
    must beat flagging everyone (the lower end of its F1 interval above the no-skill F1) and
    not lose to a plain logistic regression on the same split (the upper end of its interval
    at least the plain model's F1); the no-skill F1 is then the floor stored with the champion.

    Against a champion the gate runs a non-inferiority test: the lower end of the confidence
    interval of the paired F1 difference must stay above -tolerance. A candidate that only
    looks better by noise, or only looks worse by noise within the margin, is judged on the
    interval, not on the point estimate. With an exact difference (no interval) this is the
    plain rule candidate_f1 >= champion_f1 - tolerance.
    """

    min_f1: float | None = None
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if self.min_f1 is not None and not 0.0 <= self.min_f1 <= 1.0:
            raise ValueError(f"min_f1 must be within [0, 1], got {self.min_f1}")
        if not 0.0 <= self.tolerance <= 1.0:
            raise ValueError(f"tolerance must be within [0, 1], got {self.tolerance}")

    def floor(self, declared: float | None, schema_name: str, baselines: Baselines | None) -> F1Floor:
        """The floor in force for a table: the setting, else the schema's, else the no-skill F1."""
        if self.min_f1 is not None:
            return F1Floor(self.min_f1, "MIN_F1 setting")
        if declared is not None:
            return F1Floor(declared, f"quality.min_f1 of schema {schema_name!r}")
        no_skill = baselines.no_skill_f1 if baselines is not None else 0.0
        return F1Floor(no_skill, "no floor declared (MIN_F1 or the schema's quality.min_f1): the no-skill F1")

    def decide(
        self,
        candidate_f1: Interval | float,
        versus: ChampionComparison | None = None,
        floor: F1Floor | None = None,
        baselines: Baselines | None = None,
        survival: SurvivalComparison | None = None,
    ) -> GateDecision:
        """`survival`: where both models forecast time to churn, the candidate must not be worse
        on concordance nor on the integrated Brier score either (the same non-inferiority rule)."""
        candidate = candidate_f1 if isinstance(candidate_f1, Interval) else Interval.exact(candidate_f1)
        floor = floor or F1Floor(self.min_f1 if self.min_f1 is not None else 0.0, "MIN_F1 setting")
        shown = str(candidate) if candidate.low != candidate.high else f"{candidate.estimate:.4f}"
        declared = not floor.source.startswith("no floor declared")
        if declared:
            meets_floor = candidate.estimate >= floor.value
            verdict = ">=" if meets_floor else "<"
            reasons = [f"candidate F1 {shown} {verdict} floor {floor.value:.4f} ({floor.source})"]
            if not meets_floor:
                reasons[0] += "; a table of its own declares its floor as quality.min_f1 in its schema, or set MIN_F1"
        else:
            beats_no_skill = candidate.low > floor.value
            reasons = [
                f"candidate F1 {shown}: lower bound {'>' if beats_no_skill else '<='} no-skill F1 {floor.value:.4f} "
                f"(flag every customer), {'better' if beats_no_skill else 'not shown better'} than no skill; "
                "no floor declared (MIN_F1 or the schema's quality.min_f1)"
            ]
            keeps_up = True
            if baselines is not None and baselines.plain_f1 is not None:
                keeps_up = candidate.high >= baselines.plain_f1
                reasons.append(
                    f"plain logistic regression F1 {baselines.plain_f1:.4f}: upper bound "
                    f"{'>=' if keeps_up else '<'} it, {'not shown worse' if keeps_up else 'worse'} than a plain model"
                )
            meets_floor = beats_no_skill and keeps_up
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
        if survival is not None:
            survival_not_worse, said = survival.verdict(self.tolerance)
            reasons.append(said)
            not_worse = not_worse and survival_not_worse
        return GateDecision(
            promote=meets_floor and not_worse,
            reasons=tuple(reasons),
            candidate_f1=candidate.estimate,
            champion_f1=None if versus is None else versus.champion_f1,
            floor=floor,
        )


DEFAULT_MAX_REJECTED_SHARE = 0.1
"""The largest share of rejected rows a scoring or drift run accepts when neither the setting
(MAX_REJECTED_SHARE) nor the schema (quality.max_rejected_share) says otherwise."""


@dataclass(frozen=True, slots=True)
class RejectLimit:
    """How many rejected rows a run may have before it fails, and who said so."""

    share: float
    source: str

    @classmethod
    def resolve(cls, setting: float | None, declared: float | None, schema_name: str) -> RejectLimit:
        if setting is not None:
            return cls(setting, "MAX_REJECTED_SHARE")
        if declared is not None:
            return cls(declared, f"quality.max_rejected_share of schema {schema_name!r}")
        return cls(
            DEFAULT_MAX_REJECTED_SHARE,
            "the default; set MAX_REJECTED_SHARE or the schema's quality.max_rejected_share",
        )

    def problem(self, rejected: int, total: int) -> str | None:
        """Why a run with `rejected` of `total` rows rejected fails, or None if it does not. A
        run that kept no row fails whatever the limit: it has nothing to show."""
        if total == 0:
            return None
        share = rejected / total
        if rejected == total:
            return f"every one of the {total:,} rows was rejected"
        if share > self.share:
            return (
                f"{rejected:,} of {total:,} rows ({share:.1%}) were rejected, more than {self.share:.1%} "
                f"({self.source})"
            )
        return None
