"""Time to churn: the champion's survival model against a plain Cox model on the same split.

    python benchmarks/survival.py                 # Telco, then the original table
    python benchmarks/survival.py --grid fast --rounds 100

Telco (../shared/data/telco.csv, schemas/telco.yaml: tenure the time axis, Churn the event,
TotalCharges left out) and the original synthetic table (../shared/data/churn.csv, its
tenure_months and monthly_charges declared as a survival key here). Each is trained by the
real trainer (80/20 split, RANDOM_STATE 42, the default survival search on the classifier's
folds). The baseline is the model a user writes first: scikit-survival's CoxPHSurvivalAnalysis
with (next to) no penalty on the one-hot raw fields the survival model may read (no engineered feature),
fitted on the same training rows. Both are scored by the same censoring-aware metrics
(churnguard.adapters.survival_model.survival_metrics), with bootstrap 95 % intervals over the
holdout rows for Harrell's C and the integrated Brier score, and for the paired differences.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnguard.adapters.sklearn_evaluation import encoded_table, split_rows
from churnguard.adapters.sklearn_model_trainer import SklearnModelTrainer
from churnguard.adapters.survival_model import (
    SurvivalModel,
    SurvivalTimes,
    metric_intervals,
    on_grid,
    paired_comparison,
    survival_metrics,
)
from churnguard.adapters.yaml_schema import load_schema
from churnguard.application.champion import Scoring
from churnguard.application.ports import TrainingPlan
from churnguard.domain.schema import FieldKind, Imputation, TableSchema
from churnguard.domain.uncertainty import Interval

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ORIGINAL_SURVIVAL = "\nsurvival: {duration: tenure_months, value: monthly_charges, horizon: 12, unit: month}\n"
SHOWN = (
    "survival_concordance",
    "survival_concordance_uno",
    "survival_auc_3",
    "survival_auc_6",
    "survival_auc_12",
    "survival_ibs",
    "survival_ibs_km",
    "survival_calibration_gap",
)


def plain_cox(schema: TableSchema, x_train: np.ndarray, times: SurvivalTimes) -> SurvivalModel:
    """(Next to) unpenalised Cox on the raw fields a survival model may read, categories one-hot."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    names = [name for name in schema.survival_features if name in schema.raw_fields]
    kinds = dict(zip(schema.model_features, schema.model_kinds(), strict=True))
    nominal = [i for i, name in enumerate(names) if kinds[name] is FieldKind.NOMINAL]
    numeric = [i for i, name in enumerate(names) if kinds[name] is FieldKind.NUMERIC]
    columns = schema.feature_index(names)
    preprocess = ColumnTransformer(
        [
            ("one_hot", OneHotEncoder(drop="first", sparse_output=False), nominal),
            ("scale", StandardScaler(), numeric),
        ],
        remainder="passthrough",
    )
    known = times.periods > 0
    # a ridge of 1e-3, next to none: Telco's "No internet service" is one column in six fields,
    # which leaves an unpenalised fit singular
    pipeline = Pipeline([("preprocess", preprocess), ("model", CoxPHSurvivalAnalysis(alpha=1e-3, ties="efron"))])
    pipeline.fit(x_train[known][:, columns], times.subset(known).structured())
    hazard = pipeline[-1].cum_baseline_hazard_
    periods = int(times.periods.max())
    baseline = on_grid(np.asarray(hazard.y, dtype=np.float64)[None, :], np.asarray(hazard.x), periods, 0.0)[0]
    return SurvivalModel(pipeline, "plain cox", columns, periods, baseline)


def bootstrap(
    models: dict[str, SurvivalModel],
    x_test: np.ndarray,
    train: SurvivalTimes,
    test: SurvivalTimes,
    horizon: int,
    rounds: int,
) -> dict[str, dict[str, list[float]]]:
    """95 % intervals of C and the integrated Brier score per model, and of champion - plain
    (the evaluation report's and the gate's own bootstraps)."""
    shown: dict[str, dict[str, list[float]]] = {}
    for name, model in models.items():
        own = metric_intervals(model, x_test, train, test, horizon, rounds)
        shown[name] = {"c": _bounds(own["survival_concordance"]), "ibs": _bounds(own["survival_ibs"])}
    paired = paired_comparison(models["champion"], models["plain"], x_test, train, test, horizon, rounds)
    shown["difference"] = {"c": _bounds(paired.concordance_difference), "ibs": _bounds(paired.ibs_difference)}
    return shown


def _bounds(interval: Interval) -> list[float]:
    return [interval.low, interval.high]


def run(table: str, grid: str, rounds: int) -> dict[str, Any]:
    if table == "telco":
        schema, data = load_schema(ROOT / "schemas" / "telco.yaml"), SHARED / "telco.csv"
    else:
        text = (ROOT / "schemas" / "original.yaml").read_text(encoding="utf-8") + ORIGINAL_SURVIVAL
        path = Path(tempfile.mkdtemp(prefix="churnguard-survival-bench-")) / "original-survival.yaml"
        path.write_text(text, encoding="utf-8")
        schema, data = load_schema(path), SHARED / "churn.csv"
    assert schema.survival is not None
    frame = pd.read_csv(data)
    plan = TrainingPlan(grid_size=grid)
    started = time.perf_counter()
    trained = SklearnModelTrainer(progress_interval_seconds=3600).train(frame, plan, schema)
    train_seconds = time.perf_counter() - started
    champion = getattr(trained.model, "survival", None)
    assert isinstance(champion, SurvivalModel)

    raw, target = encoded_table(frame, schema)
    train_rows, test_rows = split_rows(target, plan.test_size, plan.random_state, None, 0)
    imputation = Imputation.fit(schema, raw[train_rows])
    scoring = Scoring(schema, imputation.values, trained.model)
    filled_train, filled_test = scoring.filled(raw[train_rows]), scoring.filled(raw[test_rows])
    x_train, x_test = schema.model_matrix(filled_train), schema.model_matrix(filled_test)
    train = SurvivalTimes.of(schema, filled_train, target[train_rows])
    test = SurvivalTimes.of(schema, filled_test, target[test_rows])
    horizon = schema.survival.horizon
    started = time.perf_counter()
    plain = plain_cox(schema, x_train, train)
    plain_seconds = time.perf_counter() - started
    models = {"champion": champion, "plain": plain}
    metrics = {name: survival_metrics(model, x_test, train, test, horizon) for name, model in models.items()}
    assert metrics["champion"]["survival_concordance"] == trained.holdout_metrics["survival_concordance"]
    return {
        "table": table,
        "rows": len(frame),
        "holdout_rows": len(test_rows),
        "holdout_churned": int(test.churned.sum()),
        "champion_family": champion.family,
        "champion_params": dict(trained.survival_params),
        "survival_search_seconds": trained.cv_summary["survival_search_seconds"],
        "whole_training_seconds": train_seconds,
        "plain_fit_seconds": plain_seconds,
        "metrics": metrics,
        "intervals": bootstrap(models, x_test, train, test, horizon, rounds),
        "cv": trained.survival_cv,
    }


def show(result: dict[str, Any]) -> None:
    metrics, intervals = result["metrics"], result["intervals"]
    print(
        f"\n{result['table']}: {result['rows']:,} rows, holdout {result['holdout_rows']:,} "
        f"({result['holdout_churned']:,} churned); champion {result['champion_family']} "
        f"{result['champion_params']}; survival search {result['survival_search_seconds']:.1f} s"
    )
    print(f"{'metric':<28}{'champion':>10}{'plain Cox':>11}")
    for name in SHOWN:
        if name in metrics["champion"]:
            print(f"{name:<28}{metrics['champion'][name]:>10.4f}{metrics['plain'].get(name, float('nan')):>11.4f}")
    for name, label in (("c", "Harrell's C"), ("ibs", "integrated Brier")):
        print(
            f"{label} 95 %: champion {intervals['champion'][name][0]:.4f} to {intervals['champion'][name][1]:.4f}, "
            f"plain {intervals['plain'][name][0]:.4f} to {intervals['plain'][name][1]:.4f}, "
            f"difference {intervals['difference'][name][0]:+.4f} to {intervals['difference'][name][1]:+.4f}"
        )
    for row in result["cv"]:
        params = json.dumps(row["params"])
        print(f"  cv {row['family']:<4} {params}: C {row['cv_concordance']:.4f} ({row['fit_seconds']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="full", choices=("full", "fast"))
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    parser.add_argument("--table", choices=("telco", "original", "both"), default="both")
    args = parser.parse_args()
    results = [
        run(t, args.grid, args.rounds) for t in (("telco", "original") if args.table == "both" else (args.table,))
    ]
    for result in results:
        show(result)
    print(json.dumps([{k: v for k, v in r.items() if k != "cv"} for r in results], default=float))


if __name__ == "__main__":
    main()
