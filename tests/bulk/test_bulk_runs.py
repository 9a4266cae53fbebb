"""A bulk request's consecutive creates run as one unit of work (protocol/bulk_creates.py): each
operation still answers, audits and announces exactly as the single POST it stands for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from scimhub.protocol import bulk_creates
from scimhub.protocol.roles import RoleService
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore
from scimhub.store.sql import SqlUnitOfWork
from tests.bulk.test_bulk import created_id
from tests.bulk.test_bulk import post
from tests.bulk.test_bulk import send
from tests.conftest import TenantAccess
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import member_ids
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio


def users(*names: str) -> list[dict[str, Any]]:
    return [post("/Users", name, user_body(name)) for name in names]


async def user_names(client: httpx2.AsyncClient) -> list[str]:
    page = await get_ok(client, "/Users", params={"count": "1000"})
    return [u["userName"] for u in page["Resources"]]


async def test_a_run_of_creates_answers_each_as_its_single_post(client: httpx2.AsyncClient) -> None:
    results = await send(client, *users("a", "b", "c"))

    assert [(r["method"], r["bulkId"], r["status"], r["version"]) for r in results] == [
        ("POST", n, "201", 'W/"1"') for n in "abc"
    ]
    for result in results:
        user = await get_ok(client, f"/Users/{created_id(result)}")
        assert result["location"] == user["meta"]["location"] == f"{SCIM}/Users/{user['id']}"
        assert user["userName"] == result["bulkId"]
    assert await user_names(client) == ["a", "b", "c"]


async def test_a_taken_user_name_fails_its_operation_alone(client: httpx2.AsyncClient) -> None:
    """A resource already holds it, or an earlier operation of the same run (case-insensitively,
    RFC 7643 §4.1: userName is caseExact false): 409 uniqueness, as the single POST answers."""
    await create_user(client, "Taken")
    single = await client.post("/Users", json=user_body("taken"))
    results = await send(client, *users("a", "TAKEN", "b", "twin", "TWIN", "c"))

    assert [r["status"] for r in results] == ["201", "409", "201", "201", "409", "201"]
    assert results[1]["response"] == results[4]["response"] == single.json()
    assert results[1]["response"]["scimType"] == "uniqueness"
    assert "location" not in results[1] and "version" not in results[1]
    assert await user_names(client) == ["Taken", "a", "b", "twin", "c"]


async def test_events_and_audit_entries_are_those_of_the_single_posts_in_order(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    """Same events (type, changes, resource, own txn, seq order) and same audit entries (method,
    path, status, event range, detail) as the requests sent one by one; refusals audited too."""
    await create_user(globex.client, "old")
    await create_user(acme.client, "old")
    names = ["u1", "u2", "old", "u3"]
    for name in names:
        await globex.client.post("/Users", json=user_body(name, urn_ms_extra="x"))
    results = await send(acme.client, *(post("/Users", n, user_body(n, urn_ms_extra="x")) for n in names))
    assert [r["status"] for r in results] == ["201", "201", "409", "201"]

    events = EventStore.of(store)

    def shape(event: Any) -> tuple[Any, ...]:
        payload = dict(event.payload)
        resource = dict(payload.pop("resource"))
        assert payload.pop("rfc9967")["txn"] == event.id  # each create its own transaction
        for varying in ("resourceId", "occurredAt", "tokenId"):
            payload.pop(varying)
        for varying in ("id", "meta"):
            resource.pop(varying)
        user = payload.pop("user")  # the directory user (scimhub.directory), added when read
        assert (user["id"], user["createdAt"]) == (event.payload["resourceId"], event.payload["occurredAt"])
        user = {k: v for k, v in user.items() if k not in ("id", "createdAt", "updatedAt")}
        return event.seq, event.type, payload, resource, user

    def audit_shape(entry: dict[str, Any]) -> tuple[Any, ...]:
        events = [(e["seq"], e["type"]) for e in entry["events"]]
        return entry["method"], entry["path"], entry["status"], events, entry.get("detail")

    bulk_events = await events.events_after(acme.tenant_id, 0, 100)
    alone_events = await events.events_after(globex.tenant_id, 0, 100)
    assert [shape(e) for e in bulk_events] == [shape(e) for e in alone_events]
    bulk_audit = await events.audit(acme.tenant_id)
    alone_audit = await events.audit(globex.tenant_id)
    assert [audit_shape(e) for e in bulk_audit] == [audit_shape(e) for e in alone_audit]
    assert [e["status"] for e in bulk_audit] == [201, 201, 201, 409, 201]
    assert [e["resourceId"] for e in bulk_audit[1:]] == [
        created_id(results[0]),
        created_id(results[1]),
        None,
        created_id(results[3]),
    ]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, [("one", "201"), ("taken", "409")]),
        (2, [("one", "201"), ("taken", "409"), ("two", "201"), ("bad", "400")]),
        (3, [("one", "201"), ("taken", "409"), ("two", "201"), ("bad", "400"), ("three", "201"), ("twice", "409")]),
    ],
)
async def test_fail_on_errors_counts_refusals_of_every_kind_in_operation_order(
    client: httpx2.AsyncClient, limit: int, expected: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """A uniqueness conflict (found inside the run's unit of work) and an invalid body (found
    before it) count in the order of the operations; nothing after the last counted error runs."""
    await create_user(client, "taken")
    results = await send(
        client,
        post("/Users", "one", user_body("one")),
        post("/Users", "taken", user_body("taken")),
        post("/Users", "two", user_body("two")),
        post("/Users", "bad", {"schemas": [USER]}),
        post("/Users", "three", user_body("three")),
        post("/Users", "twice", user_body("three")),
        post("/Users", "four", user_body("four")),
        fail_on_errors=limit,
    )

    assert [(r["bulkId"], r["status"]) for r in results] == expected
    created = [name for name, status in expected if status == "201"]
    assert await user_names(client) == ["taken", *created]
    # A 409 that reaches the limit inside the run undoes it (later creates were written): the
    # request's own doing, not the server's trouble, so no warning.
    assert not [r for r in caplog.records if r.name == "scimhub.bulk" and r.levelname == "WARNING"]


async def test_a_user_name_an_earlier_run_of_the_request_created_is_refused_in_a_later_run(
    client: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the earlier run may not be committed yet: the later run's unit of work sees it
    in the same transaction, so the later run refuses the name by itself (no fallback)."""
    monkeypatch.setattr("scimhub.protocol.bulk.RUN_SIZE", 2)
    fell_back: list[int] = []
    real = bulk_creates.create_run

    async def watched(*args: Any) -> int:
        try:
            return await real(*args)
        except bulk_creates.Fallback:
            fell_back.append(1)
            raise

    monkeypatch.setattr("scimhub.protocol.bulk.create_run", watched)
    results = await send(client, *users("a", "dup", "b", "DUP"))

    assert [r["status"] for r in results] == ["201", "201", "201", "409"]
    assert results[3]["response"]["scimType"] == "uniqueness"
    assert fell_back == []
    assert await user_names(client) == ["a", "dup", "b"]


async def test_a_user_name_taken_after_the_run_was_prepared_is_a_409_of_its_own(
    acme: TenantAccess, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request creates the name while the run waits for the writer: the unique index
    leaves that create out in the run's own unit of work, which writes the others (no fallback)."""
    client = acme.client
    real_unit = store.unit_of_work
    fell_back: list[str] = []
    real_run = bulk_creates.create_run

    @asynccontextmanager
    async def late_create_first(tenant_id: str) -> AsyncIterator[Any]:
        if not fell_back:
            fell_back.append("")  # once: the run's own unit of work comes next
            await create_user(client, "late")  # another request, before the run's writes
        async with real_unit(tenant_id) as uow:
            yield uow

    async def watched(*args: Any) -> int:
        try:
            return await real_run(*args)
        except bulk_creates.Fallback as exc:
            fell_back.append(str(exc))
            raise

    monkeypatch.setattr("scimhub.protocol.bulk.create_run", watched)
    monkeypatch.setattr(store, "unit_of_work", late_create_first)
    results = await send(client, *users("a", "LATE", "b"))

    assert fell_back == [""]
    assert [r["status"] for r in results] == ["201", "409", "201"]
    single = await client.post("/Users", json=user_body("late"))
    assert results[1]["response"] == single.json()
    assert await user_names(client) == ["late", "a", "b"]
    audit = await EventStore.of(store).audit(acme.tenant_id)
    assert [(e["status"], e["path"]) for e in audit] == [(201, "/scim/v2/Users")] + [
        (status, "/scim/v2/Users") for status in (201, 409, 201, 409)
    ]
    events = await EventStore.of(store).events_after(acme.tenant_id, 0, 100)
    assert [e.payload["resourceId"] for e in events] == [
        audit[0]["resourceId"],
        created_id(results[0]),
        created_id(results[2]),
    ]


async def test_a_run_whose_unit_of_work_fails_runs_its_operations_one_by_one(
    acme: TenantAccess, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. on PostgreSQL another server's create took a userName between the run's check and its
    insert: the run wrote nothing, and each operation alone answers what it would have."""
    client = acme.client
    await create_user(client, "taken")
    calls: list[int] = []

    async def collide(self: SqlUnitOfWork, resource_type: str, items: Any) -> None:
        calls.append(len(items))
        raise RuntimeError("duplicate key value violates unique constraint")

    monkeypatch.setattr(SqlUnitOfWork, "insert_many", collide)
    results = await send(client, *users("a", "taken", "b"), post("/Users", "bad", {"schemas": [USER]}))

    assert calls == [3]  # a, taken, b: the unit of work, not a lookup before it, refuses "taken"
    assert [r["status"] for r in results] == ["201", "409", "201", "400"]
    assert await user_names(client) == ["taken", "a", "b"]
    audit = await EventStore.of(store).audit(acme.tenant_id)
    assert [e["status"] for e in audit] == [201, 201, 409, 201, 400]


async def test_a_rate_limited_operation_of_a_run_fails_alone_and_is_not_audited(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="3/minute")
    async with client_for(app, acme.token) as client:
        results = await send(client, *users("a", "b", "c", "d"))

    assert [r["status"] for r in results] == ["201", "201", "201", "429"]
    audit = await EventStore.of(store).audit(acme.tenant_id)
    assert [e["status"] for e in audit] == [201, 201, 201]


async def test_runs_stop_at_a_group_and_at_a_reference_to_a_create_of_the_same_run(
    client: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's members are resolved row by row, and a reference needs the id of a create
    already written: both end a run; references to earlier runs' creates do not."""
    runs: list[list[str]] = []
    real = bulk_creates.create_run

    async def recorded(service: Any, rtype: Any, creates: Any, errors_left: Any) -> int:
        runs.append([c.body["userName"] for c in creates])
        return await real(service, rtype, creates, errors_left)

    monkeypatch.setattr("scimhub.protocol.bulk.create_run", recorded)
    manager = {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "bulkId:a"}}}
    results = await send(
        client,
        *users("a", "b"),
        post("/Users", "c", user_body("c", **manager)),
        post("/Users", "d", user_body("d", **manager)),
        post("/Groups", "g", {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:d"}]}),
        *users("e", "f"),
    )

    assert [r["status"] for r in results] == ["201"] * 7
    assert runs == [["a", "b"], ["c", "d"], ["e", "f"]]
    d = created_id(results[3])
    assert await member_ids(client, created_id(results[4])) == [d]
    enterprise = (await get_ok(client, f"/Users/{d}"))["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["manager"]["value"] == created_id(results[0])


async def test_a_run_gives_each_new_user_the_default_role_with_its_own_event(
    store: SqlStore, acme: TenantAccess
) -> None:
    await RoleService(store, RoleStore(store.db)).configure(acme.tenant_id, default="member", set_default=True)
    results = await send(acme.client, *users("a", "b"))

    assert [r["status"] for r in results] == ["201", "201"]
    events = await EventStore.of(store).events_after(acme.tenant_id, 0, 100)
    assert [e.type for e in events] == ["user.created", "user.roles_changed"] * 2
    for created, roles in (events[0:2], events[2:4]):
        assert roles.payload["rfc9967"]["txn"] == created.payload["rfc9967"]["txn"] == created.id
        assert roles.payload["resourceId"] == created.payload["resourceId"]
    assert [e.payload["data"]["after"] for e in events[1::2]] == [["member"], ["member"]]
