"""The prediction path, measured: what one explained `/predict` visits, and what the prediction
use-case costs in process.

    python benchmarks/prediction_path.py --workdir W [--calls 2000] [--rounds 7]

W holds a champion (`churnguard pipeline --workdir W`). Prints, as JSON:
- `files`: the churnguard modules one `/predict` runs code in (a TestClient request traced with
  `sys.setprofile`, after a first request warmed everything up);
- `layer_hops`: the layers in the order the request passes through them, and how many times it
  leaves the HTTP layer;
- `us_per_prediction`: the median over rounds of one explained, logged prediction of the store's
  "most typical" customer by the use-case (`PredictChurn`, in-memory log, no tracing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _customer(workdir: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from churnguard.entrypoints.http.app import create_app

    with TestClient(create_app()) as client:
        presets = {p["name"]: p["customer"] for p in client.get("/schema").json()["presets"]}
    customer: dict[str, Any] = presets["most typical"]
    return customer


def _visited(customer: dict[str, Any]) -> tuple[list[str], list[str]]:
    from fastapi.testclient import TestClient

    from churnguard.entrypoints.http.app import create_app

    order: list[str] = []
    recording = [False]

    def trace(frame: Any, event: str, _: Any) -> None:
        if event == "call" and recording[0]:
            name = frame.f_code.co_filename
            if "/churnguard/" in name and "site-packages" not in name:
                order.append(name.split("/churnguard/", 1)[1])

    threading.setprofile(trace)  # the TestClient serves from a thread of its own
    sys.setprofile(trace)
    try:
        with TestClient(create_app()) as client:
            assert client.post("/predict", json=customer).status_code == 200
            recording[0] = True
            response = client.post("/predict", json=customer)
            recording[0] = False
            assert response.status_code == 200, response.text
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    layers = [path.split("/")[0] + ("/http" if path.startswith("entrypoints/http") else "") for path in order]
    hops = [layer for index, layer in enumerate(layers) if index == 0 or layer != layers[index - 1]]
    return sorted(set(order)), hops


def _per_prediction(workdir: Path, customer: dict[str, Any], calls: int, rounds: int) -> float:
    from churnguard.adapters.filesystem_model_store import FilesystemModelStore
    from churnguard.adapters.in_memory import InMemoryPredictionLog
    from churnguard.adapters.null_inference_tracer import NullInferenceTracer
    from churnguard.adapters.serving_model import compile_for_serving
    from churnguard.application.champion import ChampionCache
    from churnguard.application.predict_churn import PredictChurn
    from churnguard.domain.customer import Customer

    cache = ChampionCache(FilesystemModelStore(workdir / "models"), compile_for_serving)
    champion = cache.reload()
    predict = PredictChurn(cache, NullInferenceTracer(), log=InMemoryPredictionLog(limit=100), loaded_only=True)
    checked = [Customer.from_record(champion.schema, customer)]
    for _ in range(min(calls, 500)):
        predict(checked)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            predict(checked)
        times.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a workdir with a champion")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ["WORKDIR"] = str(args.workdir)
    os.environ["PREDICTION_LOG_PATH"] = str(Path(tempfile.mkdtemp(prefix="churnguard-path-")) / "predictions.db")
    customer = _customer(args.workdir)
    files, hops = _visited(customer)
    result = {
        "files": len(files),
        "visited": files,
        "layer_hops": " > ".join(hops),
        "leaves_http": sum(1 for i, layer in enumerate(hops[:-1]) if layer == "entrypoints/http"),
        "us_per_prediction": round(_per_prediction(args.workdir, customer, args.calls, args.rounds), 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
