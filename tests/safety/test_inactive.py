"""users.inactive: keep deactivated users (the default), or hard-delete them N days after their
deactivation with the normal user.deleted events and audit entries; a hold blocks the deletion."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import pytest

from scimhub.safety.inactive import purge_inactive
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.safety.support import admin
from tests.safety.support import entra_deactivate
from tests.safety.support import users

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def purge(app: Any, store: SqlStore, days: float) -> int:
    """One round of the maintenance task, as if it ran ``days`` from now."""
    return await purge_inactive(store, app.state.scimhub.service, datetime.now(UTC) + timedelta(days=days))


async def test_users_deactivated_n_days_ago_are_deleted_with_events_and_audit(
    cli: Cli, app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    assert cli.ok("tenant", "set", "acme", "users.inactive", "Delete_After_Days:30") == [
        "acme: users.inactive = delete_after_days:30"
    ]
    staff = await users(acme.client, 3)  # seqs 1-3
    for user_id in staff[:2]:  # 4-5
        await entra_deactivate(acme.client, user_id)

    assert await purge(app, store, 29) == 0  # not yet 30 days
    assert await purge(app, store, 31) == 2

    statuses = [(await acme.client.get(f"/Users/{u}")).status_code for u in staff]
    assert statuses == [404, 404, 200]
    page = await admin(app, "GET", "/tenants/acme/events", params={"after": 5})
    assert [(e["seq"], e["type"], e["resourceId"], e["tokenId"]) for e in page["events"]] == [
        (6, "user.deleted", staff[0], "maintenance"),
        (7, "user.deleted", staff[1], "maintenance"),
    ]
    audit = (await admin(app, "GET", "/tenants/acme/audit"))["entries"]
    deletions = [(a["method"], a["path"], a["status"], a["tokenId"]) for a in audit if a["method"] == "DELETE"]
    assert deletions == [("DELETE", f"/Users/{u}", 204, "maintenance") for u in staff[:2]]
    assert await purge(app, store, 31) == 0  # nothing left to do


async def test_keep_is_the_default_and_keeps_deactivated_users_readable(
    cli: Cli, app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    [user_id] = await users(acme.client, 1)
    await entra_deactivate(acme.client, user_id)
    assert "users.inactive\tkeep\tbuilt-in default" in cli.ok("tenant", "show", "acme")
    assert await purge(app, store, 10_000) == 0
    cli.ok("tenant", "set", "acme", "users.inactive", "keep")
    assert await purge(app, store, 10_000) == 0
    assert (await acme.client.get(f"/Users/{user_id}")).json()["active"] is False


async def test_a_held_tenant_keeps_its_inactive_users_until_released(
    cli: Cli, app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    cli.ok("tenant", "set", "acme", "users.inactive", "delete_after_days:1")
    [user_id] = await users(acme.client, 1)
    await entra_deactivate(acme.client, user_id)
    await admin(app, "POST", "/tenants/acme/pause")
    assert await purge(app, store, 2) == 0
    assert (await acme.client.get(f"/Users/{user_id}")).status_code == 200
    await admin(app, "POST", "/tenants/acme/resume")
    assert await purge(app, store, 2) == 1


@pytest.mark.parametrize("value", ["delete_after_days:0", "delete_after_days", "delete", "after_days:3", "keep:1"])
async def test_a_bad_policy_is_refused_and_nothing_is_stored(
    cli: Cli, store: SqlStore, acme: TenantAccess, value: str
) -> None:
    refused = cli("tenant", "set", "acme", "users.inactive", value)
    assert refused.exit_code == 2
    assert "users.inactive takes keep or delete_after_days:N" in refused.output
    assert await store.tenant_settings(acme.tenant_id) == {}
