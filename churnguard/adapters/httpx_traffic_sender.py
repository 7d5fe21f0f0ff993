"""Traffic for a running ChurnGuard API: customers POSTed to /predict/batch (httpx)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from churnguard.application.errors import InvalidOptions


class HttpxTrafficSender:
    """Waits up to `ready_seconds` for the API's /ready first, so `churnguard serve &` followed
    by `simulate-traffic` works as one script."""

    def __init__(self, timeout: float = 60.0, ready_seconds: float = 60.0) -> None:
        self._timeout = timeout
        self._ready_seconds = ready_seconds

    def _wait_ready(self, client: httpx.Client, url: str) -> None:
        deadline = time.monotonic() + self._ready_seconds
        while True:
            try:
                if client.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                raise InvalidOptions(
                    f"{url} is not ready (no verified champion, or not running) after {self._ready_seconds:g} s"
                )
            time.sleep(0.25)

    def send(self, url: str, customers: Sequence[Mapping[str, Any]], batch_size: int) -> tuple[int, int]:
        if batch_size < 1:
            raise InvalidOptions(f"--batch-size must be >= 1, got {batch_size}")
        scored = rejected = 0
        with httpx.Client(base_url=url, timeout=self._timeout) as client:
            self._wait_ready(client, url)
            for start in range(0, len(customers), batch_size):
                chunk = list(customers[start : start + batch_size])
                try:
                    response = client.post("/predict/batch", json={"customers": chunk})
                except httpx.HTTPError as error:
                    raise InvalidOptions(f"cannot reach {url}: {error}") from None
                if response.status_code != 200:
                    raise InvalidOptions(f"{url}/predict/batch answered {response.status_code}: {response.text[:300]}")
                body = response.json()
                scored += body["scored"]
                rejected += body["rejected"]
        return scored, rejected
