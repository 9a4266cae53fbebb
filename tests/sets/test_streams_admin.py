"""Streams through the admin API, like webhooks: add, list, show, remove; bad requests are
refused with their reason and create nothing."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import make_tenant
from tests.events.support import admin_client
from tests.sets.support import add_stream

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

USAGE = 'Send {"push": "https://…"} or {"poll": true}, with "audience" and optional "issuer", "full", "after".'


async def streams(app: object) -> list[dict[str, Any]]:
    async with admin_client(app) as admin:
        response = await admin.get("/tenants/acme/streams")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["streams"]
    return listed


async def test_add_list_show_and_remove(app: object, acme: TenantAccess) -> None:
    pushed = await add_stream(app, push="https://receiver.example.com/sets", audience="aud-1", full=True)
    polled = await add_stream(app, poll=True, audience="aud-2", issuer="https://id.example.com/scim/v2")

    listed = await streams(app)
    async with admin_client(app) as admin:
        shown = (await admin.get(f"/tenants/acme/streams/{polled['id']}")).json()
        removed = await admin.delete(f"/tenants/acme/streams/{pushed['id']}")
        gone = await admin.get(f"/tenants/acme/streams/{pushed['id']}")

    assert "token" not in pushed and polled["token"].startswith("sst_")
    assert pushed["mode"] == "push" and pushed["full"] is True and "pollUri" not in pushed
    assert pushed["issuer"] == "https://scim.example.com/scim/v2"  # SCIMHUB_BASE_URL
    assert polled["pollUri"] == f"http://testserver/sets/v1/streams/{polled['id']}/poll"
    assert polled["issuer"] == "https://id.example.com/scim/v2"
    assert [s["id"] for s in listed] == [pushed["id"], polled["id"]]
    assert all("token" not in s for s in listed) and "token" not in shown
    assert shown["audience"] == "aud-2" and shown["deliveredSeq"] == 0
    assert removed.status_code == 204
    assert gone.status_code == 404
    assert [s["id"] for s in await streams(app)] == [polled["id"]]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"audience": "a"}, USAGE),
        ({"push": "https://r.example.com/", "poll": True, "audience": "a"}, USAGE),
        ({"poll": True}, USAGE),
        ({"poll": True, "audience": "a", "full": "yes"}, USAGE),
        ({"poll": True, "audience": "a", "after": True}, USAGE),
        ({"poll": True, "audience": "a", "issuer": 5}, USAGE),
        ({"poll": True, "audience": " "}, "The audience must be 1 to 2000 printable characters."),
        (
            {"push": "ftp://r.example.com/", "audience": "a"},
            "The push URL must be an absolute http:// or https:// URL, got 'ftp://r.example.com/'.",
        ),
        (
            {"poll": True, "audience": "a", "issuer": "scim"},
            "The issuer must be an absolute http:// or https:// URL, got 'scim'.",
        ),
        ({"poll": True, "audience": "a", "after": -1}, "after must be a sequence number >= 0."),
    ],
)
async def test_a_bad_stream_is_refused_and_nothing_is_added(
    app: object, acme: TenantAccess, body: dict[str, Any], detail: str
) -> None:
    async with admin_client(app) as admin:
        response = await admin.post("/tenants/acme/streams", json=body)

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert await streams(app) == []


async def test_a_private_push_url_is_refused_unless_allowed(settings: Settings, store: SqlStore) -> None:
    app = create_app(dataclasses.replace(settings, webhook_allow_private=False), store=store)
    access = await make_tenant(store, app, "acme")
    async with access.client, admin_client(app) as admin:
        response = await admin.post("/tenants/acme/streams", json={"push": "http://127.0.0.1:9/sets", "audience": "a"})
        listed = (await admin.get("/tenants/acme/streams")).json()["streams"]

    assert response.status_code == 400
    assert "127.0.0.1" in response.json()["detail"]
    assert listed == []


async def test_an_unknown_tenant_or_stream_is_404(app: object, acme: TenantAccess) -> None:
    async with admin_client(app) as admin:
        tenant = await admin.post("/tenants/nosuch/streams", json={"poll": True, "audience": "a"})
        stream = await admin.delete("/tenants/acme/streams/no-such-stream")

    assert (tenant.status_code, tenant.json()) == (404, {"detail": "No tenant named 'nosuch'."})
    assert (stream.status_code, stream.json()) == (404, {"detail": "No stream no-such-stream in tenant 'acme'."})
