"""Training benchmark: wall time, peak memory and holdout metrics of one full search.

    python benchmarks/train.py [--data PATH] [--grid full|fast] [--test-size 0.2]

Runs the real `train` use-case from the composition root in a temporary workdir, so the
figure covers validation, the search, the refit and storing the model.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from churnguard.entrypoints.container import build_container
from churnguard.entrypoints.logging_setup import configure_logging
from churnguard.entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest child (joblib workers), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "raw" / "churn.csv")
    parser.add_argument("--grid", choices=["full", "fast"], default="full")
    parser.add_argument("--test-size", type=float, default=0.2)
    args = parser.parse_args()
    configure_logging("WARNING")
    logging.getLogger("churnguard.adapters.sklearn_model_trainer").setLevel(logging.INFO)

    with tempfile.TemporaryDirectory(prefix="churnguard-bench-") as workdir:
        settings = (
            Settings()
            .with_overrides("paths", workdir=Path(workdir), data_path=args.data)
            .with_overrides("training", grid=args.grid, test_size=args.test_size)
        )
        container = build_container(settings)
        started = time.perf_counter()
        dataset = container.validate_dataset()(str(args.data))
        outcome = container.train_model()(dataset)
        wall = time.perf_counter() - started
    own, children = peak_rss_mib()
    metrics = outcome.version.metrics
    result = {
        "data": str(args.data),
        "grid": args.grid,
        "fits": int(outcome.trained.cv_summary["cv_candidates"]) * settings.training.cv_folds,
        "test_size": args.test_size,
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": {"main": round(own, 1), "largest_worker": round(children, 1)},
        "params": dict(outcome.trained.params),
        "holdout": {name: round(metrics[name], 4) for name in ("f1", "roc_auc", "accuracy", "precision", "recall")},
        "cv_best_f1": round(outcome.trained.cv_summary["cv_best_f1"], 4),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
