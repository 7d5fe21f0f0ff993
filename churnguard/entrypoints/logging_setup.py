"""Log lines on stderr: text for humans (the structured `extra` context appended as key=value)
or one JSON object per line for a log pipeline. The request id of the request being served is
added to every line logged while serving it."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CONFIGURE_IN_WORKERS = "CHURNGUARD_LOG_CONFIG"
"""Set by `churnguard serve` to "level:format": each uvicorn worker configures its own logging."""


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            line += " " + " ".join(f"{key}={value}" for key, value in sorted(context.items()))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            **{
                key: value if isinstance(value, int | float | bool) else str(value)
                for key, value in _context(record).items()
            },
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # scikit-survival's numexpr announces its thread count at INFO on import: not news to a user
    logging.getLogger("numexpr").setLevel(max(logging.WARNING, root.level))


def configure_worker_logging() -> None:
    """In a worker `churnguard serve` started: the same logging as the parent process."""
    setting = os.environ.get(CONFIGURE_IN_WORKERS)
    if setting:
        level, _, fmt = setting.partition(":")
        configure_logging(level or "INFO", fmt or "text")
