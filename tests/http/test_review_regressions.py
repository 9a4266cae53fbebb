"""Defects found in review, each pinned by the request that showed it."""

from __future__ import annotations

import dataclasses

import httpx2
import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy import insert

from scimhub.app import create_app
from scimhub.auth.tokens import digest
from scimhub.auth.tokens import mint_token
from scimhub.settings import Settings
from scimhub.store.factory import open_store
from scimhub.store.migrate import alembic_config
from scimhub.store.sql import SqlStore
from scimhub.store.tables import tenants
from scimhub.store.tables import tokens
from tests import databases
from tests.conftest import SCIM
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


async def test_a_tenant_created_before_the_events_migration_can_still_write(blank: Settings) -> None:
    secret = mint_token()

    def at_0002_with_a_tenant(conn: Connection) -> None:
        config = alembic_config(blank.database_url)
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(insert(tenants).values(id="t-old", name="old", created_at="2026-01-01T00:00:00+00:00"))
        conn.execute(
            insert(tokens).values(
                id="k-old", tenant_id="t-old", prefix="x", digest=digest(secret), created_at="2026-01-01T00:00:00+00:00"
            )
        )

    store = open_store(blank)
    try:
        await databases.on_connection(store, at_0002_with_a_tenant)
        await store.db.upgrade()
        transport = httpx2.ASGITransport(app=create_app(blank, store=store))  # type: ignore[arg-type]
        async with httpx2.AsyncClient(
            transport=transport, base_url=SCIM, headers={"Authorization": f"Bearer {secret}"}
        ) as client:
            response = await client.post("/Users", json={"userName": "after-upgrade"})
    finally:
        await store.close()
    assert response.status_code == 201, response.text


async def test_membership_filters_on_display_and_type_match_case_insensitively(client: httpx2.AsyncClient) -> None:
    alice = await create_user(client, "alice", displayName="Alice Smith")
    group = await create_group(client, "Admins", [alice["id"]])
    for text in (
        'members.display eq "alice smith"',
        'members.type eq "User"',
        'members[type eq "user"]',
        'members.display co "Alice"',
    ):
        found = (await client.get("/Groups", params={"filter": text})).json()
        assert [g["id"] for g in found["Resources"]] == [group["id"]], text
    found = (await client.get("/Users", params={"filter": 'groups.display eq "admins"'})).json()
    assert [u["id"] for u in found["Resources"]] == [alice["id"]]


@pytest.mark.parametrize("start", ["99999999999999999999999", str(2**63)])
async def test_a_start_index_beyond_any_table_is_an_empty_page(client: httpx2.AsyncClient, start: str) -> None:
    await create_user(client, "alice")
    for params in (
        {"startIndex": start},
        {"startIndex": start, "sortBy": "userName"},
        {"startIndex": start, "filter": "userName pr"},
    ):
        response = await client.get("/Users", params=params)
        assert response.status_code == 200, response.text
        assert (response.json()["totalResults"], response.json()["Resources"]) == (1, [])


async def test_a_cursor_with_non_ascii_characters_is_an_invalid_cursor(client: httpx2.AsyncClient) -> None:
    assert_scim_error(await client.get("/Users", params={"cursor": "abc.é"}), 400, "invalidCursor")


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_an_instant_outside_the_calendar_is_an_invalid_filter(client: httpx2.AsyncClient, value: str) -> None:
    response = await client.get("/Users", params={"filter": f'meta.created gt "{value}"'})
    assert_scim_error(response, 400, "invalidFilter")


async def test_a_deeply_nested_body_is_invalid_syntax_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    alice = await create_user(client, "alice")
    before = await snapshot(client)
    nested: object = "x"
    for _ in range(600):
        nested = {"a": nested}
    patch = patch_body({"op": "add", "path": "nickName", "value": nested})
    assert_scim_error(await client.patch(f"/Users/{alice['id']}", json=patch), 400, "invalidSyntax")
    assert_scim_error(await client.post("/Users", json={"userName": "bob", "junk": nested}), 400, "invalidSyntax")
    assert await snapshot(client) == before


async def test_joining_a_group_moves_the_users_etag(client: httpx2.AsyncClient) -> None:
    alice = await create_user(client, "alice")
    etag = alice["meta"]["version"]
    await create_group(client, "G", [alice["id"]])
    response = await client.get(f"/Users/{alice['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["meta"]["version"] != etag
    assert [g["display"] for g in response.json()["groups"]] == ["G"]


async def test_a_group_cannot_contain_itself(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "G", [])
    before = await snapshot(client)
    response = await client.patch(
        f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "members", "value": [{"value": group["id"]}]})
    )
    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before


async def test_the_member_limit_counts_pathless_values_too(settings: Settings, store: SqlStore) -> None:
    from tests.conftest import make_tenant

    app = create_app(dataclasses.replace(settings, max_members_per_request=2), store=store)
    access = await make_tenant(store, app, "small")
    async with access.client as client:
        group = await create_group(client, "G", [])
        users = [(await create_user(client, f"u{i}"))["id"] for i in range(3)]
        response = await client.patch(
            f"/Groups/{group['id']}",
            json=patch_body({"op": "add", "value": {"members": [{"value": u} for u in users]}}),
        )
        assert_scim_error(response, 400, "invalidValue")
