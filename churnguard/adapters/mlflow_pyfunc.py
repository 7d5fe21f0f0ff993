"""The MLflow pyfunc form of a ChurnGuard model, written one way for the registry (a logged
model) and for the filesystem store (a saved model directory): skops, never pickle, with the
package's code, a signature over the schema's raw fields, and pinned library versions."""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PINNED = ("scikit-learn", "numpy", "pandas", "skops", "mlflow", "scikit-survival")


def _version_of(package: str) -> str:
    try:
        return package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
        return "unknown"


def pyfunc_options(model: Any, example: pd.DataFrame) -> dict[str, Any]:
    """Keyword arguments of mlflow.sklearn.log_model / save_model for `model` (a ChurnModel)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from churnguard.adapters.filesystem_model_store import TRUSTED_TYPES

    return {
        "serialization_format": mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        "skops_trusted_types": list(TRUSTED_TYPES),
        "code_paths": [str(PACKAGE_DIR)],
        "input_example": example,
        "signature": infer_signature(example, model.predict(example)),
        # stated, not inferred: inference loads the model in a subprocess for seconds
        "pip_requirements": [f"{name}=={_version_of(name)}" for name in PINNED],
    }


def save_pyfunc(model: Any, example: pd.DataFrame, target: Path) -> Path:
    """Write the model as an MLflow model directory at `target`, whole or not at all."""
    import mlflow.sklearn

    if (target / "MLmodel").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        mlflow.sklearn.save_model(model, str(staging / "model"), **pyfunc_options(model, example))
        try:
            os.replace(staging / "model", target)
        except OSError:
            if not (target / "MLmodel").is_file():  # another process got there first: theirs is the same
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
