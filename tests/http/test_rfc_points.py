"""RFC points independent checkers flagged, through the real app (issue 20)."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


# -- RFC 7644 §3.5.2.1 / §3.5.2.3: add and replace carry a value ------------------------------
@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "nickName"},
        {"op": "replace", "path": "nickName"},
        {"op": "Replace", "path": "active"},
        {"op": "replace"},
    ],
)
async def test_add_or_replace_without_a_value_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, operation: dict[str, str]
) -> None:
    user = await create_user(client, "valueless", nickName="Before")
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "Boss"}, operation)
    )

    body = assert_scim_error(response, 400, "invalidValue")
    assert "Operations[1]" in body["detail"]
    assert "value" in body["detail"]
    assert await snapshot(client) == before


async def test_a_group_member_add_without_a_value_adds_nobody(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "valueless group")
    before = await snapshot(client)

    response = await client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "members"}))

    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before
