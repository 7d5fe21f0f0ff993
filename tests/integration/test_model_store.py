import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churnguard.adapters.filesystem_model_store import FilesystemModelStore
from churnguard.adapters.model_families import gradient_boosting as build_pipeline
from churnguard.application.errors import ModelIntegrityError, ModelNotFound
from churnguard.domain.model_version import ModelVersion


def _version(fingerprint: str, f1: float = 0.8, second: int = 0) -> ModelVersion:
    return ModelVersion(
        fingerprint=fingerprint,
        created_at=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC),
        data_hash="d" * 64,
        params={"max_depth": 2},
        metrics={"f1": f1},
        feature_means={"age": 45.0},
        churn_rate=0.3,
        settings={"test_size": 0.2, "random_state": 42},
    )


@pytest.fixture(scope="module")
def fitted_model():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 16))
    target = (features[:, 0] + rng.normal(size=200) > 0).astype(int)
    return build_pipeline({"n_estimators": 5, "max_depth": 2}, 0).fit(features, target), features


def test_a_saved_model_loads_back_and_predicts_identically(tmp_path, fitted_model):
    model, features = fitted_model
    store = FilesystemModelStore(tmp_path)
    store.save(model, _version("a" * 64))
    loaded: Any = store.load("aaaa")
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    assert store.get("a" * 64).feature_means == {"age": 45.0}  # a version stored before distributions
    assert [p.name for p in (tmp_path / "versions").iterdir()] == ["a" * 64]


def test_latest_is_the_most_recently_created_version(tmp_path, fitted_model):
    store = FilesystemModelStore(tmp_path)
    store.save(fitted_model[0], _version("b" * 64, second=5))
    store.save(fitted_model[0], _version("a" * 64, second=1))
    latest = store.latest()
    assert latest is not None
    assert latest.fingerprint == "b" * 64


def test_a_tampered_model_file_is_refused_before_it_is_read(tmp_path, fitted_model):
    store = FilesystemModelStore(tmp_path)
    store.save(fitted_model[0], _version("a" * 64))
    model_file = tmp_path / "versions" / ("a" * 64) / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\x00")
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        store.load("a" * 64)


def test_unparseable_metadata_is_refused(tmp_path, fitted_model):
    store = FilesystemModelStore(tmp_path)
    store.save(fitted_model[0], _version("a" * 64))
    (tmp_path / "versions" / ("a" * 64) / "metadata.json").write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="does not parse"):
        store.load("a" * 64)


def test_a_model_holding_a_type_outside_the_allow_list_is_refused(tmp_path):
    dangerous = Pipeline([("run", FunctionTransformer(os.system))])
    store = FilesystemModelStore(tmp_path)
    store.save(dangerous, _version("c" * 64))
    with pytest.raises(ModelIntegrityError, match=r"outside the allow-list: \['posix.system'\]"):
        store.load("c" * 64)


def test_an_unknown_or_ambiguous_reference_is_not_found(tmp_path, fitted_model):
    store = FilesystemModelStore(tmp_path)
    store.save(fitted_model[0], _version("ab" + "0" * 62))
    store.save(fitted_model[0], _version("ac" + "0" * 62))
    with pytest.raises(ModelNotFound, match="no model version matches"):
        store.get("zz")
    with pytest.raises(ModelNotFound, match="ambiguous"):
        store.get("a")


def _promote_repeatedly(root: str, fingerprint: str, rounds: int) -> None:
    store = FilesystemModelStore(Path(root))
    for _ in range(rounds):
        with store.lock():
            store.set_champion(fingerprint)


def test_concurrent_champion_switches_always_leave_one_intact_champion(tmp_path, fitted_model):
    store = FilesystemModelStore(tmp_path)
    fingerprints = ["a" * 64, "b" * 64, "c" * 64, "d" * 64]
    for fingerprint in fingerprints:
        store.save(fitted_model[0], _version(fingerprint))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_promote_repeatedly, args=(str(tmp_path), fp, 40)) for fp in fingerprints]
    for worker in workers:
        worker.start()
    # read the pointer for as long as the writers run: every read must find a whole pointer
    pointer, reads = tmp_path / "champion.json", []
    while any(worker.is_alive() for worker in workers):
        try:
            text = pointer.read_text()
        except FileNotFoundError:
            continue  # before the first switch
        reads.append(json.loads(text)["fingerprint"])
    assert reads, "no read overlapped the switches"
    assert set(reads) <= set(fingerprints)
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    champion = store.champion()
    assert champion is not None
    assert champion.fingerprint in fingerprints
    store.load(champion.fingerprint)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".champion")] == []


@pytest.mark.parametrize("family", ["logistic", "hgb", "gbm"])
@pytest.mark.parametrize("calibration", ["none", "sigmoid", "isotonic"])
def test_every_family_and_calibration_round_trips_through_the_allow_list(tmp_path, family, calibration):
    from churnguard.adapters.churn_model import ChurnModel
    from churnguard.adapters.model_families import FAMILIES
    from churnguard.adapters.sklearn_model_trainer import fit_calibrator

    rng = np.random.default_rng(1)
    features = np.column_stack([rng.integers(0, 3, size=(300, 13)), rng.random((300, 3))]).astype(float)
    target = (features[:, 6] + rng.normal(size=300) > 1).astype(int)
    small = {"logistic": {}, "hgb": {"max_iter": 5}, "gbm": {"n_estimators": 5}}[family]
    pipeline = FAMILIES[family].build(small, 0).fit(features, target)
    raw = pipeline.predict_proba(features)[:, 1]
    calibrator = None if calibration == "none" else fit_calibrator(calibration, raw, target)
    model = ChurnModel(pipeline, family, calibration, calibrator)
    store = FilesystemModelStore(tmp_path)
    store.save(model, _version("e" * 64))
    loaded: Any = store.load("e" * 64)
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
