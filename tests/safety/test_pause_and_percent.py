"""Percentage thresholds, pause/resume by hand, and the hold commands of the CLI."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

import anyio
import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import running
from tests.events.support import wait_until
from tests.safety.support import add_webhook
from tests.safety.support import admin
from tests.safety.support import entra_deactivate
from tests.safety.support import scim_client
from tests.safety.support import users

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def held_from(app: object) -> int | None:
    page = await admin(app, "GET", "/tenants/acme/events", params={"limit": 1000})
    return page["held"]["fromSeq"] if "held" in page else None


async def test_a_percentage_counts_the_active_users_only(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "50%")
    app = create_app(settings, store=store)
    client = acme.client
    staff = await users(client, 10)  # 1-10: ten active users
    for i in range(4):  # 11-14: four who were never active: 50% of 10 is 5, not 7
        await create_user(client, f"gone{i}@example.com", active=False)
    for user_id in staff[:5]:  # 15-19: five deactivations fit
        await entra_deactivate(client, user_id)
    assert await held_from(app) is None
    await entra_deactivate(client, staff[5])  # 20: the sixth is more than 50%
    assert await held_from(app) == 20


async def test_a_server_default_threshold_applies_unless_the_tenant_turns_it_off(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = create_app(dataclasses.replace(settings, guard_deprovision_threshold="1"), store=store)
    client = scim_client(app, acme.token)
    staff = await users(client, 2)
    await entra_deactivate(client, staff[0])
    await entra_deactivate(client, staff[1])  # 4: past the server's threshold of 1
    assert await held_from(app) == 4

    other = await store.tenant_by_name("acme")
    assert other is not None
    await store.set_tenant_setting(other.id, "guard.deprovision_threshold", "off")
    await admin(app, "POST", "/tenants/acme/release")
    fresh = create_app(dataclasses.replace(settings, guard_deprovision_threshold="1"), store=store)
    client = scim_client(fresh, acme.token)
    more = await users(client, 2, prefix="v")
    for user_id in more:
        await entra_deactivate(client, user_id)
    assert await held_from(fresh) is None


async def test_pause_holds_after_the_last_event_and_resume_delivers_in_order(
    app: Any, acme: TenantAccess, receiver: Receiver
) -> None:
    await add_webhook(app, receiver.url)
    async with running(app):
        await users(acme.client, 2)  # 1-2
        await wait_until(lambda: receiver.seqs() == [1, 2], what="deliveries 1-2")
        paused = await admin(app, "POST", "/tenants/acme/pause", json={"reason": "migrating to Entra"})
        assert paused["new"] is True
        assert paused["held"]["fromSeq"] == 3 and paused["held"]["kind"] == "pause"
        assert paused["held"]["reason"] == "migrating to Entra"
        again = await admin(app, "POST", "/tenants/acme/pause")
        assert again == {"held": paused["held"], "new": False}
        await users(acme.client, 2, prefix="w")  # 3-4, held
        await anyio.sleep(0.8)
        assert receiver.seqs() == [1, 2]
        assert [e["seq"] for e in await feed(app)] == [1, 2]
        resumed = await admin(app, "POST", "/tenants/acme/resume")
        assert resumed["resumed"]["fromSeq"] == 3
        await wait_until(lambda: receiver.seqs() == [1, 2, 3, 4], what="deliveries 1-4, once each")
    assert [e["seq"] for e in await feed(app)] == [1, 2, 3, 4]


async def test_resume_does_not_lift_the_guards_hold(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    await store.set_tenant_setting(acme.tenant_id, "guard.deprovision_threshold", "0")
    app = create_app(settings, store=store)
    client = scim_client(app, acme.token)
    [user_id] = await users(client, 1)
    await entra_deactivate(client, user_id)  # 2: held at once
    async with admin_client(app) as api:
        refused = await api.post("/tenants/acme/resume")
    assert refused.status_code == 409
    assert "deprovisioning guard" in refused.json()["detail"]
    assert await held_from(app) == 2  # still held


async def test_a_bad_pause_reason_is_refused_and_nothing_is_held(app: Any, acme: TenantAccess) -> None:
    async with admin_client(app) as api:
        refused = await api.post("/tenants/acme/pause", json={"reason": 42})
        missing = await api.post("/tenants/nobody/pause")
    assert refused.status_code == 400 and "reason" in refused.json()["detail"]
    assert missing.status_code == 404
    assert await held_from(app) is None


async def test_the_cli_pauses_lists_and_releases(cli: Cli, app: Any, acme: TenantAccess) -> None:
    await users(acme.client, 1)  # 1
    [paused] = cli.ok("tenant", "pause", "acme", "--reason", "IdP cut-over")
    assert paused.startswith("acme: paused; held from seq 2 since ")
    assert "(paused by hand): IdP cut-over" in paused and "scimhub tenant resume acme" in paused
    assert cli.ok("tenant", "pause", "acme")[0].startswith("acme: already held from seq 2")
    assert cli.ok("tenant", "held", "acme")[1:] == [
        "seq\ttype\tresource\tdisplay\ttoken\toccurred",
        "0 held events. Deliver them in order with: scimhub tenant release acme",
    ]
    await users(acme.client, 1, prefix="x")  # 2: held
    listing = cli.ok("tenant", "held", "acme")
    assert listing[0].startswith("acme: held from seq 2")
    assert listing[2].startswith("2\tuser.created\t")
    assert "x0@example.com" in listing[2] and acme.token_id in listing[2]
    assert "scimhub tenant release acme" in listing[-1]
    refused = cli("tenant", "resume", "nobody")
    assert refused.exit_code != 0 and "nobody" in refused.output
    assert cli.ok("tenant", "resume", "acme")[0].startswith("acme: resumed")
    assert cli.ok("tenant", "held", "acme") == ["acme: not held; every event is delivered."]
    assert cli.ok("tenant", "release", "acme") == ["acme: not held; nothing to release."]


async def test_retention_never_purges_a_held_event_and_the_feed_cli_says_it_is_held(
    cli: Cli, app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    await users(acme.client, 2)  # 1-2
    await admin(app, "POST", "/tenants/acme/pause", json={"reason": "migration"})
    await users(acme.client, 2, prefix="h")  # 3-4: held
    counts = await EventStore.of(store).purge("9999-01-01T00:00:00.000Z", None)
    assert counts.events == 2  # seqs 1 and 2: delivered to nobody in particular, and old enough
    held = await admin(app, "GET", "/tenants/acme/held")
    assert [e["seq"] for e in held["events"]] == [3, 4]
    listed = cli("events", "list", "acme", "--after", "2")
    assert listed.exit_code == 0 and listed.stdout == ""
    assert "acme: held from seq 3 since " in listed.stderr and "(pause): migration" in listed.stderr
    await admin(app, "POST", "/tenants/acme/resume")
    assert [e["seq"] for e in await feed(app, after=2)] == [3, 4]
