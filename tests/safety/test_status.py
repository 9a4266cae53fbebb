"""Sync health: every state reached by real SCIM requests, the IdP recognised from its
User-Agent, the figures of `tenant status` (CLI and admin API), and the Prometheus gauges."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.safety.idp import recognise
from scimhub.settings import Settings
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.sql import SqlStore
from scimhub.timestamps import utc_now
from tests.cli.support import Cli
from tests.conftest import SCIM
from tests.events.support import eventually
from tests.events.support import running
from tests.events.support import wait_until
from tests.ops.support import METRICS_TOKEN
from tests.ops.support import scrape
from tests.ops.support import value
from tests.safety.support import admin
from tests.safety.support import entra_deactivate
from tests.safety.support import users

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
OKTA = "Okta SCIM Client 1.0.0"  # Okta's SCIM reference: every provisioning request


def idp_client(app: object, token: str, user_agent: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}", "User-Agent": user_agent}
    return httpx2.AsyncClient(transport=transport, base_url=SCIM, headers=headers)


async def status(app: object, tenant: str = "acme") -> dict[str, Any]:
    return await admin(app, "GET", f"/tenants/{tenant}/status")


@pytest.mark.anyio
async def test_a_tenant_no_idp_called_yet_is_never_connected(app: Any, acme: TenantAccess) -> None:
    found = await status(app)
    assert found["state"] == "never_connected"
    assert found["idp"] == {"name": None, "userAgent": None}
    assert found["firstRequestAt"] is None and found["lastRequestAt"] is None
    assert found["last24h"] == {"requests": 0, "errors": 0, "topError": None}


@pytest.mark.anyio
async def test_okta_requests_make_it_connected_with_okta_recognised_and_counted(app: Any, acme: TenantAccess) -> None:
    async with idp_client(app, acme.token, OKTA) as okta:
        await users(okta, 3)
        await entra_deactivate(okta, (await okta.get("/Users")).json()["Resources"][0]["id"])
        assert (await okta.get("/Users", params={"filter": 'userName eq "nobody"'})).status_code == 200
        await okta.post(
            "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "x"}
        )
    found = await status(app)
    assert found["state"] == "connected"
    assert found["idp"] == {"name": "Okta", "userAgent": OKTA}
    assert found["firstRequestAt"] <= found["lastRequestAt"]
    assert found["users"] == {"active": 2, "inactive": 1}
    assert found["groups"] == 1
    assert found["last24h"] == {"requests": 7, "errors": 0, "topError": None}


@pytest.mark.anyio
async def test_a_burst_of_errors_makes_it_failing_with_the_most_frequent_error(app: Any, acme: TenantAccess) -> None:
    async with idp_client(app, acme.token, OKTA) as okta:
        await users(okta, 1)
        for _ in range(5):  # the same user again: 409 uniqueness
            duplicate = await okta.post("/Users", json={"schemas": [USER], "userName": "u0@example.com"})
            assert duplicate.status_code == 409
        assert (await okta.get(f"/Users/{uuid.uuid4()}")).status_code == 404
    found = await status(app)
    assert found["state"] == "failing"
    assert found["last24h"]["requests"] == 7 and found["last24h"]["errors"] == 6
    assert found["last24h"]["topError"] == {"error": "409 uniqueness", "count": 5}


@pytest.mark.anyio
async def test_a_tenant_whose_idp_went_quiet_is_idle(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = create_app(dataclasses.replace(settings, status_idle_seconds=0.3), store=store)
    async with idp_client(app, acme.token, OKTA) as okta:
        await okta.get("/Users")
    assert (await status(app))["state"] == "connected"
    states: list[str] = []

    async def idle() -> bool:
        states.append((await status(app))["state"])
        return states[-1] == "idle"

    await eventually(idle, timeout=10, what="idle")
    assert set(states) <= {"connected", "idle"}


@pytest.mark.anyio
async def test_held_and_paused_are_states_too(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "0")
    app = create_app(settings, store=store)
    async with idp_client(app, acme.token, "Microsoft.Azure.AD.SCIM/1.0") as entra:
        [user_id] = await users(entra, 1)
        await entra_deactivate(entra, user_id)
    found = await status(app)
    assert found["state"] == "held"
    assert found["held"]["fromSeq"] == 2 and found["held"]["kind"] == "guard"
    assert found["idp"]["name"] == "Entra"
    await admin(app, "POST", "/tenants/acme/release")
    await admin(app, "POST", "/tenants/acme/pause", json={"reason": "cut-over"})
    assert (await status(app))["state"] == "paused"
    await admin(app, "POST", "/tenants/acme/resume")
    assert (await status(app))["state"] == "connected"


@pytest.mark.anyio
async def test_expiring_tokens_webhook_backlog_and_dead_letters(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    soon, _ = await tenants.issue_token(store, tenant, None, expires_in_days=3)
    await tenants.issue_token(store, tenant, None, expires_in_days=90)
    events = EventStore.of(store)
    hook = await events.add_webhook(str(uuid.uuid4()), acme.tenant_id, "https://e.test/", "s", utc_now())
    await users(acme.client, 3)
    await events.log_attempt(Attempt(hook.id, acme.tenant_id, 1, "e1", 16, utc_now(), Outcome.DEAD, 500))
    found = await status(app)
    assert [t["id"] for t in found["tokensExpiringSoon"]] == [soon.id]
    assert found["webhooks"] == {"backlog": 3, "deadLetters": 1}


@pytest.mark.anyio
async def test_the_cli_shows_the_status_and_the_state_in_the_tenant_list(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = create_app(settings, store=store)
    async with running(app), idp_client(app, acme.token, "OKTA SCIM Integration") as okta:
        await okta.get("/Users")
        await wait_until(lambda: "connected" in "".join(cli.ok("tenant", "list")), timeout=10, what="a flush")
    listed = {line.split("\t")[1]: line.split("\t")[3] for line in cli.ok("tenant", "list")[1:]}
    assert listed == {"acme": "connected", "globex": "never_connected"}
    shown = cli.ok("tenant", "status", "acme")
    assert shown[0] == "state                 connected"
    assert shown[1] == "idp                   Okta (User-Agent: OKTA SCIM Integration)"
    assert json.loads(cli.ok("tenant", "status", "acme", "--json")[0])["state"] == "connected"
    refused = cli("tenant", "status", "nobody")
    assert refused.exit_code == 1 and "nobody" in refused.output


@pytest.mark.anyio
async def test_prometheus_gauges_show_the_state_and_the_hold(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "0")
    app = create_app(dataclasses.replace(settings, metrics_token=METRICS_TOKEN), store=store)
    before = await scrape(app)
    assert value(before, "scimhub_tenant_sync_state", tenant=acme.tenant_id, state="never_connected") == 1
    assert value(before, "scimhub_tenant_held", tenant=acme.tenant_id) == 0
    async with idp_client(app, acme.token, OKTA) as okta:
        [user_id] = await users(okta, 1)
        await entra_deactivate(okta, user_id)
    after = await scrape(app)
    assert value(after, "scimhub_tenant_sync_state", tenant=acme.tenant_id, state="held") == 1
    assert value(after, "scimhub_tenant_sync_state", tenant=acme.tenant_id, state="connected") == 0
    assert value(after, "scimhub_tenant_held", tenant=acme.tenant_id, kind="guard") == 1
    assert value(after, "scimhub_tenant_held_from_seq", tenant=acme.tenant_id) == 2


@pytest.mark.parametrize(
    ("user_agent", "idp"),
    [
        ("Okta SCIM Client 1.0.0", "Okta"),  # Okta's SCIM reference
        ("OKTA SCIM Integration", "Okta"),  # Okta's Runscope spec test (IDP_QUIRKS §1)
        ("Microsoft.Azure.AD.SCIM/1.0", "Entra"),
        ("Azure AD Provisioning", "Entra"),
        ("OneLogin SCIM", "OneLogin"),
        ("JumpCloud-SCIM/2.0", "JumpCloud"),
        ("PingFederate/11.2", "Ping"),
        ("PingOne", "Ping"),
        ("Google-SCIM", "Google"),
        ("curl/8.5.0", "other"),
        ("Shopping/1.0", "other"),  # "ping" inside a word is not Ping
        ("Bookta/1.0", "other"),
        ("", None),
        (None, None),
    ],
)
def test_the_idp_is_recognised_from_its_user_agent(user_agent: str | None, idp: str | None) -> None:
    assert recognise(user_agent) == idp


@pytest.mark.parametrize("route", ["held", "release", "pause", "resume", "status"])
def test_the_safety_routes_have_metric_labels_of_their_own(route: str) -> None:
    from scimhub.http.observe import route_label

    assert route_label(f"/admin/v1/tenants/acme/{route}") == f"/admin/v1/tenants/{{tenant}}/{route}"


@pytest.mark.anyio
async def test_flushes_of_several_processes_merge_in_any_order(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    from scimhub.safety.activity import Traffic
    from scimhub.store.activity_sql import ActivityStore

    hour = int(datetime(2026, 12, 7, 9, tzinfo=UTC).timestamp()) // 3600
    at = hour * 3600.0
    activity = ActivityStore(store.db)
    later = Traffic(at + 60, at + 120, "Okta SCIM Client 1.0.0", {(hour, "ok"): 3, (hour, "409 uniqueness"): 1})
    earlier = Traffic(at + 10, at + 30, None, {(hour, "ok"): 2})  # a slower process flushes after
    await activity.write({acme.tenant_id: later, "no-such-tenant": earlier})
    await activity.write({acme.tenant_id: earlier})
    found = (await activity.activity())[acme.tenant_id]
    assert (found.first_request_at, found.last_request_at) == ("2026-12-07T09:00:10.000Z", "2026-12-07T09:02:00.000Z")
    assert found.user_agent == "Okta SCIM Client 1.0.0"  # a flush without one keeps it
    counts = await activity.recent_counts("2026-12-07T09:30:00.000Z")
    assert counts[acme.tenant_id].requests == 6 and counts[acme.tenant_id].errors == 1
    assert await activity.prune("2026-12-09T10:00:00.000Z") == 2  # older than 48 hours
