"""The deprovisioning guard: a burst of deactivations past the threshold holds the tenant's event
stream at the right seq (feed, webhook and in-process hook all stop there), the hold survives a
restart, and a release delivers the rest in order, with no gap and no duplicate."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

import anyio
import pytest

from scimhub import Event
from scimhub import HookRegistry
from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.events.support import Receiver
from tests.events.support import create_user
from tests.events.support import running
from tests.events.support import wait_until
from tests.safety.support import add_webhook
from tests.safety.support import admin
from tests.safety.support import entra_deactivate
from tests.safety.support import entra_reactivate
from tests.safety.support import scim_client
from tests.safety.support import users

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
POLLS = 0.8  # four of the worker's and hooks' poll intervals (fast settings): long enough to act


def recording_hooks(seen: list[int]) -> HookRegistry:
    hooks = HookRegistry("safety-test")

    async def record(event: Event) -> None:
        seen.append(event.seq)

    hooks.register("*", record, name="record", from_start=True)
    return hooks


async def feed_page(app: object, after: int = 0) -> dict[str, Any]:
    return await admin(app, "GET", "/tenants/acme/events", params={"after": after, "limit": 1000})


async def test_a_burst_of_entra_deactivations_past_the_threshold_holds_feed_webhook_and_hook_at_one_seq(
    settings: Settings, store: SqlStore, acme: TenantAccess, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "3")
    seen: list[int] = []
    app = create_app(settings, store=store, hooks=recording_hooks(seen))
    acme.client = scim_client(app, acme.token)
    await add_webhook(app, receiver.url)
    async with running(app):
        staff = await users(acme.client, 6)  # seqs 1-6
        with caplog.at_level(logging.WARNING, logger="scimhub.safety"):
            for user_id in staff[:5]:  # seqs 7-11; the 4th deactivation (seq 10) is one too many
                await entra_deactivate(acme.client, user_id)
        await wait_until(lambda: receiver.seqs() == list(range(1, 10)), what="deliveries up to seq 9")
        await wait_until(lambda: seen == list(range(1, 10)), what="the hook up to seq 9")
        await anyio.sleep(POLLS)
        assert receiver.seqs() == list(range(1, 10))
        assert seen == list(range(1, 10))
    page = await feed_page(app)
    assert [e["seq"] for e in page["events"]] == list(range(1, 10))
    assert page["next_after"] == 9
    assert page["held"]["fromSeq"] == 10
    assert page["held"]["kind"] == "guard"
    assert "more than 3 deprovisionings within 1h" in page["held"]["reason"]
    assert (await feed_page(app, after=9))["events"] == []
    [warning] = [r for r in caplog.records if r.name == "scimhub.safety"]
    assert warning.levelno == logging.WARNING and "held from seq 10" in warning.getMessage()
    # SCIM stays truthful: the IdP reads what it wrote.
    for user_id in staff[:5]:
        assert (await acme.client.get(f"/Users/{user_id}")).json()["active"] is False

    held = await admin(app, "GET", "/tenants/acme/held")
    assert [(e["seq"], e["type"], e["resourceId"]) for e in held["events"]] == [
        (10, "user.deactivated", staff[3]),
        (11, "user.deactivated", staff[4]),
    ]
    assert held["events"][0]["display"] == "u3@example.com"
    assert held["events"][0]["tokenId"] == acme.token_id


async def test_the_hold_survives_a_restart_and_release_delivers_the_rest_in_order_without_gap_or_duplicate(
    settings: Settings, store: SqlStore, acme: TenantAccess, receiver: Receiver
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "2")
    seen: list[int] = []
    first = create_app(settings, store=store, hooks=recording_hooks(seen))
    acme.client = scim_client(first, acme.token)
    await add_webhook(first, receiver.url)
    async with running(first):
        staff = await users(acme.client, 4)  # 1-4
        for user_id in staff:  # 5-8: held from 7
            await entra_deactivate(acme.client, user_id)
        await wait_until(lambda: receiver.seqs() == [1, 2, 3, 4, 5, 6], what="deliveries up to seq 6")

    # A new process on the same database: still held, and what it commits is held too.
    second = create_app(settings, store=store, hooks=recording_hooks(seen))
    acme.client = scim_client(second, acme.token)
    async with running(second):
        await entra_reactivate(acme.client, staff[0])  # 9: the IdP reverses its mistake
        await create_user(acme.client, "late@example.com")  # 10
        await anyio.sleep(POLLS)
        assert receiver.seqs() == [1, 2, 3, 4, 5, 6]
        assert seen == [1, 2, 3, 4, 5, 6]
        held = await admin(second, "GET", "/tenants/acme/held")
        assert [(e["seq"], e["type"]) for e in held["events"]] == [
            (7, "user.deactivated"),
            (8, "user.deactivated"),
            (9, "user.reactivated"),
            (10, "user.created"),
        ]
        released = await admin(second, "POST", "/tenants/acme/release")
        assert released["released"]["fromSeq"] == 7
        await wait_until(lambda: receiver.seqs() == list(range(1, 11)), what="every event, once, in order")
        await wait_until(lambda: seen == list(range(1, 11)), what="the hook: every event, once, in order")
    page = await feed_page(second)
    assert [e["seq"] for e in page["events"]] == list(range(1, 11))
    assert "held" not in page
    assert (await admin(second, "GET", "/tenants/acme/held")) == {"held": None, "events": []}


async def test_after_a_release_the_window_starts_again(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "1")
    app = create_app(settings, store=store)
    acme.client = scim_client(app, acme.token)
    staff = await users(acme.client, 4)  # 1-4
    await entra_deactivate(acme.client, staff[0])  # 5
    await entra_deactivate(acme.client, staff[1])  # 6: held
    assert (await feed_page(app))["held"]["fromSeq"] == 6
    await admin(app, "POST", "/tenants/acme/release")
    await entra_deactivate(acme.client, staff[2])  # 7: the first of a new window
    assert "held" not in await feed_page(app)
    await entra_deactivate(acme.client, staff[3])  # 8: the second: held
    assert (await feed_page(app))["held"]["fromSeq"] == 8


async def test_deletions_count_like_deactivations_and_reactivations_do_not(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "2")
    app = create_app(settings, store=store)
    acme.client = scim_client(app, acme.token)
    staff = await users(acme.client, 3)  # 1-3
    await entra_deactivate(acme.client, staff[0])  # 4
    await entra_reactivate(acme.client, staff[0])  # 5
    assert (await acme.client.delete(f"/Users/{staff[1]}")).status_code == 204  # 6
    assert "held" not in await feed_page(app)
    assert (await acme.client.delete(f"/Users/{staff[2]}")).status_code == 204  # 7: the third deprovisioning
    held = await admin(app, "GET", "/tenants/acme/held")
    assert [(e["seq"], e["type"], e["display"]) for e in held["events"]] == [(7, "user.deleted", "u2@example.com")]


async def test_without_a_threshold_nothing_is_ever_held(settings: Settings, app: Any, acme: TenantAccess) -> None:
    staff = await users(acme.client, 5)
    for user_id in staff:
        await entra_deactivate(acme.client, user_id)
    page = await feed_page(app)
    assert len(page["events"]) == 10 and "held" not in page


async def test_a_burst_across_the_end_of_a_window_is_held_too(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "10")
    app = create_app(settings, store=store)
    acme.client = scim_client(app, acme.token)
    staff = await users(acme.client, 11)  # 1-11
    service = app.state.scimhub.service
    service.clock = lambda: "2026-12-07T09:59:00.000Z"
    for user_id in staff[:9]:  # 12-20: the first window (from 09:59) holds 9
        await entra_deactivate(acme.client, user_id)
    service.clock = lambda: "2026-12-07T11:00:30.000Z"  # the next window began at 10:59
    await entra_deactivate(acme.client, staff[9])  # 21: 9 x (1 - 90 s / 1 h) + 1 = 9.8
    assert "held" not in await feed_page(app)
    await entra_deactivate(acme.client, staff[10])  # 22: 10.8 within the last hour: held
    assert (await feed_page(app))["held"]["fromSeq"] == 22


async def test_deactivations_in_one_bulk_request_are_guarded_like_single_ones(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "2")
    app = create_app(settings, store=store)
    acme.client = scim_client(app, acme.token)
    staff = await users(acme.client, 4)  # 1-4
    operations = [
        {
            "method": "PATCH",
            "path": f"/Users/{user_id}",
            "data": {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
        }
        for user_id in staff
    ]
    response = await acme.client.post("/Bulk", json={"schemas": [BULK], "Operations": operations})
    assert response.status_code == 200, response.text
    assert [op["status"] for op in response.json()["Operations"]] == ["200"] * 4  # SCIM stays truthful
    held = await admin(app, "GET", "/tenants/acme/held")
    assert [(e["seq"], e["resourceId"]) for e in held["events"]] == [(7, staff[2]), (8, staff[3])]
