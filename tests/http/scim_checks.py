"""Helpers shared by the HTTP tests: SCIM constants, request builders and assertions.

Every error assertion checks the whole RFC 7644 §3.12 body; every "nothing changed" check
compares full snapshots of a tenant (lists with meta.version and lastModified) taken before
and after the failed request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx2

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.base import Store

SCIM = "http://testserver/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
UNKNOWN_ID = "6b0f7d4e-0000-4000-8000-000000000000"


def client_for(app: object, token: str | None, **kwargs: Any) -> httpx2.AsyncClient:
    """A client on ``app``; ``token`` None sends no Authorization header."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = httpx2.ASGITransport(app=app, **kwargs)  # type: ignore[arg-type]
    return httpx2.AsyncClient(transport=transport, base_url=SCIM, headers=headers)


def app_with(settings: Settings, store: Store, **changes: Any) -> object:
    """A second app on the same database, with some settings changed (e.g. a small limit)."""
    return create_app(dataclasses.replace(settings, **changes), store=store)


def user_body(user_name: str, **attrs: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, **attrs}


def group_body(display_name: str, member_ids: list[str] | None = None, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": display_name, **attrs}
    if member_ids is not None:
        body["members"] = [{"value": i} for i in member_ids]
    return body


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def create_user(client: httpx2.AsyncClient, user_name: str, **attrs: Any) -> dict[str, Any]:
    response = await client.post("/Users", json=user_body(user_name, **attrs))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_group(
    client: httpx2.AsyncClient, display_name: str, member_ids: list[str] | None = None, **attrs: Any
) -> dict[str, Any]:
    response = await client.post("/Groups", json=group_body(display_name, member_ids, **attrs))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def get_ok(client: httpx2.AsyncClient, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    assert_scim_media_type(response)
    body: dict[str, Any] = response.json()
    return body


async def patch_ok(client: httpx2.AsyncClient, path: str, *operations: dict[str, Any]) -> dict[str, Any]:
    """A successful PATCH; the resource after it. A Group PATCH without ``attributes`` answers 204
    with its new ETag and no body (RFC 7644 §3.5.2), so the group is read back; a User PATCH 200."""
    response = await client.patch(path, json=patch_body(*operations))
    if path.startswith("/Groups/") and "?" not in path:
        assert response.status_code == 204, response.text
        assert response.content == b""
        group = await get_ok(client, path)
        assert response.headers["etag"] == group["meta"]["version"]
        return group
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def search(client: httpx2.AsyncClient, endpoint: str, filter: str, **params: Any) -> dict[str, Any]:
    return await get_ok(client, endpoint, params={"filter": filter, **params})


async def member_ids(client: httpx2.AsyncClient, group_id: str) -> list[str]:
    group = await get_ok(client, f"/Groups/{group_id}")
    return sorted(m["value"] for m in group.get("members", []))


async def snapshot(client: httpx2.AsyncClient) -> dict[str, Any]:
    """Everything a tenant holds, as the API shows it (versions and timestamps included)."""
    users = await get_ok(client, "/Users", params={"count": "1000"})
    groups = await get_ok(client, "/Groups", params={"count": "1000"})
    return {"Users": users, "Groups": groups}


def assert_scim_media_type(response: httpx2.Response) -> None:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media == SCIM_JSON, response.headers.get("content-type")


def assert_scim_error(response: httpx2.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """RFC 7644 §3.12: Error schema, status as a string, scimType when Table 9 has one, a detail."""
    assert response.status_code == status, response.text
    assert_scim_media_type(response)
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert isinstance(body.get("detail"), str)
    assert body["detail"].strip()
    if scim_type is None:
        assert "scimType" not in body, body
    else:
        assert body.get("scimType") == scim_type, body
    return body


def assert_list_response(body: dict[str, Any], *, total: int, start_index: int = 1) -> list[dict[str, Any]]:
    """RFC 7644 §3.4.2: integer counters, itemsPerPage equal to the number of Resources."""
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == total
    assert body["startIndex"] == start_index
    resources: list[dict[str, Any]] = body["Resources"]
    assert isinstance(resources, list)
    assert body["itemsPerPage"] == len(resources)
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int
    return resources


def without_meta(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "meta"}


def null_paths(value: Any, path: str = "$") -> list[str]:
    """Every place a JSON document holds null (Entra rejects them in discovery documents)."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in null_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in null_paths(v, f"{path}[{i}]")]
    return []


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (ASCII ``!``..``~`` to U+FF01..U+FF5E; a space to U+3000)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)
