"""Rate limits per tenant and per token (the `limits` library): 429, a SCIM body, Retry-After.

Exact status sequences use hour windows: just after a window boundary the sliding-window counter
weighs the previous window down and one more request may pass, and a test that crosses an hour
boundary is 60 times rarer than one crossing a minute boundary. Per-second tests allow for it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.auth.tokens import mint_token
from scimhub.protocol import tenants
from scimhub.ratelimit import DEFAULT_RATE_LIMIT
from scimhub.ratelimit import RateLimiter
from scimhub.ratelimit import storage_for
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import running
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body
from tests.ops.support import ops_app
from tests.ops.support import request_log
from tests.ops.support import root_client
from tests.ops.support import scrape
from tests.ops.support import value

pytestmark = pytest.mark.anyio


def assert_rate_limited(response: httpx2.Response, window_seconds: int) -> int:
    """429, an RFC 7644 §3.12 body without scimType, and Retry-After as whole seconds in the window."""
    body = assert_scim_error(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after  # RFC 9110 §10.2.3: delay-seconds, not a date
    assert 1 <= int(retry_after) <= window_seconds
    assert f"retry in {retry_after} s" in body["detail"]
    return int(retry_after)


@pytest.fixture
async def unlimited(settings: Settings, store: SqlStore, acme: TenantAccess) -> AsyncIterator[httpx2.AsyncClient]:
    """acme's token on an app without a limit: to look at the data without spending the budget."""
    async with client_for(create_app(settings, store=store), acme.token) as client:
        yield client


async def test_over_the_tenant_limit_answers_429_with_a_scim_body_and_retry_after(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="3/hour")
    async with client_for(app, acme.token) as client:
        statuses = [(await client.get("/Users")).status_code for _ in range(3)]
        limited = await client.get("/Users")

    assert statuses == [200, 200, 200]
    assert_rate_limited(limited, 3600)


async def test_a_per_second_limit_asks_to_retry_within_a_second(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="2/second")
    async with client_for(app, acme.token) as client:
        responses = [await client.get("/Users") for _ in range(6)]

    limited = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert limited, [r.status_code for r in responses]
    for response in limited:
        assert assert_rate_limited(response, 1) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_refused_write_changes_nothing(
    settings: Settings, store: SqlStore, acme: TenantAccess, unlimited: httpx2.AsyncClient, method: str
) -> None:
    user = await create_user(unlimited, "bjensen", title="before")
    before = await snapshot(unlimited)
    path = f"/Users/{user['id']}"
    requests = {
        "POST": ("/Users", user_body("jsmith")),
        "PUT": (path, user_body("bjensen", title="after")),
        "PATCH": (path, patch_body({"op": "replace", "path": "title", "value": "after"})),
        "DELETE": (path, None),
    }
    url, body = requests[method]
    async with client_for(app_with(settings, store, rate_limit="1/hour"), acme.token) as limited:
        assert (await limited.get("/ServiceProviderConfig")).status_code == 200  # spends the budget
        response = await limited.request(method, url, json=body)

    assert_rate_limited(response, 3600)
    assert await snapshot(unlimited) == before


async def test_the_limit_is_per_tenant_another_tenant_is_unaffected(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="2/hour")
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        acme_statuses = [(await a.get("/Users")).status_code for _ in range(4)]
        globex_statuses = [(await g.get("/Users")).status_code for _ in range(2)]

    assert acme_statuses == [200, 200, 429, 429]
    assert globex_statuses == [200, 200]


async def test_the_tenant_budget_is_shared_by_all_its_tokens(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    _, second = await tenants.issue_token(store, tenant, None)
    app = app_with(settings, store, rate_limit="3/hour")
    async with client_for(app, acme.token) as first_client, client_for(app, second) as second_client:
        assert (await first_client.get("/Users")).status_code == 200
        assert (await first_client.get("/Users")).status_code == 200
        assert (await second_client.get("/Users")).status_code == 200
        assert_rate_limited(await second_client.get("/Users"), 3600)
        assert_rate_limited(await first_client.get("/Users"), 3600)


async def test_each_token_has_a_counter_of_its_own() -> None:
    """The per-token key: a token is limited even when the tenant key it is checked with is fresh."""
    limiter = RateLimiter("2/hour")

    assert (await limiter.check("tenant-1", "token-a")).allowed
    assert (await limiter.check("tenant-2", "token-a")).allowed
    verdict = await limiter.check("tenant-3", "token-a")
    assert (await limiter.check("tenant-4", "token-b")).allowed

    assert not verdict.allowed
    assert 1 <= verdict.retry_after <= 3600


async def test_every_limit_of_a_list_applies(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = app_with(settings, store, rate_limit="100/second;3/hour")
    async with client_for(app, acme.token) as client:
        statuses = [(await client.get("/Users")).status_code for _ in range(4)]
        limited = await client.get("/Users")

    assert statuses == [200, 200, 200, 429]
    assert_rate_limited(limited, 3600)


async def test_unauthenticated_requests_do_not_spend_a_tenant_budget(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="2/hour")
    async with client_for(app, mint_token()) as stranger, client_for(app, acme.token) as client:
        for _ in range(5):
            assert_scim_error(await stranger.get("/Users"), 401)  # authentication comes first
        assert [(await client.get("/Users")).status_code for _ in range(3)] == [200, 200, 429]


async def test_health_and_metrics_are_never_rate_limited(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="1/hour", metrics_public=True)
    async with client_for(app, acme.token) as client:
        await client.get("/Users")
        assert_rate_limited(await client.get("/Users"), 3600)
    async with root_client(app) as root:
        for path in ("/healthz", "/readyz", "/metrics") * 3:
            assert (await root.get(path)).status_code == 200


async def test_the_default_limit_is_generous_and_an_empty_setting_disables_limiting(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    assert Settings().rate_limit == DEFAULT_RATE_LIMIT == "100/second;3000/minute"
    async with client_for(app_with(settings, store, rate_limit=""), acme.token) as client:
        statuses = {(await client.get("/ServiceProviderConfig")).status_code for _ in range(150)}
    assert statuses == {200}


async def test_the_limit_comes_from_scimhub_rate_limit(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    configured = Settings.from_env({"SCIMHUB_DATABASE_URL": settings.database_url, "SCIMHUB_RATE_LIMIT": "2/hour"})
    assert (configured.rate_limit, configured.rate_limit_storage) == ("2/hour", "memory://")
    async with client_for(create_app(configured, store=store), acme.token) as client:
        statuses = [(await client.get("/Users")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_a_429_is_counted_in_the_metrics_and_kept_in_the_request_log(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store, rate_limit="1/hour")
    async with client_for(app, acme.token) as client:
        await client.get("/Users")
        await client.get("/Users")
        await client.post("/Users", json=user_body("bjensen"))

    samples = await scrape(app)
    assert value(samples, "scimhub_rate_limited_total", tenant=acme.tenant_id) == 2
    assert value(samples, "scimhub_requests_total", route="/scim/v2/Users", status="429", method="POST") == 1
    newest = (await request_log(app))[0]
    assert (newest["method"], newest["status"]) == ("POST", 429)
    assert newest["error"].startswith("Rate limit exceeded")


def test_an_unknown_storage_is_refused_with_a_clear_message(settings: Settings, store: SqlStore) -> None:
    with pytest.raises(ValueError, match=r"Unsupported rate-limit storage 'memcached://x'; use memory:// or redis://"):
        app_with(settings, store, rate_limit="10/second", rate_limit_storage="memcached://x")
    with pytest.raises(ValueError, match="couldn't parse rate limit string 'lots'"):
        app_with(settings, store, rate_limit="lots")
    assert type(storage_for(None)).__name__ == type(storage_for("memory://")).__name__ == "MemoryStorage"


async def test_two_instances_on_redis_share_a_tenant_counter(
    settings: Settings, store: SqlStore, redis_url: str
) -> None:
    """Two app instances (two processes in production) with SCIMHUB_RATE_LIMIT_STORAGE=redis://…

    The tenant is new (a fresh UUID), so counters of earlier runs in the same Redis never collide.
    """
    tenant = await tenants.create_tenant(store, f"shared-{uuid.uuid4().hex[:8]}")
    _, secret = await tenants.issue_token(store, tenant, None)
    shared = {"rate_limit": "3/hour", "rate_limit_storage": redis_url, "worker_enabled": False}
    one, two = app_with(settings, store, **shared), app_with(settings, store, **shared)
    alone = app_with(settings, store, rate_limit="3/hour", worker_enabled=False)  # memory: its own counter

    async with running(one), running(two), running(alone):  # the lifespan closes the Redis connections
        async with client_for(one, secret) as a, client_for(two, secret) as b, client_for(alone, secret) as c:
            statuses = [(await a.get("/Users")).status_code, (await b.get("/Users")).status_code]
            statuses.append((await a.get("/Users")).status_code)
            limited_on_two = await b.get("/Users")
            limited_on_one = await a.get("/Users")
            other_storage = await c.get("/Users")

    assert statuses == [200, 200, 200]
    assert_rate_limited(limited_on_two, 3600)
    assert_rate_limited(limited_on_one, 3600)
    assert other_storage.status_code == 200
