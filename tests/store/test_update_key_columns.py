"""An update whose key columns (userName, externalId, displayName) are unchanged does not name
them in its UPDATE (SQLite rewrites the entry of every index on a column the SET names); one that
changes them updates them, uniqueness included. Either way the key filters find what they should."""

from __future__ import annotations

import httpx2
import pytest

from scimhub.store import fast_writes as fw
from scimhub.store import pg_unit
from scimhub.store.sql import SqlStore
from tests.conftest import sql_of
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


def updates(store: SqlStore, statements: list[str]) -> list[str]:
    """Which of the two resource UPDATEs ran: "doc" or "keys"."""
    names = {sql_of(store, fw.UPDATE_RESOURCE_DOC): "doc", sql_of(store, fw.UPDATE_RESOURCE): "keys"}
    if store.db.name == "postgresql":  # pg_unit: the UPDATE and the resource's values in one statement
        names = {pg_unit.UPDATE[k, True].pg_sql: name for k, name in ((False, "doc"), (True, "keys"))}
    return [names[sql] for sql in statements if sql in names]


async def found(client: httpx2.AsyncClient, filter: str) -> list[str]:
    return [u["id"] for u in (await search(client, "/Users", filter))["Resources"]]


async def test_a_deactivation_leaves_the_key_columns_out(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    user = await create_user(client, "bjensen@example.com", externalId="e-1", displayName="Babs")
    path = f"/Users/{user['id']}"

    await patch_ok(client, path, {"op": "replace", "path": "active", "value": False})
    await patch_ok(client, path, {"op": "replace", "path": "title", "value": "CTO"})
    await patch_ok(client, path, {"op": "replace", "path": "userName", "value": "BJENSEN@example.com"})  # same key

    assert updates(store, hot_statements) == ["doc", "doc", "doc"]
    for filter in ('userName eq "bjensen@example.com"', 'externalId eq "e-1"', 'displayName eq "Babs"'):
        assert await found(client, filter) == [user["id"]], filter


@pytest.mark.parametrize(
    ("attribute", "value", "filter", "old_filter"),
    [
        ("userName", "babs@example.com", 'userName eq "babs@example.com"', 'userName eq "bjensen@example.com"'),
        ("externalId", "e-2", 'externalId eq "e-2"', 'externalId eq "e-1"'),
        ("displayName", "Barbara", 'displayName eq "Barbara"', 'displayName eq "Babs"'),
    ],
)
async def test_a_changed_key_is_updated(
    client: httpx2.AsyncClient,
    store: SqlStore,
    hot_statements: list[str],
    attribute: str,
    value: str,
    filter: str,
    old_filter: str,
) -> None:
    user = await create_user(client, "bjensen@example.com", externalId="e-1", displayName="Babs")

    await patch_ok(client, f"/Users/{user['id']}", {"op": "replace", "path": attribute, "value": value})

    assert updates(store, hot_statements) == ["keys"]
    assert await found(client, filter) == [user["id"]]
    assert await found(client, old_filter) == []


async def test_a_taken_user_name_is_still_refused(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    await create_user(client, "taken@example.com")
    user = await create_user(client, "bjensen@example.com")
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "userName", "value": "Taken@example.com"})
    )

    assert_scim_error(response, 409, "uniqueness")
    assert await snapshot(client) == before
    assert updates(store, hot_statements) == ["keys"]
