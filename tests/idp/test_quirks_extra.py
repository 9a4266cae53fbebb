"""IDP_QUIRKS lines that are client-side loops rather than fixed recordings.

The recorded scenarios in ``testdata/`` replay fixed traffic. A few client behaviours are
algorithms whose requests depend on earlier answers (Okta's import loop runs while
``totalResults`` exceeds what it fetched; Entra's validator follows
``startIndex + len(Resources)``), or need more data than a readable recording holds (more than
100 users). They are written as ordinary tests here. Each docstring names the line it covers
with ``Source:`` and ``Quirk:`` lines, which ``test_coverage.py`` reads.
"""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import app_with
from tests.http.scim_checks import client_for
from tests.ops.support import captured_logs

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA_HEADERS = {
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "Content-Type": "application/scim+json; charset=utf-8",
}


async def _create_users(client: httpx2.AsyncClient, count: int, prefix: str = "user") -> list[str]:
    ids = []
    for i in range(count):
        name = f"{prefix}{i:03d}@okta.local"
        body = {
            "schemas": [USER],
            "userName": name,
            "name": {"givenName": "Import", "familyName": f"User{i:03d}"},
            "emails": [{"primary": True, "value": name, "type": "work"}],
            "active": True,
        }
        response = await client.post("/Users", json=body, headers=OKTA_HEADERS)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _create_groups(client: httpx2.AsyncClient, count: int) -> list[str]:
    ids = []
    for i in range(count):
        body = {"schemas": [GROUP], "displayName": f"Pushed Group {i:03d}", "members": []}
        response = await client.post("/Groups", json=body, headers=OKTA_HEADERS)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _page(client: httpx2.AsyncClient, endpoint: str, start: int, count: int) -> dict[str, Any]:
    response = await client.get(f"{endpoint}?startIndex={start}&count={count}", headers=OKTA_HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    page: dict[str, Any] = response.json()
    assert page["schemas"] == [LIST_RESPONSE]
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(page[key]) is int, f"{key} must be a JSON integer, got {page[key]!r}"
    assert page["startIndex"] == start
    assert page["itemsPerPage"] == len(page["Resources"])
    return page


async def _okta_import(client: httpx2.AsyncClient, endpoint: str) -> tuple[list[str], int]:
    """Okta's import loop, exactly: count=100, startIndex += 100 while totalResults > fetched."""
    seen: list[str] = []
    start, requests = 1, 0
    while True:
        page = await _page(client, endpoint, start, 100)
        requests += 1
        seen += [r["id"] for r in page["Resources"]]
        if page["totalResults"] <= len(seen) or not page["Resources"]:
            return seen, requests
        start += 100


@pytest.mark.parametrize(("endpoint", "size"), [("/Users", 150), ("/Groups", 101)])
async def test_okta_import_loop_pages_by_100_until_total_results(
    client: httpx2.AsyncClient, endpoint: str, size: int
) -> None:
    """Okta imports page by page with count=100 until it has totalResults resources.

    Source: O-REF
    Quirk: Imports use `GET /Users?startIndex=1&count=100`, then `startIndex+=100` while `totalResults` exceeds …
    """
    created = await (_create_users(client, size) if endpoint == "/Users" else _create_groups(client, size))

    seen, requests = await _okta_import(client, endpoint)

    assert requests == 2
    assert seen == created, "every resource exactly once, in one stable order"


async def test_okta_ordering_is_the_same_for_every_count_and_start_index(client: httpx2.AsyncClient) -> None:
    """Every (startIndex, count) window is a slice of one order, before and after updates.

    Source: O-REF
    Quirk: Ordering must be the same on every request, whatever `count` and `startIndex` are.
    """
    ids = await _create_users(client, 7, "order")
    full = [r["id"] for r in (await _page(client, "/Users", 1, 100))["Resources"]]
    assert full == ids

    async def check_all_windows() -> None:
        for start in range(1, len(ids) + 2):
            for count in range(1, len(ids) + 2):
                page = await _page(client, "/Users", start, count)
                assert page["totalResults"] == len(ids)
                got = [r["id"] for r in page["Resources"]]
                assert got == full[start - 1 : start - 1 + count], (start, count)

    await check_all_windows()
    # Okta deactivates and updates users between imports; the order must not move.
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    for user_id in (ids[0], ids[3]):
        response = await client.patch(f"/Users/{user_id}", json=deactivate, headers=OKTA_HEADERS)
        assert response.status_code == 200, response.text
    await check_all_windows()


@pytest.mark.parametrize(("endpoint", "size"), [("/Users", 23), ("/Groups", 12)])
async def test_entra_validator_pagination_walk(client: httpx2.AsyncClient, endpoint: str, size: int) -> None:
    """Entra's validator walk: startIndex=N&count=5, next N = startIndex + len(Resources).

    Source: E-REF-LA
    Quirk: The validator makes sure at least 11 users exist, then walks `GET /Users?startIndex=N&count=5`. …
    """
    created = await (_create_users(client, size, "walk") if endpoint == "/Users" else _create_groups(client, size))

    seen: list[str] = []
    start, pages = 1, 0
    while True:
        page = await _page(client, endpoint, start, 5)  # asserts the echoed startIndex
        if not page["Resources"]:
            break
        pages += 1
        seen += [r["id"] for r in page["Resources"]]
        start = page["startIndex"] + len(page["Resources"])

    expected_pages = (size + 4) // 5
    assert expected_pages >= 2
    assert pages == expected_pages
    assert seen == created


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UNDECLARED = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"


@pytest.mark.parametrize("op", ["Replace", "Add"])
async def test_entra_custom_extension_paths_patch_declared_and_keep_undeclared_extensions(
    client: httpx2.AsyncClient, settings: Settings, store: SqlStore, acme: TenantAccess, op: str
) -> None:
    """Entra PATCHes a custom attribute with the whole `urn:…:2.0:User:<attr>` string as the path.

    A declared extension (the enterprise one) is patched through that form. A path into an
    extension the tenant has not declared is kept as sent (policy.keep_undeclared_extensions,
    issue 15: nothing an IdP sends is silently dropped); a strict server (SCIMHUB_STRICT_RFC)
    refuses it with 400 invalidPath naming it (RFC 7644 §3.5.2), and nothing changes.

    Source: E-TUT
    Quirk: Custom extension attributes are mapped with target names of the form … that whole string is the `path`
    """
    created = await client.post("/Users", json={"schemas": [USER], "userName": "ext@contoso.example", "active": True})
    assert created.status_code == 201, created.text
    path = f"/Users/{created.json()['id']}"
    entra = {"Content-Type": "application/scim+json"}

    declared = {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": f"{ENTERPRISE}:costCenter", "value": "4130"}]}
    patched = await client.patch(path, json=declared, headers=entra)
    assert patched.status_code == 200, patched.text
    assert patched.json()[ENTERPRISE] == {"costCenter": "4130"}
    assert ENTERPRISE in patched.json()["schemas"]

    custom = {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": f"{UNDECLARED}:badgeId", "value": "B-77"}]}
    async with client_for(app_with(settings, store, strict_rfc=True), acme.token) as strict:
        before = (await strict.get(path)).json()
        refused = await strict.patch(path, json=custom, headers=entra)
        assert (await strict.get(path)).json() == before, "a refused PATCH changes nothing"
    kept = await client.patch(path, json=custom, headers=entra)

    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["scimType"] == "invalidPath"
    assert body["status"] == "400"
    assert f"{UNDECLARED}:badgeId" in body["detail"]
    assert kept.status_code == 200, kept.text
    assert kept.json()[UNDECLARED] == {"badgeId": "B-77"}
    assert (await client.get(path)).json()[UNDECLARED] == {"badgeId": "B-77"}


async def test_okta_user_agent_is_recorded_in_the_access_log(client: httpx2.AsyncClient) -> None:
    """Okta's requests name the client (prefix `Okta SCIM Client`, any version): the access log
    line of each request records the User-Agent, so an operator sees which IdP called.

    Source: O-REF
    Quirk: Requests carry `User-Agent: Okta SCIM Client 1.0.0` … Recognise by the prefix, not the version.
    """
    with captured_logs() as logs:
        listed = await client.get("/Groups?startIndex=1&count=100", headers=OKTA_HEADERS)
        later = await client.get("/Users?count=1", headers={**OKTA_HEADERS, "User-Agent": "Okta SCIM Client 2.4.1"})
        other = await client.get("/Users?count=1", headers={"User-Agent": "x" * 500})

    assert (listed.status_code, later.status_code, other.status_code) == (200, 200, 200)
    access = [orjson.loads(line) for line in logs.lines]
    agents = [line.get("user_agent") for line in access if line["logger"] == "scimhub.access"]
    assert agents == ["Okta SCIM Client 1.0.0", "Okta SCIM Client 2.4.1", "x" * 200]
    assert all(agent.startswith("Okta SCIM Client") for agent in agents[:2])
