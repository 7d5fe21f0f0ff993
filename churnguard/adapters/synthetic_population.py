"""A synthetic telecom population with a known churn process: our own data, and an oracle.

Generating process (all draws vectorized from one `numpy.random.Generator(PCG64(seed))`, in
the fixed order below, so a seed always yields the same table):

1. gender ~ Bernoulli(0.5); age ~ round(Normal(45, 14)) clipped to 18..80.
2. partner ~ Bernoulli(0.52); dependents ~ Bernoulli(0.55) if partner else Bernoulli(0.15).
3. tenure_months: one of three equally likely groups (new customers: ceil(Exponential(mean 8));
   settled: Normal(35, 12); loyal: Normal(58, 10)), rounded and clipped to 1..72.
4. contract_type (0 month-to-month, 1 one year, 2 two years) ~ softmax of logits
   (0, -1.0 + 2.2 s, -1.9 + 3.8 s) with s = tenure / 72: long-term contracts grow with tenure.
5. internet_service (0 none, 1 DSL, 2 fiber) with shares 22/34/44 %; monthly_charges by tier
   ~ Normal(25, 5) / Normal(55, 12) / Normal(85, 14), clipped to 18.25..118.75, 2 decimals.
6. online_security, tech_support ~ Bernoulli(0.5) each, only with internet (else 0).
7. payment_method (0 bank transfer, 1 credit card, 2 electronic check, 3 mailed check) with
   shares 22/22/34/22 %; paperless_billing ~ Bernoulli(0.6).
8. num_tickets ~ Poisson(1.5 + 2.2 [fiber and no tech support] + 0.6 [month-to-month]),
   clipped to 0..50.
9. churn ~ Bernoulli(sigmoid(z)) with
   z = INTERCEPT + 1.8 [month-to-month] - 0.7 [one year] - 2.0 [two years] + 0.85 [fiber]
       - 0.35 [no internet] + 0.5 [electronic check] + 0.5 num_tickets - 0.042 tenure_months
       - 0.4 online_security - 0.4 tech_support - 0.3 partner - 0.3 dependents
   which gives a churn rate near 35 %. `churn_probability` returns sigmoid(z): the oracle.

Drift (`Drift`) shifts named parts of this process for drift demos; the churn formula stays.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from churnguard.domain.customer import RAW_FIELDS, TARGET

INTERCEPT = -0.65
CHARGE_MIN, CHARGE_MAX = 18.25, 118.75


@dataclass(frozen=True, slots=True)
class Drift:
    """Named shifts of the generating process; the defaults leave it unchanged."""

    age_shift: float = 0.0
    """Years added to the mean age."""
    charges_scale: float = 1.0
    """Multiplier on every monthly charge (before clipping)."""
    fiber_share: float = 0.44
    """Share of fiber customers; DSL and no-internet keep their 34:22 ratio in the rest."""
    new_customer_share: float = 1 / 3
    """Share of the new-customer tenure group; the other two split the rest evenly."""
    extra_tickets: float = 0.0
    """Added to every customer's Poisson ticket mean."""

    @classmethod
    def parse(cls, assignments: list[str]) -> Drift:
        """Build from `name=value` strings, e.g. ["age_shift=10", "charges_scale=1.2"]."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for assignment in assignments:
            name, sep, raw = assignment.partition("=")
            if not sep or name not in known:
                raise ValueError(f"drift {assignment!r}: expected NAME=VALUE with NAME in {sorted(known)}")
            try:
                values[name] = float(raw)
            except ValueError:
                raise ValueError(f"drift {assignment!r}: {raw!r} is not a number") from None
        drift = cls(**values)
        for share in ("fiber_share", "new_customer_share"):
            if not 0.0 <= getattr(drift, share) <= 1.0:
                raise ValueError(f"drift {share} must be within [0, 1]")
        if drift.charges_scale <= 0:
            raise ValueError("drift charges_scale must be > 0")
        if drift.extra_tickets < 0:
            raise ValueError("drift extra_tickets must be >= 0")
        return drift


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def churn_logit(table: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The true log-odds of churn for each row (step 9 of the module docstring)."""

    def col(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(table[name].to_numpy(dtype=np.float64), dtype=np.float64)

    contract, internet = col("contract_type"), col("internet_service")
    return np.asarray(
        INTERCEPT
        + 1.8 * (contract == 0)
        - 0.7 * (contract == 1)
        - 2.0 * (contract == 2)
        + 0.85 * (internet == 2)
        - 0.35 * (internet == 0)
        + 0.5 * (col("payment_method") == 2)
        + 0.5 * col("num_tickets")
        - 0.042 * col("tenure_months")
        - 0.4 * col("online_security")
        - 0.4 * col("tech_support")
        - 0.3 * col("partner")
        - 0.3 * col("dependents"),
        dtype=np.float64,
    )


def churn_probability(table: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The oracle: the true churn probability the generator used for each row."""
    return _sigmoid(churn_logit(table))


def generate_population(rows: int, seed: int, drift: Drift | None = None) -> pd.DataFrame:
    """`rows` customers with the 13 raw fields and the churn label, deterministic in `seed`."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    drift = drift or Drift()
    rng = np.random.Generator(np.random.PCG64(seed))
    n = rows

    gender = rng.integers(0, 2, n)
    age = np.clip(np.rint(rng.normal(45.0 + drift.age_shift, 14.0, n)), 18, 80)
    partner = (rng.random(n) < 0.52).astype(np.int64)
    dependents = (rng.random(n) < np.where(partner == 1, 0.55, 0.15)).astype(np.int64)

    other = (1.0 - drift.new_customer_share) / 2.0
    group = rng.choice(3, size=n, p=[drift.new_customer_share, other, other])
    tenure_draws = np.select(
        [group == 0, group == 1],
        [np.ceil(rng.exponential(8.0, n)), rng.normal(35.0, 12.0, n)],
        rng.normal(58.0, 10.0, n),
    )
    tenure = np.clip(np.rint(tenure_draws), 1, 72)

    s = tenure / 72.0
    logits = np.column_stack([np.zeros(n), -1.0 + 2.2 * s, -1.9 + 3.8 * s])
    weights = np.exp(logits)
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    contract = (rng.random(n)[:, None] > cumulative[:, :-1]).sum(axis=1)

    rest = 1.0 - drift.fiber_share
    internet = rng.choice(3, size=n, p=[rest * 22 / 56, rest * 34 / 56, drift.fiber_share])
    tier_mean = np.array([25.0, 55.0, 85.0])[internet]
    tier_sd = np.array([5.0, 12.0, 14.0])[internet]
    charges = np.clip(rng.normal(tier_mean, tier_sd) * drift.charges_scale, CHARGE_MIN, CHARGE_MAX)
    charges = np.round(charges, 2)

    has_internet = internet > 0
    online_security = ((rng.random(n) < 0.5) & has_internet).astype(np.int64)
    tech_support = ((rng.random(n) < 0.5) & has_internet).astype(np.int64)
    payment = rng.choice(4, size=n, p=[0.22, 0.22, 0.34, 0.22])
    paperless = (rng.random(n) < 0.6).astype(np.int64)

    ticket_mean = 1.5 + 2.2 * ((internet == 2) & (tech_support == 0)) + 0.6 * (contract == 0) + drift.extra_tickets
    tickets = np.clip(rng.poisson(ticket_mean), 0, 50)

    table = pd.DataFrame(
        {
            "gender": gender,
            "age": age.astype(np.int64),
            "partner": partner,
            "dependents": dependents,
            "tenure_months": tenure.astype(np.int64),
            "monthly_charges": charges,
            "contract_type": contract.astype(np.int64),
            "payment_method": payment.astype(np.int64),
            "paperless_billing": paperless,
            "internet_service": internet.astype(np.int64),
            "online_security": online_security,
            "tech_support": tech_support,
            "num_tickets": tickets.astype(np.int64),
        },
        columns=list(RAW_FIELDS),
    )
    table[TARGET] = (rng.random(n) < churn_probability(table)).astype(np.int64)
    return table
