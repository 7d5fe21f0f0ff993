"""Training benchmark: speed, memory and quality of the search, against the oracle.

    python benchmarks/train.py                  # every scenario, each in its own process
    python benchmarks/train.py --family gbm --case oracle   # one scenario

Scenarios: family `default` (logistic + hgb) and `gbm` (the original 72-candidate grid), on
  shared    ../shared/data/churn.csv with TEST_SIZE=0.25 (the original's split), holdout metrics;
  oracle    trained on our bundled 2,000 rows, tested on a fresh 100,000-row sample of the
            generator, beside the generator's true churn probability on the same rows (the
            oracle's ROC-AUC, Brier, and F1 at its best threshold: the best achievable);
  telco     IBM's Telco sample (../shared/data/telco.csv) through schemas/telco.yaml,
            TEST_SIZE=0.2, RANDOM_STATE=42: holdout metrics with bootstrap intervals, beside
            plain scikit-learn logistic regression on the same split (one-hot categories,
            scaled numbers, blank TotalCharges read as 0);
  telco-raw the same table and schema without its engineered features (what they add).
The default run covers both schemas: default and gbm on shared/oracle, default on telco and telco-raw.
Each runs the real validate + train use-cases from the composition root in a temp workdir;
wall time covers validation, search, calibration, the refit and storing the model. Peak RSS
is of the training process and of its largest joblib worker.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sklearn.metrics import brier_score_loss, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "raw" / "churn.csv"
SHARED = ROOT.parent / "shared" / "data" / "churn.csv"
TELCO = ROOT.parent / "shared" / "data" / "telco.csv"
TELCO_SCHEMA = ROOT / "schemas" / "telco.yaml"
FRESH_ROWS, FRESH_SEED = 100_000, 20261126


def _peak_rss_mib() -> dict[str, float]:
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # reap the workers so their peak is counted
    return {
        "main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "largest_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def run_scenario(family: str, case: str) -> dict[str, Any]:
    from churnguard.adapters.sklearn_evaluation import classification_metrics, features_and_target
    from churnguard.adapters.synthetic_population import churn_probability as oracle_probability
    from churnguard.adapters.synthetic_population import generate_population
    from churnguard.application.champion import probability_of
    from churnguard.domain.decision_threshold import f1_optimal_threshold
    from churnguard.entrypoints.container import build_container
    from churnguard.entrypoints.settings import Settings

    data = {"shared": SHARED, "oracle": BUNDLED}.get(case, TELCO)
    test_size = 0.25 if case == "shared" else 0.2
    with tempfile.TemporaryDirectory(prefix="churnguard-bench-") as workdir:
        schema_path = _telco_schema(case, Path(workdir)) if case.startswith("telco") else None
        settings = (
            Settings()
            .with_overrides("paths", workdir=Path(workdir), data_path=data, schema_path=schema_path)
            .with_overrides("training", family=family, grid="full", test_size=test_size, random_state=42)
        )
        container = build_container(settings)
        started = time.perf_counter()
        dataset = container.validate_dataset()(str(data))
        outcome = container.train_model()(dataset)
        wall = time.perf_counter() - started
        intervals = None
        if case.startswith("telco"):
            report, _ = container.evaluate_model()(dataset, outcome.version.fingerprint)
            intervals = {
                name: [round(value.low, 4), round(value.estimate, 4), round(value.high, 4)]
                for name, value in report.evaluation.intervals.items()
            }
    trained, version = outcome.trained, outcome.version
    result: dict[str, Any] = {
        "family_set": family,
        "case": case,
        "data": str(data),
        "test_size": test_size,
        "wall_seconds": round(wall, 2),
        "search_seconds": round(trained.search_seconds, 2),
        "peak_rss_mib": _peak_rss_mib(),
        "candidates": int(trained.cv_summary["cv_candidates"]),
        "chosen": {
            "family": trained.family,
            "params": dict(trained.params),
            "calibration": trained.calibration["method"],
            "threshold": round(trained.threshold, 4),
        },
        "family_table": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "best_params"}
            for row in trained.family_table
        ],
    }
    keys = ("f1", "roc_auc", "brier", "accuracy", "precision", "recall")
    if case == "shared" or case.startswith("telco"):
        result["holdout"] = {k: round(version.metrics[k], 4) for k in keys}
        if intervals is not None:
            result["holdout_95ci_low_estimate_high"] = intervals
            result["model_inputs"] = len(version.schema.model_features)
        if case == "telco":
            result["plain_logistic_regression_roc_auc"] = round(_plain_logistic_roc_auc(test_size), 4)
        return result
    fresh = generate_population(FRESH_ROWS, FRESH_SEED)
    features, target = features_and_target(fresh)
    probability = probability_of(trained.model, features)
    oracle = oracle_probability(fresh)
    oracle_threshold = f1_optimal_threshold(target, oracle)
    model_metrics = classification_metrics(target, probability, trained.threshold)
    result["fresh_sample"] = {
        "rows": FRESH_ROWS,
        "model": {k: round(model_metrics[k], 4) for k in keys},
        "oracle": {
            "roc_auc": round(float(roc_auc_score(target, oracle)), 4),
            "brier": round(float(brier_score_loss(target, oracle)), 4),
            "best_threshold_f1": round(oracle_threshold.score, 4),
            "best_threshold": round(oracle_threshold.threshold, 4),
        },
    }
    fresh_result = result["fresh_sample"]
    fresh_result["gaps"] = {
        "roc_auc": round(fresh_result["oracle"]["roc_auc"] - fresh_result["model"]["roc_auc"], 4),
        "f1": round(fresh_result["oracle"]["best_threshold_f1"] - fresh_result["model"]["f1"], 4),
        "brier": round(fresh_result["model"]["brier"] - fresh_result["oracle"]["brier"], 4),
    }
    return result


def _telco_schema(case: str, workdir: Path) -> Path:
    if case == "telco":
        return TELCO_SCHEMA
    import yaml

    plain = yaml.safe_load(TELCO_SCHEMA.read_text())
    plain.pop("features", None)
    path = workdir / "telco-raw.yaml"
    path.write_text(yaml.safe_dump(plain, sort_keys=False))
    return path


def _plain_logistic_roc_auc(test_size: float) -> float:
    """The reference: scikit-learn's logistic regression on the same split, no search."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = pd.read_csv(TELCO, skipinitialspace=True)
    target = (table.pop("Churn") == "Yes").astype(int)
    table = table.drop(columns=["customerID"]).assign(TotalCharges=lambda t: t["TotalCharges"].fillna(0.0))
    numbers = ["tenure", "MonthlyCharges", "TotalCharges"]
    categories = [c for c in table.columns if c not in numbers]
    x_train, x_test, y_train, y_test = train_test_split(
        table, target, test_size=test_size, random_state=42, stratify=target
    )
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), categories), ("num", StandardScaler(), numbers)]
        ),
        LogisticRegression(max_iter=2000),
    ).fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--family", choices=["default", "gbm", "all", "logistic", "hgb"])
    parser.add_argument("--case", choices=["shared", "oracle", "telco", "telco-raw"])
    parser.add_argument("--out", type=Path, help="also write the JSON results here")
    args = parser.parse_args()
    if args.family and args.case:
        json.dump(run_scenario(args.family, args.case), sys.stdout, indent=2)
        print()
        return 0
    families = [args.family] if args.family else ["default", "gbm"]
    cases = [args.case] if args.case else (["shared", "oracle"] if SHARED.exists() else ["oracle"])
    scenarios = [(family, case) for family in families for case in cases]
    if not args.case and TELCO.exists():
        scenarios += [(family, case) for family in families[:1] for case in ("telco", "telco-raw")]
    results = []
    for family, case in scenarios:
        child = subprocess.run(
            [sys.executable, __file__, "--family", family, "--case", case],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout))
        print(json.dumps(results[-1], indent=2), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(_table(results))
    return 0


def _table(results: list[dict[str, Any]]) -> str:
    lines = ["family   case      wall s  RSS MiB (main/worker)  chosen                     F1      ROC-AUC  Brier"]
    for r in results:
        metrics = r.get("holdout") or r["fresh_sample"]["model"]
        chosen = f"{r['chosen']['family']} t={r['chosen']['threshold']} {r['chosen']['calibration']}"
        rss = f"{r['peak_rss_mib']['main']:.0f}/{r['peak_rss_mib']['largest_worker']:.0f}"
        lines.append(
            f"{r['family_set']:<8} {r['case']:<9} {r['wall_seconds']:>6.1f}  {rss:<21}  {chosen:<25}  "
            f"{metrics['f1']:.4f}  {metrics['roc_auc']:.4f}   {metrics['brier']:.4f}"
        )
        if "fresh_sample" in r:
            oracle = r["fresh_sample"]["oracle"]
            lines.append(
                f"{'':<8} {'oracle':<9} {'':>6}  {'':<21}  {'(true probability)':<25}  "
                f"{oracle['best_threshold_f1']:.4f}  {oracle['roc_auc']:.4f}   {oracle['brier']:.4f}"
            )
    return "\n".join(lines) + "\n(the oracle's F1 is at its own best threshold on the fresh rows)"


if __name__ == "__main__":
    sys.exit(main())
