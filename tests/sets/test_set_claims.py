"""Each write type as RFC 9967 SETs: event URIs, payloads and claims, verified with PyJWT
against the tenant's published JWKS (the SETs are fetched by polling, RFC 8936)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.events.support import USER
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import patch
from tests.sets.support import ISSUER
from tests.sets.support import PROV
from tests.sets.support import add_stream
from tests.sets.support import jwks
from tests.sets.support import only_event
from tests.sets.support import poll
from tests.sets.support import verify

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def verified_sets(app: object, acme: TenantAccess, stream: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SET the stream holds, verified, in seq order."""
    response = await poll(app, stream, returnImmediately=True, maxEvents=100)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["moreAvailable"] is False
    key_set = await jwks(app, acme.tenant_id)
    claims = [verify(token, key_set, stream["audience"]) for token in body["sets"].values()]
    assert [c["jti"] for c in claims] == list(body["sets"]), "each SET is filed under its jti"
    return sorted(claims, key=lambda c: int(c["jti"].rsplit(".", 1)[1]))


async def every_write(acme: TenantAccess) -> dict[str, str]:
    client = acme.client
    alice = await create_user(client, "alice", externalId="ext-alice", active=True)
    await patch(client, f"/Users/{alice}", {"op": "replace", "path": "title", "value": "Engineer"})
    put = await client.put(f"/Users/{alice}", json={"schemas": [USER], "userName": "alice", "nickName": "Al"})
    assert put.status_code == 200, put.text
    await patch(
        client,
        f"/Users/{alice}",
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "title", "value": "Former"},
    )
    await patch(client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": True})
    group = await create_group(client, "Engineering", [alice])
    await patch(client, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{alice}"]'})
    assert (await client.delete(f"/Users/{alice}")).status_code == 204
    return {"alice": alice, "group": group}


async def test_notice_sets_name_the_rfc_event_uris_and_changed_attributes(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="https://receiver.example.com")
    await every_write(acme)

    claims = await verified_sets(app, acme, stream)

    events = [only_event(c) for c in claims]
    assert [uri for uri, _ in events] == [
        f"{PROV}:create:notice",
        f"{PROV}:patch:notice",
        f"{PROV}:put:notice",
        f"{PROV}:deactivate",
        f"{PROV}:patch:notice",
        f"{PROV}:activate",
        f"{PROV}:create:notice",
        f"{PROV}:patch:notice",  # the member added by the group's POST
        f"{PROV}:patch:notice",  # the member removed
        f"{PROV}:delete",
    ]
    create, title, put, deactivate, former, activate, group, added, removed, delete = [p for _, p in events]
    assert {"userName", "externalId", "active"} <= set(create["attributes"])
    assert title["attributes"] == ["title"]
    assert set(put["attributes"]) == {"active", "externalId", "nickName", "title"}  # what the PUT left out too
    assert former["attributes"] == ["title"]
    assert deactivate == {} and activate == {} and delete == {}  # §2.4.4-2.4.6: no payload
    assert added["attributes"] == ["members"] and removed["attributes"] == ["members"]
    assert "displayName" in group["attributes"]
    for payload in (create, title, put, former, added):
        assert "data" not in payload and payload["version"].startswith('W/"')


async def test_claims_identify_issuer_audience_subject_and_the_write(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="https://receiver.example.com")
    ids = await every_write(acme)

    claims = await verified_sets(app, acme, stream)

    for c in claims:
        assert c["iss"] == ISSUER and c["aud"] == "https://receiver.example.com"
        assert c["jti"].startswith(stream["id"] + ".")
        assert "sub" not in c  # §2.1: sub_id, never sub
        assert c["sub_id"]["format"] == "scim"
        assert isinstance(c["toe"], int) and isinstance(c["iat"], int)
    users = [c for c in claims if c["sub_id"]["uri"].startswith("/Users/")]
    assert {c["sub_id"]["uri"] for c in users} == {f"/Users/{ids['alice']}"}
    assert users[0]["sub_id"]["externalId"] == "ext-alice" and users[0]["sub_id"]["id"] == ids["alice"]
    groups = [c for c in claims if c["sub_id"]["uri"].startswith("/Groups/")]
    assert {c["sub_id"]["uri"] for c in groups} == {f"/Groups/{ids['group']}"}
    # txn (§2.2): the deactivation and the title change were one PATCH, so they share one txn;
    # so do the group's creation and its first member; every other write has its own.
    txns = [c["txn"] for c in claims]
    assert txns[3] == txns[4] and txns[6] == txns[7]
    assert len(set(txns)) == len(txns) - 2
    assert len({c["jti"] for c in claims}) == len(claims)


async def test_full_sets_carry_the_resource_or_the_equivalent_patch(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="replica", full=True)
    ids = await every_write(acme)

    claims = await verified_sets(app, acme, stream)

    events = [only_event(c) for c in claims]
    assert [uri for uri, _ in events][:3] == [f"{PROV}:create:full", f"{PROV}:patch:full", f"{PROV}:put:full"]
    create, title, put = (p for _, p in events[:3])
    assert create["data"]["userName"] == "alice" and create["data"]["id"] == ids["alice"]
    assert title["data"]["title"] == "Engineer" and "attributes" not in title
    assert put["data"]["nickName"] == "Al" and "title" not in put["data"]
    assert put["version"] == put["data"]["meta"]["version"]
    added, removed = events[7][1], events[8][1]
    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    assert added["data"] == {
        "schemas": [patch_op],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ids["alice"]}]}],
    }
    assert removed["data"]["Operations"] == [{"op": "remove", "path": f'members[value eq "{ids["alice"]}"]'}]
    assert events[9] == (f"{PROV}:delete", {})


async def test_service_provider_config_advertises_the_event_uris_once_a_stream_exists(
    app: object, acme: TenantAccess, globex: TenantAccess
) -> None:
    before = (await acme.client.get("/ServiceProviderConfig")).json()
    await add_stream(app, poll=True, audience="a")
    response = await acme.client.get("/ServiceProviderConfig")
    other = (await globex.client.get("/ServiceProviderConfig")).json()

    # RFC 9967 §4: absent while the tenant is "not currently configured for Security Events".
    assert "securityEvents" not in before and "securityEvents" not in other
    assert response.status_code == 200
    events = response.json()["securityEvents"]
    assert events["asyncRequest"] == "none"
    assert set(events["eventUris"]) == {
        *(f"{PROV}:{op}:{form}" for op in ("create", "patch", "put") for form in ("notice", "full")),
        f"{PROV}:delete",
        f"{PROV}:activate",
        f"{PROV}:deactivate",
    }


async def test_bulk_operations_are_sets_of_their_own_method_and_write(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="a")
    alice = await create_user(acme.client, "alice")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "PUT",
                "path": f"/Users/{alice}",
                "data": {"schemas": [USER], "userName": "alice", "title": "A"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{alice}",
                "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "B"}],
                },
            },
            {"method": "DELETE", "path": f"/Users/{alice}"},
        ],
    }
    response = await acme.client.post("/Bulk", json=body)
    assert response.status_code == 200, response.text

    claims = await verified_sets(app, acme, stream)

    assert [only_event(c)[0] for c in claims] == [
        f"{PROV}:create:notice",
        f"{PROV}:put:notice",
        f"{PROV}:patch:notice",
        f"{PROV}:delete",
    ]
    assert len({c["txn"] for c in claims}) == 4  # each operation is a write of its own
