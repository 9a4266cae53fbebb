"""Migration 0008 recomputes the comparison keys of stored resources (width mapping, ``schemas``)."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy import text

from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import Query
from scimhub.store.database import PostgresDatabase
from scimhub.store.database import SqliteDatabase
from scimhub.store.factory import open_store
from scimhub.store.migrate import alembic_config
from tests.http.scim_checks import fullwidth

pytestmark = pytest.mark.anyio

TENANT = "00000000-0000-4000-8000-000000000001"


def old_key(value: str) -> str:
    """The key before 0008: NFC and casefold, no width mapping."""
    return unicodedata.normalize("NFC", value).casefold()


def old_doc_keys(doc: dict[str, Any]) -> str:
    """doc_keys as PostgreSQL held them before 0008: schemas as they are, strings by ``old_key``."""
    keyed = {k: (old_key(v) if isinstance(v, str) else v) for k, v in doc.items() if k != "emails"}
    if "emails" in doc:
        keyed["emails"] = [{"value": old_key(e["value"])} for e in doc["emails"]]
    return orjson.dumps(keyed).decode()


USERS: list[tuple[int, str, dict[str, Any]]] = [
    (1, "u1", {"schemas": [USER_SCHEMA], "userName": fullwidth("WIDE"), "emails": [{"value": fullwidth("W") + "@x"}]}),
    (2, "u2", {"schemas": [USER_SCHEMA], "userName": "plain", "emails": [{"value": "p@x"}]}),
    (3, "u3", {"schemas": [USER_SCHEMA], "userName": "babs"}),
    (4, "u4", {"schemas": [USER_SCHEMA], "userName": fullwidth("Babs")}),  # collides with u3 once mapped
]


INSERT_RESOURCE = (
    "INSERT INTO resources (pk, tenant_id, resource_type, id, doc, doc_keys, created, last_modified, version,"
    " k_user_name) VALUES (:pk, :tenant, 'User', :id, :doc, {doc_keys}, '2026-01-01', '2026-01-01', 1, :k)"
)


def insert_old_rows(conn: Connection) -> None:
    postgres = conn.dialect.name == "postgresql"
    insert = INSERT_RESOURCE.format(doc_keys="CAST(:doc_keys AS JSONB)" if postgres else "NULL")
    conn.execute(text("INSERT INTO tenants (id, name, created_at) VALUES (:id, 'acme', '2026-01-01')"), {"id": TENANT})
    for pk, id, doc in USERS:
        conn.execute(
            text(insert),
            {
                "pk": pk,
                "tenant": TENANT,
                "id": id,
                "doc": orjson.dumps(doc).decode(),
                "doc_keys": old_doc_keys(doc),
                "k": old_key(doc["userName"]),
            },
        )
        for email in doc.get("emails", []):
            conn.execute(
                text(
                    "INSERT INTO resource_values (resource_pk, tenant_id, path, value_key)"
                    " VALUES (:pk, :tenant, 'emails.value', :key)"
                ),
                {"pk": pk, "tenant": TENANT, "key": old_key(email["value"])},
            )


async def on_connection(url: str, work: Callable[[Connection], Any]) -> Any:
    """``work`` on a sync connection of a fresh handle of the database, committed."""
    store = open_store(Settings(database_url=url, database_pool_size=0))
    try:
        if isinstance(store.db, SqliteDatabase):
            with store.db.engine.begin() as conn:
                return work(conn)
        assert isinstance(store.db, PostgresDatabase)
        async with store.db.engine.connect() as conn:
            result = await conn.run_sync(work)
            await conn.commit()
            return result
    finally:
        await store.close()


def upgrade_to(url: str, revision: str) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)

    return work


def stored(conn: Connection) -> dict[str, Any]:
    keys = {i: k for i, k in conn.execute(text("SELECT id, k_user_name FROM resources ORDER BY pk"))}
    values = conn.execute(text("SELECT resource_pk, value_key FROM resource_values ORDER BY resource_pk")).all()
    doc_keys: dict[str, Any] = {}
    if conn.dialect.name == "postgresql":
        doc_keys = {i: d for i, d in conn.execute(text("SELECT id, doc_keys FROM resources"))}
    return {"keys": keys, "values": [tuple(v) for v in values], "doc_keys": doc_keys}


async def test_0008_maps_the_width_of_stored_keys_and_keeps_a_colliding_one(
    blank_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await on_connection(blank_url, upgrade_to(blank_url, "0007"))
    await on_connection(blank_url, insert_old_rows)

    with caplog.at_level(logging.WARNING, logger="scimhub.migrations"):
        await on_connection(blank_url, upgrade_to(blank_url, "head"))
    after = await on_connection(blank_url, stored)

    assert after["keys"] == {"u1": "wide", "u2": "plain", "u3": "babs", "u4": old_key(fullwidth("Babs"))}
    assert after["values"] == [(1, "w@x"), (2, "p@x")]
    assert [r.getMessage() for r in caplog.records if "pk 4" in r.getMessage() and "babs" in r.getMessage()]
    if after["doc_keys"]:  # PostgreSQL: every document's schemas are keys now, width mapped where needed
        assert after["doc_keys"]["u2"]["schemas"] == [USER_SCHEMA.casefold()]
        assert after["doc_keys"]["u1"]["userName"] == "wide"
        assert after["doc_keys"]["u1"]["emails"] == [{"value": "w@x"}]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('userName eq "wide"', ["u1"]),
        (f'userName eq "{fullwidth("wide")}"', ["u1"]),
        ('emails eq "W@X"', ["u1"]),
        (f'schemas eq "{USER_SCHEMA.upper()}"', ["u1", "u2", "u3", "u4"]),
    ],
)
async def test_after_0008_filters_find_migrated_resources(
    blank_url: str, filter_text: str, expected: list[str]
) -> None:
    await on_connection(blank_url, upgrade_to(blank_url, "0007"))
    await on_connection(blank_url, insert_old_rows)
    await on_connection(blank_url, upgrade_to(blank_url, "head"))
    registry = default_registry()
    rtype = registry.resource_type("User")
    bound = bind_filter(parse_filter(filter_text), rtype, registry.common, filter_text)

    store = open_store(Settings(database_url=blank_url, database_pool_size=0))
    try:
        page = await store.search(TENANT, Query("User", bound, 1, 10))
    finally:
        await store.close()

    assert [r.id for r in page.resources] == expected
