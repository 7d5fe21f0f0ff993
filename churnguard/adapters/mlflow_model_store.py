"""The MLflow model registry as the ModelStore: versions of MLFLOW_MODEL_NAME, champion = alias.

Selected with MODEL_STORE=mlflow (the filesystem store is the default). A model enters the
registry when the MLflow tracker logs its training run; `save` then records our metadata
(fingerprint, metrics, threshold, feature means, ...) as version tags, with the sha256 of the
skops file. `load` downloads the version's artifacts, checks that sha256, and reads the file
with skops against the same trusted-type allow-list as the filesystem store. The champion
is the `champion` alias, switched by MLflow in one call; the lock serializes promotions from
this machine (a file lock under the workdir).
"""

from __future__ import annotations

import json
import tempfile
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnguard.adapters.atomic_files import exclusive_lock
from churnguard.adapters.filesystem_model_store import (
    DIAGNOSTICS_FILE,
    REFERENCE_FILE,
    file_sha256,
    load_verified,
    version_from_metadata,
    version_metadata,
)
from churnguard.adapters.mlflow_experiment_tracker import is_absent
from churnguard.application.errors import ModelIntegrityError, ModelNotFound
from churnguard.application.ports import ProbabilisticModel, PyfuncModel, Table
from churnguard.domain.diagnostics import ModelDiagnostics
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.quality_gate import F1Floor

METADATA_TAG = "churnguard.metadata"
SHA_TAG = "churnguard.model_sha256"
FLOOR_TAG = "churnguard.f1_floor"
"""The F1 floor the gate applied when the version became the champion."""
CHAMPION = "champion"


class MlflowModelStore:
    def __init__(self, tracking_uri: str, model_name: str, lock_path: Path) -> None:
        self._client = MlflowClient(tracking_uri)
        self._tracking_uri = tracking_uri
        self._name = model_name
        self._lock_path = lock_path

    def _model_file(self, registry_version: str, directory: Path) -> Path:
        local = Path(self._client.download_artifacts(self._run_of(registry_version), "model", str(directory)))
        candidates = list(local.rglob("*.skops"))
        if len(candidates) != 1:
            raise ModelIntegrityError(
                f"registry version {registry_version}: expected one skops file, found {candidates}"
            )
        return candidates[0]

    def _run_of(self, registry_version: str) -> str:
        run_id = self._client.get_model_version(self._name, registry_version).run_id
        if not run_id:
            raise ModelIntegrityError(f"registry version {registry_version} has no run")
        return str(run_id)

    def save(
        self,
        model: object,
        version: ModelVersion,
        reference: Table | None = None,
        diagnostics: ModelDiagnostics | None = None,
    ) -> ModelVersion:
        if version.registry_version is None:
            raise ModelNotFound(
                "MODEL_STORE=mlflow needs the MLflow tracker to register models (ENABLE_MLFLOW_TRACKING)"
            )
        with tempfile.TemporaryDirectory(prefix="churnguard-registry-") as directory:
            sha = file_sha256(self._model_file(version.registry_version, Path(directory)))
        metadata = version_metadata(version)
        if isinstance(reference, pd.DataFrame) and version.run_id:
            with tempfile.TemporaryDirectory(prefix="churnguard-reference-") as directory:
                path = Path(directory) / REFERENCE_FILE
                reference.to_parquet(path, index=False)
                self._client.log_artifact(version.run_id, str(path), "churnguard")
        if diagnostics is not None and version.run_id:
            with tempfile.TemporaryDirectory(prefix="churnguard-diagnostics-") as directory:
                path = Path(directory) / DIAGNOSTICS_FILE
                path.write_text(json.dumps(diagnostics.as_json(), sort_keys=True), encoding="utf-8")
                self._client.log_artifact(version.run_id, str(path), "churnguard")
        self._client.set_model_version_tag(self._name, version.registry_version, SHA_TAG, sha)
        self._client.set_model_version_tag(
            self._name, version.registry_version, METADATA_TAG, json.dumps(metadata, sort_keys=True, default=str)
        )
        return version

    def _versions(self) -> list[Any]:
        try:
            return [v for v in self._client.search_model_versions(f"name='{self._name}'") if METADATA_TAG in v.tags]
        except MlflowException as error:
            if is_absent(error):
                return []
            raise

    def _to_version(self, registered: Any) -> ModelVersion:
        label = f"registry version {registered.version}"
        try:
            meta = json.loads(registered.tags[METADATA_TAG])
        except (KeyError, ValueError) as error:
            raise ModelIntegrityError(f"{label}: bad metadata tag: {error!r}") from None
        return version_from_metadata({**meta, "registry_version": str(registered.version)}, label)

    def get(self, fingerprint: str) -> ModelVersion:
        matches = [
            v for v in self._versions() if json.loads(v.tags[METADATA_TAG])["fingerprint"].startswith(fingerprint)
        ]
        if not matches:
            raise ModelNotFound(f"no version of {self._name} matches {fingerprint!r}")
        newest = max(matches, key=lambda v: int(v.version))  # a retrain of the same fingerprint
        if len({json.loads(v.tags[METADATA_TAG])["fingerprint"] for v in matches}) > 1:
            raise ModelNotFound(f"{fingerprint!r} is ambiguous in {self._name}")
        return self._to_version(newest)

    def _registry_version(self, fingerprint: str) -> str:
        version = self.get(fingerprint)
        if version.registry_version is None:
            raise ModelIntegrityError(f"{fingerprint[:12]}: registry metadata without a version number")
        return version.registry_version

    def load(self, fingerprint: str) -> ProbabilisticModel:
        registry_version = self._registry_version(fingerprint)
        expected = self._client.get_model_version(self._name, registry_version).tags.get(SHA_TAG)
        with tempfile.TemporaryDirectory(prefix="churnguard-registry-") as directory:
            path = self._model_file(registry_version, Path(directory))
            return load_verified(path, expected, f"registry version {registry_version}")

    def latest(self) -> ModelVersion | None:
        versions = [self._to_version(v) for v in self._versions()]
        return max(versions, key=lambda v: (v.created_at, int(v.registry_version or 0)), default=None)

    def champion(self) -> ModelVersion | None:
        try:
            registered = self._client.get_model_version_by_alias(self._name, CHAMPION)
        except MlflowException as error:
            if is_absent(error):
                return None  # no champion alias yet
            raise
        version = self._to_version(registered)
        floor = registered.tags.get(FLOOR_TAG)
        return replace(version, f1_floor=F1Floor.from_json(json.loads(floor))) if floor else version

    def set_champion(self, fingerprint: str, floor: F1Floor | None = None) -> None:
        registry_version = self._registry_version(fingerprint)
        if floor is not None:  # first, so the alias never points at a version without its floor
            self._client.set_model_version_tag(self._name, registry_version, FLOOR_TAG, json.dumps(floor.as_json()))
        self._client.set_registered_model_alias(self._name, CHAMPION, registry_version)

    def diagnostics(self, fingerprint: str) -> ModelDiagnostics | None:
        version = self.get(fingerprint)
        if not version.run_id:
            return None
        stored = {artifact.path for artifact in self._client.list_artifacts(version.run_id, "churnguard")}
        if f"churnguard/{DIAGNOSTICS_FILE}" not in stored:
            return None  # registered before diagnostics were kept
        with tempfile.TemporaryDirectory(prefix="churnguard-diagnostics-") as directory:
            local = self._client.download_artifacts(version.run_id, f"churnguard/{DIAGNOSTICS_FILE}", directory)
            try:
                return ModelDiagnostics.from_json(json.loads(Path(local).read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as error:
                raise ModelIntegrityError(f"diagnostics of {fingerprint[:12]} do not parse: {error!r}") from None

    def pyfunc_model(self, fingerprint: str) -> PyfuncModel:
        """The registered version itself: by the `champion` alias when it holds it."""
        registry_version = self._registry_version(fingerprint)
        champion = self.champion()
        if champion is not None and champion.fingerprint == self.get(fingerprint).fingerprint:
            return PyfuncModel(f"models:/{self._name}@{CHAMPION}", self._tracking_uri)
        return PyfuncModel(f"models:/{self._name}/{registry_version}", self._tracking_uri)

    def lock(self) -> AbstractContextManager[None]:
        return exclusive_lock(self._lock_path)

    def reference(self, fingerprint: str) -> Table:
        version = self.get(fingerprint)
        if not version.run_id:
            raise ModelNotFound(f"registry version {version.registry_version} has no run with a training snapshot")
        with tempfile.TemporaryDirectory(prefix="churnguard-reference-") as directory:
            try:
                path = self._client.download_artifacts(version.run_id, f"churnguard/{REFERENCE_FILE}", directory)
            except MlflowException:
                raise ModelNotFound(f"registry version {version.registry_version} has no training snapshot") from None
            snapshot: Table = pd.read_parquet(path)
        return snapshot
