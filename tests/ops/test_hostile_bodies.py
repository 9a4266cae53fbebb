"""One tenant's hostile request body cannot stall another tenant (issue 22, item 1): the request
log redacts it in a few milliseconds, so the other tenant's requests keep their latency."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.conftest import make_tenant
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.ops.support import ops_app
from tests.ops.support import request_log

pytestmark = pytest.mark.anyio

# The secret-pair regex backtracked quadratically on an unterminated string of secret words:
# 300 KB stalled the event loop for ~10 s, 4 MiB (the body limit) for about half an hour.
HOSTILE = {
    "300 KB": b'["' + b"token" * 60_000,
    "4 MiB": b'["' + b"token" * (4 * 1024 * 1024 // 5),
}
# Generous: an unloaded machine serves the other tenant in ~5 ms; the stall was seconds.
BOUND = 0.5


async def _other_tenant_latencies(client: httpx2.AsyncClient, hostile: asyncio.Task[httpx2.Response]) -> list[float]:
    """The other tenant's latencies, each from when its request was due (every 10 ms) to its
    answer: a stalled event loop delays the request's start too."""
    latencies: list[float] = []
    while not hostile.done() or len(latencies) < 3:
        due = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)
        response = await client.get("/Users", params={"count": "1"})
        assert response.status_code == 200, response.text
        latencies.append(time.perf_counter() - due)
    return latencies


@pytest.mark.parametrize("body", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_body_does_not_delay_another_tenant(
    settings: Settings, store: SqlStore, acme: TenantAccess, body: bytes
) -> None:
    app = ops_app(settings, store)
    evil = await make_tenant(store, app, "evil")
    async with evil.client, client_for(app, acme.token) as other:
        await other.get("/Users")  # warm: the first request of an app pays its set-up
        post = evil.client.post("/Users", content=body, headers={"Content-Type": "application/scim+json"})
        hostile = asyncio.create_task(post)
        latencies = await _other_tenant_latencies(other, hostile)
        refused = await hostile
        listed = await evil.client.get("/Users")

    assert max(latencies) < BOUND, [round(s, 3) for s in latencies]
    assert_scim_error(refused, 400, "invalidSyntax")
    assert listed.json()["totalResults"] == 0  # nothing was created
    entry = (await request_log(app, "evil"))[-1]  # newest first: the POST, then the GET
    assert (entry["method"], entry["status"]) == ("POST", 400)
    assert entry["requestBody"].startswith('["tokentoken')
    assert entry["requestBody"].endswith(" more bytes]") and len(entry["requestBody"]) < 4200


async def test_a_flush_of_hostile_bodies_does_not_delay_another_tenant(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """Bodies within the cap are redacted when the log is written: with a large cap, twenty of
    them held the event loop for seconds in one chunk of the flush."""
    app = ops_app(settings, store, request_log_body_bytes=64 * 1024)
    evil = await make_tenant(store, app, "evil")
    body = b'["' + b"token" * 12_000  # 60 KB: kept whole, redacted at the flush
    async with evil.client, client_for(app, acme.token) as other:
        for _ in range(20):
            refused = await evil.client.post("/Users", content=body, headers={"Content-Type": "application/scim+json"})
            assert_scim_error(refused, 400, "invalidSyntax")
        flush = asyncio.create_task(request_log(app, "evil"))  # reading the log flushes the buffer
        latencies = await _other_tenant_latencies(other, flush)
        entries = await flush

    assert max(latencies) < BOUND, [round(s, 3) for s in latencies]
    assert len(entries) == 20
    assert all(e["requestBody"].startswith('["tokentoken') for e in entries)
