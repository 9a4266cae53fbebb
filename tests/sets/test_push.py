"""RFC 8935 push streams: SETs POSTed as application/secevent+jwt by the webhook worker's
lanes, in seq order, retried with backoff, every attempt in the stream's delivery log."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import make_tenant
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import patch
from tests.events.support import running
from tests.events.support import wait_until
from tests.sets.support import PROV
from tests.sets.support import add_stream
from tests.sets.support import jwks
from tests.sets.support import only_event
from tests.sets.support import verify

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


def seq(claims: dict[str, Any]) -> int:
    return int(claims["jti"].rsplit(".", 1)[1])


async def stream_log(app: object, stream_id: str) -> list[dict[str, Any]]:
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/acme/streams/{stream_id}/attempts", params={"limit": 1000})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["attempts"]
    return rows


async def test_sets_are_pushed_in_order_as_secevent_jwt(app: object, acme: TenantAccess, receiver: Receiver) -> None:
    stream = await add_stream(app, push=receiver.url, audience="https://receiver.example.com")
    async with running(app):
        alice = await create_user(acme.client, "alice")
        for title in ("a", "b", "c"):
            await patch(acme.client, f"/Users/{alice}", {"op": "replace", "path": "title", "value": title})
        await wait_until(lambda: len(receiver.accepted()) == 4, what="4 SETs")

    key_set = await jwks(app, acme.tenant_id)
    deliveries = receiver.accepted()
    assert {d.headers["content-type"] for d in deliveries} == {"application/secevent+jwt"}
    claims = [verify(d.body.decode(), key_set, "https://receiver.example.com") for d in deliveries]
    assert [seq(c) for c in claims] == [1, 2, 3, 4]
    assert [only_event(c)[0] for c in claims] == [f"{PROV}:create:notice"] + [f"{PROV}:patch:notice"] * 3
    assert stream["jwksUri"] == f"http://testserver/sets/v1/tenants/{acme.tenant_id}/jwks.json"


async def test_a_failing_receiver_gets_retries_and_order_is_kept(app: object, acme: TenantAccess) -> None:
    receiver = Receiver(status=202, fail_first=3).start()
    try:
        stream = await add_stream(app, push=receiver.url, audience="aud")
        async with running(app):
            alice = await create_user(acme.client, "alice")
            await patch(acme.client, f"/Users/{alice}", {"op": "replace", "path": "title", "value": "x"})
            await wait_until(lambda: len(receiver.accepted()) == 2, what="2 SETs accepted")
    finally:
        receiver.stop()

    key_set = await jwks(app, acme.tenant_id)
    tried = [seq(verify(d.body.decode(), key_set, "aud")) for d in receiver.received]
    assert tried == [1, 1, 1, 1, 2], "the head SET is retried until accepted; the next waits behind it"
    jtis = {verify(d.body.decode(), key_set, "aud")["jti"] for d in receiver.received[:4]}
    assert len(jtis) == 1, "a retransmission carries the same jti (RFC 8935 de-duplication)"
    log = await stream_log(app, stream["id"])
    assert {r["streamId"] for r in log} == {stream["id"]} and "webhookId" not in log[0]
    assert [(r["seq"], r["outcome"], r["statusCode"]) for r in log] == [
        (1, "retry", 503),
        (1, "retry", 503),
        (1, "retry", 503),
        (1, "delivered", 202),
        (2, "delivered", 202),
    ]
    async with admin_client(app) as admin:
        shown = (await admin.get(f"/tenants/acme/streams/{stream['id']}")).json()
    assert shown["deliveredSeq"] == 2 and shown["attempts"] == 0


async def test_a_push_stream_starts_with_the_events_after_it_was_added(
    app: object, acme: TenantAccess, receiver: Receiver
) -> None:
    await create_user(acme.client, "before")
    await add_stream(app, push=receiver.url, audience="aud")
    async with running(app):
        await create_user(acme.client, "after")
        await wait_until(lambda: len(receiver.accepted()) == 1, what="1 SET")

    claims = verify(receiver.accepted()[0].body.decode(), await jwks(app, acme.tenant_id), "aud")
    assert seq(claims) == 2


async def test_a_set_refused_to_the_last_attempt_is_dead_lettered_and_the_stream_moves_on(
    settings: Settings, store: SqlStore
) -> None:
    app = create_app(dataclasses.replace(settings, webhook_max_attempts=2), store=store)
    receiver = Receiver(status=202, fail_first=2).start()
    try:
        access = await make_tenant(store, app, "acme")
        async with access.client:
            stream = await add_stream(app, push=receiver.url, audience="aud")
            async with running(app):
                await create_user(access.client, "alice")
                await create_user(access.client, "bob")
                await wait_until(lambda: len(receiver.accepted()) == 1, what="the second SET")
            log = await stream_log(app, stream["id"])
            async with admin_client(app) as admin:
                not_dead = await admin.post(f"/tenants/acme/streams/{stream['id']}/redeliver", json={"seq": 2})
                redelivered = await admin.post(f"/tenants/acme/streams/{stream['id']}/redeliver", json={})
                again = await admin.post(f"/tenants/acme/streams/{stream['id']}/redeliver", json={})
    finally:
        receiver.stop()

    assert [(r["seq"], r["outcome"]) for r in log] == [(1, "retry"), (1, "dead"), (2, "delivered")]
    assert (not_dead.status_code, not_dead.json()) == (
        404,
        {"detail": f"Seq 2 is not a dead letter of stream {stream['id']}."},
    )
    assert [(a["seq"], a["attempt"], a["outcome"]) for a in redelivered.json()["attempts"]] == [(1, 3, "redelivered")]
    assert again.json() == {"attempts": []}
    last = verify(receiver.accepted()[-1].body.decode(), await jwks(app, access.tenant_id), "aud")
    assert last["jti"] == f"{stream['id']}.1"  # the same SET, after the later one


async def test_a_poll_stream_has_nothing_to_redeliver(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="aud")
    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/acme/streams/{stream['id']}/redeliver", json={})

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Stream {stream['id']} is polled: its receiver reports SET errors, nothing is pushed."
    }
