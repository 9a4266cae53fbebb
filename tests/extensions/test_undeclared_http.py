"""Extension data under a URN the tenant has not declared: kept as sent, returned, in events and
PATCHable (policy.keep_undeclared_extensions); refused, naming the URN, under SCIMHUB_STRICT_RFC."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scimhub.events.feed import read_feed
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.extensions.support import ENTRA_EXT
from tests.extensions.support import OKTA_EXT
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


async def _okta_user(client: httpx2.AsyncClient, user_name: str = "okta@acme.com") -> dict[str, Any]:
    """Okta: custom attributes as an object under their URN, the URN listed in ``schemas``."""
    body = {"schemas": [USER, OKTA_EXT], "userName": user_name, OKTA_EXT: {"costCenter": "42", "floors": [3, 4]}}
    response = await client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_undeclared_extension_round_trips_and_is_in_the_event(acme: TenantAccess, store: SqlStore) -> None:
    created = await _okta_user(acme.client)

    fetched = await get_ok(acme.client, f"/Users/{created['id']}")
    listed = await get_ok(acme.client, "/Users", params={"filter": 'userName eq "okta@acme.com"'})
    [event] = (await read_feed(EventStore.of(store), acme.tenant_id)).events

    sent = {"costCenter": "42", "floors": [3, 4]}
    assert created[OKTA_EXT] == fetched[OKTA_EXT] == listed["Resources"][0][OKTA_EXT] == sent
    assert created["schemas"] == fetched["schemas"] == [USER, OKTA_EXT]
    assert event.payload["resource"][OKTA_EXT] == sent
    assert {c["path"] for c in event.payload["changes"]} >= {f"{OKTA_EXT}:costCenter", f"{OKTA_EXT}:floors"}


async def test_entras_colon_form_on_create_lands_in_the_extension_object(acme: TenantAccess) -> None:
    body = {"schemas": [USER], "userName": "entra@acme.com", f"{ENTRA_EXT}:costCenter": "42", f"{ENTRA_EXT}:badge": "7"}

    created = (await acme.client.post("/Users", json=body)).json()

    assert created[ENTRA_EXT] == {"costCenter": "42", "badge": "7"}
    assert created["schemas"] == [USER, ENTRA_EXT]


async def test_patch_paths_under_an_undeclared_extension_work(acme: TenantAccess, store: SqlStore) -> None:
    created = await _okta_user(acme.client)
    url = f"/Users/{created['id']}"

    entra = await patch_ok(acme.client, url, {"op": "Replace", "path": f"{OKTA_EXT}:costCenter", "value": "43"})
    whole = await patch_ok(acme.client, url, {"op": "replace", "value": {OKTA_EXT: {"title": "Boss"}}})
    keyed = await patch_ok(acme.client, url, {"op": "add", "value": {f"{OKTA_EXT}:desk": "D1"}})
    appended = await patch_ok(acme.client, url, {"op": "add", "path": f"{OKTA_EXT}:floors", "value": [4, 5]})
    removed = await patch_ok(acme.client, url, {"op": "remove", "path": f"{OKTA_EXT}:title"})
    nulled = await patch_ok(acme.client, url, {"op": "replace", "path": f"{OKTA_EXT}:desk", "value": None})
    added_new = await patch_ok(acme.client, url, {"op": "add", "path": f"{ENTRA_EXT}:costCenter", "value": "9"})
    gone = await patch_ok(acme.client, url, {"op": "remove", "path": OKTA_EXT})

    assert entra[OKTA_EXT]["costCenter"] == "43"
    assert whole[OKTA_EXT] == {"costCenter": "43", "floors": [3, 4], "title": "Boss"}
    assert keyed[OKTA_EXT]["desk"] == "D1"
    assert appended[OKTA_EXT]["floors"] == [3, 4, 5]
    assert "title" not in removed[OKTA_EXT]
    assert "desk" not in nulled[OKTA_EXT]
    assert added_new[ENTRA_EXT] == {"costCenter": "9"} and added_new["schemas"] == [USER, OKTA_EXT, ENTRA_EXT]
    assert OKTA_EXT not in gone and gone["schemas"] == [USER, ENTRA_EXT]
    assert await get_ok(acme.client, url) == gone
    events = (await read_feed(EventStore.of(store), acme.tenant_id)).events
    assert events[1].payload["changes"] == [{"path": f"{OKTA_EXT}:costCenter", "before": "42", "after": "43"}]


async def test_a_value_filter_under_an_undeclared_extension_is_refused_naming_the_urn(acme: TenantAccess) -> None:
    created = await _okta_user(acme.client)
    before = await snapshot(acme.client)

    response = await acme.client.patch(
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": f'{OKTA_EXT}:badges[type eq "door"].value', "value": "x"}),
    )

    body = assert_scim_error(response, 400, "invalidPath")
    assert f"declare {OKTA_EXT}" in body["detail"]
    assert await snapshot(acme.client) == before


async def test_put_keeps_what_it_is_sent_and_replaces_the_rest(acme: TenantAccess) -> None:
    created = await _okta_user(acme.client)
    url = f"/Users/{created['id']}"

    kept = (
        await acme.client.put(
            url, json={"schemas": [USER, OKTA_EXT], "userName": "okta@acme.com", OKTA_EXT: {"costCenter": "1"}}
        )
    ).json()
    dropped = (await acme.client.put(url, json={"schemas": [USER], "userName": "okta@acme.com"})).json()

    assert kept[OKTA_EXT] == {"costCenter": "1"}
    assert OKTA_EXT not in dropped and dropped["schemas"] == [USER]


async def test_groups_keep_undeclared_extensions_too(acme: TenantAccess) -> None:
    urn = "urn:okta:custom:group:1.0"
    body = {"schemas": [GROUP, urn], "displayName": "Ops", urn: {"description": "Operations"}}

    created = (await acme.client.post("/Groups", json=body)).json()

    assert (await get_ok(acme.client, f"/Groups/{created['id']}"))[urn] == {"description": "Operations"}


async def test_attributes_and_excluded_attributes_select_undeclared_data(acme: TenantAccess) -> None:
    created = await _okta_user(acme.client)
    url = f"/Users/{created['id']}"

    whole = await get_ok(acme.client, url, params={"attributes": OKTA_EXT})
    one = await get_ok(acme.client, url, params={"attributes": f"{OKTA_EXT}:costCenter"})
    others = await get_ok(acme.client, url, params={"attributes": "userName"})
    excluded = await get_ok(acme.client, url, params={"excludedAttributes": OKTA_EXT.upper()})
    excluded_one = await get_ok(acme.client, url, params={"excludedAttributes": f"{OKTA_EXT}:floors"})

    assert whole[OKTA_EXT] == {"costCenter": "42", "floors": [3, 4]} and "userName" not in whole
    assert one[OKTA_EXT] == {"costCenter": "42"}
    assert OKTA_EXT not in others
    assert OKTA_EXT not in excluded and excluded["userName"] == "okta@acme.com"
    assert excluded_one[OKTA_EXT] == {"costCenter": "42"}


@pytest.mark.parametrize(
    ("ext", "detail"),
    [
        ({"costCenter": "a\u0000b"}, "NUL character"),
        ({"costCenter": "x" * 65_537}, "longer than the limit of 65536 characters"),
        ("not an object", "must be a JSON object"),
    ],
)
async def test_undeclared_data_is_bounded_by_the_input_limits(acme: TenantAccess, ext: Any, detail: str) -> None:
    before = await snapshot(acme.client)

    response = await acme.client.post("/Users", json={"schemas": [USER, OKTA_EXT], "userName": "x", OKTA_EXT: ext})

    body = assert_scim_error(response, 400, "invalidValue")
    assert detail in body["detail"]
    assert await snapshot(acme.client) == before


# -- strict mode --------------------------------------------------------------------------------


@pytest.fixture
async def strict(settings: Settings, store: SqlStore, acme: TenantAccess) -> Any:
    async with client_for(app_with(settings, store, strict_rfc=True), acme.token) as client:
        yield client


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": [USER, OKTA_EXT], "userName": "s", OKTA_EXT: {"costCenter": "42"}},
        {"schemas": [USER], "userName": "s", f"{ENTRA_EXT}:costCenter": "42"},
    ],
    ids=["okta", "entra"],
)
async def test_strict_mode_refuses_an_undeclared_extension_naming_it(
    strict: httpx2.AsyncClient, body: dict[str, Any]
) -> None:
    before = await snapshot(strict)

    response = await strict.post("/Users", json=body)

    detail = assert_scim_error(response, 400, "invalidValue")["detail"]
    assert (OKTA_EXT if OKTA_EXT in body else ENTRA_EXT) in detail
    assert await snapshot(strict) == before


async def test_strict_mode_refuses_a_patch_under_an_undeclared_extension(
    strict: httpx2.AsyncClient, acme: TenantAccess
) -> None:
    user = (await acme.client.post("/Users", json={"schemas": [USER], "userName": "p"})).json()
    before = await snapshot(strict)

    response = await strict.patch(
        f"/Users/{user['id']}", json=patch_body({"op": "add", "path": f"{ENTRA_EXT}:costCenter", "value": "1"})
    )

    assert_scim_error(response, 400, "invalidPath")
    assert await snapshot(strict) == before


async def test_okta_custom_attributes_in_the_enterprise_namespace_are_kept(acme: TenantAccess, store: SqlStore) -> None:
    """Okta's Profile Editor may put custom attributes in the enterprise extension's namespace: an
    attribute RFC 7643 does not define there is kept as sent, returned, PATCHable and selectable."""
    body = {"schemas": [USER, ENTERPRISE], "userName": "e", ENTERPRISE: {"department": "Ops", "badgeId": "B-1"}}
    created = (await acme.client.post("/Users", json=body)).json()
    url = f"/Users/{created['id']}"

    entra = await patch_ok(acme.client, url, {"op": "Replace", "path": f"{ENTERPRISE}:badgeId", "value": "B-2"})
    okta = await patch_ok(acme.client, url, {"op": "replace", "value": {ENTERPRISE: {"floor": 3}}})
    only = await get_ok(acme.client, url, params={"attributes": f"{ENTERPRISE}:badgeId"})
    without = await get_ok(acme.client, url, params={"excludedAttributes": f"{ENTERPRISE}:badgeId"})
    removed = await patch_ok(acme.client, url, {"op": "remove", "path": f"{ENTERPRISE}:floor"})
    events = (await read_feed(EventStore.of(store), acme.tenant_id)).events

    assert created[ENTERPRISE] == {"department": "Ops", "badgeId": "B-1"}
    assert entra[ENTERPRISE]["badgeId"] == "B-2"
    assert okta[ENTERPRISE] == {"department": "Ops", "badgeId": "B-2", "floor": 3}
    assert only[ENTERPRISE] == {"badgeId": "B-2"}
    assert without[ENTERPRISE] == {"department": "Ops", "floor": 3}
    assert removed[ENTERPRISE] == {"department": "Ops", "badgeId": "B-2"}
    assert events[1].payload["changes"] == [{"path": f"{ENTERPRISE}:badgeId", "before": "B-1", "after": "B-2"}]
