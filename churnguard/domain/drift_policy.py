"""When is the production data different enough from the training data to act on it?

The drift detector (an adapter) measures each feature; this policy turns the measurements
into a verdict, so the rule lives in one place whatever library computes the statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RULE_NAMES = {"weighted_share": "weighted field drift", "prediction": "prediction drift"}
"""What people read for each rule id (the ids stay in reports and metrics labels)."""


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature's comparison: the test used, its statistic and whether it drifted."""

    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class DriftVerdict:
    drifted: bool
    drift_share: float
    """Plain share of drifted fields, each counting the same."""
    drifted_features: tuple[str, ...]
    """Drifted fields, the champion's most important first."""
    reasons: tuple[str, ...]
    weighted_share: float = 0.0
    """Share of the champion's importance carried by the drifted fields."""
    prediction_drifted: bool = False
    rules: tuple[str, ...] = ()
    """The rules that fired: "weighted_share", "prediction"; empty when no drift."""
    weights: Mapping[str, float] = field(default_factory=dict)


class NotEnoughRows(ValueError):
    """Too few current rows for a meaningful comparison."""


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Dataset drift when the drifted fields carry at least `drift_share` of the champion's
    importance (default half) or its predictions drifted; no verdict on fewer than `min_rows`
    current rows."""

    drift_share: float = 0.5
    min_rows: int = 100

    def __post_init__(self) -> None:
        if not 0.0 < self.drift_share <= 1.0:
            raise ValueError(f"drift_share must be within (0, 1], got {self.drift_share}")
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be >= 1, got {self.min_rows}")

    def check_rows(self, current_rows: int) -> None:
        if current_rows < self.min_rows:
            raise NotEnoughRows(f"{current_rows} current rows; drift needs at least {self.min_rows}")

    def verdict(
        self,
        features: Sequence[FeatureDrift],
        weights: Mapping[str, float] | None = None,
        prediction: FeatureDrift | None = None,
    ) -> DriftVerdict:
        """Dataset drift when the drifted fields carry at least `drift_share` of the champion's
        importance (`weights`; equal weights without them), or when the distribution of its
        predicted probabilities drifted. The plain share is reported beside them."""
        if not features:
            raise ValueError("no features were compared")
        if not weights:
            weights = {f.feature: 1.0 / len(features) for f in features}
        ordered = sorted(features, key=lambda f: -weights.get(f.feature, 0.0))
        drifted = tuple(f.feature for f in ordered if f.drifted)
        share = len(drifted) / len(features)
        weighted = min(1.0, sum(weights.get(name, 0.0) for name in drifted))
        prediction_drifted = prediction is not None and prediction.drifted
        rules = tuple(
            rule
            for rule, fired in (("weighted_share", weighted >= self.drift_share), ("prediction", prediction_drifted))
            if fired
        )
        said = {
            "weighted_share": f"the drifted fields carry {weighted:.0%} of the fields' influence on the champion "
            f"(dataset drift from {self.drift_share:.0%})",
            "prediction": f"the predicted probabilities drifted ({prediction.test} {prediction.statistic:.4g}, "
            f"threshold {prediction.threshold:.4g})"
            if prediction is not None
            else "",
        }
        head = (
            f"DRIFT by {' and '.join(RULE_NAMES[rule] for rule in rules)}: " + "; ".join(said[rule] for rule in rules)
            if rules
            else f"no rule fired: drifted fields carry {weighted:.0%} of the influence (needs {self.drift_share:.0%})"
            + ("" if prediction is None else f", predictions steady ({prediction.test} {prediction.statistic:.4g})")
        )
        reasons = (
            head,
            f"{len(drifted)} of {len(features)} fields drifted ({share:.0%} plain share)",
            *(
                f"{f.feature} (weight {weights.get(f.feature, 0.0):.0%}): {f.test} {f.statistic:.4g} "
                f"(threshold {f.threshold:.4g})"
                for f in ordered
                if f.drifted
            ),
        )
        return DriftVerdict(bool(rules), share, drifted, reasons, weighted, prediction_drifted, rules, dict(weights))


def field_weights(fields: Sequence[str], influence: Mapping[str, float]) -> dict[str, float]:
    """Each field's share of the champion's attention (summing to 1): its `influence` (how far
    setting it to its baseline moves the predicted probability, on average), normalized.
    Negative or missing values count as 0; with no influence at all every field weighs the same."""
    weight = {name: max(0.0, float(influence.get(name, 0.0))) for name in fields}
    total = sum(weight.values())
    if total <= 0.0:
        return {name: 1.0 / len(fields) for name in fields}
    return {name: value / total for name, value in weight.items()}
