"""Each in-process hook handler is a consumer of its own (issue 20): its own offset per tenant,
its own retries and backoff. A catch-all handler that keeps raising must not keep the
``user.deactivated`` handler (session revocation) from running."""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import httpx2
import pytest

import scimhub
from scimhub import Event
from scimhub import EventType
from scimhub import HookRegistry
from scimhub.events.hooks import consumer_key
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import create_user
from tests.events.support import eventually
from tests.events.support import patch
from tests.events.support import running
from tests.events.support import wait_until

pytestmark = pytest.mark.anyio

BASE, CAP = 0.1, 0.4  # backoff of these tests: the n-th retry waits at least min(CAP, BASE * 2**(n-1)) / 2


async def _client(app: Any, store: SqlStore, tenant: str = "acme") -> httpx2.AsyncClient:
    created = await tenants.create_tenant(store, tenant)
    _, token = await tenants.issue_token(store, created, None)
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://x/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
    )


async def _offset(store: SqlStore, key: str, tenant: str = "acme") -> int | None:
    found = await tenants.require_tenant(store, tenant)
    return await EventStore.of(store).hook_offset(key, found.id)


async def _offset_is(store: SqlStore, key: str, expected: int) -> bool:
    return await _offset(store, key) == expected


async def test_a_failing_catch_all_handler_does_not_hold_back_the_deactivation_handler(
    settings: Settings, store: SqlStore
) -> None:
    hooks = HookRegistry()
    broken = {"on": True}
    attempts: list[tuple[int, float]] = []  # (seq, when) of every call of the catch-all
    handled: list[int] = []
    revoked: list[str] = []
    given: list[Event] = []

    @hooks.on("*")
    async def mirror_everything(event: Event) -> None:
        attempts.append((event.seq, time.monotonic()))
        if broken["on"]:
            raise RuntimeError("the mirror's bug")
        handled.append(event.seq)

    @hooks.on(EventType.USER_DEACTIVATED)
    async def revoke_sessions(event: Event) -> None:
        revoked.append(event.payload["resourceId"])
        given.append(event)

    fast = dataclasses.replace(
        settings, webhook_backoff_base_seconds=BASE, webhook_backoff_max_seconds=CAP, webhook_max_attempts=1000
    )
    app = scimhub.create_app(fast, store=store, hooks=hooks)
    mirror, revoke = (c.key for c in hooks.consumers)
    async with running(app), await _client(app, store) as client:
        alice = await create_user(client, "alice", active=True)  # seq 1: the catch-all fails on it
        response = await patch(client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": False})
        assert response.status_code == 200
        assert revoked == [alice], "revoked before the SCIM response, whatever the catch-all does"
        assert await _offset(store, revoke) == 2
        bob = await create_user(client, "bob", active=True)
        await patch(client, f"/Users/{bob}", {"op": "replace", "path": "active", "value": False})
        assert revoked == [alice, bob]
        assert await _offset(store, revoke) == 4

        await wait_until(lambda: len(attempts) >= 4, what="the catch-all's retries")
        assert {seq for seq, _ in attempts} == {1}, "it retries its head event only, in order"
        assert await _offset(store, mirror) == 0
        gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(attempts[:4])]
        for n, gap in enumerate(gaps, 1):  # never sooner than its backoff (commits do not retry it early)
            assert gap >= min(CAP, BASE * 2 ** (n - 1)) / 2 - 0.005, gaps

        broken["on"] = False
        await wait_until(lambda: handled == [1, 2, 3, 4], what="the fixed catch-all catching up")
        # Its offset is written after the handler returns: wait for that write, not only the calls.
        await eventually(lambda: _offset_is(store, mirror, 4), what="the catch-all's offset at 4")
    assert revoked == [alice, bob], "the revocations ran once each"
    # The README's account of an Event: the envelope is attributes, payload the rest.
    event = given[0]
    whole = event.to_json()
    assert (whole["id"], whole["seq"], whole["tenantId"]) == (event.id, event.seq, event.tenant_id)
    assert {k: v for k, v in whole.items() if k not in {"id", "seq", "tenantId"}} == event.payload
    assert event.type == event.payload["type"] == "user.deactivated"


async def test_a_new_handler_starts_from_now_unless_it_asks_for_the_history(
    settings: Settings, store: SqlStore
) -> None:
    plain = scimhub.create_app(settings, store=store)
    async with await _client(plain, store) as client:
        await create_user(client, "before-1")
        await create_user(client, "before-2")
        headers = client.headers

    hooks = HookRegistry()
    recent: list[int] = []
    history: list[int] = []
    hooks.register(EventType.USER_CREATED, _recorder(recent), name="recent")
    hooks.register(EventType.USER_CREATED, _recorder(history), name="history", from_start=True)
    app = scimhub.create_app(settings, store=store, hooks=hooks)
    transport = httpx2.ASGITransport(app=app)
    async with running(app), httpx2.AsyncClient(transport=transport, base_url="http://x/scim/v2", headers=headers) as c:
        await create_user(c, "after")
        await wait_until(lambda: history == [1, 2, 3], what="the history")
    assert recent == [3]


async def test_a_handler_keeps_its_offsets_by_name_and_a_renamed_one_starts_afresh(
    settings: Settings, store: SqlStore
) -> None:
    first: list[int] = []
    hooks = HookRegistry()
    hooks.register(EventType.USER_CREATED, _recorder(first), name="audit-mirror")
    app = scimhub.create_app(settings, store=store, hooks=hooks)
    async with await _client(app, store) as client:
        await create_user(client, "one")
        headers = client.headers
    plain = scimhub.create_app(settings, store=store)  # a write while no process runs the hooks
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=plain), base_url="http://x/scim/v2", headers=headers
    ) as c:
        await create_user(c, "two")

    # The next release: the same name on a rewritten function, and one under a new name.
    kept: list[int] = []
    renamed: list[int] = []
    again = HookRegistry()
    again.register(EventType.USER_CREATED, _recorder(kept), name="audit-mirror")
    again.register(EventType.USER_CREATED, _recorder(renamed), name="audit-mirror-v2")
    app = scimhub.create_app(settings, store=store, hooks=again)
    transport = httpx2.ASGITransport(app=app)
    async with running(app), httpx2.AsyncClient(transport=transport, base_url="http://x/scim/v2", headers=headers) as c:
        await create_user(c, "three")
        await wait_until(lambda: kept == [2, 3], what="the kept consumer")
    assert first == [1]
    assert renamed == [3]


async def test_after_an_upgrade_each_handler_continues_from_the_registry_s_shared_offset(
    settings: Settings, store: SqlStore
) -> None:
    plain = scimhub.create_app(settings, store=store)
    async with await _client(plain, store) as client:
        for name in ("a", "b", "c"):
            await create_user(client, name)
        headers = client.headers
    acme = await tenants.require_tenant(store, "acme")
    # What a release with one offset per registry ("sessions") left: it had handled seq 1 and 2.
    await EventStore.of(store).advance_hook_offset("sessions", acme.id, 2)

    seen: list[int] = []
    audited: list[int] = []
    hooks = HookRegistry(name="sessions")
    hooks.register(EventType.USER_CREATED, _recorder(seen), name="revoke")
    hooks.register(EventType.USER_CREATED, _recorder(audited), name="audit")
    app = scimhub.create_app(settings, store=store, hooks=hooks)
    transport = httpx2.ASGITransport(app=app)
    async with running(app), httpx2.AsyncClient(transport=transport, base_url="http://x/scim/v2", headers=headers) as c:
        await wait_until(lambda: seen == audited == [3], what="the event the old release had not handled")
        await create_user(c, "d")
        assert seen == audited == [3, 4], "handled before the response, even while the retry loop drains"
    assert await _offset(store, "sessions:revoke") == await _offset(store, "sessions:audit") == 4

    # A handler added by a later release starts from now, not from the old shared offset.
    later: list[int] = []
    hooks.register(EventType.USER_CREATED, _recorder(later), name="mirror")
    app = scimhub.create_app(settings, store=store, hooks=hooks)
    transport = httpx2.ASGITransport(app=app)
    async with running(app), httpx2.AsyncClient(transport=transport, base_url="http://x/scim/v2", headers=headers) as c:
        await create_user(c, "e")
    assert later == [5]


def test_handler_names_are_unique_stable_and_fit_the_offset_column() -> None:
    hooks = HookRegistry(name="app")

    async def one(event: Event) -> None: ...

    async def other(event: Event) -> None: ...

    hooks.register(EventType.USER_CREATED, one)
    hooks.register(EventType.USER_DELETED, one)  # the same handler, another type: one consumer
    assert [(c.key, sorted(c.event_types)) for c in hooks.consumers] == [
        (consumer_key("app", f"{__name__}:{one.__qualname__}"), ["user.created", "user.deleted"])
    ]
    with pytest.raises(ValueError, match="named"):
        hooks.register(EventType.USER_CREATED, other, name=f"{__name__}:{one.__qualname__}")
    with pytest.raises(ValueError, match="name="):
        hooks.register(EventType.USER_CREATED, lambda event: one(event))
    with pytest.raises(ValueError):
        HookRegistry(name="x" * 61)
    assert consumer_key("app", "tests.mod:revoke_sessions") == "app:tests.mod:revoke_sessions"

    long_a, long_b = consumer_key("app", "a" * 200), consumer_key("app", "a" * 199 + "b")
    assert len(long_a) == len(long_b) == 100
    assert long_a != long_b
    assert long_a == consumer_key("app", "a" * 200), "stable across processes"
    assert long_a.startswith("app:")


def _recorder(into: list[int]) -> Any:
    async def record(event: Event) -> None:
        into.append(event.seq)

    return record
