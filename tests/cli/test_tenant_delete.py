"""`scimhub tenant delete`: asks first, removes every row of the tenant (and nothing of another
one) in bounded transactions, tokens first, and is refused while webhook deliveries are pending
or its event stream is held."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shlex
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import Connection
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from scimhub.admin import tenants_cli
from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.protocol.roles import RoleService
from scimhub.protocol.setup_links import SetupLinks
from scimhub.protocol.tenant_schemas import add_schema
from scimhub.protocol.tenants import TenantDeletion
from scimhub.sets.streams import add_stream
from scimhub.settings import Settings
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.base import Tenant
from scimhub.store.events_sql import EventStore
from scimhub.store.request_log_sql import LoggedRequest
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.store.roles_sql import RoleStore
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sets_sql import StreamStore
from scimhub.store.sql import SqlStore
from scimhub.store.tables import hook_offsets
from scimhub.store.tables import metadata
from scimhub.store.tables import request_log
from scimhub.store.tables import set_acks
from scimhub.store.tables import set_streams
from scimhub.store.tables import tenant_activity
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenant_guard
from scimhub.store.tables import tenant_request_stats
from scimhub.store.tables import tenants as tenants_table
from scimhub.store.tables import webhook_attempts
from scimhub.store.tables import webhooks
from scimhub.store.tenant_sql import BATCHES
from scimhub.store.tenant_sql import WITH_TENANT
from scimhub.timestamps import utc_now
from tests import databases
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.conftest import make_tenant
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import patch
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for

pytestmark = pytest.mark.anyio

USERS = 12
# A server with this environment lets no request in after its token is deleted, and logs none:
# the deletion has nothing to wait for.
NO_GRACE = {"SCIMHUB_TOKEN_RECHECK_SECONDS": "0", "SCIMHUB_REQUEST_LOG_SIZE": "0"}


@dataclass
class Populated:
    tenant: Tenant
    access: TenantAccess


async def _populate(store: SqlStore, access: TenantAccess, name: str) -> Populated:
    """Rows for the tenant in every table that holds tenant data."""
    users = [
        await create_user(access.client, f"user{i}", emails=[{"value": f"u{i}@example.com"}]) for i in range(USERS)
    ]
    roles = RoleService(store, RoleStore(store.db))
    await roles.map(access.tenant_id, "member", "group", "everyone")  # role_rules, role_state, role_jobs
    await create_group(access.client, "everyone", users)  # user_roles
    await patch(access.client, f"/Users/{users[0]}", {"op": "replace", "path": "active", "value": False})
    await access.client.delete(f"/Users/{users[1]}")
    await store.set_tenant_setting(access.tenant_id, "rate_limit", "off")
    await AttributeStore(store.db).save(access.tenant_id, "team", "title", utc_now())  # attribute_mappings
    await add_schema(
        TenantSchemaStore(store.db),
        access.tenant_id,
        {"id": "urn:x:ext:1.0:User", "attributes": [{"name": "a", "type": "string"}]},
    )
    # A webhook that has delivered everything so far, with a delivery log; a hook consumer's offset;
    # a request log entry.
    hook = await EventStore.of(store).add_webhook(
        str(uuid.uuid4()), access.tenant_id, "https://e.test/", "s", utc_now()
    )

    def rows(conn: Connection) -> None:
        at = {"tenant_id": access.tenant_id}
        conn.execute(
            insert(webhook_attempts),
            {**at, "webhook_id": hook.id, "seq": 1, "event_id": "e", "attempt": 1, "attempted_at": utc_now()}
            | {"outcome": "delivered"},
        )
        conn.execute(insert(hook_offsets), {**at, "consumer": "sessions", "delivered_seq": 3})
        # The safety rails: the guard's window (no hold: a held stream refuses the deletion), the IdP's traffic.
        conn.execute(insert(tenant_guard), {**at, "window_start": utc_now(), "window_count": 2})
        conn.execute(insert(tenant_activity), {**at, "first_request_at": utc_now(), "last_request_at": utc_now()})
        conn.execute(insert(tenant_request_stats), {**at, "hour": "2026-12-07T09", "outcome": "ok", "count": 3})
        conn.execute(
            insert(request_log),
            {**at, "at": utc_now(), "request_id": "r", "method": "GET", "path": "/scim/v2/Users"}
            | {"status": 200, "latency_ms": 1},
        )

    await databases.on_connection(store, rows)
    # A poll stream (and the tenant's SET signing key) with an ack above a gap and its log row.
    streams = StreamStore(store.db)
    stream, _ = await add_stream(
        streams, access.tenant_id, audience="a", issuer="https://e.test/", push_url=None, after=0
    )
    await streams.acknowledge(stream, {2: None}, utc_now())
    tenant = await store.tenant_by_name(name)
    assert tenant is not None
    await SetupLinks(store).create(tenant, now=datetime.now(UTC))  # a setup link of the tenant
    return Populated(tenant, access)


def _counts(conn: Connection, tenant_id: str) -> dict[str, int]:
    """Rows per table that belong to the tenant: every table with a tenant_id, and its tenants row."""
    counts = {}
    # set_acks rows belong to the tenant through its streams.
    acks = select(func.count()).select_from(set_acks.join(set_streams)).where(set_streams.c.tenant_id == tenant_id)
    counts[set_acks.name] = conn.execute(acks).scalar_one()
    for table in metadata.sorted_tables:
        column = table.c.get("tenant_id", table.c.id if table is tenants_table else None)
        if column is not None:
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(column == tenant_id)
            ).scalar_one()
    return counts


async def _rows(store: SqlStore, tenant: Populated) -> dict[str, int]:
    return await databases.on_connection(store, lambda conn: _counts(conn, tenant.tenant.id))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, token_recheck_seconds=0)  # a deleted token is refused at once


@pytest.fixture
async def acme(store: SqlStore, app: object) -> AsyncIterator[Populated]:
    access = await make_tenant(store, app, "acme")
    async with access.client:
        yield await _populate(store, access, "acme")


@pytest.fixture
async def globex(store: SqlStore, app: object) -> AsyncIterator[Populated]:
    access = await make_tenant(store, app, "globex")
    async with access.client:
        yield await _populate(store, access, "globex")


async def test_every_table_with_tenant_data_has_rows_of_the_populated_tenant(store: SqlStore, acme: Populated) -> None:
    # The deletion tests below are only as good as this: each such table holds some of acme's rows.
    rows = await _rows(store, acme)
    assert all(rows.values()), rows
    last = {"resource_values", "tenant_event_seq", "tenants"} | {t.name for t in WITH_TENANT}
    assert set(rows) == {name for name, _ in BATCHES} | last


async def test_tenant_delete_asks_first_and_no_keeps_everything(cli: Cli, store: SqlStore, acme: Populated) -> None:
    before = await _rows(store, acme)

    result = cli.answer("n\n", "tenant", "delete", "acme", **NO_GRACE)

    assert result.exit_code == 1
    assert result.output.startswith(f"Delete tenant 'acme' ({acme.tenant.id}, created {acme.tenant.created_at}) with ")
    assert "This cannot be undone [y/N]: n\nAborted!" in result.output
    assert await _rows(store, acme) == before


async def test_tenant_delete_removes_every_row_of_the_tenant_and_none_of_another(
    cli: Cli, settings: Settings, store: SqlStore, acme: Populated, globex: Populated
) -> None:
    acme_before, globex_before = await _rows(store, acme), await _rows(store, globex)

    result = cli.answer("y\n", "tenant", "delete", "acme", **NO_GRACE)

    assert result.exit_code == 0, result.output
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith(f"Deleted tenant acme ({acme.tenant.id}): 1 tokens, 1 webhook_attempts, 1 webhooks, ")
    assert re.search(r"; \d+ transactions\.$", summary)
    assert await _rows(store, acme) == dict.fromkeys(acme_before, 0)
    assert await _rows(store, globex) == globex_before
    assert await store.tenant_by_name("acme") is None
    app = create_app(settings, store=store)
    async with client_for(app, acme.access.token) as gone, client_for(app, globex.access.token) as other:
        assert_scim_error(await gone.get("/Users"), 401)
        assert (await other.get("/Users")).status_code == 200


async def test_tenant_delete_yes_does_not_ask(cli: Cli, store: SqlStore, acme: Populated) -> None:
    result = cli("tenant", "delete", "acme", "--yes", **NO_GRACE)

    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output
    assert not any((await _rows(store, acme)).values())


async def _deliver_from(store: SqlStore, tenant: Populated, after: int) -> str:
    """A webhook that has delivered the tenant's events up to ``after``."""
    hook = await EventStore.of(store).add_webhook(
        str(uuid.uuid4()), tenant.tenant.id, "https://p.test/", "s", utc_now(), after
    )
    return hook.id


async def _last_seq(store: SqlStore, tenant: Populated) -> int:
    def last(conn: Connection) -> int:
        stmt = select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant.tenant.id)
        return int(conn.execute(stmt).scalar_one())

    return await databases.on_connection(store, last)


async def test_tenant_delete_is_refused_while_a_webhook_has_undelivered_events(
    cli: Cli, store: SqlStore, acme: Populated
) -> None:
    hook = await _deliver_from(store, acme, 2)
    last = await _last_seq(store, acme)
    before = await _rows(store, acme)

    refused = cli.answer("y\n", "tenant", "delete", "acme", **NO_GRACE)

    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: Tenant 'acme' has webhook deliveries pending (webhook {hook} (https://p.test/): "
        f"{last - 2} undelivered events). Wait for them, remove the webhooks, or delete anyway with: "
        "scimhub tenant delete acme --force\n"
    )
    assert await _rows(store, acme) == before

    forced = cli("tenant", "delete", "acme", "--force", "--yes", **NO_GRACE)
    assert forced.exit_code == 0, forced.output
    assert not any((await _rows(store, acme)).values())


async def test_tenant_delete_is_refused_while_its_event_stream_is_held(
    cli: Cli, store: SqlStore, acme: Populated
) -> None:
    """A held stream (here paused by hand) is a decision still open: deleting would drop what it held."""
    cli.ok("tenant", "pause", "acme", "--reason", "IdP cut-over")
    before = await _rows(store, acme)

    refused = cli("tenant", "delete", "acme", "--yes", **NO_GRACE)

    assert refused.exit_code == 1
    assert "has its event stream held since seq" in refused.output
    assert "(pause: IdP cut-over)" in refused.output
    assert "lift it with scimhub tenant resume acme" in refused.output
    assert refused.output.rstrip().endswith("delete anyway with scimhub tenant delete acme --force")
    assert await _rows(store, acme) == before

    forced = cli("tenant", "delete", "acme", "--force", "--yes", **NO_GRACE)
    assert forced.exit_code == 0, forced.output
    assert not any((await _rows(store, acme)).values())


async def test_tenant_delete_is_refused_while_a_delivery_is_in_flight(
    cli: Cli, store: SqlStore, acme: Populated
) -> None:
    hook = await _deliver_from(store, acme, await _last_seq(store, acme))  # nothing left to deliver

    def lease(conn: Connection) -> None:
        conn.execute(
            update(webhooks)
            .where(webhooks.c.id == hook)
            .values(lease_owner="w", lease_until="2999-01-01T00:00:00.000Z")
        )

    await databases.on_connection(store, lease)

    refused = cli("tenant", "delete", "acme", "--yes", **NO_GRACE)

    assert refused.exit_code == 1
    assert f"(webhook {hook} (https://p.test/): a delivery in flight)" in refused.output
    assert (await _rows(store, acme))["resources"] == USERS  # the group, and all users but one


async def test_the_force_hint_of_a_name_from_before_the_rule_is_shell_quoted(
    cli: Cli, store: SqlStore, acme: Populated
) -> None:
    assert await store.rename_tenant(acme.tenant.id, "Acme Corp/eu")  # the store takes any name, as before the rule
    await _deliver_from(store, acme, 0)

    refused = cli("tenant", "delete", "Acme Corp/eu", "--yes", **NO_GRACE)

    assert refused.exit_code == 1
    hint = refused.output.rsplit("delete anyway with: ", 1)[1].strip()
    assert hint == "scimhub tenant delete 'Acme Corp/eu' --force"
    assert shlex.split(hint) == ["scimhub", "tenant", "delete", "Acme Corp/eu", "--force"]


async def test_deletion_runs_in_transactions_of_at_most_the_batch_size_tokens_first(
    store: SqlStore, acme: Populated, globex: Populated
) -> None:
    before, globex_before = await _rows(store, acme), await _rows(store, globex)
    steps: list[tuple[str, int]] = []
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    deletion = await tenants.delete_tenant(
        store, acme.tenant, batch=5, progress=lambda t, n: steps.append((t, n)), pause=pause
    )

    assert all(0 < count <= 5 for _, count in steps), steps
    # After each transaction, a pause as long as it took: other processes get SQLite's write lock.
    assert len(pauses) == len(steps)
    assert all(p > 0 for p in pauses)
    assert steps[0][0] == "tokens"
    order = [name for name, _ in BATCHES]
    assert [t for t, _ in steps] == sorted((t for t, _ in steps), key=order.index)  # table after table
    assert [n for t, n in steps if t == "group_members"] == [5, 5, 1]  # 11 members left in the group
    assert deletion == TenantDeletion({name: before[name] for name in order}, len(steps) + 1)
    assert not any((await _rows(store, acme)).values())
    assert await _rows(store, globex) == globex_before


async def test_what_a_request_let_in_before_the_token_went_writes_is_swept_before_the_tenant_goes(
    store: SqlStore, acme: Populated, globex: Populated
) -> None:
    globex_before = await _rows(store, globex)
    late = LoggedRequest(
        acme.tenant.id, utc_now(), "r2", acme.access.token_id, "GET", "/scim/v2/Users", None, 200, 1, None, None, None
    )
    log = RequestLogStore(store.db, 100)
    written: list[asyncio.Task[None]] = []

    async def logged_a_moment_later() -> None:
        # A server that authenticated a request from its token cache logs it within a second.
        await asyncio.sleep(0.05)
        await log.append([late])

    def progress(table: str, _count: int) -> None:
        if table == BATCHES[-1][0]:  # the last table: without the grace the tenant would go next
            written.append(asyncio.get_running_loop().create_task(logged_a_moment_later()))

    deletion = await tenants.delete_tenant(store, acme.tenant, grace=1.0, progress=progress)
    await written[0]  # it committed: the tenant was still there

    assert deletion.removed["request_log"] == 2  # the one written before, and the late one
    assert not any((await _rows(store, acme)).values())
    assert await _rows(store, globex) == globex_before


async def test_a_tenant_with_nothing_in_it_is_deleted_in_one_transaction(cli: Cli, store: SqlStore) -> None:
    cli.ok("tenant", "create", "empty")

    lines = cli.ok("tenant", "delete", "empty", "--yes", **NO_GRACE)

    assert re.fullmatch(r"Deleted tenant empty \([0-9a-f-]{36}\): no other rows; 1 transactions\.", lines[-1])
    assert await store.tenant_by_name("empty") is None


async def test_deleting_an_unknown_tenant_changes_nothing(cli: Cli, store: SqlStore, acme: Populated) -> None:
    before = await _rows(store, acme)

    result = cli("tenant", "delete", "nosuch", "--yes", **NO_GRACE)

    assert result.exit_code == 1
    assert result.output == "Error: No tenant named 'nosuch'; create it with: scimhub tenant create nosuch\n"
    assert await _rows(store, acme) == before


async def test_a_long_deletion_reports_its_progress_on_stderr(
    cli: Cli, store: SqlStore, acme: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenants_cli, "PROGRESS_EVERY", 2)

    result = cli("tenant", "delete", "acme", "--yes", **NO_GRACE)

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        "... 2 transactions, now deleting from webhook_attempts",  # after the tokens
        "... 4 transactions, now deleting from hook_offsets",
    ]
    assert result.stdout.startswith("Deleted tenant acme")
