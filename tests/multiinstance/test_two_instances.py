"""Two real ``scimhub serve`` processes on one database, driven concurrently over HTTP.

What has to hold when a deployment scales out to several stateless instances: uniqueness,
member adds, If-Match and the event outbox are decided by the database, not by one process's
locks; webhook delivery leases hand over when an instance dies; rate limits are counted once.

The database is a fresh SQLite file, or a fresh PostgreSQL database when SCIMHUB_TEST_DATABASE_URL
is set (see servers.py). Tenants are provisioned with the ``scimhub`` command line.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AsyncExitStack
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from standardwebhooks import Webhook

from scimhub.events import lane
from tests import databases
from tests.multiinstance.receiver import HookReceiver
from tests.multiinstance.servers import ADMIN_TOKEN
from tests.multiinstance.servers import Server
from tests.multiinstance.servers import cli
from tests.multiinstance.servers import fresh_database
from tests.multiinstance.servers import provision
from tests.multiinstance.servers import serving

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

MAX_CONFLICTS = 500  # a retry loop that never gets through fails instead of spinning
# One tenant per test on the shared database. Tenant and token ids are fresh UUIDs on every run,
# so the rate-limit counters in Redis (keyed by them) start from zero without flushing anything.
TENANTS = ("unique", "members", "ifmatch", "feed", "hooks", "ratelimit")


@dataclass(frozen=True)
class Cluster:
    """Two servers on one database, and a token for each tenant in TENANTS."""

    database_url: str
    servers: list[Server]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("multiinstance")


@pytest.fixture(scope="module")
def shared_database(workdir: Path) -> Iterator[str]:
    with fresh_database(workdir) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(shared_database: str) -> dict[str, str]:
    return provision(shared_database, *TENANTS)


@pytest.fixture(scope="module")
def cluster(shared_database: str, workdir: Path, tokens: dict[str, str]) -> Iterator[Cluster]:
    with serving(shared_database, workdir) as servers:
        yield Cluster(shared_database, servers, tokens)


# -- helpers ---------------------------------------------------------------------------------------
@asynccontextmanager
async def scim_clients(servers: list[Server], token: str) -> AsyncIterator[list[httpx2.AsyncClient]]:
    """One SCIM client per server, all with the tenant's token."""
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx2.AsyncClient(base_url=s.scim_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            )
            for s in servers
        ]
        yield clients


def user_body(user_name: str, **attrs: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, **attrs}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def replace(path: str, value: Any) -> dict[str, Any]:
    return patch_body({"op": "replace", "path": path, "value": value})


def assert_scim_error(response: httpx2.Response, status: int, scim_type: str | None = None) -> None:
    """RFC 7644 §3.12: the Error schema, the status as a string, scimType where one applies."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["schemas"] == [ERROR], body
    assert body["status"] == str(status), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body


async def create_users(clients: list[httpx2.AsyncClient], names: list[str]) -> list[str]:
    """Create the users concurrently, alternating between the instances; their ids, in order."""
    responses = await asyncio.gather(*(clients[i % 2].post("/Users", json=user_body(n)) for i, n in enumerate(names)))
    assert [r.status_code for r in responses] == [201] * len(names), [r.text for r in responses if r.is_error]
    return [r.json()["id"] for r in responses]


async def read_feed(server: Server, tenant: str) -> list[dict[str, Any]]:
    """Every event of the tenant, through the admin API of ``server`` (paged with ``after``)."""
    events: list[dict[str, Any]] = []
    async with httpx2.AsyncClient(base_url=server.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as a:
        while True:
            page = await a.get(f"/tenants/{tenant}/events", params={"after": len(events), "limit": 1000})
            assert page.status_code == 200, page.text
            batch: list[dict[str, Any]] = page.json()["events"]
            if not batch:
                return events
            events += batch


async def delivered_seq(server: Server, tenant: str) -> int:
    """The consumer cursor of the tenant's one webhook, through the admin API."""
    async with httpx2.AsyncClient(base_url=server.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as a:
        response = await a.get(f"/tenants/{tenant}/webhooks")
    assert response.status_code == 200, response.text
    (webhook,) = response.json()["webhooks"]
    seq: int = webhook["deliveredSeq"]
    return seq


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


# -- 1. uniqueness ---------------------------------------------------------------------------------
async def test_concurrent_creates_of_one_user_name_through_both_instances_create_exactly_one_user(
    cluster: Cluster,
) -> None:
    user_name = "jane.doe@example.com"
    async with scim_clients(cluster.servers, cluster.tokens["unique"]) as clients:
        responses = await asyncio.gather(*(clients[i % 2].post("/Users", json=user_body(user_name)) for i in range(20)))

        assert sorted(r.status_code for r in responses) == [201] + [409] * 19, [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_scim_error(response, 409, "uniqueness")
        created_id = next(r for r in responses if r.status_code == 201).json()["id"]
        for client in clients:
            found = (await client.get("/Users", params={"filter": f'userName eq "{user_name}"'})).json()
            assert found["totalResults"] == 1, found
            assert [u["id"] for u in found["Resources"]] == [created_id]
            assert (await client.get("/Users")).json()["totalResults"] == 1


# -- 2. member adds --------------------------------------------------------------------------------
async def test_200_concurrent_member_adds_through_both_instances_all_land(cluster: Cluster) -> None:
    async with scim_clients(cluster.servers, cluster.tokens["members"]) as clients:
        created = await clients[0].post("/Groups", json={"schemas": [GROUP], "displayName": "Engineering"})
        assert created.status_code == 201, created.text
        group_id = created.json()["id"]
        user_ids = await create_users(clients, [f"member{i}@example.com" for i in range(200)])

        adds = await asyncio.gather(
            *(
                clients[i % 2].patch(
                    f"/Groups/{group_id}",
                    json=patch_body({"op": "add", "path": "members", "value": [{"value": user_id}]}),
                )
                for i, user_id in enumerate(user_ids)
            )
        )

        assert [r.status_code for r in adds if not r.is_success] == [], [r.text for r in adds if not r.is_success]
        for client in clients:
            group = await client.get(f"/Groups/{group_id}")
            assert group.status_code == 200, group.text
            assert sorted(m["value"] for m in group.json()["members"]) == sorted(user_ids)


# -- 3. If-Match -----------------------------------------------------------------------------------
async def test_if_match_lets_exactly_one_of_concurrent_patches_win_and_read_modify_write_loses_nothing(
    cluster: Cluster,
) -> None:
    async with scim_clients(cluster.servers, cluster.tokens["ifmatch"]) as clients:
        (user_id,) = await create_users(clients, ["counter@example.com"])
        path = f"/Users/{user_id}"
        etag = (await clients[0].get(path)).headers["etag"]

        racers = await asyncio.gather(
            *(
                clients[i % 2].patch(path, json=replace("title", f"writer {i}"), headers={"If-Match": etag})
                for i in range(10)
            )
        )

        assert sorted(r.status_code for r in racers) == [200] + [412] * 9, [r.text for r in racers]
        for response in racers:
            if response.status_code == 412:
                assert_scim_error(response, 412)
        winner = next(r for r in racers if r.status_code == 200)
        for client in clients:
            now = await client.get(path)
            assert now.json()["title"] == winner.json()["title"]
            assert now.headers["etag"] == winner.headers["etag"] != etag

        # Read-modify-write from both sides, retrying on 412: every increment survives.
        assert (await clients[0].patch(path, json=replace("nickName", "0"))).status_code == 200

        async def increment(client: httpx2.AsyncClient, times: int) -> int:
            conflicts = 0
            while times:
                current = await client.get(path)
                value = int(current.json()["nickName"])
                headers = {"If-Match": current.headers["etag"]}
                response = await client.patch(path, json=replace("nickName", str(value + 1)), headers=headers)
                if response.status_code == 412:
                    conflicts += 1
                    assert conflicts < MAX_CONFLICTS, f"{conflicts} conflicts in a row of retries: no progress"
                    continue
                assert response.status_code == 200, response.text
                times -= 1
            return conflicts

        loops, per_loop = 6, 5
        await asyncio.gather(*(increment(clients[i % 2], per_loop) for i in range(loops)))
        for client in clients:
            assert (await client.get(path)).json()["nickName"] == str(loops * per_loop)


# -- 4. events -------------------------------------------------------------------------------------
async def test_the_feed_is_gap_free_and_in_commit_order_after_concurrent_writes_through_both(cluster: Cluster) -> None:
    users, updates = 6, 8
    async with scim_clients(cluster.servers, cluster.tokens["feed"]) as clients:
        user_ids = await create_users(clients, [f"feed{i}@example.com" for i in range(users)])
        writes = [(user_id, f"title {n}") for n in range(updates) for user_id in user_ids]
        patched = await asyncio.gather(
            *(clients[i % 2].patch(f"/Users/{uid}", json=replace("title", t)) for i, (uid, t) in enumerate(writes))
        )
        assert [r.status_code for r in patched] == [200] * len(writes), [r.text for r in patched if r.is_error]
        final_titles = {uid: (await clients[0].get(f"/Users/{uid}")).json()["title"] for uid in user_ids}

    feeds = [await read_feed(server, "feed") for server in cluster.servers]
    assert feeds[0] == feeds[1]  # both instances read the same committed feed
    events = feeds[0]
    assert [e["seq"] for e in events] == list(range(1, users + len(writes) + 1))  # gap-free, no duplicates
    assert Counter(e["type"] for e in events) == {"user.created": users, "user.updated": len(writes)}
    assert len({e["id"] for e in events}) == len(events)
    # Commit order: per user, each update's "before" is the previous event's "after", its resource
    # version grows, and the last event leaves the title the user has now.
    for user_id in user_ids:
        mine = [e for e in events if e["resourceId"] == user_id]
        assert mine[0]["type"] == "user.created"
        title: str | None = None
        version = mine[0]["resource"]["meta"]["version"]
        for event in mine[1:]:
            (change,) = event["changes"]
            assert change["path"] == "title"
            assert change["before"] == title, (user_id, event["seq"], change, title)
            title = change["after"]
            assert event["resource"]["title"] == title
            assert _version(event["resource"]["meta"]["version"]) > _version(version)
            version = event["resource"]["meta"]["version"]
        assert title == final_titles[user_id]
        assert sorted(e["changes"][0]["after"] for e in mine[1:]) == sorted(t for u, t in writes if u == user_id)


def _version(etag: str) -> int:
    return int(etag.removeprefix("W/").strip('"'))


async def test_webhook_deliveries_from_both_instances_reach_the_receiver_exactly_once_in_order(
    cluster: Cluster,
) -> None:
    receiver = HookReceiver().start()
    try:
        secret = cli(cluster.database_url, "webhook", "add", "hooks", receiver.url)[-1]
        async with scim_clients(cluster.servers, cluster.tokens["hooks"]) as clients:
            user_ids = await create_users(clients, [f"hook{i}@example.com" for i in range(12)])
            patched = await asyncio.gather(
                *(clients[i % 2].patch(f"/Users/{u}", json=replace("title", "x")) for i, u in enumerate(user_ids))
            )
            assert [r.status_code for r in patched] == [200] * len(user_ids)
        total = 2 * len(user_ids)

        async def all_delivered() -> bool:
            return await delivered_seq(cluster.servers[0], "hooks") == total

        await eventually(all_delivered, 30, f"the webhook cursor to reach seq {total}")
    finally:
        receiver.stop()

    deliveries = receiver.deliveries()
    assert [d.seq for d in deliveries] == list(range(1, total + 1))  # each seq once, in order
    assert all(d.acknowledged for d in deliveries)
    events = await read_feed(cluster.servers[1], "hooks")
    assert [d.headers["webhook-id"] for d in deliveries] == [e["id"] for e in events]
    for delivery in deliveries:
        assert Webhook(secret).verify(delivery.body, delivery.headers)["seq"] == delivery.seq


async def test_a_kill_9_in_the_middle_of_a_delivery_loses_no_event_the_other_instance_takes_over(
    tmp_path: Path,
) -> None:
    """Instance A is killed while its POST of seq ``hold`` is open; B delivers it once A's lease
    (SCIMHUB_WEBHOOK_TIMEOUT_SECONDS + 5 s, so 8 s here) has expired, then everything after it.
    The timeout (3 s) only has to outlast the moment between the held POST and the kill.

    A lane records its attempts every RECORD_EVERY events or RECORD_SECONDS: B starts after the
    cursor A last recorded, so it sends again the events A delivered since (here 1 to hold - 1,
    within 0.1 s of each other) and the one in flight; nothing else, and each in order."""
    hold, before, after = 4, 10, 6
    pids: list[int] = []
    receiver = HookReceiver(sender_pids=lambda: pids, hold_seq=hold).start()
    try:
        with (
            fresh_database(tmp_path) as url,
            serving(url, tmp_path, {"SCIMHUB_WEBHOOK_TIMEOUT_SECONDS": "3"}) as servers,
        ):
            pids += [s.pid for s in servers]
            token = provision(url, "acme")["acme"]
            async with scim_clients(servers, token) as clients:
                await create_users(clients, [f"early{i}@example.com" for i in range(before)])
            # Only now the webhook, from seq 1: the writes are done before the held delivery starts.
            cli(url, "webhook", "add", "acme", receiver.url, "--after", "0")

            assert await asyncio.to_thread(receiver.held.wait, 30), "no delivery of the held seq"
            held = receiver.held_delivery
            assert held is not None and held.sender_pid in pids, held
            victim = next(s for s in servers if s.pid == held.sender_pid)
            survivor = next(s for s in servers if s is not victim)
            victim.kill9()
            receiver.release()

            async with scim_clients([survivor], token) as (client,):
                for i in range(after):
                    assert (await client.post("/Users", json=user_body(f"late{i}@example.com"))).status_code == 201
            total = before + after

            async def all_delivered() -> bool:
                return await delivered_seq(survivor, "acme") == total

            await eventually(all_delivered, 30, f"the survivor to deliver up to seq {total}")
    finally:
        receiver.stop()

    deliveries = receiver.deliveries()
    acknowledged = receiver.acknowledged_seqs()
    by_victim = [d.seq for d in deliveries if d.acknowledged and d.sender_pid == victim.pid]
    by_survivor = [d.seq for d in deliveries if d.acknowledged and d.sender_pid == survivor.pid]
    assert sorted(set(acknowledged)) == list(range(1, total + 1))  # none lost
    assert by_victim == list(range(1, hold))  # in order, up to the one it died sending
    assert by_survivor == list(range(by_survivor[0], total + 1))  # in order, from A's last record on
    again = sorted(set(by_victim) & set(by_survivor))
    assert again == list(range(by_survivor[0], hold))  # sent again: only what A had not recorded
    assert len(again) <= lane.RECORD_EVERY
    assert [d.seq for d in deliveries if not d.acknowledged] == [hold]  # only the one A died sending


# -- 5. rate limits --------------------------------------------------------------------------------
async def test_the_rate_limit_is_shared_through_redis_not_per_instance(
    shared_database: str, workdir: Path, tokens: dict[str, str]
) -> None:
    limit = 10
    env = {"SCIMHUB_RATE_LIMIT": f"{limit}/hour", "SCIMHUB_RATE_LIMIT_STORAGE": databases.ensure_redis()}
    with serving(shared_database, workdir, env) as servers:
        async with scim_clients(servers, tokens["ratelimit"]) as clients:
            responses = await asyncio.gather(*(clients[i % 2].get("/Users") for i in range(3 * limit)))
            late = [await clients[i % 2].get("/Users") for i in range(2)]

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: limit, 429: 2 * limit}, statuses  # counters per instance would pass 2 * limit
    assert [r.status_code for r in late] == [429, 429]
    for response in [r for r in responses if r.status_code == 429] + late:
        assert_scim_error(response, 429)
        assert 1 <= int(response.headers["retry-after"]) <= 3600
