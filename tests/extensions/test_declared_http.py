"""A tenant's declared extension, through the real app: discovery, create, GET, events, validation,
projection, filters and sortBy on both databases, and PATCH in the path forms IdPs send."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scimhub.events.feed import read_feed
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.extensions.support import ACME
from tests.extensions.support import acme_schema
from tests.extensions.support import declare
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture
async def declared(store: SqlStore, acme: TenantAccess) -> TenantAccess:
    """Tenant acme with the acme extension declared (before its first request)."""
    await declare(store, acme.tenant_id)
    return acme


async def _create(client: httpx2.AsyncClient, user_name: str, **ext: Any) -> dict[str, Any]:
    body = {"schemas": [USER, ACME], "userName": user_name, ACME: ext}
    response = await client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- discovery ------------------------------------------------------------------------------


async def test_the_tenant_discovers_its_extension_and_another_tenant_does_not(
    declared: TenantAccess, globex: TenantAccess
) -> None:
    schemas = await get_ok(declared.client, "/Schemas")
    served = {s["id"]: s for s in schemas["Resources"]}
    one = await get_ok(declared.client, f"/Schemas/{ACME}")
    user_type = await get_ok(declared.client, "/ResourceTypes/User")

    assert served[ACME] == one
    assert one["meta"] == {"resourceType": "Schema", "location": f"{SCIM}/Schemas/{ACME}"}
    cost = next(a for a in one["attributes"] if a["name"] == "costCenter")
    assert cost == {
        "name": "costCenter",
        "type": "string",
        "multiValued": False,
        "description": "Finance cost center",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    assert user_type["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": ACME, "required": False},
    ]
    others = await get_ok(globex.client, "/Schemas")
    assert ACME not in {s["id"] for s in others["Resources"]}
    assert_scim_error(await globex.client.get(f"/Schemas/{ACME}"), 404)
    assert (await get_ok(globex.client, "/ResourceTypes/User"))["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False}
    ]


async def test_an_extension_declared_required_is_required_in_discovery_and_on_create(
    store: SqlStore, acme: TenantAccess
) -> None:
    await declare(store, acme.tenant_id, required=True)

    user_type = await get_ok(acme.client, "/ResourceTypes/User")
    refused = await acme.client.post("/Users", json={"schemas": [USER], "userName": "no-ext"})

    assert {"schema": ACME, "required": True} in user_type["schemaExtensions"]
    body = assert_scim_error(refused, 400, "invalidValue")
    assert ACME in body["detail"]
    assert (await snapshot(acme.client))["Users"]["totalResults"] == 0


async def test_a_required_extension_attribute_is_required_when_the_extension_is_sent(
    store: SqlStore, acme: TenantAccess
) -> None:
    schema = acme_schema()
    schema["attributes"][0]["required"] = True  # costCenter
    await declare(store, acme.tenant_id, schema)
    before = await snapshot(acme.client)

    refused = await acme.client.post("/Users", json={"schemas": [USER, ACME], "userName": "r", ACME: {"badge": 1}})
    unchanged = await snapshot(acme.client)
    without = await acme.client.post("/Users", json={"schemas": [USER], "userName": "plain"})

    body = assert_scim_error(refused, 400, "invalidValue")
    assert f"'{ACME}:costCenter' is required" in body["detail"]
    assert unchanged == before
    assert without.status_code == 201  # the extension itself is optional (not declared --required)


# -- create, read, events -------------------------------------------------------------------


async def test_extension_data_is_stored_returned_and_in_the_created_event(
    declared: TenantAccess, store: SqlStore
) -> None:
    created = await _create(declared.client, "x@acme.com", costCenter="42", badge=7, contractor="true")

    fetched = await get_ok(declared.client, f"/Users/{created['id']}")
    listed = await search(declared.client, "/Users", 'userName eq "x@acme.com"')
    [event] = (await read_feed(EventStore.of(store), declared.tenant_id)).events

    expected = {"costCenter": "42", "badge": 7, "contractor": True}
    assert created[ACME] == fetched[ACME] == listed["Resources"][0][ACME] == expected
    assert created["schemas"] == [USER, ACME]
    assert event.payload["resource"][ACME] == expected
    assert {c["path"]: c["after"] for c in event.payload["changes"]}[f"{ACME}:costCenter"] == "42"


@pytest.mark.parametrize(
    ("ext", "named", "scim_type"),
    [
        ({"badge": "seven"}, "badge", "invalidValue"),
        ({"contractor": "maybe"}, "contractor", "invalidValue"),
        ({"hireDate": "last tuesday"}, "hireDate", "invalidValue"),
        ({"costCenter": ["a", "b"]}, "costCenter", "invalidValue"),
        ({"tags": "solo"}, "tags", "invalidValue"),
        ({"badges": [{"value": 1}]}, "badges[0].value", "invalidValue"),
    ],
)
async def test_a_badly_typed_extension_value_is_refused_naming_it_and_nothing_is_created(
    declared: TenantAccess, ext: dict[str, Any], named: str, scim_type: str
) -> None:
    before = await snapshot(declared.client)

    response = await declared.client.post("/Users", json={"schemas": [USER, ACME], "userName": "bad", ACME: ext})

    body = assert_scim_error(response, 400, scim_type)
    assert f"'{ACME}:{named}'" in body["detail"]  # URN-qualified: the IdP's admin finds it
    assert await snapshot(declared.client) == before


async def test_an_immutable_extension_attribute_cannot_change(declared: TenantAccess) -> None:
    created = await _create(declared.client, "imm", employeeId="E-1")
    before = await snapshot(declared.client)

    response = await declared.client.patch(
        f"/Users/{created['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": f"{ACME}:employeeId", "value": "E-2"}],
        },
    )

    assert_scim_error(response, 400, "mutability")
    assert await snapshot(declared.client) == before


# -- projection -----------------------------------------------------------------------------


async def test_returned_request_and_attributes_parameters_apply_to_extension_attributes(
    declared: TenantAccess,
) -> None:
    created = await _create(declared.client, "proj", costCenter="42", internalNote="hush", badge=3)
    url = f"/Users/{created['id']}"

    plain = await get_ok(declared.client, url)
    asked = await get_ok(declared.client, url, params={"attributes": f"{ACME}:internalNote"})
    one = await get_ok(declared.client, url, params={"attributes": f"{ACME}:costCenter"})
    without = await get_ok(declared.client, url, params={"excludedAttributes": f"{ACME}:costCenter"})
    no_ext = await get_ok(declared.client, url, params={"excludedAttributes": ACME})
    listed = await get_ok(declared.client, "/Users", params={"attributes": "userName," + ACME})

    assert plain[ACME] == {"costCenter": "42", "badge": 3}  # internalNote is returned on request only
    assert "internalNote" not in created[ACME]
    assert asked[ACME] == {"internalNote": "hush"}
    assert one[ACME] == {"costCenter": "42"} and "userName" not in one
    assert without[ACME] == {"badge": 3}
    assert ACME not in no_ext
    assert listed["Resources"][0][ACME] == {"costCenter": "42", "badge": 3, "internalNote": "hush"}


# -- filters and sortBy ---------------------------------------------------------------------


async def test_filters_on_extension_attributes_run_on_the_database(declared: TenantAccess) -> None:
    a = await _create(declared.client, "a", costCenter="42", badge=1, tier="Gold", tags=["x", "y"])
    door = [{"value": "9", "type": "door"}]
    b = await _create(declared.client, "b", costCenter="7", badge=5, tier="gold", badges=door)
    c = await _create(declared.client, "c")

    async def ids(expression: str) -> set[str]:
        body = await search(declared.client, "/Users", expression, count="100")
        return {r["id"] for r in assert_list_response(body, total=body["totalResults"])}

    assert await ids(f'{ACME}:costCenter eq "42"') == {a["id"]}
    assert await ids(f'{ACME.upper()}:COSTCENTER EQ "42"') == {a["id"]}  # names are case-insensitive
    assert await ids(f"{ACME}:badge gt 2") == {b["id"]}
    assert await ids(f'{ACME}:tier eq "Gold"') == {a["id"]}  # caseExact
    assert await ids(f'{ACME}:costCenter sw "4"') == {a["id"]}
    assert await ids(f'{ACME}:tags eq "y"') == {a["id"]}
    assert await ids(f'{ACME}:badges[type eq "door" and value eq "9"]') == {b["id"]}
    assert await ids(f"not ({ACME}:costCenter pr)") == {c["id"]}
    assert await ids(f'{ACME}:costCenter eq "42" or userName eq "c"') == {a["id"], c["id"]}


async def test_sort_by_an_extension_attribute(declared: TenantAccess) -> None:
    for name, badge in (("m", 5), ("n", 1), ("o", 3)):
        await _create(declared.client, name, badge=badge)

    body = await get_ok(declared.client, "/Users", params={"sortBy": f"{ACME}:badge", "sortOrder": "descending"})

    assert [r["userName"] for r in body["Resources"]] == ["m", "o", "n"]


# -- PATCH path forms -----------------------------------------------------------------------


async def test_patch_in_every_path_form_clients_send(declared: TenantAccess, store: SqlStore) -> None:
    created = await _create(declared.client, "p", costCenter="1", badges=[{"value": "1", "type": "door"}])
    url = f"/Users/{created['id']}"

    # Entra: the URN-qualified attribute as the path.
    entra = await patch_ok(declared.client, url, {"op": "Replace", "path": f"{ACME}:costCenter", "value": "2"})
    # Pathless, the extension object as the value (RFC 7644 §3.5.2.3, Okta).
    whole = await patch_ok(declared.client, url, {"op": "replace", "value": {ACME: {"costCenter": "3", "badge": 4}}})
    # Pathless, a URN-qualified key (Entra's pathless form).
    keyed = await patch_ok(declared.client, url, {"op": "replace", "value": {f"{ACME}:costCenter": "5"}})
    # A value filter on a multi-valued extension attribute.
    filtered = await patch_ok(
        declared.client, url, {"op": "replace", "path": f'{ACME}:badges[type eq "door"].value', "value": "D"}
    )
    added = await patch_ok(declared.client, url, {"op": "add", "path": f"{ACME}:tags", "value": ["t1"]})
    removed = await patch_ok(declared.client, url, {"op": "remove", "path": f"{ACME}:costCenter"})

    assert entra[ACME]["costCenter"] == "2"
    assert whole[ACME]["costCenter"] == "3" and whole[ACME]["badge"] == 4
    assert keyed[ACME]["costCenter"] == "5"
    assert filtered[ACME]["badges"] == [{"value": "D", "type": "door"}]
    assert added[ACME]["tags"] == ["t1"]
    assert "costCenter" not in removed[ACME]
    assert (await get_ok(declared.client, url))[ACME] == removed[ACME]
    events = (await read_feed(EventStore.of(store), declared.tenant_id)).events
    assert [c["path"] for c in events[1].payload["changes"]] == [f"{ACME}:costCenter"]
    assert events[1].payload["resource"][ACME]["costCenter"] == "2"


async def test_a_badly_typed_patch_value_is_refused_and_nothing_changes(declared: TenantAccess) -> None:
    created = await _create(declared.client, "q", badge=1)
    before = await snapshot(declared.client)

    response = await declared.client.patch(
        f"/Users/{created['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": f"{ACME}:badge", "value": "many"}],
        },
    )

    body = assert_scim_error(response, 400, "invalidValue")
    assert "badge" in body["detail"]
    assert await snapshot(declared.client) == before


# -- another tenant -------------------------------------------------------------------------


async def test_another_tenant_cannot_filter_or_sort_by_the_first_tenants_schema_nor_is_typed_by_it(
    declared: TenantAccess, globex: TenantAccess
) -> None:
    user = (await globex.client.post("/Users", json={"schemas": [USER], "userName": "g"})).json()
    before = await snapshot(globex.client)

    filtered = await globex.client.get("/Users", params={"filter": f'{ACME}:costCenter eq "42"'})
    sorted_ = await globex.client.get("/Users", params={"sortBy": f"{ACME}:badge"})
    unchanged = await snapshot(globex.client)
    # For globex the URN is undeclared: the value is kept as sent, not checked against acme's integer.
    patched = await patch_ok(
        globex.client, f"/Users/{user['id']}", {"op": "replace", "path": f"{ACME}:badge", "value": "many"}
    )

    assert_scim_error(filtered, 400, "invalidFilter")
    assert_scim_error(sorted_, 400, "invalidValue")
    assert unchanged == before
    assert patched[ACME] == {"badge": "many"}


async def test_bulk_operations_use_the_tenants_declared_extensions(declared: TenantAccess) -> None:
    """A POST /Bulk operation is the request it stands for: typed by the tenant's declaration."""
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "ok",
            "data": {"schemas": [USER, ACME], "userName": "b1", ACME: {"badge": 1}},
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "bad",
            "data": {"schemas": [USER, ACME], "userName": "b2", ACME: {"badge": "x"}},
        },
    ]
    response = await declared.client.post(
        "/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations}
    )

    ok, bad = response.json()["Operations"]
    assert ok["status"] == "201"
    assert bad["status"] == "400" and f"'{ACME}:badge' must be an integer" in bad["response"]["detail"]
    found = await search(declared.client, "/Users", f"{ACME}:badge eq 1")
    assert [r["userName"] for r in found["Resources"]] == ["b1"]
