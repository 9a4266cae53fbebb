"""In-process hooks of a host app that mounts scimhub: called after commit, in order, with the
webhook payload; a failing handler never breaks the SCIM response and is retried from the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.routing import Route

import scimhub
from scimhub import Event
from scimhub import EventType
from scimhub import HookRegistry
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import wait_until

pytestmark = pytest.mark.anyio

SESSIONS: dict[str, set[str]] = {}  # the host app's (fake) session store: user id → session ids


def host_app(settings: Settings, store: SqlStore, hooks: HookRegistry) -> tuple[Starlette, Starlette]:
    """A host application with its own routes, scimhub mounted under /identity."""
    scim = scimhub.create_app(settings, store=store, hooks=hooks)

    async def sessions(request: Request) -> JSONResponse:
        return JSONResponse(sorted(SESSIONS.get(request.path_params["user"], set())))

    app = Starlette(
        routes=[Route("/sessions/{user}", sessions), Mount("/identity", app=scim)],
        lifespan=scim.router.lifespan_context,
    )
    return app, scim


@asynccontextmanager
async def scim_client(app: Starlette, store: SqlStore, tenant: str = "acme") -> AsyncIterator[httpx2.AsyncClient]:
    created = await tenants.create_tenant(store, tenant)
    _, token = await tenants.issue_token(store, created, None)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://host/identity/scim/v2", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def test_a_hook_in_the_host_app_revokes_sessions_when_a_user_is_deactivated(
    settings: Settings, store: SqlStore
) -> None:
    hooks = HookRegistry()
    seen: list[dict[str, Any]] = []

    @hooks.on(EventType.USER_DEACTIVATED)
    async def revoke_sessions(event: Event) -> None:
        seen.append(event.to_json())
        SESSIONS.pop(event.payload["resourceId"], None)

    app, scim = host_app(settings, store, hooks)
    async with app.router.lifespan_context(app), scim_client(app, store) as client:
        user_id = await create_user(client, "alice", active=True)
        SESSIONS[user_id] = {"s1", "s2"}
        host = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://host")
        async with host:
            assert (await host.get(f"/sessions/{user_id}")).json() == ["s1", "s2"]

            response = await patch(client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})

            assert response.status_code == 200
            # revoked before the SCIM response was sent
            assert (await host.get(f"/sessions/{user_id}")).json() == []
    assert [e["type"] for e in seen] == ["user.deactivated"]
    assert seen == (await feed(scim))[-1:]  # the same payload as the webhook and the feed


async def test_a_failing_hook_does_not_break_the_response_and_is_retried_in_order(
    settings: Settings, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = HookRegistry()
    calls: list[tuple[int, str]] = []
    failures = {"left": 2}

    @hooks.on("*")
    async def flaky(event: Event) -> None:
        calls.append((event.seq, event.type))
        if event.seq == 1 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("downstream unavailable")

    app, _ = host_app(settings, store, hooks)
    with caplog.at_level(logging.ERROR, logger="scimhub.hooks"):
        async with app.router.lifespan_context(app), scim_client(app, store) as client:
            first = await client.post(
                "/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}
            )
            second = await create_user(client, "bob")
            await wait_until(lambda: (2, "user.created") in calls, what="the retried hooks")

    assert first.status_code == 201
    assert second
    assert calls == [(1, "user.created"), (1, "user.created"), (1, "user.created"), (2, "user.created")]
    assert "downstream unavailable" in caplog.text


async def test_hooks_missed_by_a_crashed_process_run_after_restart(settings: Settings, store: SqlStore) -> None:
    hooks = HookRegistry(name="sessions")
    handled: list[int] = []
    hooks.register(EventType.USER_CREATED, _recorder(handled))
    app, _ = host_app(settings, store, hooks)
    async with scim_client(app, store) as client:
        await create_user(client, "alice")
        # Writes committed by a process without hooks (or killed before running them):
        plain = scimhub.create_app(settings, store=store)
        other = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=plain), base_url="http://x/scim/v2", headers=client.headers
        )
        async with other:
            await create_user(other, "bob")
            await create_user(other, "carol")
        assert handled == [1]

        async with app.router.lifespan_context(app):
            await wait_until(lambda: handled == [1, 2, 3], what="the missed hooks")
    tenant = await tenants.require_tenant(store, "acme")
    assert [c.key for c in hooks.consumers] == ["sessions:tests.events.test_hooks:_recorder.<locals>.record"]
    assert await EventStore.of(store).hook_offset(hooks.consumers[0].key, tenant.id) == 3


async def test_a_hook_may_write_through_scimhub_without_deadlocking(settings: Settings, store: SqlStore) -> None:
    hooks = HookRegistry()
    order: list[str] = []
    state: dict[str, Any] = {}

    @hooks.on(EventType.USER_DEACTIVATED)
    async def strip_title(event: Event) -> None:
        order.append(event.type)
        response = await patch(
            state["client"], f"/Users/{event.payload['resourceId']}", {"op": "remove", "path": "title"}
        )
        assert response.status_code == 200

    @hooks.on(EventType.USER_UPDATED)
    async def note_update(event: Event) -> None:
        order.append(event.type)

    app, _ = host_app(settings, store, hooks)
    async with scim_client(app, store) as client:
        state["client"] = client
        user_id = await create_user(client, "alice", title="Engineer", active=True)

        response = await patch(client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})

        assert response.status_code == 200
        assert order == ["user.deactivated", "user.updated"]


def test_a_hook_registry_refuses_unknown_event_types() -> None:
    with pytest.raises(ValueError):
        HookRegistry().register("user.exploded", _recorder([]))


def _recorder(into: list[int]) -> Any:
    async def record(event: Event) -> None:
        into.append(event.seq)

    return record


async def test_a_slow_hook_is_cut_off_at_its_timeout_and_retried(settings: Settings, store: SqlStore) -> None:
    hooks = HookRegistry()
    calls: list[float] = []

    @hooks.on(EventType.USER_CREATED)
    async def slow_first(event: Event) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            await asyncio.sleep(30)

    app, _ = host_app(dataclasses.replace(settings, hook_timeout_seconds=0.1), store, hooks)
    async with app.router.lifespan_context(app), scim_client(app, store) as client:
        started = time.monotonic()
        await create_user(client, "alice")
        responded = time.monotonic() - started
        await wait_until(lambda: len(calls) == 2, what="the retry")

    assert responded < 5
