"""An update rewrites a resource's resource_values rows (the ``emails.value`` comparison keys) only
when they change: a deactivation keeps the very same rows, a new email replaces them."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import Connection
from sqlalchemy import text

from scimhub.store.sql import SqlStore
from tests import databases
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search

pytestmark = pytest.mark.anyio

EMAIL = "Babs.Jensen@Example.COM"
KEY = "babs.jensen@example.com"  # emails.value is caseExact=false: its key is casefolded


async def value_rows(store: SqlStore, resource_id: str) -> list[tuple[str, str, str]]:
    """(physical row identity, path, value_key) of the resource's rows: SQLite's rowid, PostgreSQL's
    ctid (which moves whenever a row is rewritten), so unchanged rows are the very same rows."""

    def rows(conn: Connection) -> list[tuple[str, str, str]]:
        identity = "v.ctid::text" if conn.dialect.name == "postgresql" else "CAST(v.rowid AS TEXT)"
        query = text(
            f"SELECT {identity}, v.path, v.value_key FROM resource_values v"  # noqa: S608 - fixed names
            " JOIN resources r ON r.pk = v.resource_pk WHERE r.id = :id"
        )
        # Sorted here, not in SQL: the server's collation would order the keys its own way.
        return sorted(((str(row[0]), row[1], row[2]) for row in conn.execute(query, {"id": resource_id})), key=by_key)

    return await databases.on_connection(store, rows)


def by_key(row: tuple[str, str, str]) -> tuple[str, str]:
    return row[1], row[2]


def keys_of(rows: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(path, key) for _, path, key in rows]


async def found_ids(client: httpx2.AsyncClient, email: str) -> list[str]:
    return [u["id"] for u in (await search(client, "/Users", f'emails.value eq "{email}"'))["Resources"]]


async def babs_and_a_later_user(client: httpx2.AsyncClient) -> dict[str, Any]:
    """Babs, then a user created after her: SQLite gives a new row the largest rowid + 1, so without
    later rows a delete-and-reinsert of Babs's rows could get their old rowids back."""
    babs = await create_user(client, "bjensen", emails=[{"value": EMAIL, "type": "work"}], active=True)
    await create_user(client, "kim", emails=[{"value": "kim@example.com"}])
    return babs


async def test_a_deactivation_keeps_the_very_same_value_rows(client: httpx2.AsyncClient, store: SqlStore) -> None:
    babs = await babs_and_a_later_user(client)
    before = await value_rows(store, babs["id"])
    assert keys_of(before) == [("emails.value", KEY)]

    patched = await patch_ok(client, f"/Users/{babs['id']}", {"op": "replace", "path": "active", "value": False})

    assert patched["active"] is False
    assert patched["meta"]["version"] != babs["meta"]["version"]  # the resource row was updated
    assert await value_rows(store, babs["id"]) == before
    assert await found_ids(client, EMAIL) == [babs["id"]]
    assert await found_ids(client, KEY.upper()) == [babs["id"]]


async def test_reordering_the_same_emails_keeps_the_rows(client: httpx2.AsyncClient, store: SqlStore) -> None:
    # The rows are a set of keys: an order-only change (or a case-only one) leaves them as they are.
    babs = await create_user(client, "bjensen", emails=[{"value": EMAIL}, {"value": "babs@home.org"}])
    await create_user(client, "kim", emails=[{"value": "kim@example.com"}])
    before = await value_rows(store, babs["id"])

    reordered = [{"value": "BABS@home.org", "type": "home"}, {"value": EMAIL.lower(), "type": "work"}]
    await patch_ok(client, f"/Users/{babs['id']}", {"op": "replace", "path": "emails", "value": reordered})

    assert await value_rows(store, babs["id"]) == before
    assert await found_ids(client, "babs@home.org") == [babs["id"]]


async def test_replacing_the_emails_rewrites_the_rows_with_the_new_key(
    client: httpx2.AsyncClient, store: SqlStore
) -> None:
    babs = await babs_and_a_later_user(client)
    new_email = "Bärbel@Exämple.ORG"

    await patch_ok(client, f"/Users/{babs['id']}", {"op": "replace", "path": "emails", "value": [{"value": new_email}]})

    assert await found_ids(client, EMAIL) == []
    assert await found_ids(client, new_email) == [babs["id"]]
    assert await found_ids(client, "bärbel@exämple.org") == [babs["id"]]
    assert keys_of(await value_rows(store, babs["id"])) == [("emails.value", "bärbel@exämple.org")]


async def test_adding_an_email_keeps_the_old_key_and_adds_the_new(client: httpx2.AsyncClient, store: SqlStore) -> None:
    babs = await babs_and_a_later_user(client)

    await patch_ok(client, f"/Users/{babs['id']}", {"op": "add", "path": "emails", "value": [{"value": "b@home.org"}]})

    assert keys_of(await value_rows(store, babs["id"])) == [("emails.value", "b@home.org"), ("emails.value", KEY)]
    assert await found_ids(client, EMAIL) == [babs["id"]]
    assert await found_ids(client, "b@home.org") == [babs["id"]]


async def test_removing_every_email_leaves_no_rows(client: httpx2.AsyncClient, store: SqlStore) -> None:
    babs = await babs_and_a_later_user(client)

    await patch_ok(client, f"/Users/{babs['id']}", {"op": "remove", "path": "emails"})

    assert await value_rows(store, babs["id"]) == []
    assert await found_ids(client, EMAIL) == []
