"""Cursor pagination over HTTP (RFC 9865): walking, walking back, and every cursor error."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx2
import pytest

from scimhub.errors import ExpiredCursor
from scimhub.protocol.cursor import CURSOR_TIMEOUT
from scimhub.protocol.cursor import CursorCodec
from scimhub.store.base import Keyset
from tests.http.scim_checks import LIST_RESPONSE
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
NAMES = ["kim", "Alex", "jo", "Sam", "bea", "Lee", "ines"]
TITLES = ["eng", None, "ops", "eng", None, "eng", "ops"]


@pytest.fixture
async def directory(client: httpx2.AsyncClient) -> list[str]:
    """Seven users (some without a title); returns their ids in creation order."""
    ids = []
    for name, title in zip(NAMES, TITLES, strict=True):
        extra = {} if title is None else {"title": title}
        ids.append((await create_user(client, name, **extra))["id"])
    return ids


def ids_of(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["Resources"]]


async def index_ids(client: httpx2.AsyncClient, **params: Any) -> list[str]:
    """The whole result in index mode: the order a cursor walk must reproduce."""
    return ids_of(await get_ok(client, "/Users", params={"count": 1000, **params}))


async def walk(client: httpx2.AsyncClient, count: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of a cursor walk, first to last, following nextCursor."""
    pages = [await get_ok(client, "/Users", params={"cursor": "", "count": count, **params})]
    while "nextCursor" in pages[-1]:
        assert len(pages) <= 50, "the walk does not end"
        pages.append(
            await get_ok(client, "/Users", params={"cursor": pages[-1]["nextCursor"], "count": count, **params})
        )
    return pages


async def test_a_bare_cursor_parameter_starts_a_cursor_walk(client: httpx2.AsyncClient, directory: list[str]) -> None:
    body = await get_ok(client, "/Users?cursor&count=2")

    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == len(NAMES)
    assert body["itemsPerPage"] == 2
    assert ids_of(body) == directory[:2]
    assert isinstance(body["nextCursor"], str)
    assert body["nextCursor"]
    assert "previousCursor" not in body
    assert "startIndex" not in body


async def test_an_empty_cursor_value_starts_the_same_walk(client: httpx2.AsyncClient, directory: list[str]) -> None:
    bare = await get_ok(client, "/Users?cursor&count=2")
    empty = await get_ok(client, "/Users?cursor=&count=2")

    assert ids_of(empty) == ids_of(bare)
    assert "nextCursor" in empty
    assert "previousCursor" not in empty
    assert "startIndex" not in empty


async def test_the_cursor_parameter_name_is_case_insensitive(client: httpx2.AsyncClient, directory: list[str]) -> None:
    body = await get_ok(client, "/Users?Cursor=&count=2")

    assert "nextCursor" in body
    assert "startIndex" not in body


@pytest.mark.parametrize("count", [1, 2, 3, 7, 10])
async def test_walking_next_cursors_visits_every_user_once_in_order(
    client: httpx2.AsyncClient, directory: list[str], count: int
) -> None:
    pages = await walk(client, count)

    assert [i for page in pages for i in ids_of(page)] == directory
    assert [len(page["Resources"]) for page in pages[:-1]] == [count] * (len(pages) - 1)
    assert all(page["totalResults"] == len(NAMES) for page in pages)
    assert all(page["itemsPerPage"] == len(page["Resources"]) for page in pages)
    assert all("startIndex" not in page for page in pages)


async def test_the_last_page_has_no_next_cursor(client: httpx2.AsyncClient, directory: list[str]) -> None:
    pages = await walk(client, 3)

    assert [len(p["Resources"]) for p in pages] == [3, 3, 1]
    assert "nextCursor" not in pages[-1]
    assert "previousCursor" in pages[-1]


async def test_a_result_that_fits_one_page_has_no_cursors(client: httpx2.AsyncClient, directory: list[str]) -> None:
    (page,) = await walk(client, len(NAMES))

    assert ids_of(page) == directory
    assert "nextCursor" not in page
    assert "previousCursor" not in page


async def test_an_empty_result_is_one_page_without_cursors(client: httpx2.AsyncClient, directory: list[str]) -> None:
    (page,) = await walk(client, 2, filter='userName eq "nobody"')

    assert page["totalResults"] == 0
    assert page["Resources"] == []
    assert "nextCursor" not in page
    assert "previousCursor" not in page


async def test_walking_a_filtered_result_visits_exactly_the_matches(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    text = 'title eq "eng" or title eq "ops"'
    pages = await walk(client, 2, filter=text)

    assert [i for page in pages for i in ids_of(page)] == await index_ids(client, filter=text)
    assert all(page["totalResults"] == 5 for page in pages)


@pytest.mark.parametrize(
    "sort",
    [
        {"sortBy": "userName"},
        {"sortBy": "userName", "sortOrder": "descending"},
        {"sortOrder": "DESCENDING"},
        {"sortBy": "title"},  # ties and users without a title
        {"sortBy": "title", "sortOrder": "descending"},
        {"sortBy": "meta.created", "sortOrder": "descending"},
        {"sortBy": "id"},
    ],
)
@pytest.mark.parametrize("count", [1, 2, 3])
async def test_a_sorted_walk_matches_the_sorted_index_listing(
    client: httpx2.AsyncClient, directory: list[str], sort: dict[str, str], count: int
) -> None:
    pages = await walk(client, count, **sort)

    walked = [i for page in pages for i in ids_of(page)]
    assert walked == await index_ids(client, **sort)
    assert sorted(walked) == sorted(directory)


async def test_a_filtered_descending_walk_by_user_name(client: httpx2.AsyncClient, directory: list[str]) -> None:
    pages = await walk(client, 2, filter="title pr", sortBy="userName", sortOrder="descending")

    names = [r["userName"] for page in pages for r in page["Resources"]]
    assert names == ["Sam", "Lee", "kim", "jo", "ines"]


@pytest.mark.parametrize(
    "sort", [{}, {"sortBy": "userName", "sortOrder": "descending"}, {"sortBy": "title"}, {"sortOrder": "descending"}]
)
@pytest.mark.parametrize("count", [1, 2, 3])
async def test_previous_cursors_walk_back_through_the_same_pages(
    client: httpx2.AsyncClient, directory: list[str], sort: dict[str, str], count: int
) -> None:
    forward = await walk(client, count, **sort)

    backward = [forward[-1]]
    while "previousCursor" in backward[-1]:
        assert len(backward) <= 50, "the walk back does not end"
        params = {"cursor": backward[-1]["previousCursor"], "count": count, **sort}
        backward.append(await get_ok(client, "/Users", params=params))

    assert [ids_of(p) for p in reversed(backward)] == [ids_of(p) for p in forward]
    # Every page reached backwards can go forward again; only the first has no way further back.
    assert all("nextCursor" in p for p in backward[1:])
    assert "previousCursor" not in backward[-1]


async def test_a_next_cursor_from_a_page_reached_backwards_goes_forward_again(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    first, second, third = (await walk(client, 3))[:3]

    back = await get_ok(client, "/Users", params={"cursor": third["previousCursor"], "count": 3})
    again = await get_ok(client, "/Users", params={"cursor": back["nextCursor"], "count": 3})

    assert ids_of(back) == ids_of(second)
    assert ids_of(again) == ids_of(third)
    assert ids_of(first) == directory[:3]


def tampered(cursor: str) -> list[str]:
    payload, _, signature = cursor.partition(".")
    flip = {"A": "B"}.get(payload[-1], "A")
    return [
        f"{payload[:-1]}{flip}.{signature}",
        f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        payload,
        f"{payload}.",
        "not-a-cursor",
        "x.y",
        "..",
    ]


@pytest.mark.parametrize("which", range(7))
async def test_a_tampered_cursor_answers_400_invalid_cursor(
    client: httpx2.AsyncClient, directory: list[str], which: int
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2})
    bad = tampered(first["nextCursor"])[which]

    assert_scim_error(await client.get("/Users", params={"cursor": bad, "count": 2}), 400, "invalidCursor")


@pytest.mark.parametrize(
    "changed",
    [
        {"filter": 'title eq "ops"'},
        {"sortBy": "userName"},
        {"sortOrder": "descending"},
        {"sortBy": "userName", "sortOrder": "descending"},
    ],
)
async def test_a_cursor_used_with_a_different_query_answers_400_invalid_cursor(
    client: httpx2.AsyncClient, directory: list[str], changed: dict[str, str]
) -> None:
    original = {"filter": 'title eq "eng"', "sortBy": "title", "sortOrder": "ascending"}
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 1, **original})

    response = await client.get("/Users", params={**original, **changed, "cursor": first["nextCursor"], "count": 1})

    assert_scim_error(response, 400, "invalidCursor")


async def test_a_cursor_of_users_is_refused_on_groups(client: httpx2.AsyncClient, directory: list[str]) -> None:
    await create_group(client, "g1")
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 1})

    response = await client.get("/Groups", params={"cursor": first["nextCursor"], "count": 1})

    assert_scim_error(response, 400, "invalidCursor")


async def test_a_cursor_of_one_tenant_is_refused_by_another(acme: Any, globex: Any, directory: list[str]) -> None:
    first = await get_ok(acme.client, "/Users", params={"cursor": "", "count": 1})
    await create_user(globex.client, "globex-user")

    response = await globex.client.get("/Users", params={"cursor": first["nextCursor"], "count": 1})

    assert_scim_error(response, 400, "invalidCursor")


@pytest.mark.parametrize("count", [1, 3, 0])
async def test_a_different_count_answers_400_invalid_count(
    client: httpx2.AsyncClient, directory: list[str], count: int
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2})

    response = await client.get("/Users", params={"cursor": first["nextCursor"], "count": count})

    assert_scim_error(response, 400, "invalidCount")


@pytest.mark.parametrize("count", [1001, 5000])
async def test_a_count_above_the_maximum_in_cursor_mode_answers_400_invalid_count(
    client: httpx2.AsyncClient, directory: list[str], count: int
) -> None:
    response = await client.get("/Users", params={"cursor": "", "count": count})

    assert_scim_error(response, 400, "invalidCount")


async def test_the_maximum_count_itself_is_accepted_in_cursor_mode(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    body = await get_ok(client, "/Users", params={"cursor": "", "count": 1000})

    assert ids_of(body) == directory
    assert "nextCursor" not in body


@pytest.fixture
def clock(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A settable clock for the app's cursor codec (same signing secret, fake time)."""
    now = [1_000_000.0]
    runtime = app.state.scimhub

    async def cursor_codec() -> CursorCodec:
        secret = await runtime.service.store.server_secret("cursor")
        return CursorCodec(secret, clock=lambda: now[0])

    monkeypatch.setattr(runtime, "cursor_codec", cursor_codec)
    return now


async def test_an_expired_cursor_answers_400_expired_cursor(
    client: httpx2.AsyncClient, directory: list[str], clock: list[float]
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2})

    clock[0] += CURSOR_TIMEOUT + 1
    response = await client.get("/Users", params={"cursor": first["nextCursor"], "count": 2})

    assert_scim_error(response, 400, "expiredCursor")


async def test_a_cursor_is_valid_until_its_timeout(
    client: httpx2.AsyncClient, directory: list[str], clock: list[float]
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2})

    clock[0] += CURSOR_TIMEOUT
    second = await get_ok(client, "/Users", params={"cursor": first["nextCursor"], "count": 2})

    assert ids_of(second) == directory[2:4]


async def test_an_expired_cursor_is_refused_by_a_codec_with_a_fake_clock() -> None:
    """The codec on its own: issue at t, decode at t + timeout + 1."""
    now = [50.0]
    codec = CursorCodec(b"k" * 32, timeout=10, clock=lambda: now[0])
    token = codec.encode("fp", 2, Keyset("v", 7))
    assert codec.decode(token, "fp", 2) == Keyset("v", 7)

    later = dataclasses.replace(codec, clock=lambda: 61.0)
    with pytest.raises(ExpiredCursor):
        later.decode(token, "fp", 2)


@pytest.mark.parametrize("query", ["/Users?cursor=&startIndex=1", "/Users?cursor&startIndex=3&count=2"])
async def test_start_index_and_cursor_together_answer_400(
    client: httpx2.AsyncClient, directory: list[str], query: str
) -> None:
    body = assert_scim_error(await client.get(query), 400, "invalidValue")

    assert "startIndex" in body["detail"]


async def test_a_cursor_after_start_index_paging_answers_400(client: httpx2.AsyncClient, directory: list[str]) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2})

    response = await client.get("/Users", params={"cursor": first["nextCursor"], "count": 2, "startIndex": 3})

    assert_scim_error(response, 400, "invalidValue")


async def test_users_created_or_deleted_between_pages_do_not_disturb_the_others(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 3})
    seen = ids_of(first)
    assert seen == directory[:3]

    await client.delete(f"/Users/{directory[0]}")  # already seen
    await client.delete(f"/Users/{directory[4]}")  # not yet seen
    late = (await create_user(client, "late-arrival"))["id"]

    body = first
    while "nextCursor" in body:
        body = await get_ok(client, "/Users", params={"cursor": body["nextCursor"], "count": 3})
        seen += ids_of(body)

    unaffected = [i for i in directory if i not in (directory[0], directory[4])]
    assert [i for i in seen if i in unaffected] == unaffected
    assert len(seen) == len(set(seen))
    assert directory[4] not in seen
    assert seen[-1] == late  # created after the walk began, and after its position


async def test_sorted_walk_survives_inserts_before_and_after_its_position(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    params = {"sortBy": "userName", "count": 2}
    first = await get_ok(client, "/Users", params={**params, "cursor": ""})
    assert [r["userName"] for r in first["Resources"]] == ["Alex", "bea"]

    before = (await create_user(client, "aaron"))["id"]  # sorts before the position: not seen
    after = (await create_user(client, "zoe"))["id"]  # sorts after it: seen at the end
    await client.delete(f"/Users/{directory[NAMES.index('kim')]}")

    seen = ids_of(first)
    body = first
    while "nextCursor" in body:
        body = await get_ok(client, "/Users", params={**params, "cursor": body["nextCursor"]})
        seen += ids_of(body)

    names = {i: n for i, n in zip(directory, NAMES, strict=True)} | {after: "zoe"}
    assert [names[i] for i in seen] == ["Alex", "bea", "ines", "jo", "Lee", "Sam", "zoe"]
    assert before not in seen


async def test_cursor_pages_work_through_post_search(client: httpx2.AsyncClient, directory: list[str]) -> None:
    body = {"schemas": [SEARCH_REQUEST], "cursor": "", "count": 3, "sortBy": "userName"}
    pages = [(await client.post("/Users/.search", json=body)).json()]
    while "nextCursor" in pages[-1]:
        response = await client.post("/Users/.search", json={**body, "cursor": pages[-1]["nextCursor"]})
        assert response.status_code == 200, response.text
        pages.append(response.json())

    assert "startIndex" not in pages[0]
    assert "previousCursor" not in pages[0]
    assert [len(p["Resources"]) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in ids_of(p)] == await index_ids(client, sortBy="userName")


async def test_a_cursor_from_get_continues_through_post_search(
    client: httpx2.AsyncClient, directory: list[str]
) -> None:
    first = await get_ok(client, "/Users", params={"cursor": "", "count": 2, "filter": "title pr"})

    response = await client.post(
        "/Users/.search",
        json={"schemas": [SEARCH_REQUEST], "cursor": first["nextCursor"], "count": 2, "filter": "title pr"},
    )

    assert response.status_code == 200, response.text
    assert ids_of(response.json()) == (await index_ids(client, filter="title pr"))[2:4]


async def test_root_search_refuses_cursor_pagination(client: httpx2.AsyncClient, directory: list[str]) -> None:
    response = await client.post("/.search", json={"schemas": [SEARCH_REQUEST], "cursor": "", "count": 2})

    assert_scim_error(response, 400, "invalidValue")


async def test_service_provider_config_advertises_cursor_and_index_pagination_and_sorting(
    client: httpx2.AsyncClient,
) -> None:
    config = await get_ok(client, "/ServiceProviderConfig")

    pagination = config["pagination"]
    assert pagination["cursor"] is True
    assert pagination["index"] is True
    assert pagination["defaultPaginationMethod"] == "index"
    assert pagination["maxPageSize"] == 1000
    assert pagination["cursorTimeout"] == CURSOR_TIMEOUT
    assert isinstance(pagination["defaultPageSize"], int)
    assert config["sort"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 1000}
