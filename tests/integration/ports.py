"""Ports for the servers the tests start: a free one, and a retry when another process took it
between the probe and the server's bind (parallel runs, a busy host)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
ATTEMPTS = 5


class AddressInUse(RuntimeError):
    """The server exited because its port was taken; start it again on another."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def address_in_use(log: str) -> bool:
    return "address already in use" in log.lower()


def on_a_free_port(start: Callable[[int], T]) -> T:
    """`start(port)`, again on a new port each time it raises AddressInUse."""
    for _ in range(ATTEMPTS - 1):
        try:
            return start(free_port())
        except AddressInUse:
            continue
    return start(free_port())
