"""Model versions on disk, persisted with skops, with an atomically switched champion pointer.

Layout under `root` (default <workdir>/models):
    versions/<fingerprint>/model.skops     the fitted pipeline (skops, never pickle)
    versions/<fingerprint>/metadata.json   params, metrics, data hash, means, sha256, versions
    champion.json                          {"fingerprint": ..., "promoted_at": ...}
    .lock                                  flock held while reading + switching the champion

A version directory is built under a temp name and renamed into place, so it appears whole
or not at all. Loading checks the file's sha256 against metadata before skops reads it, and
skops only instantiates the types on TRUSTED_TYPES beyond its own safe defaults.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import tempfile
import zipfile
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio

from churnguard.adapters.atomic_files import atomic_write_text, exclusive_lock, fsync_directory
from churnguard.adapters.model_families import FAMILIES
from churnguard.adapters.survival_model import SURVIVAL_TRUSTED_TYPES
from churnguard.application.errors import ModelIntegrityError, ModelNotFound
from churnguard.application.ports import ProbabilisticModel, PyfuncModel, Table
from churnguard.domain.attribution import Reference
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import F1Floor
from churnguard.domain.schema import schema_from_mapping, schema_to_mapping

logger = logging.getLogger(__name__)

TRUSTED_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "churnguard.adapters.churn_model.ChurnModel",  # our pipeline + calibrator wrapper
            *(name for family in FAMILIES.values() for name in family.trusted_types),
            *SURVIVAL_TRUSTED_TYPES,
        ]
    )
)
"""Types beyond skops' defaults that a stored model may contain (each family declares its own);
anything else is refused."""

MODEL_FILE = "model.skops"
PYFUNC_DIR = "pyfunc"
METADATA_FILE = "metadata.json"
CHAMPION_FILE = "champion.json"
REFERENCE_FILE = "reference.parquet"
DIAGNOSTICS_FILE = "diagnostics.json"
_LIBRARIES = ("scikit-learn", "numpy", "skops", "pandas", "scikit-survival")


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def version_metadata(version: ModelVersion) -> dict[str, Any]:
    """The JSON form of a ModelVersion, as metadata.json and registry tags hold it."""
    return {
        "fingerprint": version.fingerprint,
        "created_at": version.created_at.isoformat(),
        "data_hash": version.data_hash,
        "params": dict(version.params),
        "metrics": dict(version.metrics),
        "feature_means": dict(version.feature_means),
        **({"attribution": version.attribution.as_json()} if version.attribution is not None else {}),
        "churn_rate": version.churn_rate,
        "threshold": version.threshold,
        "settings": dict(version.settings),
        "run_id": version.run_id,
        "registry_version": version.registry_version,
        "schema": schema_to_mapping(version.schema),
        "schema_hash": version.schema.hash,
        "imputation": dict(version.imputation),
        "baselines": dict(version.baselines),
    }


def version_from_metadata(meta: dict[str, Any], label: str) -> ModelVersion:
    try:
        schema = schema_from_mapping(meta["schema"]) if "schema" in meta else ORIGINAL_SCHEMA
        return ModelVersion(
            fingerprint=meta["fingerprint"],
            created_at=datetime.fromisoformat(meta["created_at"]),
            data_hash=meta["data_hash"],
            params=meta["params"],
            metrics=meta["metrics"],
            feature_means=meta.get("feature_means", {}),
            churn_rate=float(meta["churn_rate"]),
            threshold=float(meta["threshold"]),
            settings=meta["settings"],
            run_id=meta.get("run_id"),
            registry_version=meta.get("registry_version"),
            schema=schema,
            imputation={name: float(value) for name, value in meta.get("imputation", {}).items()},
            baselines={name: float(value) for name, value in meta.get("baselines", {}).items()},
            attribution=Reference.from_json(meta["attribution"], schema) if "attribution" in meta else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelIntegrityError(f"{label}: metadata is incomplete: {error!r}") from None


def load_verified(model_path: Path, expected_sha256: str | None, label: str) -> ProbabilisticModel:
    """Check the file's sha256, then let skops build only allow-listed types."""
    if not model_path.is_file():
        raise ModelIntegrityError(f"{label}: {model_path.name} is missing")
    actual = file_sha256(model_path)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"{label}: sha256 mismatch (metadata {expected_sha256}, file {actual}); refusing to load"
        )
    try:
        untrusted = sorted(set(sio.get_untrusted_types(file=model_path)) - set(TRUSTED_TYPES))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        # e.g. a pickle renamed model.skops: skops reads a zip of JSON and never unpickles it
        raise ModelIntegrityError(f"{label}: not a skops model file ({error}); refusing to load") from None
    if untrusted:
        raise ModelIntegrityError(f"{label}: holds types outside the allow-list: {untrusted}; refusing to load")
    model: ProbabilisticModel = sio.load(model_path, trusted=list(TRUSTED_TYPES))
    return model


class FilesystemModelStore:
    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._versions = self._root / "versions"

    @property
    def root(self) -> Path:
        return self._root

    def save(
        self,
        model: object,
        version: ModelVersion,
        reference: Table | None = None,
        diagnostics: ModelDiagnostics | None = None,
    ) -> ModelVersion:
        target = self._versions / version.fingerprint
        if (target / METADATA_FILE).exists():
            logger.info("version already stored", extra={"model_version": version.short_id})
            return self.get(version.fingerprint)
        self._versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version.fingerprint[:12]}.", dir=self._versions))
        try:
            model_path = staging / MODEL_FILE
            sio.dump(model, model_path)
            if isinstance(reference, pd.DataFrame):
                reference.to_parquet(staging / REFERENCE_FILE, index=False)
            if diagnostics is not None:
                atomic_write_text(staging / DIAGNOSTICS_FILE, json.dumps(diagnostics.as_json(), sort_keys=True))
            metadata = {
                **version_metadata(version),
                "model_file": MODEL_FILE,
                "model_sha256": file_sha256(model_path),
                "libraries": _library_versions(),
            }
            atomic_write_text(staging / METADATA_FILE, json.dumps(metadata, indent=2, sort_keys=True))
            with self.lock():  # concurrent trainings publish one at a time; the loser finds the winner's
                if (target / METADATA_FILE).exists():
                    shutil.rmtree(staging, ignore_errors=True)
                    return self.get(version.fingerprint)
                staging.rename(target)
                fsync_directory(self._versions)
        except OSError:
            if (target / METADATA_FILE).exists():  # a concurrent save of the same fingerprint won
                shutil.rmtree(staging, ignore_errors=True)
                return self.get(version.fingerprint)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version

    def _metadata(self, fingerprint: str) -> dict[str, Any]:
        path = self._versions / fingerprint / METADATA_FILE
        try:
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return loaded
        except FileNotFoundError:
            raise ModelNotFound(f"no model version {fingerprint}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelIntegrityError(f"model {fingerprint[:12]}: metadata.json does not parse: {error}") from None

    def _resolve(self, reference: str) -> str:
        if (self._versions / reference / METADATA_FILE).exists():
            return reference
        matches = [path.name for path in self._stored_dirs() if path.name.startswith(reference)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ModelNotFound(f"no model version matches {reference!r} in {self._root}")
        raise ModelNotFound(f"{reference!r} is ambiguous: matches {len(matches)} versions")

    def _stored_dirs(self) -> list[Path]:
        if not self._versions.is_dir():
            return []
        return [p for p in self._versions.iterdir() if not p.name.startswith(".") and (p / METADATA_FILE).exists()]

    def get(self, fingerprint: str) -> ModelVersion:
        fingerprint = self._resolve(fingerprint)
        return version_from_metadata(self._metadata(fingerprint), f"model {fingerprint[:12]}")

    def load(self, fingerprint: str) -> ProbabilisticModel:
        fingerprint = self._resolve(fingerprint)
        meta = self._metadata(fingerprint)
        model_path = self._versions / fingerprint / str(meta.get("model_file", MODEL_FILE))
        return load_verified(model_path, meta.get("model_sha256"), f"model {fingerprint[:12]}")

    def latest(self) -> ModelVersion | None:
        versions = [self.get(path.name) for path in self._stored_dirs()]
        return max(versions, key=lambda v: v.created_at, default=None)

    def champion(self) -> ModelVersion | None:
        pointer = self._root / CHAMPION_FILE
        try:
            data = json.loads(pointer.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as error:
            raise ModelIntegrityError(f"{pointer} does not parse: {error}") from None
        version = self.get(str(data["fingerprint"]))
        floor = data.get("f1_floor")
        return replace(version, f1_floor=F1Floor.from_json(floor)) if floor else version

    def set_champion(self, fingerprint: str, floor: F1Floor | None = None) -> None:
        version = self.get(fingerprint)
        pointer: dict[str, Any] = {"fingerprint": version.fingerprint, "f1": version.f1}
        if floor is not None:
            pointer["f1_floor"] = floor.as_json()
        atomic_write_text(self._root / CHAMPION_FILE, json.dumps(pointer, indent=2, sort_keys=True))

    def lock(self) -> AbstractContextManager[None]:
        return exclusive_lock(self._root / ".lock")

    def diagnostics(self, fingerprint: str) -> ModelDiagnostics | None:
        path = self._versions / self._resolve(fingerprint) / DIAGNOSTICS_FILE
        try:
            return ModelDiagnostics.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise ModelIntegrityError(f"{path} does not parse: {error!r}") from None

    def pyfunc_model(self, fingerprint: str) -> PyfuncModel:
        """The version as an MLflow model directory, `versions/<fingerprint>/pyfunc`, written from
        the verified model the first time it is asked for."""
        from churnguard.adapters.mlflow_pyfunc import save_pyfunc

        fingerprint = self._resolve(fingerprint)
        target = self._versions / fingerprint / PYFUNC_DIR
        if not (target / "MLmodel").is_file():
            version = self.get(fingerprint)
            snapshot = pd.read_parquet(self._versions / fingerprint / REFERENCE_FILE).head(5)
            raw = snapshot[list(version.schema.raw_fields)].to_numpy(dtype=np.float64)
            example = pd.DataFrame(version.schema.decode(raw))
            save_pyfunc(self.load(fingerprint), example, target)
        return PyfuncModel(str(target.resolve()))

    def reference(self, fingerprint: str) -> Table:
        fingerprint = self._resolve(fingerprint)
        path = self._versions / fingerprint / REFERENCE_FILE
        if not path.is_file():
            raise ModelNotFound(f"model {fingerprint[:12]} was stored without a training snapshot; retrain it")
        snapshot: Table = pd.read_parquet(path)
        return snapshot
