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
