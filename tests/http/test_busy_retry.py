"""A write the database rolled back to break a lock cycle (PostgreSQL's deadlock_detected) is run
again, whole; when it keeps colliding the client gets a 503 SCIM error and nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import DBAPIError

from scimhub.errors import Busy
from scimhub.events.feed import read_feed
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from scimhub.store.sql import SqlUnitOfWork
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

DEACTIVATE = patch_body({"op": "replace", "path": "active", "value": False})


def collide(store: SqlStore, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The next ``times`` units of work end like a deadlock victim: rolled back, then Busy."""
    original = store.unit_of_work
    left = [times]

    @asynccontextmanager
    async def flaky(tenant_id: str) -> AsyncIterator[SqlUnitOfWork]:
        async with original(tenant_id) as uow:
            yield uow
            if left[0] > 0:
                left[0] -= 1
                raise Busy()  # inside the transaction: it rolls back

    monkeypatch.setattr(store, "unit_of_work", flaky)
    return left


async def test_a_collided_write_is_retried_and_applied_once(
    acme: TenantAccess, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user(acme.client, "bjensen")
    before = (await read_feed(EventStore.of(store), acme.tenant_id)).events
    left = collide(store, monkeypatch, 2)

    response = await acme.client.patch(f"/Users/{user['id']}", json=DEACTIVATE)

    assert response.status_code == 200, response.text
    assert left == [0]
    assert response.json()["active"] is False
    assert response.json()["meta"]["version"] == 'W/"2"'  # one change, not three
    after = (await read_feed(EventStore.of(store), acme.tenant_id)).events
    assert [e.type for e in after[len(before) :]] == ["user.deactivated"]


async def test_a_write_that_keeps_colliding_answers_503_and_changes_nothing(
    acme: TenantAccess, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user(acme.client, "bjensen")
    before = await snapshot(acme.client)
    collide(store, monkeypatch, 100)

    response = await acme.client.patch(f"/Users/{user['id']}", json=DEACTIVATE)

    body = assert_scim_error(response, 503)
    assert "retry" in body["detail"]
    monkeypatch.undo()
    assert await snapshot(acme.client) == before


@pytest.mark.parametrize(("sqlstate", "busy"), [("40P01", True), ("40001", True), ("23505", False)])
async def test_the_store_reports_a_rolled_back_transaction_as_busy(store: SqlStore, sqlstate: str, busy: bool) -> None:
    class DriverError(Exception):
        pass

    orig = DriverError("deadlock detected")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    with pytest.raises(Busy if busy else DBAPIError):
        async with store.unit_of_work("t"):
            raise DBAPIError("UPDATE …", {}, orig)
