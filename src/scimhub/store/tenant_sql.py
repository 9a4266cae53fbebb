"""Statements that rename a tenant and delete one in bounded batches (SQLite and PostgreSQL).

A tenant of a million users holds millions of rows. Deleting its ``tenants`` row alone would
cascade through all of them in one statement, holding SQLite's one writer (and PostgreSQL's row
locks) for as long as that takes. Instead each table is emptied ``limit`` rows a transaction,
in an order where no row deleted cascades to more than a few others: tokens first (the servers
stop accepting the tenant's requests), then the delivery log before its webhooks, memberships
before the resources (a group's members would cascade all at once), and so on; the tenant row last.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Delete
from sqlalchemy import Table
from sqlalchemy import Update
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy import update

from scimhub.store.base import PendingDelivery
from scimhub.store.database import Tx
from scimhub.store.tables import attribute_mappings
from scimhub.store.tables import audit_log
from scimhub.store.tables import events
from scimhub.store.tables import group_members
from scimhub.store.tables import hook_offsets
from scimhub.store.tables import request_log
from scimhub.store.tables import resource_counts
from scimhub.store.tables import resources
from scimhub.store.tables import role_jobs
from scimhub.store.tables import role_rules
from scimhub.store.tables import role_state
from scimhub.store.tables import set_acks
from scimhub.store.tables import set_attempts
from scimhub.store.tables import set_signing_keys
from scimhub.store.tables import set_streams
from scimhub.store.tables import setup_links
from scimhub.store.tables import tenant_activity
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenant_guard
from scimhub.store.tables import tenant_request_stats
from scimhub.store.tables import tenant_schemas
from scimhub.store.tables import tenant_settings
from scimhub.store.tables import tenants
from scimhub.store.tables import tokens
from scimhub.store.tables import user_roles
from scimhub.store.tables import webhook_attempts
from scimhub.store.tables import webhooks


def rename(tenant_id: str, name: str) -> Update:
    return update(tenants).where(tenants.c.id == tenant_id).values(name=name)


async def pending_deliveries(tx: Tx, tenant_id: str, now: str) -> list[PendingDelivery]:
    """Undelivered events are never purged, so last_seq - delivered_seq counts them exactly."""
    last = select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant_id).scalar_subquery()
    stmt = (
        select(webhooks.c.id, webhooks.c.url, last - webhooks.c.delivered_seq, webhooks.c.lease_until)
        .where(webhooks.c.tenant_id == tenant_id)
        .order_by(webhooks.c.created_at, webhooks.c.id)
    )
    found = []
    for webhook_id, url, undelivered, lease_until in await tx.execute(stmt):
        in_flight = lease_until is not None and lease_until > now
        if (undelivered or 0) > 0 or in_flight:
            found.append(PendingDelivery(webhook_id, url, max(int(undelivered or 0), 0), in_flight))
    return found


def _by_key(table: Table, key: str, tenant_id: str, limit: int) -> Delete:
    """Up to ``limit`` of the tenant's rows, found by its tenant index, deleted by ``key`` (with
    the tenant: ``key`` may be unique only within a tenant)."""
    mine = table.c.tenant_id == tenant_id
    return delete(table).where(mine, table.c[key].in_(select(table.c[key]).where(mine).limit(limit)))


def _attempts(tenant_id: str, limit: int) -> Delete:
    # webhook_attempts has no tenant index: reach them through the tenant's webhooks.
    pks = (
        select(webhook_attempts.c.pk)
        .join(webhooks, webhooks.c.id == webhook_attempts.c.webhook_id)
        .where(webhooks.c.tenant_id == tenant_id)
        .limit(limit)
    )
    return delete(webhook_attempts).where(webhook_attempts.c.pk.in_(pks))


def _set_attempts(tenant_id: str, limit: int) -> Delete:
    # As webhook_attempts: through the tenant's SET streams.
    pks = (
        select(set_attempts.c.pk)
        .join(set_streams, set_streams.c.id == set_attempts.c.stream_id)
        .where(set_streams.c.tenant_id == tenant_id)
        .limit(limit)
    )
    return delete(set_attempts).where(set_attempts.c.pk.in_(pks))


def _set_acks(tenant_id: str, limit: int) -> Delete:
    pairs = (
        select(set_acks.c.stream_id, set_acks.c.seq)
        .join(set_streams, set_streams.c.id == set_acks.c.stream_id)
        .where(set_streams.c.tenant_id == tenant_id)
        .limit(limit)
    )
    return delete(set_acks).where(tuple_(set_acks.c.stream_id, set_acks.c.seq).in_(pairs))


def _memberships(tenant_id: str, limit: int) -> Delete:
    # Through the tenant's groups (group_members has no tenant index), by the (group, member) key.
    pairs = (
        select(group_members.c.group_pk, group_members.c.member_pk)
        .join(resources, resources.c.pk == group_members.c.group_pk)
        .where(resources.c.tenant_id == tenant_id, resources.c.resource_type == "Group")
        .limit(limit)
    )
    return delete(group_members).where(tuple_(group_members.c.group_pk, group_members.c.member_pk).in_(pairs))


def _user_roles(tenant_id: str, limit: int) -> Delete:
    # By the primary key's (tenant, user, role) prefix: before the users, whose deletion would
    # cascade to them too.
    pairs = select(user_roles.c.user_pk, user_roles.c.role).where(user_roles.c.tenant_id == tenant_id).limit(limit)
    return delete(user_roles).where(
        user_roles.c.tenant_id == tenant_id, tuple_(user_roles.c.user_pk, user_roles.c.role).in_(pairs)
    )


def _resources(tenant_id: str, limit: int) -> Delete:
    # Each resource's resource_values rows (its multi-valued keys) go with it (ON DELETE CASCADE).
    pks = select(resources.c.pk).where(resources.c.tenant_id == tenant_id).limit(limit)
    return delete(resources).where(resources.c.pk.in_(pks))


# In deletion order: table name, and the statement deleting up to `limit` of the tenant's rows.
BATCHES: tuple[tuple[str, Callable[[str, int], Delete]], ...] = (
    ("tokens", lambda t, n: _by_key(tokens, "id", t, n)),
    ("webhook_attempts", _attempts),
    ("webhooks", lambda t, n: _by_key(webhooks, "id", t, n)),
    ("hook_offsets", lambda t, n: _by_key(hook_offsets, "consumer", t, n)),
    ("group_members", _memberships),
    ("user_roles", _user_roles),
    ("resources", _resources),
    ("resource_counts", lambda t, n: _by_key(resource_counts, "resource_type", t, n)),
    ("events", lambda t, n: _by_key(events, "seq", t, n)),
    ("audit_log", lambda t, n: _by_key(audit_log, "pk", t, n)),
    ("request_log", lambda t, n: _by_key(request_log, "pk", t, n)),
    ("set_attempts", _set_attempts),
    ("set_acks", _set_acks),
    ("set_streams", lambda t, n: _by_key(set_streams, "id", t, n)),
    ("set_signing_keys", lambda t, n: _by_key(set_signing_keys, "kid", t, n)),
    ("tenant_settings", lambda t, n: _by_key(tenant_settings, "key", t, n)),
    ("tenant_schemas", lambda t, n: _by_key(tenant_schemas, "urn_key", t, n)),
    ("role_rules", lambda t, n: _by_key(role_rules, "id", t, n)),
)


async def delete_rows(tx: Tx, tenant_id: str, limit: int) -> tuple[str, int] | None:
    """One batch: up to ``limit`` rows of the first table in BATCHES that has any of the tenant's."""
    for name, statement in BATCHES:
        count = (await tx.execute(statement(tenant_id, limit))).rowcount
        if count:
            return name, count
    return None


# Deleted with the tenant row: a row each (the guard, the activity, the role state and job), a few
# (the attribute mapping, setup links), or one per hour and outcome of the last two days (sync health).
WITH_TENANT = (
    tenant_guard,
    tenant_activity,
    tenant_request_stats,
    role_state,
    role_jobs,
    attribute_mappings,
    setup_links,
)


async def delete_tenant(tx: Tx, tenant_id: str) -> None:
    for table in WITH_TENANT:
        await tx.execute(delete(table).where(table.c.tenant_id == tenant_id))
    await tx.execute(delete(tenant_event_seq).where(tenant_event_seq.c.tenant_id == tenant_id))
    await tx.execute(delete(tenants).where(tenants.c.id == tenant_id))
