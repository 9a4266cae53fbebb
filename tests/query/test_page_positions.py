"""startIndex walks: page k+1 is a range scan after the pk that ended page k (store/positions.py),
and the results are exactly what OFFSET paging gives, also when resources go or come mid-walk."""

from __future__ import annotations

import httpx2
import pytest

from scimhub.store.positions import PagePositions
from tests import databases
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio


def seeks(statements: list[str]) -> int:
    return sum(1 for sql in statements if "pk >" in sql and "OFFSET" in sql.upper())


async def page_ids(client: httpx2.AsyncClient, start: int, count: int = 2) -> list[str]:
    body = await get_ok(client, "/Users", params={"startIndex": start, "count": count})
    return [r["id"] for r in body["Resources"]]


async def everything(client: httpx2.AsyncClient) -> list[str]:
    body = await get_ok(client, "/Users", params={"count": 1000})
    return [r["id"] for r in body["Resources"]]


async def test_a_sequential_walk_seeks_after_the_first_page_and_matches_offset_paging(
    client: httpx2.AsyncClient, hot_statements: list[str]
) -> None:
    ids = [(await create_user(client, f"walker{i}"))["id"] for i in range(7)]
    hot_statements.clear()
    walked = [i for start in (1, 3, 5, 7) for i in await page_ids(client, start)]
    assert walked == ids
    assert seeks(hot_statements) == 3  # pages 2-4 continue where the page before ended


async def test_a_deletion_mid_walk_falls_back_to_offset(client: httpx2.AsyncClient, hot_statements: list[str]) -> None:
    ids = [(await create_user(client, f"leaver{i}"))["id"] for i in range(6)]
    assert await page_ids(client, 1) == ids[0:2]
    assert (await client.delete(f"/Users/{ids[0]}")).status_code == 204
    hot_statements.clear()
    # OFFSET semantics: row 3 of the list is now the fourth user created.
    assert await page_ids(client, 3) == ids[3:5]
    seeks_on_page_3 = seeks(hot_statements)
    assert await page_ids(client, 5) == ids[5:6]
    if databases.on_postgres():  # pg_reads: one statement whose deletion counter picks the seek or OFFSET
        return
    assert seeks_on_page_3 == 0
    assert seeks(hot_statements) == 1  # the new page end is remembered again


async def test_creates_mid_walk_land_at_the_end(client: httpx2.AsyncClient) -> None:
    ids = [(await create_user(client, f"joiner{i}"))["id"] for i in range(4)]
    first = await page_ids(client, 1)
    ids.append((await create_user(client, "late"))["id"])
    rest = await page_ids(client, 3, count=10)
    assert first + rest == ids == await everything(client)


async def test_a_walk_in_another_tenant_or_of_groups_does_not_use_these_positions(
    client: httpx2.AsyncClient, hot_statements: list[str]
) -> None:
    for i in range(4):
        await create_user(client, f"user{i}")
    await page_ids(client, 1)
    hot_statements.clear()
    body = await get_ok(client, "/Groups", params={"startIndex": 3, "count": 2})
    assert body["Resources"] == [] and body["totalResults"] == 0
    assert seeks(hot_statements) == 0


def test_positions_are_bounded_and_least_recently_used_go_first() -> None:
    positions = PagePositions(capacity=2)
    place = ("t", "User", 0)
    positions.remember(place, 3, 10)
    positions.remember(place, 5, 20)
    assert positions.end_before(place, 3) == 10  # now the most recently used
    positions.remember(place, 7, 30)
    assert positions.end_before(place, 5) is None
    assert positions.end_before(place, 3) == 10 and positions.end_before(place, 7) == 30
    assert positions.end_before(("t", "User", 1), 3) is None  # a deletion makes a new place
