"""GET /Groups/{id} streamed from one snapshot (issue 21): the same document as the ordinary
rendering, sent a chunk of members at a time, with its ETag, 304 and 404 answered before anything
is streamed, and writes that commit while it is on the wire left out of it."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import pytest

from scimhub.protocol import group_stream
from tests.conftest import TenantAccess
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM_JSON
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(group_stream, "CHUNK_ROWS", 2)
    monkeypatch.setattr(group_stream, "PIECE_BYTES", 1)  # every chunk sent as it is read
    return 2


async def _group_of(client: httpx2.AsyncClient, count: int) -> tuple[dict[str, Any], list[str]]:
    ids = [(await create_user(client, f"member{i}@example.com"))["id"] for i in range(count)]
    inner = await create_group(client, "inner")  # a group member: type Group, $ref under /Groups
    group = await create_group(client, "big", [*ids, inner["id"]])
    return group, [*ids, inner["id"]]


async def _listed(client: httpx2.AsyncClient, gid: str, **params: str) -> dict[str, Any]:
    """The group as a list response renders it (the ordinary, non-streamed rendering)."""
    page = await get_ok(client, "/Groups", params={"filter": f'id eq "{gid}"', **params})
    found: dict[str, Any] = page["Resources"][0]
    return found


class Raw:
    """A GET straight through the ASGI app: every message it sends, in order."""

    def __init__(self, access: TenantAccess, app: Any) -> None:
        self.access, self.app = access, app
        self.messages: list[dict[str, Any]] = []

    async def get(
        self, path: str, *, on_body: Callable[[int], Awaitable[None]] | None = None, method: str = "GET"
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        raw_path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": f"/scim/v2{raw_path}",
            "raw_path": f"/scim/v2{raw_path}".encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {self.access.token}".encode())],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 5000),
        }
        bodies = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal bodies
            self.messages.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                bodies += 1
                if on_body is not None:
                    await on_body(bodies)

        await self.app(scope, receive, send)
        start = self.messages[0]
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        return start["status"], dict(start["headers"]), body

    @property
    def pieces(self) -> int:
        return sum(1 for m in self.messages if m["type"] == "http.response.body" and m.get("body"))


async def test_a_streamed_group_is_the_document_the_ordinary_rendering_makes(
    client: httpx2.AsyncClient, small_chunks: int
) -> None:
    group, ids = await _group_of(client, 5)

    response = await client.get(f"/Groups/{group['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"] == SCIM_JSON
    assert "content-length" not in response.headers  # streamed: chunked transfer
    body = response.json()
    assert body == await _listed(client, group["id"])
    assert list(body) == ["schemas", "id", "displayName", "members", "meta"]
    assert response.headers["etag"] == body["meta"]["version"]
    assert sorted(m["value"] for m in body["members"]) == sorted(ids)
    inner = next(m for m in body["members"] if m["type"] == "Group")
    assert inner == {
        "value": ids[-1],
        "$ref": f"http://testserver/scim/v2/Groups/{ids[-1]}",
        "type": "Group",
        "display": "inner",
    }
    user = body["members"][0]
    assert user["$ref"] == f"http://testserver/scim/v2/Users/{user['value']}"
    assert user["display"] == "member0@example.com"


async def test_members_are_sent_a_chunk_at_a_time(acme: TenantAccess, app: Any, small_chunks: int) -> None:
    group, _ = await _group_of(acme.client, 5)
    raw = Raw(acme, app)

    status, headers, body = await raw.get(f"/Groups/{group['id']}")

    assert status == 200
    assert raw.pieces == 1 + 2 + 1  # the head with 2 members, 2 more chunks (2 and 2), the end
    assert orjson.loads(body) == await get_ok(acme.client, f"/Groups/{group['id']}")
    assert headers[b"etag"] == group["meta"]["version"].encode()


async def test_a_group_without_members_streams_no_members_attribute(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "empty")

    body = await get_ok(client, f"/Groups/{group['id']}")

    assert body == group
    assert "members" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"attributes": "members"},
        {"attributes": "members,displayName"},
        {"attributes": "members.value"},  # sub-attributes: the ordinary rendering
        {"attributes": "displayName"},
        {"excludedAttributes": "members"},
        {"excludedAttributes": "displayName,meta"},
        {"excludedAttributes": "members.display"},
    ],
)
async def test_projections_match_the_ordinary_rendering(
    client: httpx2.AsyncClient, small_chunks: int, params: dict[str, str]
) -> None:
    group, _ = await _group_of(client, 3)

    body = await get_ok(client, f"/Groups/{group['id']}", params=params)

    assert body == await _listed(client, group["id"], **params)


async def test_if_none_match_on_the_current_version_is_304_with_no_body(client: httpx2.AsyncClient) -> None:
    group, _ = await _group_of(client, 3)

    response = await client.get(f"/Groups/{group['id']}", headers={"If-None-Match": group["meta"]["version"]})
    stale = await client.get(f"/Groups/{group['id']}", headers={"If-None-Match": 'W/"999"'})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == group["meta"]["version"]
    assert stale.status_code == 200
    assert stale.json()["members"]


async def test_an_unknown_group_is_404_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    await _group_of(client, 2)
    before = await snapshot(client)

    response = await client.get(f"/Groups/{UNKNOWN_ID}")

    body = assert_scim_error(response, 404)
    assert UNKNOWN_ID in body["detail"]
    assert await snapshot(client) == before


async def test_head_sends_the_headers_and_no_body(acme: TenantAccess, app: Any) -> None:
    group, _ = await _group_of(acme.client, 3)
    raw = Raw(acme, app)

    status, headers, body = await raw.get(f"/Groups/{group['id']}", method="HEAD")

    assert status == 200
    assert headers[b"etag"] == group["meta"]["version"].encode()
    assert body == b""


async def test_writes_committed_during_the_stream_are_not_in_it(
    acme: TenantAccess, app: Any, small_chunks: int
) -> None:
    """The members are the snapshot's, the ETag's version: a member added and one removed while the
    response is on the wire show in the next GET only."""
    group, ids = await _group_of(acme.client, 5)
    late = (await create_user(acme.client, "late@example.com"))["id"]
    path = f"/Groups/{group['id']}"
    raw = Raw(acme, app)

    async def write_between_chunks(piece: int) -> None:
        if piece == 1:
            response = await acme.client.patch(
                path,
                json=patch_body(
                    {"op": "add", "path": "members", "value": [{"value": late}]},
                    {"op": "remove", "path": f'members[value eq "{ids[-2]}"]'},
                ),
            )
            assert response.status_code == 204, response.text

    status, headers, body = await raw.get(path, on_body=write_between_chunks)

    streamed = orjson.loads(body)
    assert status == 200
    assert headers[b"etag"] == group["meta"]["version"].encode() == streamed["meta"]["version"].encode()
    assert sorted(m["value"] for m in streamed["members"]) == sorted(ids)
    after = await get_ok(acme.client, path)
    assert sorted(m["value"] for m in after["members"]) == sorted([*ids[:-2], ids[-1], late])
    assert after["meta"]["version"] != group["meta"]["version"]


async def test_a_group_of_another_tenant_is_404(client: httpx2.AsyncClient, globex: TenantAccess) -> None:
    group, _ = await _group_of(client, 2)

    response = await globex.client.get(f"/Groups/{group['id']}")

    assert_scim_error(response, 404)
    assert (await get_ok(client, f"/Groups/{group['id']}"))["members"]


async def test_the_core_schema_is_first_in_the_streamed_schemas(client: httpx2.AsyncClient) -> None:
    group, _ = await _group_of(client, 1)

    body = await get_ok(client, f"/Groups/{group['id']}")

    assert body["schemas"] == [GROUP]


@pytest.mark.parametrize(("endpoint", "relation"), [("/Groups", "members"), ("/Users", "groups")])
async def test_a_list_without_members_or_groups_is_the_rendering_without_them(
    client: httpx2.AsyncClient, endpoint: str, relation: str
) -> None:
    """``excludedAttributes=members`` (every IdP's group list) splices the stored text like the
    default projection: the same documents as a GET of each with the same parameter."""
    await _group_of(client, 3)
    params = {"excludedAttributes": relation}

    page = await get_ok(client, endpoint, params=params)

    assert page["Resources"]
    for item in page["Resources"]:
        assert relation not in item
        assert item == await get_ok(client, f"{endpoint}/{item['id']}", params=params)
