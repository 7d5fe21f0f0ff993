"""Load for the tests that kill or stop something under traffic: clients that tag their requests,
and waits that end on a condition, fail at once when it can no longer come, and never hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from churnguard.entrypoints.http.schemas import EXAMPLE_CUSTOMER

Answer = tuple[str, int, float, float, str]
"""(request id, status, answered at, latency, the worker's pid) of one request."""


def load(url: str, stop: threading.Event, results: list[Answer], tag: str) -> None:
    """Send /predict until stopped, one request after another, ids `<tag>-<n>` in order."""
    with httpx.Client(base_url=url, timeout=30) as client:
        i = 0
        while not stop.is_set():
            request_id = f"{tag}-{i}"
            started = time.time()
            try:
                response = client.post(
                    "/predict?explain=none", json=EXAMPLE_CUSTOMER, headers={"X-Request-ID": request_id}
                )
                status, pid = response.status_code, response.headers.get("x-worker-pid", "")
            except httpx.HTTPError:
                status, pid = 0, ""
            results.append((request_id, status, time.time(), time.time() - started, pid))
            i += 1


def wait_until(
    condition: Callable[[], bool], what: str, alive: Callable[[], bool] = lambda: True, timeout: float = 300.0
) -> None:
    """Return once `condition()` holds; fail as soon as `alive()` says it cannot come any more
    (the threads producing it died), and after `timeout` as a guard against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert alive(), f"waiting for {what}: what produces it has stopped"
        assert time.monotonic() < deadline, f"waiting for {what}: not within {timeout:g} s"
        time.sleep(0.02)


def lost_only_a_tail(logged: set[str], answered: list[Answer], clients: list[str]) -> None:
    """Per client (requests sent one after another), nothing was lost before a logged request:
    the log is written in order, a flush at a time, so a kill can only cost the last ones."""
    for tag in clients:
        sequence = [r[0] in logged for r in answered if r[0].startswith(f"{tag}-")]  # in the order sent
        first_lost = sequence.index(False) if False in sequence else len(sequence)
        assert not any(sequence[first_lost:]), f"client {tag}: a prediction was lost before one that was logged"
