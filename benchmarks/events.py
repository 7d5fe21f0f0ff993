"""Event histories: CDNOW out of time, against recency and the BG/NBD model on the same split.

    python benchmarks/events.py                         # the issue's split, then more training cutoffs
    python benchmarks/events.py --grid fast

Predicts "no purchase in the 26 weeks after the cutoff" for every CDNOW customer
(../shared/data/cdnow.txt: 69,659 purchases of 23,570 customers). Train cutoff 1997-07-01; test
cutoff 1997-12-31: the 26 weeks (182 days) after 1998-01-01 would end a day after the data
does, so its label could not be known. The table is built by `churnguard events build` from
schemas/cdnow.yaml and trained by the real pipeline (out-of-time holdout: the test cutoff).
Beside it, on the same customers and labels:
  recency   days since the last purchase, as the score;
  BG/NBD    the buy-till-you-die model (Fader, Hardie and Lee 2005), fitted here by maximum
            likelihood on the purchases before the test cutoff (no label used), scored by the
            expected purchases in the next 182 days (fewer: more likely to churn).
ROC-AUC of each with a bootstrap 95 % interval, and of the difference model - BG/NBD.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow.txt"
SCHEMA = ROOT / "schemas" / "cdnow.yaml"
HORIZON = 182
TEST_CUTOFF = "1997-12-31"


def bgnbd_fit(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """(r, alpha, a, b) maximising the BG/NBD likelihood of (repeat purchases, recency, age)."""

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        first = betaln(a, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + big_t)
        with np.errstate(divide="ignore"):
            second = np.where(
                x > 0,
                betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) + common - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return float(-np.logaddexp(first, second).sum())

    found = minimize(negative_log_likelihood, np.zeros(4), method="Nelder-Mead", options={"maxiter": 4000})
    return np.exp(found.x)


def bgnbd_expected(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, t: float) -> np.ndarray:
    """Expected purchases in the next `t` periods of each customer (conditional expectation)."""
    r, alpha, a, b = params
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp)
    alive = 1 + (x > 0) * (a / (b + np.maximum(x, 1) - 1)) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    return np.asarray(numerator / alive)


def bgnbd_scores(purchases: pd.DataFrame, cutoff: pd.Timestamp, customers: pd.Index) -> pd.Series:
    """Expected purchases in the `HORIZON` days after `cutoff`, from the purchases before it
    (repeat purchases counted on distinct days, time in weeks, as the model's authors do)."""
    before = purchases[purchases["day"] < cutoff]
    days = before.groupby("customer_id")["day"].agg(["min", "max", "nunique"])
    x = (days["nunique"] - 1).to_numpy(dtype=float)
    t_x = ((days["max"] - days["min"]).dt.days / 7).to_numpy(dtype=float)
    big_t = ((cutoff - days["min"]).dt.days / 7).to_numpy(dtype=float)
    params = bgnbd_fit(x, t_x, big_t)
    expected = bgnbd_expected(params, x, t_x, big_t, HORIZON / 7)
    print(f"  BG/NBD fitted: r={params[0]:.3f} alpha={params[1]:.3f} a={params[2]:.3f} b={params[3]:.3f}")
    return pd.Series(expected, index=days.index).reindex(customers)


def interval(label: np.ndarray, *scores: np.ndarray, rounds: int = 400, seed: int = 42) -> list[tuple[float, float]]:
    """Bootstrap 95 % intervals of each score's ROC-AUC and, with two, of their difference."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        pick = rng.integers(0, len(label), len(label))
        aucs = [roc_auc_score(label[pick], s[pick]) for s in scores]
        draws.append([*aucs, aucs[0] - aucs[1]] if len(scores) == 2 else aucs)
    found = np.percentile(np.asarray(draws), [2.5, 97.5], axis=0)
    return [(float(low), float(high)) for low, high in found.T]


def run(train_cutoffs: list[str], grid: str) -> None:
    from churnguard import ChurnGuard
    from churnguard.entrypoints.cli import main

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cdnow.csv"
        started = time.perf_counter()
        argv = ["--log-level", "WARNING", "events", "build", "--schema", str(SCHEMA), "--events", str(CDNOW)]
        for cutoff in [*train_cutoffs, TEST_CUTOFF]:
            argv += ["--cutoff", cutoff]
        assert main([*argv, "--out", str(out)]) == 0
        built = time.perf_counter() - started
        table = pd.read_csv(out, dtype={"customer_id": str})
        started = time.perf_counter()
        guard = ChurnGuard.in_memory(schema_path=str(out.with_suffix(".schema.yaml")), grid=grid)
        outcome = guard.fit(table)
        trained = time.perf_counter() - started
    test = table[table["cutoff"] == TEST_CUTOFF].set_index("customer_id")
    label = test["churn"].to_numpy()
    scores = guard.score(test.reset_index().drop(columns="churn")).table
    model = scores.set_index("customer_id")["churn_probability"].reindex(test.index).to_numpy()
    purchases = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    purchases["day"] = pd.to_datetime(purchases["date"], format="%Y%m%d")
    expected = bgnbd_scores(purchases, pd.Timestamp(TEST_CUTOFF), test.index).to_numpy()
    recency = test["days_since_last"].to_numpy(dtype=float)
    rows = [("recency (days since the last purchase)", recency), ("BG/NBD expected purchases", -expected)]
    rows.append((f"window features, champion ({outcome.training.trained.family})", model))
    print(
        f"train cutoffs {', '.join(train_cutoffs)}; test cutoff {TEST_CUTOFF}: {len(test):,} customers, "
        f"churn rate {label.mean():.1%}; built in {built:.1f} s, trained ({grid} grid) in {trained:.1f} s"
    )
    for name, score in rows:
        ((low, high),) = interval(label, score)
        print(f"  {name:48s} ROC-AUC {roc_auc_score(label, score):.4f} (95% {low:.4f} to {high:.4f})")
    _, _, (low, high) = interval(label, model, -expected)
    gain = roc_auc_score(label, model) - roc_auc_score(label, -expected)
    print(f"  {'champion - BG/NBD':48s} {gain:+.4f} (95% {low:+.4f} to {high:+.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=["full", "fast"], default="full")
    parser.add_argument(
        "--train-cutoffs",
        action="append",
        type=lambda text: text.split(","),
        metavar="DATE,DATE",
        help="training cutoffs (each before the test cutoff by the horizon); repeatable: one run each",
    )
    args = parser.parse_args()
    for cutoffs in args.train_cutoffs or [["1997-07-01"]]:  # the split by default
        run(cutoffs, args.grid)


if __name__ == "__main__":
    main()
