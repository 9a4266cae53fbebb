"""A tenant's hold (scimhub.safety) holds its SETs too: neither pushed nor polled until released."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import running
from tests.events.support import wait_until
from tests.sets.support import add_stream
from tests.sets.support import jwks
from tests.sets.support import poll
from tests.sets.support import verify

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


def seqs(sets: dict[str, str]) -> list[int]:
    return sorted(int(j.rsplit(".", 1)[1]) for j in sets)


async def test_held_events_are_neither_pushed_nor_polled_until_resumed(
    app: object, acme: TenantAccess, receiver: Receiver
) -> None:
    polled = await add_stream(app, poll=True, audience="poller")
    await add_stream(app, push=receiver.url, audience="pushed")
    async with running(app):
        await create_user(acme.client, "before")
        await wait_until(lambda: len(receiver.accepted()) == 1, what="the SET before the hold")
        async with admin_client(app) as admin:
            assert (await admin.post("/tenants/acme/pause", json={"reason": "test"})).status_code == 200
        await create_user(acme.client, "held-1")
        await create_user(acme.client, "held-2")
        during = (await poll(app, polled, returnImmediately=True)).json()
        pushed_during = len(receiver.accepted())
        async with admin_client(app) as admin:
            assert (await admin.post("/tenants/acme/resume")).status_code == 200
        await wait_until(lambda: len(receiver.accepted()) == 3, what="the held SETs")
        after = (await poll(app, polled, returnImmediately=True)).json()

    assert seqs(during["sets"]) == [1] and during["moreAvailable"] is False
    assert pushed_during == 1
    assert seqs(after["sets"]) == [1, 2, 3]
    key_set = await jwks(app, acme.tenant_id)
    pushed = [verify(d.body.decode(), key_set, "pushed")["jti"] for d in receiver.accepted()]
    assert [int(j.rsplit(".", 1)[1]) for j in pushed] == [1, 2, 3]


async def test_one_tenants_hold_neither_blocks_nor_breaks_another_tenants_delivery(
    app: object, acme: TenantAccess, globex: TenantAccess, receiver: Receiver
) -> None:
    # Two webhooks and two push streams: the hold's bound was read over every webhook/stream, so
    # PostgreSQL refused the claim (more than one row) and SQLite applied acme's hold to globex.
    async with admin_client(app) as admin:
        for tenant in ("acme", "globex"):
            assert (await admin.post(f"/tenants/{tenant}/webhooks", json={"url": receiver.url})).status_code == 201
    await add_stream(app, push=receiver.url, audience="acme-set")
    await add_stream(app, "globex", push=receiver.url, audience="globex-set")
    async with admin_client(app) as admin:
        assert (await admin.post("/tenants/acme/pause", json={"reason": "test"})).status_code == 200
    await create_user(acme.client, "held")
    async with running(app):
        for name in ("a", "b", "c"):
            await create_user(globex.client, name)
        await wait_until(lambda: len(receiver.accepted()) == 6, what="globex's 3 events as webhooks and SETs")

    bodies = [d.body for d in receiver.accepted()]
    assert sum(b.startswith(b"{") for b in bodies) == 3, "globex's webhook got its 3 events"
    key_set = await jwks(app, globex.tenant_id)
    sets = [verify(b.decode(), key_set, "globex-set") for b in bodies if not b.startswith(b"{")]
    assert [int(c["jti"].rsplit(".", 1)[1]) for c in sets] == [1, 2, 3]
