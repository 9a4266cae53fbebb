"""Retention never drops a SET a stream has not got past; the streams' delivery log is purged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from scimhub.store.events_sql import EventStore
from scimhub.store.sets_sql import StreamStore
from scimhub.store.sql import SqlStore
from tests.events.support import create_user
from tests.sets.support import add_stream
from tests.sets.support import poll

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

FUTURE = "9999-01-01T00:00:00.000Z"


async def test_events_a_poll_stream_has_not_acknowledged_are_kept(
    app: object, acme: TenantAccess, store: SqlStore
) -> None:
    await create_user(acme.client, "alice")
    stream = await add_stream(app, poll=True, audience="poller", after=0)
    await create_user(acme.client, "bob")
    await poll(app, stream, ack=[f"{stream['id']}.1"], maxEvents=0)

    counts = await EventStore.of(store).purge(FUTURE, None)
    left = await poll(app, stream, returnImmediately=True)

    assert counts.events == 1, "seq 1 was acknowledged; seq 2 was not"
    assert sorted(left.json()["sets"]) == [f"{stream['id']}.2"]
    assert (await StreamStore(store.db).purge(FUTURE, None)).attempts == 1  # the ack's log row
