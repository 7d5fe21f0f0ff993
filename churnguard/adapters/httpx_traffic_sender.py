"""Traffic for a running ChurnGuard API: customers POSTed to /predict/batch (httpx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from churnguard.application.errors import InvalidOptions


class HttpxTrafficSender:
    def __init__(self, timeout: float = 60.0) -> None:
        self._timeout = timeout

    def send(self, url: str, customers: Sequence[Mapping[str, Any]], batch_size: int) -> tuple[int, int]:
        if batch_size < 1:
            raise InvalidOptions(f"--batch-size must be >= 1, got {batch_size}")
        scored = rejected = 0
        with httpx.Client(base_url=url, timeout=self._timeout) as client:
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
