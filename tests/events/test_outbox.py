"""The outbox: every committed change has its events, in a gapless per-tenant sequence; a failed
request has none, and the audit log records only that it was refused."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.factory import open_store
from tests.events.support import admin_client
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import user_body

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def audit(app: object, tenant: str = "acme") -> list[dict[str, Any]]:
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/{tenant}/audit", params={"limit": 1000})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def test_concurrent_writes_get_a_gapless_sequence_in_commit_order(app: object, acme: TenantAccess) -> None:
    ids = await asyncio.gather(*(create_user(acme.client, f"user{i}") for i in range(40)))
    responses = await asyncio.gather(
        *(patch(acme.client, f"/Users/{i}", {"op": "replace", "path": "displayName", "value": "X"}) for i in ids),
        *(patch(acme.client, f"/Users/{i}", {"op": "replace", "path": "title", "value": "T"}) for i in ids),
    )
    assert all(r.status_code == 200 for r in responses)

    events = await feed(app)

    assert [e["seq"] for e in events] == list(range(1, 121))
    assert len({e["id"] for e in events}) == 120
    for user_id in ids:
        mine = [e["type"] for e in events if e["resourceId"] == user_id]
        assert mine == ["user.created", "user.updated", "user.updated"]


async def test_the_sequence_is_per_tenant(app: object, acme: TenantAccess, globex: TenantAccess) -> None:
    await asyncio.gather(*(create_user(t.client, f"u{i}") for i in range(10) for t in (acme, globex)))

    assert [e["seq"] for e in await feed(app, "acme")] == list(range(1, 11))
    assert [e["seq"] for e in await feed(app, "globex")] == list(range(1, 11))
    assert {e["tenantId"] for e in await feed(app, "globex")} == {globex.tenant_id}


def _writer(settings: Settings, token: str, prefix: str, count: int, errors: list[BaseException]) -> None:
    """Another process's worth of writers: its own engine, event loop and app on the same database."""

    async def write() -> None:
        store = open_store(settings)
        app = create_app(settings, store=store)
        transport = httpx2.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with httpx2.AsyncClient(transport=transport, base_url="http://t/scim/v2", headers=headers) as client:
                for i in range(count):
                    response = await client.post("/Users", json=user_body(f"{prefix}{i}"))
                    assert response.status_code == 201, response.text
        finally:
            await store.close()

    try:
        asyncio.run(write())
    except BaseException as exc:  # noqa: BLE001 - reported to the test thread, which asserts there is none
        errors.append(exc)


async def test_writers_on_separate_connections_still_get_a_gapless_sequence(
    app: object, acme: TenantAccess, settings: Settings
) -> None:
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_writer, args=(settings, acme.token, f"t{n}-", 15, errors)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    events = await feed(app)
    assert [e["seq"] for e in events] == list(range(1, 46))
    # seq order is commit order: each writer's own creates appear in the order it made them.
    for n in range(3):
        names = [e["resource"]["userName"] for e in events if e["resource"]["userName"].startswith(f"t{n}-")]
        assert names == [f"t{n}-{i}" for i in range(15)]


FAILED_REQUESTS = [
    pytest.param("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, {}, 400, id="400"),
    pytest.param("PUT", "/Users/6b0f7d4e-0000-4000-8000-000000000000", user_body("x"), {}, 404, id="404"),
    pytest.param("POST", "/Users", user_body("ALICE"), {}, 409, id="409"),
    pytest.param("PATCH", "/Users/{alice}", None, {"If-Match": 'W/"99"'}, 412, id="412"),
    pytest.param(
        "PUT", "/Groups/{group}", {"displayName": "g", "members": [{"value": "nope"}]}, {}, 400, id="400-unknown-member"
    ),
    pytest.param("DELETE", "/Users/{alice}", None, {"If-Match": 'W/"7"'}, 412, id="412-delete"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), FAILED_REQUESTS)
async def test_a_failed_request_appends_no_event_and_its_audit_entry_records_the_failure(
    app: object, acme: TenantAccess, method: str, path: str, body: Any, headers: dict[str, str], status: int
) -> None:
    alice = await create_user(acme.client, "alice")
    group = await create_group(acme.client, "g", [alice])
    before_events, before_audit = await feed(app), await audit(app)
    body = body or {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    if method == "PUT" and "Groups" in path:
        body["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:Group"]

    response = await acme.client.request(method, path.format(alice=alice, group=group), json=body, headers=headers)

    assert response.status_code == status, response.text
    assert await feed(app) == before_events
    after_audit = await audit(app)
    assert after_audit[: len(before_audit)] == before_audit
    [failure] = after_audit[len(before_audit) :]
    assert (failure["method"], failure["status"], failure["events"]) == (method, status, [])
    assert failure["detail"]["error"] == response.json()["detail"]


async def test_deleting_a_member_emits_member_removed_for_each_of_its_groups(app: object, acme: TenantAccess) -> None:
    alice = await create_user(acme.client, "alice")
    first = await create_group(acme.client, "g1", [alice])
    second = await create_group(acme.client, "g2", [alice])
    before = len(await feed(app))

    assert (await acme.client.delete(f"/Users/{alice}")).status_code == 204

    new = (await feed(app))[before:]
    assert [e["type"] for e in new] == ["user.deleted", "group.member_removed", "group.member_removed"]
    assert {e["resourceId"] for e in new[1:]} == {first, second}
    assert all(e["members"] == [alice] for e in new[1:])
