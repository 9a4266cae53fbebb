"""Prometheus text at /metrics: requests, latency, 429s, webhook attempts and the event backlog."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimhub.auth.tokens import mint_token
from scimhub.http.observe import OTHER_ROUTE
from scimhub.http.observe import ROUTE_LABELS
from scimhub.http.observe import route_label
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import ADMIN_TOKEN
from tests.events.support import Receiver
from tests.events.support import fast
from tests.events.support import running
from tests.events.support import wait_until
from tests.http.scim_checks import app_with
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import user_body
from tests.ops.support import METRICS_TOKEN
from tests.ops.support import admin_client
from tests.ops.support import ops_app
from tests.ops.support import root_client
from tests.ops.support import scrape
from tests.ops.support import value

pytestmark = pytest.mark.anyio


async def test_requests_are_counted_by_route_method_status_and_tenant(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        user = await create_user(a, "bjensen")
        await a.get(f"/Users/{user['id']}")
        await a.get(f"/Users/{user['id']}")
        await a.post("/Users", json=user_body("bjensen"))  # 409
        await g.get("/Users")
        await g.post("/Users/.search", json={})
        await g.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    async with client_for(app, mint_token()) as stranger:
        await stranger.get("/Users")

    samples = await scrape(app)
    requests = "scimhub_requests_total"
    assert value(samples, requests, route="/scim/v2/Users", method="POST", status="201", tenant=acme.tenant_id) == 1
    assert value(samples, requests, route="/scim/v2/Users", method="POST", status="409", tenant=acme.tenant_id) == 1
    by_id = value(samples, requests, route="/scim/v2/Users/{id}", method="GET", status="200", tenant=acme.tenant_id)
    assert by_id == 2
    assert value(samples, requests, route="/scim/v2/Users", method="GET", status="200", tenant=globex.tenant_id) == 1
    search = value(samples, requests, route="/scim/v2/Users/.search", method="POST", tenant=globex.tenant_id)
    assert search == 1
    assert value(samples, requests, route="/scim/v2/Schemas/{id}", method="GET", tenant=globex.tenant_id) == 1
    assert value(samples, requests, route="/scim/v2/Users", method="GET", status="401", tenant="-") == 1
    assert value(samples, requests, route="/scim/v2/Users", method="GET", tenant=acme.tenant_id) is None
    assert not any(user["id"] in str(s.labels) for s in samples)  # ids never become labels


async def test_latency_is_a_histogram_per_route_and_method(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        for _ in range(3):
            await client.get("/Users")

    samples = await scrape(app)
    histogram = "scimhub_request_duration_seconds"
    assert value(samples, f"{histogram}_count", route="/scim/v2/Users", method="GET") == 3
    total = value(samples, f"{histogram}_sum", route="/scim/v2/Users", method="GET")
    assert total is not None and 0 < total < 30
    buckets = [s for s in samples if s.name == f"{histogram}_bucket" and s.labels["route"] == "/scim/v2/Users"]
    assert [s.labels["le"] for s in buckets][-1] == "+Inf"
    assert buckets[-1].value == 3
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
    assert "tenant" not in buckets[0].labels  # latency series stay few


async def test_rate_limited_requests_are_counted_per_tenant(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = ops_app(settings, store, rate_limit="1/hour")
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        for _ in range(4):
            await a.get("/Users")
        await g.get("/Users")

    samples = await scrape(app)
    assert value(samples, "scimhub_rate_limited_total", tenant=acme.tenant_id) == 3
    assert value(samples, "scimhub_rate_limited_total", tenant=globex.tenant_id) is None


async def test_webhook_attempts_by_outcome_and_the_event_backlog(
    settings: Settings, store: SqlStore, acme: TenantAccess, receiver: Receiver
) -> None:
    app = ops_app(fast(settings), store)
    async with admin_client(app) as admin:
        created = await admin.post("/tenants/acme/webhooks", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    async with client_for(app, acme.token) as client:
        for name in ("a", "b", "c"):
            await create_user(client, name)

    waiting = await scrape(app)  # no worker runs yet: three events wait
    assert value(waiting, "scimhub_event_backlog", tenant=acme.tenant_id) == 3
    assert not [s for s in waiting if s.name == "scimhub_webhook_attempts"]

    receiver.fail_first = 1
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 3, what="three deliveries")
    delivered = await scrape(app)
    assert value(delivered, "scimhub_event_backlog", tenant=acme.tenant_id) == 0
    assert value(delivered, "scimhub_webhook_attempts", outcome="retry") == 1
    assert value(delivered, "scimhub_webhook_attempts", outcome="delivered") == 3


async def test_metrics_can_be_switched_off(settings: Settings, store: SqlStore) -> None:
    async with root_client(app_with(settings, store, metrics_enabled=False)) as client:
        response = await client.get("/metrics")

    assert response.status_code == 404
    assert response.json() == {"detail": "metrics are disabled or prometheus-client is not installed"}


async def test_each_app_has_a_registry_of_its_own(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    one, two = ops_app(settings, store), ops_app(settings, store)
    async with client_for(one, acme.token) as client:
        await client.get("/Users")

    assert value(await scrape(one), "scimhub_requests_total", route="/scim/v2/Users", tenant=acme.tenant_id) == 1
    assert value(await scrape(two), "scimhub_requests_total", route="/scim/v2/Users", tenant=acme.tenant_id) is None


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/scim/v2/Users", "/scim/v2/Users"),
        ("/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", "/scim/v2/Users/{id}"),
        ("/scim/v2/Groups/.search", "/scim/v2/Groups/.search"),
        ("/scim/v2/.search", "/scim/v2/.search"),
        ("/scim/v2/ServiceProviderConfig", "/scim/v2/ServiceProviderConfig"),
        ("/scim/v2/ResourceTypes/User", "/scim/v2/ResourceTypes/{id}"),
        ("/healthz", "/healthz"),
        ("/admin/v1/tenants/acme/events", "/admin/v1/tenants/{tenant}/events"),
        ("/admin/v1/tenants/acme/webhooks/7d2c/attempts", "/admin/v1/tenants/{tenant}/webhooks/{id}/attempts"),
    ],
)
def test_route_labels_are_templates(path: str, label: str) -> None:
    assert route_label(path) == label
    assert route_label(f"/identity{path}", "/identity") == label  # mounted under a host app's prefix


async def test_unknown_paths_do_not_create_a_series_each(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """Unauthenticated scanners must not grow the registry (and the process) without bound."""
    app = ops_app(settings, store)
    async with root_client(app) as stranger, client_for(app, acme.token) as client:
        for i in range(25):
            await stranger.get(f"/scim/v2/probe-{i}")
            await stranger.get(f"/wp-admin/{i}.php")
            await stranger.get(f"/admin/v1/tenants/t{i}/events")
            await client.get(f"/Users/{i}/extra/{i}")
            await client.get(f"/No-Such-{i}")

    routes = {s.labels["route"] for s in await scrape(app) if s.name == "scimhub_requests_total"}
    assert len(routes) <= 6, sorted(routes)


_ID_SEGMENT = re.compile(r"^(/scim/v2/(?:Users|Groups|Schemas|ResourceTypes))/(?!\.search$)[^/]+")


def reference_label(path: str) -> str:
    """The label by the regex the SCIM fast path replaced (still what admin paths go through)."""
    label = _ID_SEGMENT.sub(r"\1/{id}", path)
    return label if label in ROUTE_LABELS else OTHER_ROUTE


@given(
    st.lists(
        st.sampled_from(["Users", "Groups", "Schemas", "ResourceTypes", ".search", "", "x", "2819c223", "v2", "scim"])
        | st.text(alphabet="abc/.{}", max_size=6),
        max_size=4,
    )
)
def test_the_scim_fast_path_labels_as_the_regex_does(segments: list[str]) -> None:
    path = "/scim/v2/" + "/".join(segments)
    assert route_label(path) == reference_label(path)


# -- who may scrape --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789abcdefghijklmn", f"Basic {METRICS_TOKEN}", "Bearer ", "Bearer"],
)
async def test_metrics_need_the_metrics_token(
    settings: Settings, store: SqlStore, acme: TenantAccess, header: str | None
) -> None:
    """They name every tenant with its traffic and webhook backlog: not for anyone who can reach the port."""
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        await client.get("/Users")
    headers = {"Authorization": header} if header is not None else {}
    async with root_client(app) as stranger:
        response = await stranger.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="scimhub-metrics"'
    assert response.json() == {"detail": "Send 'Authorization: Bearer <SCIMHUB_METRICS_TOKEN>'."}
    assert acme.tenant_id not in response.text


async def test_a_scim_token_does_not_open_the_metrics(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    async with root_client(ops_app(settings, store)) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {acme.token}"})

    assert response.status_code == 401


async def test_the_admin_token_opens_the_metrics_too(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = ops_app(settings, store, metrics_token=None)
    async with client_for(app, acme.token) as client:
        await client.get("/Users")

    samples = await scrape(app, token=ADMIN_TOKEN)
    assert value(samples, "scimhub_requests_total", route="/scim/v2/Users", tenant=acme.tenant_id) == 1
    with pytest.raises(AssertionError, match="SCIMHUB_METRICS_TOKEN"):
        await scrape(app, token=METRICS_TOKEN)  # not configured here: 401


async def test_without_a_token_setting_the_metrics_are_not_served(settings: Settings, store: SqlStore) -> None:
    async with root_client(app_with(settings, store)) as client:
        response = await client.get("/metrics")

    assert response.status_code == 404
    assert response.json() == {
        "detail": "/metrics needs SCIMHUB_METRICS_TOKEN (or SCIMHUB_ADMIN_TOKEN, or SCIMHUB_METRICS_PUBLIC=true)"
    }


async def test_public_metrics_are_an_explicit_choice(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = app_with(settings, store, metrics_public=True)
    async with client_for(app, acme.token) as client:
        await client.get("/Users")
    async with root_client(app) as stranger:
        response = await stranger.get("/metrics")

    assert response.status_code == 200
    assert f'tenant="{acme.tenant_id}"' in response.text


async def test_unknown_methods_share_one_label(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    """h11 passes any method token through: each would have been a series of its own."""
    app = ops_app(settings, store)
    async with root_client(app) as stranger, client_for(app, acme.token) as client:
        for i in range(25):
            await stranger.request(f"PROBE{i}", "/scim/v2/Users")
            await client.request(f"BREW{i}", "/Users")
        await client.request("PATCH", "/Users")

    methods = {s.labels["method"] for s in await scrape(app) if s.name == "scimhub_requests_total"}
    assert methods == {"OTHER", "PATCH"}
    assert value(await scrape(app), "scimhub_requests_total", method="OTHER", tenant=acme.tenant_id) == 25


def test_the_request_series_report_what_prometheus_clients_counter_and_histogram_would() -> None:
    """Kept as plain numbers, scimhub_requests and the latency histogram read exactly as
    prometheus_client's own Counter and Histogram of the same requests (but their creation times)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter
    from prometheus_client import Histogram
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from scimhub.http.observe import LATENCY_BUCKETS
    from scimhub.http.observe import Metrics

    reference = CollectorRegistry()
    counter = Counter(
        "scimhub_requests", "SCIM and admin requests", ["route", "method", "status", "tenant"], registry=reference
    )
    histogram = Histogram(
        "scimhub_request_duration_seconds",
        "Request latency",
        ["route", "method"],
        registry=reference,
        buckets=LATENCY_BUCKETS,
    )
    metrics = Metrics()
    requests = [
        ("/scim/v2/Users", "GET", 200, "t1", 0.0004),
        ("/scim/v2/Users", "GET", 200, "t1", 0.001),  # on a bound: in that bucket
        ("/scim/v2/Users", "GET", 404, "t2", 0.0011),
        ("/scim/v2/Users/{id}", "PATCH", 200, "t1", 2.5),
        ("/scim/v2/Users/{id}", "PATCH", 500, "-", 7.0),  # past the last bound: +Inf only
    ]
    for route, method, status, tenant, seconds in requests:
        counter.labels(route, method, str(status), tenant).inc()
        histogram.labels(route, method).observe(seconds)
        metrics.record(route, method, status, tenant, seconds)

    def samples(text: bytes) -> list[tuple[str, list[tuple[str, str]], float]]:
        return sorted(
            (s.name, sorted(s.labels.items()), s.value)
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples
            if not s.name.endswith("_created")
        )

    ours = generate_latest(metrics.registry)
    assert samples(ours) == samples(generate_latest(reference))
    created = [
        s for f in text_string_to_metric_families(ours.decode()) for s in f.samples if s.name.endswith("_created")
    ]
    assert len(created) == 4 + 2  # one per counter series and one per histogram
