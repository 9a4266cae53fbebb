"""POST /Bulk (RFC 7644 §3.7): operations, bulkId references in any order, failOnErrors, cycles,
versions, limits; each operation audited and announced as if it had been sent alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from scimhub.settings import DEFAULT_RATE_LIMIT
from scimhub.settings import Settings
from scimhub.store.database import SqliteDatabase
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import ERROR
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import member_ids
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def bulk_body(*operations: dict[str, Any], fail_on_errors: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [BULK_REQUEST], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


def post(path: str, bulk_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"method": "POST", "path": path, "bulkId": bulk_id, "data": data}


async def send(client: httpx2.AsyncClient, *operations: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    response = await client.post("/Bulk", json=bulk_body(*operations, **kwargs))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [BULK_RESPONSE]
    results: list[dict[str, Any]] = body["Operations"]
    return results


def created_id(result: dict[str, Any]) -> str:
    location: str = result["location"]
    return location.rsplit("/", 1)[1]


async def test_a_user_and_a_group_holding_it_by_bulk_id_are_created_in_one_request(client: httpx2.AsyncClient) -> None:
    results = await send(
        client,
        post("/Users", "alice", user_body("alice")),
        post(
            "/Groups",
            "guides",
            {"schemas": [GROUP], "displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:alice"}]},
        ),
    )

    assert [(r["method"], r["bulkId"], r["status"]) for r in results] == [
        ("POST", "alice", "201"),
        ("POST", "guides", "201"),
    ]
    alice, guides = created_id(results[0]), created_id(results[1])
    assert results[0]["location"] == f"{SCIM}/Users/{alice}"
    assert results[1]["location"] == f"{SCIM}/Groups/{guides}"
    assert all(r["version"] == 'W/"1"' for r in results)
    assert "response" not in results[0]
    assert await member_ids(client, guides) == [alice]
    user = await get_ok(client, f"/Users/{alice}")
    assert [g["value"] for g in user["groups"]] == [guides]


# -- bulkId references, in any order --------------------------------------------------------------
async def test_a_forward_reference_runs_the_post_it_names_first(client: httpx2.AsyncClient) -> None:
    """RFC 7644 §3.7.2: the group comes first in the request, its member (and the member's
    manager) later; each runs after the POST it references."""
    results = await send(
        client,
        post("/Groups", "staff", {"schemas": [GROUP], "displayName": "Staff", "members": [{"value": "bulkId:bob"}]}),
        post(
            "/Users",
            "bob",
            user_body("bob", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"manager": {"value": "bulkId:carol"}}}),
        ),
        post("/Users", "carol", user_body("carol")),
    )

    assert [(r["bulkId"], r["status"]) for r in results] == [("staff", "201"), ("bob", "201"), ("carol", "201")]
    staff, bob, carol = (created_id(r) for r in results)
    assert await member_ids(client, staff) == [bob]
    assert (await get_ok(client, f"/Users/{bob}"))[ENTERPRISE]["manager"]["value"] == carol


async def test_a_backward_reference_names_a_manager_created_earlier(client: httpx2.AsyncClient) -> None:
    results = await send(
        client,
        post("/Users", "boss", user_body("boss")),
        post(
            "/Users",
            "dev",
            user_body("dev", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"manager": {"value": "bulkId:boss"}}}),
        ),
    )

    boss, dev = (created_id(r) for r in results)
    assert (await get_ok(client, f"/Users/{dev}"))[ENTERPRISE]["manager"]["value"] == boss


async def test_put_patch_and_delete_reach_a_resource_created_in_the_request_by_its_bulk_id(
    client: httpx2.AsyncClient,
) -> None:
    results = await send(
        client,
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:team",
            "data": patch_body({"op": "add", "path": "members", "value": [{"value": "bulkId:erin"}]}),
        },
        post("/Groups", "team", {"schemas": [GROUP], "displayName": "Team"}),
        post("/Users", "erin", user_body("erin")),
        {"method": "PUT", "path": "/Users/bulkId:erin", "data": user_body("erin", displayName="Erin")},
        post("/Users", "gone", user_body("gone")),
        {"method": "DELETE", "path": "/Users/bulkId:gone"},
    )

    team, erin = created_id(results[1]), created_id(results[2])
    assert [(r["method"], r["status"]) for r in results] == [
        ("PATCH", "204"),
        ("POST", "201"),
        ("POST", "201"),
        ("PUT", "200"),
        ("POST", "201"),
        ("DELETE", "204"),
    ]
    assert results[0]["location"] == f"{SCIM}/Groups/{team}"
    assert results[0]["version"] == 'W/"2"'
    assert results[3]["version"] == 'W/"3"'  # created, joined the team (its groups moved), replaced
    assert "version" not in results[5]
    assert await member_ids(client, team) == [erin]
    assert (await get_ok(client, f"/Users/{erin}"))["displayName"] == "Erin"
    assert (await client.get(f"/Users/{created_id(results[4])}")).status_code == 404


async def test_a_reference_to_a_failed_post_fails_with_409_and_an_unknown_one_with_400(
    client: httpx2.AsyncClient,
) -> None:
    results = await send(
        client,
        post("/Users", "bad", {"schemas": [USER]}),  # no userName
        post("/Groups", "g1", {"schemas": [GROUP], "displayName": "G1", "members": [{"value": "bulkId:bad"}]}),
        post("/Groups", "g2", {"schemas": [GROUP], "displayName": "G2", "members": [{"value": "bulkId:nobody"}]}),
    )

    assert [r["status"] for r in results] == ["400", "409", "400"]
    assert results[1]["response"] == {
        "schemas": [ERROR],
        "status": "409",
        "detail": "Operations[1] references bulkId 'bad', whose POST failed.",
    }
    assert results[2]["response"]["scimType"] == "invalidValue"
    assert "nobody" in results[2]["response"]["detail"]
    assert all("location" not in r for r in results)
    assert (await get_ok(client, "/Groups"))["totalResults"] == 0


# -- circular references --------------------------------------------------------------------------
async def test_groups_referencing_each_other_are_each_answered_409_and_the_rest_runs(
    client: httpx2.AsyncClient,
) -> None:
    """RFC 7644 §3.7.1: a cycle the server does not resolve is a 409 per operation."""
    results = await send(
        client,
        post(
            "/Groups",
            "a",
            {"schemas": [GROUP], "displayName": "A", "members": [{"type": "Group", "value": "bulkId:b"}]},
        ),
        post(
            "/Groups",
            "b",
            {"schemas": [GROUP], "displayName": "B", "members": [{"type": "Group", "value": "bulkId:a"}]},
        ),
        post("/Groups", "self", {"schemas": [GROUP], "displayName": "Self", "members": [{"value": "bulkId:self"}]}),
        post("/Groups", "c", {"schemas": [GROUP], "displayName": "C", "members": [{"value": "bulkId:a"}]}),
        post("/Users", "fine", user_body("fine")),
    )

    assert [(r["bulkId"], r["status"]) for r in results] == [
        ("a", "409"),
        ("b", "409"),
        ("self", "409"),
        ("c", "409"),
        ("fine", "201"),
    ]
    for result in results[:3]:
        assert result["response"]["status"] == "409"
        assert "cycle of bulkId references" in result["response"]["detail"]
    assert "whose POST failed" in results[3]["response"]["detail"]
    assert (await get_ok(client, "/Groups"))["totalResults"] == 0
    assert (await get_ok(client, "/Users"))["totalResults"] == 1


# -- failOnErrors and per-operation errors --------------------------------------------------------
async def test_without_fail_on_errors_every_operation_runs_and_each_error_has_its_response(
    client: httpx2.AsyncClient,
) -> None:
    """The RFC 7644 §3.7.3 example where everything fails: 400, 412, 404, each with its body."""
    taken = await create_user(client, "taken")
    results = await send(
        client,
        post("/Users", "dup", user_body("taken")),
        {
            "method": "PUT",
            "path": f"/Users/{taken['id']}",
            "version": 'W/"9"',
            "data": user_body("taken", nickName="x"),
        },
        {"method": "DELETE", "path": f"/Users/{UNKNOWN_ID}"},
        post("/Users", "ok", user_body("ok")),
    )

    assert [(r["method"], r["status"]) for r in results] == [
        ("POST", "409"),
        ("PUT", "412"),
        ("DELETE", "404"),
        ("POST", "201"),
    ]
    assert results[0]["response"]["scimType"] == "uniqueness"
    assert "location" not in results[0]
    assert results[1]["location"] == f"{SCIM}/Users/{taken['id']}"
    assert results[1]["response"] == {
        "schemas": [ERROR],
        "status": "412",
        "detail": 'If-Match W/"9" does not match the current version W/"1".',
    }
    assert results[2]["response"]["status"] == "404"
    assert (await get_ok(client, f"/Users/{taken['id']}")).get("nickName") is None


async def test_fail_on_errors_stops_after_that_many_errors_and_reports_only_what_ran(
    client: httpx2.AsyncClient,
) -> None:
    results = await send(
        client,
        post("/Users", "one", user_body("one")),
        post("/Users", "bad1", {"schemas": [USER]}),
        post("/Users", "two", user_body("two")),
        post("/Users", "bad2", {"schemas": [USER]}),
        post("/Users", "three", user_body("three")),
        fail_on_errors=2,
    )

    assert [(r["bulkId"], r["status"]) for r in results] == [
        ("one", "201"),
        ("bad1", "400"),
        ("two", "201"),
        ("bad2", "400"),
    ]
    names = [u["userName"] for u in (await get_ok(client, "/Users"))["Resources"]]
    assert names == ["one", "two"]


async def test_a_version_per_operation_is_its_if_match(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "vera")
    deactivate = patch_body({"op": "replace", "path": "active", "value": False})
    results = await send(
        client,
        {"method": "PATCH", "path": f"/Users/{user['id']}", "version": 'W/"1"', "data": deactivate},
        {"method": "PATCH", "path": f"/Users/{user['id']}", "version": 'W/"1"', "data": deactivate},
        {"method": "DELETE", "path": f"/Users/{user['id']}", "version": 'W/"1"'},
    )

    assert [r["status"] for r in results] == ["200", "412", "412"]
    assert results[0]["version"] == 'W/"2"'
    assert (await get_ok(client, f"/Users/{user['id']}"))["active"] is False


@pytest.mark.parametrize(
    ("operation", "detail"),
    [
        (
            {"method": "GET", "path": "/Users"},
            "Operations[0].method must be one of POST, PUT, PATCH, DELETE; got 'GET'.",
        ),
        (
            {"method": "POST", "path": "/Users", "data": user_body("x")},
            "Operations[0]: a POST needs a bulkId (RFC 7644 §3.7).",
        ),
        (
            {"method": "POST", "path": "/Widgets", "bulkId": "w", "data": {}},
            "Operations[0].path '/Widgets' is not a POST path (/{endpoint}).",
        ),
        (
            {"method": "PUT", "path": "/Users", "data": user_body("x")},
            "Operations[0].path '/Users' is not a PUT path (/{endpoint}/{id}).",
        ),
        (
            {"method": "PATCH", "path": "Users/1", "data": {}},
            "Operations[0].path must be a resource path such as /Users or /Users/{id}.",
        ),
        ({"method": "PUT", "path": f"/Users/{UNKNOWN_ID}"}, "Operations[0]: a PUT needs a data object."),
        (
            {"method": "DELETE", "path": f"/Users/{UNKNOWN_ID}", "version": 1},
            "Operations[0].version must be a string (an ETag).",
        ),
        ("DELETE", "Operations[0] must be an object."),
    ],
)
async def test_a_malformed_operation_fails_alone(client: httpx2.AsyncClient, operation: Any, detail: str) -> None:
    results = await send(client, operation, post("/Users", "after", user_body("after")))

    assert results[0]["status"] == "400"
    assert results[0]["response"]["detail"] == detail
    assert results[0]["response"]["scimType"] in ("invalidValue", "invalidSyntax")
    assert results[1]["status"] == "201"
    assert (await get_ok(client, "/Users"))["totalResults"] == 1


async def test_a_bulk_id_used_twice_fails_the_second_post(client: httpx2.AsyncClient) -> None:
    results = await send(client, post("/Users", "x", user_body("x1")), post("/Users", "x", user_body("x2")))

    assert [r["status"] for r in results] == ["201", "400"]
    assert results[1]["response"]["detail"] == "Operations[1]: bulkId 'x' is already used by Operations[0]."
    assert [u["userName"] for u in (await get_ok(client, "/Users"))["Resources"]] == ["x1"]


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ([], "invalidSyntax", "A bulk request body must be a BulkRequest JSON object."),
        (
            {"schemas": ["urn:x"], "Operations": [post("/Users", "a", user_body("a"))]},
            "invalidValue",
            f"'schemas' of a bulk request must contain {BULK_REQUEST}.",
        ),
        (
            {"schemas": [BULK_REQUEST], "Operations": []},
            "invalidValue",
            "'Operations' must be a non-empty array of operations.",
        ),
        (
            {"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": [post("/Users", "a", user_body("a"))]},
            "invalidValue",
            "'failOnErrors' must be an integer of at least 1; got 0.",
        ),
        (
            {"schemas": [BULK_REQUEST], "failOnErrors": "1", "Operations": [post("/Users", "a", user_body("a"))]},
            "invalidValue",
            "'failOnErrors' must be an integer of at least 1; got '1'.",
        ),
    ],
)
async def test_a_bad_envelope_fails_the_whole_request_and_changes_nothing(
    client: httpx2.AsyncClient, body: Any, scim_type: str, detail: str
) -> None:
    before = await snapshot(client)

    error = assert_scim_error(await client.post("/Bulk", json=body), 400, scim_type)

    assert error["detail"] == detail
    assert await snapshot(client) == before


# -- limits ---------------------------------------------------------------------------------------
async def test_more_operations_than_max_operations_is_a_413_naming_the_limit(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, bulk_max_operations=3)
    async with client_for(app, acme.token) as client:
        config = await get_ok(client, "/ServiceProviderConfig")
        before = await snapshot(client)
        operations = [post("/Users", f"u{i}", user_body(f"u{i}")) for i in range(4)]

        error = assert_scim_error(await client.post("/Bulk", json=bulk_body(*operations)), 413, "tooMany")

        assert error["detail"] == "The bulk request has 4 operations; maxOperations is 3."
        assert config["bulk"] == {"supported": True, "maxOperations": 3, "maxPayloadSize": settings.max_body_bytes}
        assert await snapshot(client) == before
        assert len(await send(client, *operations[:3])) == 3


async def test_a_body_over_max_payload_size_is_a_413_naming_the_limit(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, max_body_bytes=2000)
    async with client_for(app, acme.token) as client:
        before = await snapshot(client)
        operations = [post("/Users", f"u{i}", user_body(f"user-number-{i}")) for i in range(30)]

        error = assert_scim_error(await client.post("/Bulk", json=bulk_body(*operations)), 413)

        assert error["detail"] == "The size of the bulk request exceeds maxPayloadSize (2000 bytes)."
        assert (await get_ok(client, "/ServiceProviderConfig"))["bulk"]["maxPayloadSize"] == 2000
        assert await snapshot(client) == before


async def test_with_max_operations_0_bulk_is_not_supported(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, bulk_max_operations=0)
    async with client_for(app, acme.token) as client:
        config = await get_ok(client, "/ServiceProviderConfig")
        response = await client.post("/Bulk", json=bulk_body(post("/Users", "a", user_body("a"))))

        assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": settings.max_body_bytes}
        assert_scim_error(response, 501)
        assert (await get_ok(client, "/Users"))["totalResults"] == 0


async def test_rate_limits_count_operations_not_requests(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="5/minute")
    async with client_for(app, acme.token) as client:
        first = await send(client, *(post("/Users", f"a{i}", user_body(f"a{i}")) for i in range(3)))
        second = await send(client, *(post("/Users", f"b{i}", user_body(f"b{i}")) for i in range(3)))
        refused = await client.post("/Users", json=user_body("single"))

    assert [r["status"] for r in first] == ["201"] * 3
    assert [r["status"] for r in second] == ["201", "201", "429"]  # 5 operations a minute
    assert second[2]["response"]["detail"].startswith("Rate limit exceeded for this tenant or token; retry in ")
    assert_scim_error(refused, 429)
    async with client_for(app_with(settings, store), acme.token) as unlimited:
        assert (await get_ok(unlimited, "/Users"))["totalResults"] == 5


# -- the same request, one by one or in bulk ------------------------------------------------------
async def test_each_operation_has_the_events_and_audit_entry_of_the_single_request(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    """A consumer of the feed or the audit log cannot tell a bulk from the same requests sent one
    by one, in order."""
    alone = globex.client
    dana = (await create_user(alone, "dana"))["id"]
    group = (
        await alone.post("/Groups", json={"schemas": [GROUP], "displayName": "Ops", "members": [{"value": dana}]})
    ).json()["id"]
    await alone.patch(f"/Users/{dana}", json=patch_body({"op": "replace", "path": "active", "value": False}))
    await alone.delete(f"/Users/{dana}")

    results = await send(
        acme.client,
        post("/Users", "dana", user_body("dana")),
        post("/Groups", "ops", {"schemas": [GROUP], "displayName": "Ops", "members": [{"value": "bulkId:dana"}]}),
        {
            "method": "PATCH",
            "path": "/Users/bulkId:dana",
            "data": patch_body({"op": "replace", "path": "active", "value": False}),
        },
        {"method": "DELETE", "path": "/Users/bulkId:dana"},
    )
    ids = {created_id(results[0]): "USER", created_id(results[1]): "GROUP", dana: "USER", group: "GROUP"}

    events = EventStore.of(store)

    def shape(event: Any) -> tuple[Any, ...]:
        payload = event.payload
        return (
            event.seq,
            event.type,
            ids[payload["resourceId"]],
            [ids[m] for m in payload.get("members", [])],
            payload.get("changes"),
        )

    def audit_shape(entry: dict[str, Any]) -> tuple[Any, ...]:
        path = entry["path"]
        for real, name in ids.items():
            path = path.replace(real, name)
        return (entry["method"], path, entry["status"], [(e["seq"], e["type"]) for e in entry["events"]])

    bulk_events = await events.events_after(acme.tenant_id, 0, 100)
    single_events = await events.events_after(globex.tenant_id, 0, 100)
    assert [shape(e) for e in bulk_events] == [shape(e) for e in single_events]
    bulk_audit = await events.audit(acme.tenant_id)
    assert [audit_shape(e) for e in bulk_audit] == [audit_shape(e) for e in await events.audit(globex.tenant_id)]
    assert [e["path"] for e in bulk_audit[:2]] == ["/scim/v2/Users", "/scim/v2/Groups"]


async def test_a_bulk_create_follows_the_tenant_s_leniency_policy(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """Entra's unknown top-level attributes: ignored by default, refused under
    SCIMHUB_STRICT_RFC, as for a single POST."""
    data = user_body("entra", active=True, urn_ms_extra="x")
    lenient = await send(acme.client, post("/Users", "e", data))
    async with client_for(app_with(settings, store, strict_rfc=True), acme.token) as strict:
        refused = await send(strict, post("/Users", "s", {**data, "userName": "strict"}))
        single = await strict.post("/Users", json={**data, "userName": "strict"})

    assert lenient[0]["status"] == "201"
    assert (await get_ok(acme.client, f"/Users/{created_id(lenient[0])}"))["active"] is True
    assert refused[0]["status"] == "400"
    assert refused[0]["response"] == assert_scim_error(single, 400, "invalidValue")


# Creates run RUN_SIZE to a unit, with a turn of the event loop after each unit; the single
# request needs a few dozen turns (authentication, rate limit, request log, its own unit).
BETWEEN_BULK = 1000


async def test_other_requests_run_between_the_operations_of_a_bulk(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk releases the writer after each operation: a single request sent once its first
    unit of work is written is written among its operations, not after all of them. (Sent when
    that unit was only asked for, it could get its row in first on PostgreSQL, whose unit begins
    with a round trip: seen once in a run of the store and bulk tests.)"""
    began = asyncio.Event()
    unit_of_work = store.unit_of_work

    @asynccontextmanager
    async def watched(tenant_id: str) -> AsyncIterator[Any]:
        async with unit_of_work(tenant_id) as uow:
            yield uow
        began.set()

    monkeypatch.setattr(store, "unit_of_work", watched)

    async def single() -> str:
        await began.wait()
        return str((await create_user(client, "between"))["id"])

    operations = [post("/Users", f"u{i}", user_body(f"u{i}")) for i in range(BETWEEN_BULK)]
    async with client_for(app_with(settings, store, bulk_max_operations=BETWEEN_BULK), acme.token) as client:
        results, between = await asyncio.gather(send(client, *operations), single())

    assert [r["status"] for r in results] == ["201"] * BETWEEN_BULK
    page = await search(acme.client, "/Users", 'userName sw "u"', count=BETWEEN_BULK)
    assert page["totalResults"] == BETWEEN_BULK
    order = [u["id"] for u in (await get_ok(acme.client, "/Users", params={"count": "2000"}))["Resources"]]
    assert 0 < order.index(between) < BETWEEN_BULK  # created among the bulk's users (creation order)


async def test_a_reference_to_a_malformed_post_is_a_409(client: httpx2.AsyncClient) -> None:
    results = await send(
        client,
        {"method": "POST", "path": "/Users", "bulkId": "nodata"},
        post("/Groups", "g", {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:nodata"}]}),
    )

    assert [r["status"] for r in results] == ["400", "409"]
    assert results[1]["response"]["detail"] == "Operations[1] references bulkId 'nodata', whose POST failed."


async def test_operations_whose_shared_commit_fails_are_reported_500_and_announce_nothing(
    store: SqlStore, client: httpx2.AsyncClient
) -> None:
    """Nothing is acknowledged before it is durable: a failed COMMIT fails every operation of it."""
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("the shared commit is SQLite's writer")
    announced: list[Any] = []
    app_service = client._transport.app.state.scimhub.service  # type: ignore[attr-defined]
    app_service.on_commit = lambda events: _record(announced, events)
    await get_ok(client, "/Users")  # the token's last-used time is written (not by the failing commit)
    raw, _ = store.db.writer._open()
    store.db.writer._raw = _FailingCommit(raw)  # type: ignore[assignment]
    try:
        results = await send(client, *(post("/Users", f"u{i}", user_body(f"u{i}")) for i in range(3)))
    finally:
        store.db.writer._raw = raw

    assert [r["status"] for r in results] == ["500"] * 3
    assert all("location" not in r and "version" not in r for r in results)
    assert results[0]["response"]["detail"] == "An internal error occurred. It has been logged."
    assert announced == []
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


async def test_a_bulk_announces_its_durable_events_once_in_order_after_they_commit(
    store: SqlStore, client: httpx2.AsyncClient
) -> None:
    """What follows a commit (the delivery workers woken, the in-process hooks run) happens once
    for the whole request, with every durable operation's events in processing order."""
    calls: list[list[Any]] = []
    app_service = client._transport.app.state.scimhub.service  # type: ignore[attr-defined]
    app_service.on_commit = lambda events: _record(calls, [list(events)])
    results = await send(
        client,
        *(post("/Users", f"u{i}", user_body(f"u{i}")) for i in range(3)),
        post("/Users", "dup", user_body("u0")),  # 409: announces nothing
        post("/Groups", "g", {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:u1"}]}),
    )

    assert [r["status"] for r in results] == ["201", "201", "201", "409", "201"]
    [announced] = calls
    assert [e.type for e in announced] == ["user.created"] * 3 + ["group.created", "group.member_added"]
    assert [e.seq for e in announced] == sorted(e.seq for e in announced)
    ids = [r["location"].rsplit("/", 1)[1] for r in results if r["status"] == "201"]
    assert [e.payload["resourceId"] for e in announced] == [*ids[:3], ids[3], ids[3]]


async def _record(announced: list[Any], events: Any) -> None:
    announced.extend(events)


class _FailingCommit:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self.raw.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


async def test_member_names_and_methods_are_case_insensitive(client: httpx2.AsyncClient) -> None:
    body = {
        "SCHEMAS": [BULK_REQUEST],
        "operations": [
            {"Method": "post", "PATH": "/Users", "BulkId": "m", "DATA": user_body("mixed")},
            {
                "method": "Patch",
                "path": "/Users/bulkId:m",
                "data": patch_body({"op": "Replace", "path": "active", "value": "False"}),
            },
        ],
        "FailOnErrors": 1,
    }
    response = await client.post("/Bulk", json=body)

    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [(r["method"], r["bulkId"] if "bulkId" in r else None, r["status"]) for r in results] == [
        ("POST", "m", "201"),
        ("PATCH", None, "200"),
    ]
    assert (await get_ok(client, f"/Users/{created_id(results[0])}"))["active"] is False


async def test_under_the_default_rate_limit_a_bulk_of_max_operations_runs_whole(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """The rate limit counts operations; the default maxOperations fits the default 100/second."""
    size = Settings().bulk_max_operations
    app = app_with(settings, store, rate_limit=DEFAULT_RATE_LIMIT, bulk_max_operations=size)
    async with client_for(app, acme.token) as client:
        results = await send(client, *(post("/Users", f"u{i}", user_body(f"u{i}")) for i in range(size)))

    assert [r["status"] for r in results] == ["201"] * size
