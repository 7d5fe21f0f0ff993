"""ASGI middleware: a body size limit, and request ids, security headers and HTTP metrics."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from fastapi.responses import JSONResponse

from churnguard.entrypoints.http.metrics import ServiceMetrics
from churnguard.entrypoints.logging_setup import REQUEST_ID

access = logging.getLogger("churnguard.access")


class BodySizeLimit:
    """Answers 413 for bodies over `limit` bytes, by Content-Length or while streaming."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope.get("headers") or () if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = JSONResponse(
            {
                "detail": f"request body over the {self.limit} byte limit",
                "errors": [{"field": "(body)", "rule": f"at most {self.limit} bytes"}],
            },
            status_code=413,
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The UI has no inline script or style and calls only this origin; /docs and /redoc start their
# (locally served) Swagger UI and ReDoc with an inline script, so they go without this policy.
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
UNPOLICED_PATHS = ("/docs", "/redoc")


class ObserveRequests:
    """Runs `observe(scope, receive, send, app)` around every HTTP request."""

    def __init__(self, app: Any, observe: Any) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(scope, receive, send, self.app)


class RequestObserver:
    """Pure ASGI (no BaseHTTPMiddleware task overhead): request id, worker pid, security headers,
    the HTTP metrics, and the tracer's dropped traces."""

    def __init__(self, metrics: ServiceMetrics, tracer: Any, access_log: bool = False) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self.access_log = access_log
        self.worker_pid = str(os.getpid()).encode()
        self._dropped_seen = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any, inner: Any) -> None:
        started = time.perf_counter()
        status = {"code": 500}
        request_id = next((v.decode() for k, v in scope.get("headers", ()) if k == b"x-request-id"), uuid.uuid4().hex)
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)  # every line logged while serving it carries the id
        policed = not scope["path"].startswith(UNPOLICED_PATHS)
        worker_pid = self.worker_pid

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"x-worker-pid", worker_pid),
                    *SECURITY_HEADERS,
                ]
                if policed:
                    message["headers"].append((b"content-security-policy", CONTENT_SECURITY_POLICY))
            await send(message)

        metrics = self.metrics
        try:
            await inner(scope, receive, send_with_headers)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            metrics.http_requests.labels(scope["method"], template, str(status["code"])).inc()
            metrics.http_latency.labels(scope["method"], template).observe(elapsed)
            if self.access_log:
                access.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status["code"],
                    extra={"status": status["code"], "duration_ms": round(elapsed * 1000, 3)},
                )
            REQUEST_ID.reset(token)
            dropped = self.tracer.dropped_traces
            if dropped > self._dropped_seen:
                metrics.dropped_traces.inc(dropped - self._dropped_seen)
                self._dropped_seen = dropped
