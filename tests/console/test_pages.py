"""The tenants, requests, events, webhooks and settings tabs through the real ASGI app."""

from __future__ import annotations

import dataclasses

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import BASE
from tests.console.conftest import Console
from tests.events.support import Receiver

pytestmark = pytest.mark.anyio
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def test_create_tenant_then_it_is_listed_with_counts(console: Console, store: SqlStore) -> None:
    created = await console.post("/console/tenants", name="initech")
    assert created.status_code == 303
    assert created.headers["location"] == "/console/t/initech/directory?done=created"
    assert await store.tenant_by_name("initech") is not None
    listed = await console.client.get("/console/")
    assert '<a href="/console/t/initech/directory">initech</a>' in listed.text
    assert "never connected" in listed.text


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [("Bad Name!", 400, "is not a valid tenant name"), ("acme", 409, "already exists"), ("", 400, "not a valid")],
)
async def test_bad_tenant_names_are_refused_and_nothing_created(
    console: Console, tenant: TenantAccess, store: SqlStore, name: str, status: int, message: str
) -> None:
    before = [t.name for t in await store.list_tenants()]
    response = await console.post("/console/tenants", name=name)
    assert response.status_code == status
    assert message in response.text
    assert [t.name for t in await store.list_tenants()] == before


async def test_tenant_search_and_pages(console: Console) -> None:
    for i in range(55):
        assert (await console.post("/console/tenants", name=f"t{i:02}")).status_code == 303
    assert (await console.post("/console/tenants", name="other")).status_code == 303
    first = await console.client.get("/console/")  # by name: other, t00 … t48
    assert ">other</a>" in first.text and ">t48</a>" in first.text and ">t49</a>" not in first.text
    assert "after=t48" in first.text
    second = await console.client.get("/console/", params={"after": "t48"})
    assert ">t49</a>" in second.text and ">t54</a>" in second.text and ">t48</a>" not in second.text
    assert "Next page" not in second.text
    found = await console.client.get("/console/", params={"q": "oth"})
    assert ">other</a>" in found.text and ">t00</a>" not in found.text
    none = await console.client.get("/console/", params={"q": "%"})
    assert "No tenant name starts with" in none.text


async def test_requests_tab_shows_a_failed_request_and_its_error(console: Console, tenant: TenantAccess) -> None:
    ok = await tenant.client.post("/Users", json={"schemas": [USER], "userName": "dup@example.com"})
    assert ok.status_code == 201
    conflict = await tenant.client.post(
        "/Users", json={"schemas": [USER], "userName": "dup@example.com", "password": "hunter2-secret"}
    )
    assert conflict.status_code == 409
    page = await console.client.get("/console/t/acme/requests", params={"failed": "1"})
    assert page.status_code == 200
    assert "POST /scim/v2/Users" in page.text
    assert ">409<" in page.text
    assert "hunter2-secret" not in page.text  # redacted
    assert "uniqueness" in page.text
    everything = await console.client.get("/console/t/acme/requests")
    assert ">201<" in everything.text and ">409<" in everything.text


async def test_events_tab_and_its_live_json(console: Console, tenant: TenantAccess) -> None:
    for name in ("e1@example.com", "e2@example.com"):
        await tenant.client.post("/Users", json={"schemas": [USER], "userName": name})
    page = await console.client.get("/console/t/acme/events")
    assert page.status_code == 200
    assert page.text.count("user.created") == 2
    assert 'data-live="/console/t/acme/events.json" data-after="2"' in page.text
    assert (await console.client.get("/console/t/acme/events.json", params={"after": "2"})).json() == {
        "events": [],
        "next_after": 2,
    }
    await tenant.client.post("/Users", json={"schemas": [USER], "userName": "e3@example.com"})
    live = (await console.client.get("/console/t/acme/events.json", params={"after": "2"})).json()
    assert [e["seq"] for e in live["events"]] == [3]
    assert live["events"][0]["type"] == "user.created" and live["next_after"] == 3
    bad = await console.client.get("/console/t/acme/events.json", params={"after": "-1"})
    assert bad.status_code == 400


async def test_webhook_add_refuses_bad_urls_then_deliveries_and_removal(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    refused = await console.post("/console/t/acme/webhooks", url="ftp://example.com/x")
    assert refused.status_code == 400
    assert await EventStore(store.db).list_webhooks(tenant.tenant_id) == []
    private = await console.post("/console/t/acme/webhooks", url="http://127.0.0.1:9/hook")
    assert private.status_code == 400  # public addresses only (SCIMHUB_WEBHOOK_ALLOW_PRIVATE)
    events = EventStore(store.db)
    hook = await events.add_webhook("w1", tenant.tenant_id, "https://hooks.example.com/x", "whsec_x", "2026-01-01", 0)
    await tenant.client.post("/Users", json={"schemas": [USER], "userName": "w@example.com"})
    await events.log_attempt(
        Attempt(hook.id, tenant.tenant_id, 1, "ev-1", 8, "2026-12-07T10:00:00Z", Outcome.DEAD, 500, "HTTP 500", 12)
    )
    listed = await console.client.get("/console/t/acme/webhooks")
    assert "https://hooks.example.com/x" in listed.text and "whsec_x" not in listed.text
    detail = await console.client.get(f"/console/t/acme/webhooks/{hook.id}")
    assert detail.status_code == 200
    assert "HTTP 500" in detail.text and ">dead<" in detail.text
    removed = await console.post(f"/console/t/acme/webhooks/{hook.id}/remove")
    assert removed.status_code == 303
    assert await events.list_webhooks(tenant.tenant_id) == []


async def test_webhook_add_shows_its_secret_once(
    console_settings: Settings, store: SqlStore, tenant: TenantAccess
) -> None:
    app = create_app(dataclasses.replace(console_settings, webhook_allow_private=True), store=store)
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
        console = Console(client)
        assert (await console.sign_in()).status_code == 303
        added = await console.post("/console/t/acme/webhooks", url="http://127.0.0.1:9/hook", start="beginning")
        assert added.status_code == 201
        assert added.headers["cache-control"] == "no-store"
        hooks = await EventStore(store.db).list_webhooks(tenant.tenant_id)
        assert [h.url for h in hooks] == ["http://127.0.0.1:9/hook"]
        assert f'readonly value="{hooks[0].secret}"' in added.text
        listed = await client.get("/console/t/acme/webhooks")
        assert hooks[0].secret not in listed.text


async def test_settings_save_validates_and_applies(console: Console, tenant: TenantAccess, store: SqlStore) -> None:
    saved = await console.post("/console/t/acme/settings", key="rate_limit", value="20/second")
    assert saved.status_code == 303
    assert (await store.tenant_settings(tenant.tenant_id))["rate_limit"] == "20/second"
    bad = await console.post("/console/t/acme/settings", key="rate_limit", value="lots")
    assert bad.status_code == 400
    assert "is not a rate limit" in bad.text
    unknown = await console.post("/console/t/acme/settings", key="nope", value="on")
    assert unknown.status_code == 400
    assert (await store.tenant_settings(tenant.tenant_id)) == {"rate_limit": "20/second"}
    cleared = await console.post("/console/t/acme/settings", key="rate_limit", value="default")
    assert cleared.status_code == 303
    assert await store.tenant_settings(tenant.tenant_id) == {}
    page = await console.client.get("/console/t/acme/settings")
    assert "policy." in page.text and "guard.deprovision_threshold" in page.text


async def test_pause_and_resume_the_event_stream(console: Console, tenant: TenantAccess, store: SqlStore) -> None:
    holds = EventStore(store.db).holds
    assert (await console.post("/console/t/acme/pause", reason="migrating")).status_code == 303
    hold = await holds.hold(tenant.tenant_id)
    assert hold is not None and hold.reason == "migrating"
    page = await console.client.get("/console/t/acme/settings")
    assert "migrating" in page.text and "Resume" in page.text
    assert (await console.post("/console/t/acme/release", kind="pause")).status_code == 303
    assert await holds.hold(tenant.tenant_id) is None


async def test_redeliver_sends_the_dead_letters_again(console: Console, tenant: TenantAccess, store: SqlStore) -> None:
    receiver = Receiver().start()
    try:
        events = EventStore(store.db)
        hook = await events.add_webhook(
            "w2", tenant.tenant_id, receiver.url, "whsec_test", "2026-01-01T00:00:00Z", 0, allow_private=True
        )
        await tenant.client.post("/Users", json={"schemas": [USER], "userName": "dead@example.com"})
        event = (await events.events_after(tenant.tenant_id, 0, 1))[0]
        await events.log_attempt(
            Attempt(hook.id, tenant.tenant_id, 1, event.id, 8, "2026-12-07T10:00:00Z", Outcome.DEAD, 500, "HTTP 500", 3)
        )
        page = await console.client.get(f"/console/t/acme/webhooks/{hook.id}")
        assert "Redeliver 1 dead letter" in page.text
        response = await console.post(f"/console/t/acme/webhooks/{hook.id}/redeliver")
        assert response.status_code == 303
        assert response.headers["location"] == f"/console/t/acme/webhooks/{hook.id}?done=redelivered"
        assert await events.dead_letters(hook.id) == []
        after = await console.client.get(response.headers["location"])
        assert ">redelivered<" in after.text
        assert "Dead letters sent again" in after.text
        assert any(d.event["seq"] == 1 for d in receiver.accepted())
    finally:
        receiver.stop()
