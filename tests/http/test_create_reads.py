"""What a create reads back to answer: a new User is in no group (no membership query); a new
Group lists the members it was created with."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio


def membership_reads(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "group_members" in sql and sql.lstrip().upper().startswith("SELECT")]


async def test_a_created_user_is_answered_without_a_membership_query(
    client: httpx2.AsyncClient, hot_statements: list[str]
) -> None:
    response = await client.post("/Users", json=user_body("new@example.com"))
    assert response.status_code == 201
    assert "groups" not in response.json()
    assert membership_reads(hot_statements) == []
    # The same user read back once it is in a group: that read does query, and shows it.
    group = (await client.post("/Groups", json=group_body("Staff", [response.json()["id"]]))).json()
    body = await get_ok(client, f"/Users/{response.json()['id']}")
    assert [g["value"] for g in body["groups"]] == [group["id"]]
    assert membership_reads(hot_statements) != []


async def test_a_created_group_lists_the_members_it_was_created_with(client: httpx2.AsyncClient) -> None:
    alice = await create_user(client, "alice@example.com", displayName="Alice")
    response = await client.post("/Groups", json=group_body("Staff", [alice["id"]]))
    assert response.status_code == 201
    assert [(m["value"], m.get("display")) for m in response.json()["members"]] == [(alice["id"], "Alice")]
