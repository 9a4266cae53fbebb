"""Helpers of the operations tests: apps with operational settings, Prometheus text, log capture."""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from scimhub.app import create_app
from scimhub.observability import JsonFormatter
from scimhub.observability import configure_standalone_logging
from scimhub.settings import Settings
from scimhub.store.base import Store
from tests.events.support import ADMIN_TOKEN

ROOT = "http://testserver"
ADMIN = f"{ROOT}/admin/v1"
# A Redis server of this machine (started by the redis_url fixture when it is down).


METRICS_TOKEN = "test-metrics-token-0123456789abcdef"


def ops_app(settings: Settings, store: Store, **changes: Any) -> Any:
    """The real app on the test database, with an admin token (to read the request log), a metrics
    token (to scrape) and ``changes``."""
    changes = {"admin_token": ADMIN_TOKEN, "metrics_token": METRICS_TOKEN, **changes}
    return create_app(dataclasses.replace(settings, **changes), store=store)


def root_client(app: object) -> httpx2.AsyncClient:
    """A client without a token (/healthz, /readyz, /metrics)."""
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ROOT)  # type: ignore[arg-type]


def admin_client(app: object) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx2.AsyncClient(transport=transport, base_url=ADMIN, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


async def request_log(app: object, tenant: str = "acme", **params: Any) -> list[dict[str, Any]]:
    """The tenant's request log through the admin API (which flushes the buffer first)."""
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/{tenant}/requests", params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["requests"]
    return entries


# -- Prometheus ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


async def scrape(app: object, token: str = METRICS_TOKEN) -> list[Sample]:
    """GET /metrics with ``token``, parsed with prometheus-client's own parser (the text must be valid)."""
    async with root_client(app) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [
        Sample(s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the one sample with this name and (at least) these labels; None when absent."""
    found = [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, found
    return found[0].value if found else None


# -- logs ------------------------------------------------------------------------------------------
class JsonLines(logging.Handler):
    """Formats every record the way ``scimhub serve`` does and keeps the lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[JsonLines]:
    """Every log record of the process (any logger, DEBUG and up) while the block runs."""
    handler = JsonLines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@contextmanager
def standalone_logs(level: str) -> Iterator[io.StringIO]:
    """Logging exactly as ``scimhub serve`` configures it (JSON lines on stderr), into a buffer;
    the process's logging configuration is restored afterwards."""
    stderr = io.StringIO()
    root = logging.getLogger()
    saved_stderr, saved_root = sys.stderr, (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    sys.stderr = stderr
    try:
        configure_standalone_logging(level)
        yield stderr
    finally:
        sys.stderr = saved_stderr
        root.handlers[:], old_level = saved_root
        root.setLevel(old_level)
        for name, old in saved_levels.items():
            logging.getLogger(name).setLevel(old)
