"""The SCIM routes' own dispatch (http/routes.py): the answers Starlette's Router, Mount and Route
gave, in their order, with routing errors as SCIM bodies that the request log keeps."""

from __future__ import annotations

import httpx2
import orjson
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import snapshot
from tests.ops.support import ops_app
from tests.ops.support import request_log

pytestmark = pytest.mark.anyio


async def test_a_static_path_goes_before_the_id_route_of_its_parent(client: httpx2.AsyncClient) -> None:
    """POST /Users/.search is the search; GET /Users/.search is a GET of the user with id
    ".search" (the route table's order: .search is tried first and allows only POST)."""
    await create_user(client, "bjensen")

    found = await client.post("/Users/.search", json={"filter": 'userName eq "bjensen"'})
    missing = await client.get("/Users/.search")

    assert found.status_code == 200 and found.json()["totalResults"] == 1
    assert assert_scim_error(missing, 404)["detail"] == "User .search not found."


async def test_head_is_answered_where_get_is_and_refused_elsewhere(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "bjensen")

    head = await client.head(f"/Users/{user['id']}")
    bulk = await client.head("/Bulk")

    assert head.status_code == 200 and head.headers["ETag"] == user["meta"]["version"]
    assert bulk.status_code == 405 and bulk.headers["Allow"] == "POST"


@pytest.mark.parametrize("path", ["/users", "/USERS/x", "/Users/a%2Fb", "/Groups/x/members", "/Schemas/a/b"])
async def test_paths_match_exactly_and_an_id_is_one_segment(client: httpx2.AsyncClient, path: str) -> None:
    await create_user(client, "bjensen")
    before = await snapshot(client)

    body = assert_scim_error(await client.get(path), 404)

    assert body["detail"].startswith("No SCIM endpoint at /scim/v2/")
    assert await snapshot(client) == before


async def test_an_id_is_passed_decoded(client: httpx2.AsyncClient) -> None:
    response = await client.get("/Users/caf%C3%A9%20x")
    assert assert_scim_error(response, 404)["detail"] == "User café x not found."


async def test_routing_errors_reach_the_request_log_as_scim_answers(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        unknown = await client.get("/Nope")
        refused = await client.delete("/Users")

    entries = await request_log(app)

    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("DELETE", "/scim/v2/Users", 405),
        ("GET", "/scim/v2/Nope", 404),
    ]
    assert orjson.loads(entries[0]["responseBody"]) == refused.json()
    assert orjson.loads(entries[1]["responseBody"]) == unknown.json()
    assert entries[0]["error"] == f"{refused.json()['detail']}"
