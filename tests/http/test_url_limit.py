"""Request URLs over MAX_URL_BYTES get a SCIM 414 pointing to POST .search; up to it they are served."""

from __future__ import annotations

from urllib.parse import quote

import httpx2
import pytest

from scimhub.http.target import MAX_URL_BYTES
from tests.conftest import TenantAccess
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

PREFIX = "/scim/v2"


def padded(path: str, total: int) -> str:
    """``path`` with an ignored query parameter that makes path + query exactly ``total`` bytes."""
    head = f"{path}?pad="
    return head + "p" * (total - len(PREFIX) - len(head))


def assert_points_to_search(response: httpx2.Response) -> None:
    body = assert_scim_error(response, 414)
    assert str(MAX_URL_BYTES) in body["detail"]
    assert "POST /Users/.search" in body["detail"]


async def test_a_url_at_the_limit_is_served(client: httpx2.AsyncClient) -> None:
    await create_user(client, "at.the.limit")

    response = await client.get(padded("/Users", MAX_URL_BYTES))

    assert response.status_code == 200, response.text
    assert len(assert_list_response(response.json(), total=1)) == 1


async def test_a_url_over_the_limit_is_a_scim_414_pointing_to_search(client: httpx2.AsyncClient) -> None:
    assert_points_to_search(await client.get(padded("/Users", MAX_URL_BYTES + 1)))


async def test_a_write_with_a_url_over_the_limit_changes_nothing(client: httpx2.AsyncClient) -> None:
    before = await snapshot(client)

    response = await client.post(padded("/Users", MAX_URL_BYTES + 1), json=user_body("never.created"))

    assert_points_to_search(response)
    assert await snapshot(client) == before


async def test_a_filter_too_long_for_the_url_is_served_by_post_search(client: httpx2.AsyncClient) -> None:
    """1,400 'é' are 8,400 bytes percent-encoded: over the URL limit, well within the filter limit."""
    name = "é" * 1400
    await create_user(client, name)
    await create_user(client, "someone.else")
    text = f'userName eq "{name}"'

    too_long = await client.get(f"/Users?filter={quote(text)}")
    searched = await client.post(
        "/Users/.search", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": text}
    )

    assert_points_to_search(too_long)
    assert searched.status_code == 200, searched.text
    assert [u["userName"] for u in assert_list_response(searched.json(), total=1)] == [name]


async def test_the_limit_applies_before_authentication(acme: TenantAccess, app: object) -> None:
    async with client_for(app, "not-a-token") as stranger:
        response = await stranger.get(padded("/Users", MAX_URL_BYTES + 1))

    assert_points_to_search(response)


async def test_a_long_path_counts_too(client: httpx2.AsyncClient) -> None:
    assert_points_to_search(await client.get("/Users/" + "x" * MAX_URL_BYTES))
