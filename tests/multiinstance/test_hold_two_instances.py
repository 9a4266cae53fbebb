"""The deprovisioning guard's hold on two real ``scimhub serve`` processes sharing one database
(PostgreSQL with SCIMHUB_TEST_DATABASE_URL): a burst of Entra-style deactivations through both
instances holds the stream at the one seq the database decided, neither instance delivers past it
(webhook, feed), a restart keeps it, and a release from the command line (a third process) lets
them deliver the rest in order, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import AsyncExitStack
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.multiinstance.receiver import HookReceiver
from tests.multiinstance.servers import ADMIN_TOKEN
from tests.multiinstance.servers import Server
from tests.multiinstance.servers import cli
from tests.multiinstance.servers import fresh_database
from tests.multiinstance.servers import provision
from tests.multiinstance.servers import serving

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_DISABLE = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
STAFF = 10
THRESHOLD = 4
QUIET = 1.5  # several of the servers' poll intervals (0.2 s): long enough to deliver if they would


@asynccontextmanager
async def clients(servers: list[Server], token: str) -> AsyncIterator[list[httpx2.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx2.AsyncClient(base_url=s.scim_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            )
            for s in servers
        ]


async def admin_get(server: Server, path: str, **params: Any) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=server.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as a:
        response = await a.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_burst_through_two_instances_is_held_at_one_seq_until_a_release_from_the_cli(tmp_path: Path) -> None:
    receiver = HookReceiver().start()
    try:
        with fresh_database(tmp_path) as url:
            token = provision(url, "guarded")["guarded"]
            cli(url, "tenant", "set", "guarded", "guard.deprovision_threshold", str(THRESHOLD))
            cli(url, "webhook", "add", "guarded", receiver.url)
            with serving(url, tmp_path) as servers:
                async with clients(servers, token) as scim:
                    created = await asyncio.gather(
                        *(
                            scim[i % 2].post("/Users", json={"schemas": [USER], "userName": f"u{i}"})
                            for i in range(STAFF)
                        )
                    )
                    ids = [r.json()["id"] for r in created]
                    # Every deactivation is answered 200 by whichever instance took it: SCIM stays truthful.
                    disabled = await asyncio.gather(
                        *(scim[i % 2].patch(f"/Users/{u}", json=ENTRA_DISABLE) for i, u in enumerate(ids))
                    )
                    assert [r.status_code for r in disabled] == [200] * STAFF, [r.text for r in disabled]

                async def both_counted() -> bool:  # each instance flushes its counters once a second
                    status = await admin_get(servers[0], "/tenants/guarded/status")
                    return bool(status["last24h"]["requests"] == 2 * STAFF)

                await eventually(both_counted, "the traffic of both instances in the status")
                status = await admin_get(servers[1], "/tenants/guarded/status")
                assert status["state"] == "held" and status["users"] == {"active": 0, "inactive": STAFF}

                held = await admin_get(servers[1], "/tenants/guarded/held")
                from_seq = held["held"]["fromSeq"]
                # The database decided one seq: the (THRESHOLD + 1)-th deactivation in commit order.
                assert held["events"][0]["type"] == "user.deactivated"
                assert [e["seq"] for e in held["events"]] == list(range(from_seq, 2 * STAFF + 1))
                assert len(held["events"]) == STAFF - THRESHOLD
                for server in servers:
                    page = await admin_get(server, "/tenants/guarded/events", limit=1000)
                    assert [e["seq"] for e in page["events"]] == list(range(1, from_seq))
                    assert sum(e["type"] == "user.deactivated" for e in page["events"]) == THRESHOLD
                    assert page["held"]["fromSeq"] == from_seq

                async def delivered_up_to_hold() -> bool:
                    return receiver.acknowledged_seqs() == list(range(1, from_seq))

                await eventually(delivered_up_to_hold, "deliveries up to the hold")
                await asyncio.sleep(QUIET)
                assert receiver.acknowledged_seqs() == list(range(1, from_seq))

            # Both instances restarted: still held.
            with serving(url, tmp_path) as servers:
                await asyncio.sleep(QUIET)
                assert receiver.acknowledged_seqs() == list(range(1, from_seq))
                assert (await admin_get(servers[0], "/tenants/guarded/events"))["held"]["fromSeq"] == from_seq
                listing = cli(url, "tenant", "held", "guarded")
                assert listing[0].startswith(f"guarded: held from seq {from_seq} ")

                released = cli(url, "tenant", "release", "guarded")
                assert released[0].startswith("guarded: released")

                async def everything_once_in_order() -> bool:
                    return receiver.acknowledged_seqs() == list(range(1, 2 * STAFF + 1))

                await eventually(everything_once_in_order, "every event once, in order, after the release")
                page = await admin_get(servers[1], "/tenants/guarded/events", limit=1000)
                assert [e["seq"] for e in page["events"]] == list(range(1, 2 * STAFF + 1))
                assert "held" not in page
    finally:
        receiver.stop()
