"""Logging: JSON lines in standalone mode, on stdlib logging (a host app keeps its own config)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

# Extra fields a log record may carry (set with logging's ``extra=``); nothing else is copied,
# so no header, body or token can reach a log line by accident.
LOG_FIELDS = (
    "request_id",
    "tenant",
    "token_id",
    "method",
    "route",
    "path",
    "status",
    "latency_ms",
    "user_agent",
    "detail",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_standalone_logging(level: str) -> None:
    """JSON lines on stderr for ``scimhub serve``; never called when mounted in a host app."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx2 logs every request URL at INFO, and a webhook URL may carry a credential; the
    # worker logs each delivery attempt itself, by webhook id.
    for name in ("httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(logging.WARNING)
