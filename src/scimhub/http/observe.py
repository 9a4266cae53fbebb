"""Request id, one access-log line per request, and Prometheus metrics (optional extra)."""

from __future__ import annotations

import logging
import os
import re
import time
from bisect import bisect_left
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.protocol.context import Principal
from scimhub.safety.activity import SCIM_TYPE_KEY
from scimhub.safety.activity import ActivityCounter

log = logging.getLogger("scimhub.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ID_SEGMENT = re.compile(r"^(/scim/v2/(?:Users|Groups|Schemas|ResourceTypes))/(?!\.search$)[^/]+")
_USER_AGENT_CHARS = 200
_ADMIN_TENANT = re.compile(r"^/admin/v1/tenants/[^/]+")
_ADMIN_WEBHOOK = re.compile(r"^(/admin/v1/tenants/\{tenant\}/webhooks)/[^/]+")
_SCIM = ("/Users", "/Users/.search", "/Users/{id}", "/Groups", "/Groups/.search", "/Groups/{id}", "/.search")
_DISCOVERY = ("/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/{id}", "/Schemas", "/Schemas/{id}")
_ADMIN = ("/events", "/audit", "/requests", "/webhooks", "/webhooks/{id}", "/webhooks/{id}/attempts")
_SAFETY = ("/held", "/release", "/pause", "/resume", "/status")  # http/admin_safety.py
ROUTE_LABELS = frozenset(
    ["/healthz", "/readyz", "/metrics"]
    + [f"/scim/v2{p}" for p in (*_SCIM, *_DISCOVERY)]
    + [f"/admin/v1/tenants/{{tenant}}{p}" for p in (*_ADMIN, *_SAFETY, "/webhooks/{id}/redeliver")]
)  # every route the app serves; anything else is labelled OTHER_ROUTE
OTHER_ROUTE = "other"
# RFC 9110 §9 and PATCH (RFC 5789): the method label takes these; any other method a client sends
# (h11 passes any token through) is labelled OTHER_METHOD, so that it adds no series.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
OTHER_METHOD = "OTHER"
_WITH_IDS = frozenset(("Users", "Groups", "Schemas", "ResourceTypes"))


def route_label(path: str, root_path: str = "") -> str:
    """``/scim/v2/Users/<id>`` → ``/scim/v2/Users/{id}``; a path the app does not serve → ``other``.

    Bounded label cardinality whatever a client (authenticated or not) sends.
    """
    path = path.removeprefix(root_path)
    if path.startswith("/scim/v2/"):  # nearly every request: no regex needed
        endpoint, slash, rest = path[9:].partition("/")
        if slash and rest and "/" not in rest and rest != ".search" and endpoint in _WITH_IDS:
            return f"/scim/v2/{endpoint}/{{id}}"
        return path if path in ROUTE_LABELS else OTHER_ROUTE
    label = _ADMIN_WEBHOOK.sub(
        r"\1/{id}", _ADMIN_TENANT.sub("/admin/v1/tenants/{tenant}", _ID_SEGMENT.sub(r"\1/{id}", path))
    )
    return label if label in ROUTE_LABELS else OTHER_ROUTE


# Webhook attempts by outcome, and the undelivered-event backlog per tenant.
DeliveryStats = tuple[dict[str, int], dict[str, int]]


class Metrics:
    """Prometheus collectors in a registry of their own (one per app)."""

    def __init__(self, delivery_stats: Callable[[], Awaitable[DeliveryStats]] | None = None) -> None:
        from prometheus_client import CollectorRegistry
        from prometheus_client import Counter

        self.registry = CollectorRegistry()
        self._requests = _RequestSeries()
        self.registry.register(self._requests)
        self.rate_limited = Counter("scimhub_rate_limited", "Requests answered 429", ["tenant"], registry=self.registry)
        self._delivery: _DeliveryCollector | None = None
        self._refreshed: list[Any] = []  # collectors read from the database at scrape time
        if delivery_stats is not None:
            self._delivery = _DeliveryCollector(delivery_stats)
            self.registry.register(self._delivery)

    def register(self, collector: Any) -> None:
        """Add a collector whose ``refresh()`` is awaited before each scrape."""
        self._refreshed.append(collector)
        self.registry.register(collector)

    def record(self, route: str, method: str, status: int, tenant: str, seconds: float) -> None:
        """One request: a count and a latency bucket (``_RequestSeries``)."""
        self._requests.record(route, method, status, tenant, seconds)

    async def render(self) -> bytes:
        from prometheus_client import generate_latest

        if self._delivery is not None:
            await self._delivery.refresh()
        for collector in self._refreshed:
            await collector.refresh()
        return bytes(generate_latest(self.registry))


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)  # seconds


class _RequestSeries:
    """``scimhub_requests`` (a counter by route, method, status and tenant) and
    ``scimhub_request_duration_seconds`` (a histogram by route and method), as prometheus_client's
    Counter and Histogram would report them, kept as plain numbers: a request adds 1 to a count,
    1 to a bucket and its latency to a sum, one dict lookup in all (a Counter's and a Histogram's
    children took three locked increments and their checks, every request). The app's event loop
    is the only writer; a scrape reads them on the same loop."""

    def __init__(self) -> None:
        # (route, method, status, tenant) -> [count, the route and method's latency, created]
        self._series: dict[tuple[str, str, int, str], list[Any]] = {}
        # (route, method) -> bucket counts (the last one +Inf), then the sum of latencies
        self._latency: dict[tuple[str, str], list[float]] = {}
        self._created: dict[tuple[str, str], float] = {}

    def record(self, route: str, method: str, status: int, tenant: str, seconds: float) -> None:
        series = self._series.get((route, method, status, tenant))
        if series is None:
            series = self._new(route, method, status, tenant)
        series[0] += 1
        latency: list[float] = series[1]
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound the latency is <= to
        latency[-1] += seconds

    def _new(self, route: str, method: str, status: int, tenant: str) -> list[Any]:
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[route, method] = [0] * (len(LATENCY_BUCKETS) + 1) + [0.0]
            self._created[route, method] = time.time()
        series = self._series[route, method, status, tenant] = [0, latency, time.time()]
        return series

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily
        from prometheus_client.core import HistogramMetricFamily

        requests = CounterMetricFamily(
            "scimhub_requests", "SCIM and admin requests", labels=["route", "method", "status", "tenant"]
        )
        for (route, method, status, tenant), (count, _, created) in self._series.items():
            requests.add_metric([route, method, str(status), tenant], float(count), created=created)
        yield requests
        name = "scimhub_request_duration_seconds"
        latency = HistogramMetricFamily(name, "Request latency", labels=["route", "method"])
        bounds = [repr(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]  # as prometheus_client writes them
        for (route, method), counts in self._latency.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip(bounds, counts, strict=False):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([route, method], buckets, counts[-1])
            latency.add_sample(f"{name}_created", {"route": route, "method": method}, self._created[route, method])
        yield latency


class _DeliveryCollector:
    """Webhook attempts by outcome and the event backlog, read from the database at scrape time
    (so every instance reports the shared truth)."""

    def __init__(self, stats: Callable[[], Awaitable[DeliveryStats]]) -> None:
        self.stats = stats
        self.latest: DeliveryStats = ({}, {})

    async def refresh(self) -> None:
        """Read the figures (a database query) before the synchronous collect() reports them."""
        self.latest = await self.stats()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        outcomes, backlog = self.latest
        attempts = GaugeMetricFamily(
            "scimhub_webhook_attempts",
            "Webhook delivery attempts in the delivery log (within retention), by outcome",
            labels=["outcome"],
        )
        for outcome, count in sorted(outcomes.items()):
            attempts.add_metric([outcome], count)
        yield attempts
        lag = GaugeMetricFamily(
            "scimhub_event_backlog", "Events not yet delivered to the slowest webhook of a tenant", labels=["tenant"]
        )
        for tenant, count in sorted(backlog.items()):
            lag.add_metric([tenant], count)
        yield lag


def metrics_available() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


class AccessLogMiddleware:
    """Outermost: assigns the request id, logs one line and records metrics per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None, activity: ActivityCounter | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.activity = activity  # sync health: each tenant's SCIM traffic (scimhub.safety.activity)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()  # 32 hex digits, as uuid4().hex
        scope["scimhub.request_id"] = request_id
        started = time.perf_counter()
        route = route_label(scope["path"], scope.get("root_path", ""))  # before a Mount changes root_path
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, route, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, route: str, status: int, seconds: float, request_id: str) -> None:
        principal: Principal | None = scope.get("scimhub.principal")
        tenant = principal.tenant_id if principal else "-"
        method = scope["method"]
        if log.isEnabledFor(logging.INFO):
            fields: dict[str, Any] = {
                "request_id": request_id,
                "tenant": tenant,
                "token_id": principal.token_id if principal else None,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 3),
                "user_agent": _user_agent(scope),
            }
            log.info("%s %s %s", method, route, status, extra=fields)
        if self.metrics is not None:
            self.metrics.record(route, method if method in METHODS else OTHER_METHOD, status, tenant, seconds)
        if self.activity is not None and principal is not None:
            self.activity.record(principal.tenant_id, status, scope.get(SCIM_TYPE_KEY), scope["headers"])


def _user_agent(scope: Scope) -> str | None:
    """The client's User-Agent (which IdP is calling: Okta sends ``Okta SCIM Client 1.0.0``), cut
    to ``_USER_AGENT_CHARS``; read only when the access line is written."""
    for key, value in scope["headers"]:
        if key == b"user-agent":
            return bytes(value[:_USER_AGENT_CHARS]).decode("latin-1")
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            text = bytes(value).decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
