"""An update names in its UPDATE only the key columns (userName, externalId, displayName) whose
value changed (SQLite rewrites the entry of every index on a column the SET names): none for a
deactivation, the changed ones otherwise, uniqueness included. Either way the key filters find
what they should."""

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


def updates(store: SqlStore, statements: list[str]) -> list[tuple[str, ...]]:
    """The key columns each resource UPDATE that ran set (() for none). PostgreSQL's UPDATE
    (pg_unit: the UPDATE and the resource's values in one statement) sets all three or none."""
    if store.db.name == "postgresql":
        names = {pg_unit.UPDATE[k, True].pg_sql: ("*",) if k else () for k in (False, True)}
    else:
        names = {sql_of(store, statement): keys for keys, statement in fw.UPDATE_RESOURCE.items()}
    return [names[sql] for sql in statements if sql in names]


def setting(store: SqlStore, *columns: str) -> tuple[str, ...]:
    """What ``updates`` shows for an UPDATE of these key columns on this database."""
    return columns if store.db.name != "postgresql" or not columns else ("*",)


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

    assert updates(store, hot_statements) == [(), (), ()]
    for filter in ('userName eq "bjensen@example.com"', 'externalId eq "e-1"', 'displayName eq "Babs"'):
        assert await found(client, filter) == [user["id"]], filter


@pytest.mark.parametrize(
    ("attribute", "value", "filter", "old_filter", "column"),
    [
        (
            "userName",
            "babs@example.com",
            'userName eq "babs@example.com"',
            'userName eq "bjensen@example.com"',
            "k_user_name",
        ),
        ("externalId", "e-2", 'externalId eq "e-2"', 'externalId eq "e-1"', "k_external_id"),
        ("displayName", "Barbara", 'displayName eq "Barbara"', 'displayName eq "Babs"', "k_display_name"),
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
    column: str,
) -> None:
    user = await create_user(client, "bjensen@example.com", externalId="e-1", displayName="Babs")

    await patch_ok(client, f"/Users/{user['id']}", {"op": "replace", "path": attribute, "value": value})

    assert updates(store, hot_statements) == [setting(store, column)]
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
    assert updates(store, hot_statements) == [setting(store, "k_user_name")]


async def test_a_put_sets_only_the_key_columns_it_changed(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    # Okta's profile update: the whole user again, userName kept, externalId left out (removed),
    # displayName changed.
    user = await create_user(client, "bjensen@example.com", externalId="e-1", displayName="Babs")
    body = {"schemas": user["schemas"], "userName": "bjensen@example.com", "displayName": "Barbara"}

    response = await client.put(f"/Users/{user['id']}", json=body)

    assert response.status_code == 200, response.text
    assert updates(store, hot_statements) == [setting(store, "k_external_id", "k_display_name")]
    assert await found(client, 'userName eq "bjensen@example.com"') == [user["id"]]
    assert await found(client, 'displayName eq "Barbara"') == [user["id"]]
    assert await found(client, 'displayName eq "Babs"') == []
    assert await found(client, 'externalId eq "e-1"') == []
