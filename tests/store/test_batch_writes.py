"""A bulk run's insert (``UnitOfWork.insert_many``, store/batch_sql.py) on both databases: a
create whose userName is taken, by a resource or an earlier create of the same call, is left out
and reported; the others are stored, counted and indexed as single creates are."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.protocol.resources import new_id
from scimhub.schema.registry import default_registry
from scimhub.store.base import StoredResource
from scimhub.store.index_plan import index_keys
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import USER
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio

REGISTRY = default_registry()
USERS = REGISTRY.resource_type("User")
NOW = "2026-12-08T00:00:00Z"


def item(user_name: str) -> tuple[StoredResource, Any]:
    doc = {"schemas": [USER], "userName": user_name, "emails": [{"value": f"{user_name}@example.com"}]}
    resource = StoredResource(new_id(), "User", doc, NOW, NOW, 1)
    return resource, index_keys(doc, USERS, REGISTRY.common)


async def test_creates_whose_user_name_is_taken_are_left_out_and_reported(acme: TenantAccess, store: SqlStore) -> None:
    await create_user(acme.client, "Taken")
    items = [item(name) for name in ("a", "taken", "b", "twin", "TWIN", "c")]

    async with store.unit_of_work(acme.tenant_id) as uow:
        left_out = await uow.insert_many("User", items)

    assert left_out == [items[1][0].id, items[4][0].id]
    page = await get_ok(acme.client, "/Users", params={"count": "100"})
    assert page["totalResults"] == 5  # the type's counter counts what was inserted
    assert [u["userName"] for u in page["Resources"]] == ["Taken", "a", "b", "twin", "c"]
    for name in ("twin", "c"):  # the index keys of the inserted rows: userName and emails
        for query in (f'userName eq "{name.upper()}"', f'emails.value eq "{name}@example.com"'):
            found = await get_ok(acme.client, "/Users", params={"filter": query})
            assert [u["userName"] for u in found["Resources"]] == [name]
    found = await get_ok(acme.client, "/Users", params={"filter": 'emails.value eq "TWIN@example.com"'})
    assert found["totalResults"] == 1  # the left-out create wrote no index key


@pytest.mark.parametrize("size", [1, 2, 33])
async def test_a_call_with_every_user_name_taken_inserts_and_counts_nothing(
    acme: TenantAccess, store: SqlStore, size: int
) -> None:
    for i in range(size):
        await create_user(acme.client, f"taken{i}")
    items = [item(f"TAKEN{i}") for i in range(size)]

    async with store.unit_of_work(acme.tenant_id) as uow:
        left_out = await uow.insert_many("User", items)

    assert left_out == [resource.id for resource, _ in items]
    page = await get_ok(acme.client, "/Users", params={"count": "100"})
    assert page["totalResults"] == size


async def test_a_name_taken_within_a_statement_or_across_statements_is_left_out(
    acme: TenantAccess, store: SqlStore
) -> None:
    """PostgreSQL inserts ten rows a statement: a repeat in the same statement and a repeat of a
    name an earlier statement of the call inserted are both left out, the first one kept."""
    names = [f"n{i}" for i in range(25)]
    names[12] = "N3"  # the second statement repeats a name of the first
    names[15] = "n14"  # the second statement repeats its own earlier row
    items = [item(name) for name in names]

    async with store.unit_of_work(acme.tenant_id) as uow:
        left_out = await uow.insert_many("User", items)

    assert left_out == [items[12][0].id, items[15][0].id]
    page = await get_ok(acme.client, "/Users", params={"count": "100"})
    assert [u["userName"] for u in page["Resources"]] == [n for i, n in enumerate(names) if i not in (12, 15)]
    assert page["totalResults"] == 23
