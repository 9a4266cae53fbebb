"""Sync health in the database: each tenant's SCIM traffic (tenant_activity, tenant_request_stats)
and the facts ``scimhub tenant status`` shows (scimhub.safety.health)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer
from sqlalchemy import Row
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimhub.safety.activity import OK
from scimhub.safety.activity import Traffic
from scimhub.safety.health import TOKEN_EXPIRY_DAYS
from scimhub.safety.health import Activity
from scimhub.safety.health import Counts
from scimhub.safety.health import ExpiringToken
from scimhub.safety.health import StatusFacts
from scimhub.safety.health import SyncState
from scimhub.safety.health import Thresholds
from scimhub.safety.health import sync_state
from scimhub.store.base import Tenant
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.events_sql import EventStore
from scimhub.store.holds_sql import HoldStore
from scimhub.store.holds_sql import count_users
from scimhub.store.prepared import prepare
from scimhub.store.tables import resource_counts
from scimhub.store.tables import tenant_activity
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenant_request_stats
from scimhub.store.tables import tenants
from scimhub.store.tables import tokens
from scimhub.store.tables import webhooks
from scimhub.timestamps import format_instant

KEEP_HOURS = 48  # hourly rows older than this are pruned (the status reads the last 24 hours)


def hour_of(instant: str, hours_back: int = 0) -> str:
    """The hour bucket (``2026-12-07T09``) of ``instant``, ``hours_back`` hours earlier."""
    return format_instant(datetime.fromisoformat(instant) - timedelta(hours=hours_back))[:13]


def _activity(row: Row[Any] | None) -> Activity | None:
    return None if row is None else Activity(row.first_request_at, row.last_request_at, row.user_agent)


def _counts(rows: Iterable[Row[Any]]) -> Counts:
    by_outcome = {r.outcome: int(r.total) for r in rows}
    errors = {k: v for k, v in by_outcome.items() if k != OK}
    top = max(sorted(errors), key=lambda k: errors[k]) if errors else None
    return Counts(sum(by_outcome.values()), sum(errors.values()), top, errors.get(top, 0) if top else 0)


def _only_if_tenant(columns: dict[str, Any]) -> Any:
    """The row ``columns`` as a SELECT that yields nothing once the tenant is deleted (a flush
    may hold a tenant deleted meanwhile: its counts are dropped, not a foreign-key error)."""
    return select(*(bindparam(name, type_=type_) for name, type_ in columns.items())).where(
        exists().where(tenants.c.id == bindparam("tenant_id"))
    )


def _activity_upsert(insert_: Any, earlier: Any, later: Any) -> Any:
    t = tenant_activity.c
    stmt = insert_(tenant_activity).from_select(
        [t.tenant_id, t.first_request_at, t.last_request_at, t.user_agent],
        _only_if_tenant({"tenant_id": String, "first": String, "last": String, "user_agent": Text}),
    )
    return stmt.on_conflict_do_update(
        index_elements=[t.tenant_id],
        set_={
            # Processes flush in any order: the earliest first request and the latest last one.
            "first_request_at": earlier(stmt.excluded.first_request_at, t.first_request_at),
            "last_request_at": later(stmt.excluded.last_request_at, t.last_request_at),
            "user_agent": func.coalesce(stmt.excluded.user_agent, t.user_agent),
        },
    )


def _stats_upsert(insert_: Any) -> Any:
    s = tenant_request_stats.c
    stmt = insert_(tenant_request_stats).from_select(
        [s.tenant_id, s.hour, s.outcome, s.count],
        _only_if_tenant({"tenant_id": String, "hour": String, "outcome": String, "count": Integer}),
    )
    return stmt.on_conflict_do_update(
        index_elements=[s.tenant_id, s.hour, s.outcome], set_={"count": s.count + stmt.excluded.count}
    )


# Built once: with thousands of quiet tenants a flush holds hundreds of them, and building,
# compiling and binding the Core statements cost more than running them.
_ACTIVITY = prepare(
    _activity_upsert(sqlite_insert, func.min, func.max),  # SQLite's min/max of two arguments
    postgresql=_activity_upsert(postgresql_insert, func.least, func.greatest),
)
_STATS = prepare(_stats_upsert(sqlite_insert), postgresql=_stats_upsert(postgresql_insert))


class ActivityStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, batch: dict[str, Traffic]) -> None:
        """One flush of a process's counters: first/last request and User-Agent, hourly counts."""
        if not batch:
            return
        activity_rows: list[dict[str, Any]] = []
        stats_rows: list[dict[str, Any]] = []
        for t, x in sorted(batch.items()):  # one lock order for every process
            activity_rows.append(
                {"tenant_id": t, "first": x.first_instant, "last": x.last_instant, "user_agent": x.user_agent}
            )
            stats_rows += ({"tenant_id": t, "hour": h, "outcome": o, "count": n} for h, o, n in x.hourly())
        async with self.db.write() as tx:
            await tx.run_many(_ACTIVITY, activity_rows)
            await tx.run_many(_STATS, stats_rows)

    async def prune(self, now: str) -> int:
        cut = hour_of(now, KEEP_HOURS)
        async with self.db.write() as tx:
            return (await tx.execute(tenant_request_stats.delete().where(tenant_request_stats.c.hour < cut))).rowcount

    async def activity(self) -> dict[str, Activity]:
        async with self.db.read() as tx:
            rows = await tx.execute(select(tenant_activity))
            return {r.tenant_id: a for r in rows if (a := _activity(r)) is not None}

    async def recent_counts(self, now: str) -> dict[str, Counts]:
        """Every tenant's requests in the recent period (this hour and the one before)."""
        stmt = (
            select(
                tenant_request_stats.c.tenant_id,
                tenant_request_stats.c.outcome,
                func.sum(tenant_request_stats.c.count).label("total"),
            )
            .where(tenant_request_stats.c.hour >= hour_of(now, 1))
            .group_by(tenant_request_stats.c.tenant_id, tenant_request_stats.c.outcome)
        )
        async with self.db.read() as tx:
            rows = (await tx.execute(stmt)).all()
        tenants = {r.tenant_id for r in rows}
        return {t: _counts(r for r in rows if r.tenant_id == t) for t in tenants}

    async def facts(self, tenant: Tenant, now: str, events: EventStore) -> StatusFacts:
        """Everything the status of one tenant shows."""
        async with self.db.read() as tx:
            row = (await tx.execute(select(tenant_activity).where(tenant_activity.c.tenant_id == tenant.id))).first()
            day = await self._period(tx, tenant.id, hour_of(now, 23))
            hour = await self._period(tx, tenant.id, hour_of(now, 1))
            active, inactive = await count_users(tx, self.db, tenant.id)
            groups = await _resource_count(tx, tenant.id, "Group")
            expiring = await _expiring_tokens(tx, tenant.id, now)
            backlog = await _backlog(tx, tenant.id)
        dead = 0
        for webhook in await events.list_webhooks(tenant.id):
            dead += len(await events.dead_letters(webhook.id))
        return StatusFacts(
            tenant=tenant.name,
            activity=_activity(row),
            day=day,
            hour=hour,
            hold=await events.holds.hold(tenant.id),
            users_active=active,
            users_inactive=inactive,
            groups=groups,
            expiring_tokens=expiring,
            webhook_backlog=backlog,
            dead_letters=dead,
            recent_since=hour_of(now, 1),
        )

    async def states(
        self, tenant_ids: Iterable[str], now: str, thresholds: Thresholds, holds: HoldStore
    ) -> dict[str, SyncState]:
        """Every tenant's state (``tenant list``, metrics), in three queries."""
        activity = await self.activity()
        recent = await self.recent_counts(now)
        held = await holds.holds()
        return {
            t: sync_state(activity.get(t), recent.get(t, Counts()), held.get(t), now, thresholds) for t in tenant_ids
        }

    @staticmethod
    async def _period(tx: Tx, tenant_id: str, since_hour: str) -> Counts:
        stmt = (
            select(tenant_request_stats.c.outcome, func.sum(tenant_request_stats.c.count).label("total"))
            .where(tenant_request_stats.c.tenant_id == tenant_id, tenant_request_stats.c.hour >= since_hour)
            .group_by(tenant_request_stats.c.outcome)
        )
        return _counts(await tx.execute(stmt))


async def _resource_count(tx: Tx, tenant_id: str, resource_type: str) -> int:
    stmt = select(resource_counts.c.count).where(
        resource_counts.c.tenant_id == tenant_id, resource_counts.c.resource_type == resource_type
    )
    return int((await tx.execute(stmt)).scalar() or 0)


async def _expiring_tokens(tx: Tx, tenant_id: str, now: str) -> tuple[ExpiringToken, ...]:
    """Tokens not revoked that expire within TOKEN_EXPIRY_DAYS (or have expired: still presented?)."""
    until = format_instant(datetime.fromisoformat(now) + timedelta(days=TOKEN_EXPIRY_DAYS))
    stmt = (
        select(tokens.c.id, tokens.c.prefix, tokens.c.expires_at)
        .where(
            tokens.c.tenant_id == tenant_id,
            tokens.c.revoked_at.is_(None),
            tokens.c.expires_at.is_not(None),
            tokens.c.expires_at <= until,
        )
        .order_by(tokens.c.expires_at)
    )
    return tuple(ExpiringToken(r.id, r.prefix, r.expires_at) for r in await tx.execute(stmt))


async def _backlog(tx: Tx, tenant_id: str) -> int:
    """Events not yet delivered to the tenant's slowest webhook."""
    last = select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant_id).scalar_subquery()
    stmt = select(func.max(last - webhooks.c.delivered_seq)).where(webhooks.c.tenant_id == tenant_id)
    return max(int((await tx.execute(stmt)).scalar() or 0), 0)
