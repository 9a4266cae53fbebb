"""sortBy / sortOrder over HTTP (RFC 7644 §3.4.2.3)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio


async def user_names(client: httpx2.AsyncClient, endpoint: str = "/Users", **params: Any) -> list[str]:
    body = await get_ok(client, endpoint, params={"count": "1000", **params})
    return [r.get("userName") or r["displayName"] for r in body["Resources"]]


@pytest.fixture
async def trio(client: httpx2.AsyncClient) -> None:
    """Three users created out of order, with mixed case."""
    for name in ("carol", "alice", "Bob"):
        await create_user(client, name)


@pytest.fixture
async def families(client: httpx2.AsyncClient) -> None:
    """Five users, two of them without name.familyName (one without a name at all)."""
    await create_user(client, "u1", name={"familyName": "zeta"})
    await create_user(client, "u2", name={"givenName": "No Family"})
    await create_user(client, "u3", name={"familyName": "Alpha"})
    await create_user(client, "u4")
    await create_user(client, "u5", name={"familyName": "Mu"})


async def test_sort_by_user_name_ascending_ignores_case(client: httpx2.AsyncClient, trio: None) -> None:
    assert await user_names(client, sortBy="userName") == ["alice", "Bob", "carol"]


async def test_sort_by_user_name_descending_ignores_case(client: httpx2.AsyncClient, trio: None) -> None:
    assert await user_names(client, sortBy="userName", sortOrder="descending") == ["carol", "Bob", "alice"]


async def test_without_sort_by_the_order_is_creation_order(client: httpx2.AsyncClient, trio: None) -> None:
    assert await user_names(client) == ["carol", "alice", "Bob"]


async def test_sort_order_without_sort_by_reverses_creation_order(client: httpx2.AsyncClient, trio: None) -> None:
    assert await user_names(client, sortOrder="descending") == ["Bob", "alice", "carol"]


@pytest.mark.parametrize("spelling", ["DESCENDING", "Descending", "descending"])
async def test_sort_order_is_case_insensitive(client: httpx2.AsyncClient, trio: None, spelling: str) -> None:
    assert await user_names(client, sortBy="userName", sortOrder=spelling) == ["carol", "Bob", "alice"]


@pytest.mark.parametrize("spelling", ["USERNAME", "username", f"{USER}:userName"])
async def test_sort_by_names_the_attribute_case_insensitively_or_by_urn(
    client: httpx2.AsyncClient, trio: None, spelling: str
) -> None:
    assert await user_names(client, sortBy=spelling) == ["alice", "Bob", "carol"]


async def test_users_without_the_sort_attribute_come_last_when_ascending(
    client: httpx2.AsyncClient, families: None
) -> None:
    assert await user_names(client, sortBy="name.familyName") == ["u3", "u5", "u1", "u2", "u4"]


async def test_users_without_the_sort_attribute_come_first_when_descending(
    client: httpx2.AsyncClient, families: None
) -> None:
    names = await user_names(client, sortBy="name.familyName", sortOrder="descending")

    assert names == ["u4", "u2", "u1", "u5", "u3"]


async def test_descending_is_the_exact_reverse_of_ascending_ties_included(
    client: httpx2.AsyncClient, families: None
) -> None:
    ascending = await user_names(client, sortBy="name.familyName")
    descending = await user_names(client, sortBy="name.familyName", sortOrder="descending")

    assert descending == ascending[::-1]


async def test_sort_by_emails_value_uses_the_primary_email_else_the_first(client: httpx2.AsyncClient) -> None:
    await create_user(client, "primary-aa", emails=[{"value": "zz@x.test"}, {"value": "aa@x.test", "primary": True}])
    await create_user(client, "first-mm", emails=[{"value": "mm@x.test"}, {"value": "bb@x.test"}])
    await create_user(client, "no-email")
    await create_user(client, "only-CC", emails=[{"value": "CC@x.test", "type": "work"}])

    assert await user_names(client, sortBy="emails.value") == ["primary-aa", "only-CC", "first-mm", "no-email"]
    assert await user_names(client, sortBy="emails.value", sortOrder="descending") == [
        "no-email",
        "first-mm",
        "only-CC",
        "primary-aa",
    ]


async def test_sort_by_meta_created_follows_creation_order(client: httpx2.AsyncClient) -> None:
    for name in ("m3", "m1", "m2", "m0"):
        await create_user(client, name)

    assert await user_names(client, sortBy="meta.created") == ["m3", "m1", "m2", "m0"]
    assert await user_names(client, sortBy="meta.created", sortOrder="descending") == ["m0", "m2", "m1", "m3"]


async def test_sort_by_an_enterprise_extension_attribute(client: httpx2.AsyncClient) -> None:
    for name, department in (("e1", "Sales"), ("e2", None), ("e3", "engineering"), ("e4", "Ops")):
        extra = {} if department is None else {ENTERPRISE: {"department": department}}
        await create_user(client, name, schemas=[USER, ENTERPRISE], **extra)

    assert await user_names(client, sortBy=f"{ENTERPRISE}:department") == ["e3", "e4", "e1", "e2"]


async def test_sort_by_applies_to_groups_too(client: httpx2.AsyncClient) -> None:
    for name in ("beta", "Alpha", "gamma"):
        await create_group(client, name)

    names = await user_names(client, "/Groups", sortBy="displayName", sortOrder="descending")

    assert names == ["gamma", "beta", "Alpha"]


async def test_sort_by_combines_with_a_filter(client: httpx2.AsyncClient) -> None:
    for name, title in (("d", "eng"), ("a", "ops"), ("c", "eng"), ("b", "eng")):
        await create_user(client, name, title=title)

    assert await user_names(client, filter='title eq "eng"', sortBy="userName") == ["b", "c", "d"]


async def test_ties_keep_creation_order(client: httpx2.AsyncClient) -> None:
    for name, title in (("t5", "same"), ("t1", "Same"), ("t4", "other"), ("t2", "SAME"), ("t3", "same")):
        await create_user(client, name, title=title)

    assert await user_names(client, sortBy="title") == ["t4", "t5", "t1", "t2", "t3"]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
@pytest.mark.parametrize(("sort_by", "order"), [("userName", "ascending"), ("title", "descending")])
async def test_start_index_pages_concatenate_to_the_full_sorted_list(
    client: httpx2.AsyncClient, count: int, sort_by: str, order: str
) -> None:
    titles = ["b", None, "a", "b", "c", None, "a"]
    for i, title in enumerate(titles):
        extra = {} if title is None else {"title": title}
        await create_user(client, f"user{(i * 5) % 7}", **extra)
    full = await user_names(client, sortBy=sort_by, sortOrder=order)

    pages: list[str] = []
    for start in range(1, len(titles) + 1, count):
        body = await get_ok(
            client, "/Users", params={"sortBy": sort_by, "sortOrder": order, "startIndex": start, "count": count}
        )
        resources = assert_list_response(body, total=len(titles), start_index=start)
        pages += [r["userName"] for r in resources]

    assert pages == full
    assert sorted(full) == sorted(f"user{i}" for i in range(7))


@pytest.mark.parametrize("order", ["up", "asc", "desc", "1", "ascending descending"])
async def test_an_invalid_sort_order_answers_400_invalid_value(
    client: httpx2.AsyncClient, trio: None, order: str
) -> None:
    response = await client.get("/Users", params={"sortBy": "userName", "sortOrder": order})

    body = assert_scim_error(response, 400, "invalidValue")
    assert "sortOrder" in body["detail"]


async def test_an_empty_sort_order_is_the_default_ascending(client: httpx2.AsyncClient, trio: None) -> None:
    assert await user_names(client, sortBy="userName", sortOrder="") == ["alice", "Bob", "carol"]


@pytest.mark.parametrize("sort_by", ["noSuchAttribute", "name.noSuchPart", f"{ENTERPRISE}:noSuch", "urn:x:y:z"])
async def test_an_unknown_sort_by_answers_400_invalid_value(
    client: httpx2.AsyncClient, trio: None, sort_by: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"sortBy": sort_by}), 400, "invalidValue")

    assert "unknown" in body["detail"].lower()


@pytest.mark.parametrize("sort_by", ["name", "emails", "meta", f"{ENTERPRISE}:manager"])
async def test_sort_by_a_complex_attribute_without_sub_attribute_answers_400(
    client: httpx2.AsyncClient, trio: None, sort_by: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"sortBy": sort_by}), 400, "invalidValue")

    assert "sub-attribute" in body["detail"]
