"""Per-tenant settings set with `scimhub tenant set`, seen through the SCIM API of a fresh app.

Servers cache a tenant's settings for CACHE_SECONDS; each scenario builds its app after the change
(an app built before it would pick the change up within that bound: see the cache test below).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.policy import Policy
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.protocol.tenant_config import TenantConfig
from scimhub.protocol.tenant_config import TenantConfigCache
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio

# Entra ID's deactivation (IDP_QUIRKS E-KI): a boolean as a string, a capitalised op.
ENTRA_DEACTIVATE = {"op": "Replace", "path": "active", "value": "False"}


def _app(settings: Settings, store: SqlStore, **changes: Any) -> Any:
    return create_app(dataclasses.replace(settings, **changes), store=store)


async def _statuses(client: httpx2.AsyncClient, n: int) -> list[int]:
    return [(await client.get("/Users")).status_code for _ in range(n)]


async def test_string_booleans_off_refuses_entras_patch_for_that_tenant_only(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    acme_user = await create_user(acme.client, "bjensen", active=True)
    globex_user = await create_user(globex.client, "bjensen", active=True)

    cli.ok("tenant", "set", "acme", "policy.string_booleans", "off")

    app = _app(settings, store)
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        before = await snapshot(a)
        refused = await a.patch(f"/Users/{acme_user['id']}", json=patch_body(ENTRA_DEACTIVATE))
        assert await snapshot(a) == before
        accepted = await g.patch(f"/Users/{globex_user['id']}", json=patch_body(ENTRA_DEACTIVATE))
        strict_ok = await a.patch(
            f"/Users/{acme_user['id']}", json=patch_body({"op": "replace", "path": "active", "value": False})
        )

    error = assert_scim_error(refused, 400, "invalidValue")
    assert error["detail"] == "'active' must be a boolean (true or false)."
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["active"] is False
    assert strict_ok.status_code == 200 and strict_ok.json()["active"] is False  # a real boolean still works


async def test_default_restores_the_leniency(cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    user = await create_user(acme.client, "bjensen", active=True)
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "off")
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "default")

    async with client_for(_app(settings, store), acme.token) as client:
        response = await client.patch(f"/Users/{user['id']}", json=patch_body(ENTRA_DEACTIVATE))
        stored = await get_ok(client, f"/Users/{user['id']}")

    assert response.status_code == 200, response.text
    assert stored["active"] is False


async def test_a_tenant_rate_limit_gives_that_tenant_429s_only(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    cli.ok("tenant", "set", "acme", "rate_limit", "2/second")

    app = _app(settings, store, rate_limit="100/second;3000/minute")  # the server default
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        acme_statuses = await _statuses(a, 6)
        globex_statuses = await _statuses(g, 20)

    assert acme_statuses[:2] == [200, 200]
    assert 429 in acme_statuses  # a window boundary may let one more through, never all six
    assert set(globex_statuses) == {200}


async def test_an_empty_server_limit_switches_rate_limiting_off_for_every_tenant(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """README: a tenant's rate_limit "applies while SCIMHUB_RATE_LIMIT is set"; empty disables limiting."""
    cli.ok("tenant", "set", "acme", "rate_limit", "2/hour")

    async with client_for(_app(settings, store, rate_limit=""), acme.token) as client:
        statuses = await _statuses(client, 5)

    assert set(statuses) == {200}


async def test_rate_limit_off_exempts_that_tenant(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    cli.ok("tenant", "set", "acme", "rate_limit", "off")

    app = _app(settings, store, rate_limit="2/hour")
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        acme_statuses = await _statuses(a, 10)
        globex_statuses = await _statuses(g, 3)

    assert set(acme_statuses) == {200}
    assert globex_statuses == [200, 200, 429]


async def test_the_tenant_limit_replaces_the_server_default(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    cli.ok("tenant", "set", "acme", "rate_limit", "5/hour")

    async with client_for(_app(settings, store, rate_limit="2/hour"), acme.token) as client:
        statuses = await _statuses(client, 6)

    assert statuses == [200] * 5 + [429]


async def test_settings_are_cached_for_a_bounded_time(cli: Cli, store: SqlStore, acme: TenantAccess) -> None:
    now = [1000.0]
    cache = TenantConfigCache(store, Policy(), clock=lambda: now[0])
    assert cache.ttl == CACHE_SECONDS == 10.0

    first = await cache.get(acme.tenant_id)
    cli.ok("tenant", "set", "acme", "rate_limit", "7/hour")
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "off")
    now[0] += CACHE_SECONDS - 0.5
    cached = await cache.get(acme.tenant_id)
    now[0] += 1
    fresh = await cache.get(acme.tenant_id)

    assert first == cached == TenantConfig(Policy(), None)
    assert fresh == TenantConfig(dataclasses.replace(Policy(), string_booleans=False), "7/hour")


async def test_strict_rfc_is_the_default_a_tenant_switch_overrides(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """SCIMHUB_STRICT_RFC=true turns every switch off; `tenant set … on` turns one back on."""
    user = await create_user(acme.client, "bjensen", active=True)
    strict = _app(settings, store, strict_rfc=True)
    async with client_for(strict, acme.token) as client:
        refused = await client.patch(f"/Users/{user['id']}", json=patch_body(ENTRA_DEACTIVATE))
    assert_scim_error(refused, 400, "invalidValue")

    cli.ok("tenant", "set", "acme", "policy.string_booleans", "on")

    async with client_for(_app(settings, store, strict_rfc=True), acme.token) as client:
        response = await client.patch(f"/Users/{user['id']}", json=patch_body(ENTRA_DEACTIVATE))
    assert response.status_code == 200, response.text
