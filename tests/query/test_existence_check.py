"""The IdP existence check (``filter=userName eq "…"``): when the page holds every match, its
size is totalResults and no COUNT runs; otherwise COUNT still gives the true total."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio


def counts(statements: list[str]) -> int:
    return sum(1 for sql in statements if "count(" in sql.lower())


async def check(client: httpx2.AsyncClient, filter: str, **params: Any) -> tuple[int, list[str]]:
    body = await get_ok(client, "/Users", params={"filter": filter, **params})
    return body["totalResults"], [r["userName"] for r in body.get("Resources", [])]


async def test_existing_and_missing_users_are_answered_without_a_count(
    client: httpx2.AsyncClient, hot_statements: list[str]
) -> None:
    await create_user(client, "alice@example.com")
    hot_statements.clear()
    assert await check(client, 'userName eq "ALICE@example.com"') == (1, ["alice@example.com"])
    assert await check(client, 'userName eq "nobody@example.com"') == (0, [])
    assert await check(client, 'userName eq "alice@example.com"', startIndex=1, count=100) == (
        1,
        ["alice@example.com"],
    )
    assert counts(hot_statements) == 0


async def test_a_full_page_or_a_later_start_still_counts(client: httpx2.AsyncClient, hot_statements: list[str]) -> None:
    for name in ("a", "b", "c"):
        await create_user(client, f"{name}@example.com", externalId="shared")
    hot_statements.clear()
    assert await check(client, 'externalId eq "shared"', count=2) == (3, ["a@example.com", "b@example.com"])
    assert await check(client, 'externalId eq "shared"', startIndex=3, count=2) == (3, ["c@example.com"])
    assert await check(client, 'externalId eq "shared"', startIndex=5) == (3, [])
    assert await check(client, 'externalId eq "shared"', count=0) == (3, [])
    assert await check(client, 'userName eq "a@example.com"', count=1) == (1, ["a@example.com"])
    assert counts(hot_statements) == 5
