"""The guard's counter and the hold of a tenant's event stream (table ``tenant_guard``).

The hold is database state, so it survives restarts and every instance sees it: each consumer
(webhook claims and lanes, in-process hooks, the feed) reads only events with seq below
``held_from_seq`` (``hold_bound``). The guard runs inside the write transaction of a
deprovisioning, after its events got their seqs: the tenant's event-counter row is locked by
then, so the guard rows of one tenant are updated one transaction at a time on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger
from sqlalchemy import Row
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from scimhub.events.model import Event
from scimhub.safety.guard import DEPROVISIONS
from scimhub.safety.guard import GuardRule
from scimhub.safety.guard import Window
from scimhub.safety.guard import advance
from scimhub.safety.guard import carried
from scimhub.safety.guard import crossing
from scimhub.safety.hold import HeldEvent
from scimhub.safety.hold import Hold
from scimhub.safety.hold import HoldKind
from scimhub.safety.hold import held_event
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.prepared import prepare
from scimhub.store.tables import events
from scimhub.store.tables import resource_counts
from scimhub.store.tables import resources
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenant_guard

NOT_HELD = 2**62  # above every seq: "nothing is held"


def hold_bound(tenant_id: Any) -> ColumnElement[Any]:
    """The first seq a consumer may not read for ``tenant_id`` (a column or a value): one probe
    of tenant_guard's primary key."""
    held = select(tenant_guard.c.held_from_seq).where(tenant_guard.c.tenant_id == tenant_id).scalar_subquery()
    # The constant inline, not a bound parameter: precompiled statements (EventStore's
    # EVENTS_AFTER) bind only the parameters they name.
    return func.coalesce(held, literal_column(str(NOT_HELD), BigInteger()))


def _hold(row: Row[Any]) -> Hold | None:
    if row.held_from_seq is None:
        return None
    return Hold(row.tenant_id, int(row.held_from_seq), HoldKind(row.held_kind), row.held_reason, row.held_since)


def inactive_user(db: Database) -> ColumnElement[bool]:
    """A User whose ``active`` is false (PostgreSQL: a probe of the doc_keys GIN index)."""
    if db.keeps_doc_keys:
        return resources.c.doc_keys.op("@>")(literal({"active": False}, JSONB))
    return func.json_type(resources.c.doc, "$.active") == "false"


async def count_users(tx: Tx, db: Database, tenant_id: str) -> tuple[int, int]:
    """(active, inactive) Users of the tenant: the exact total, and a count of the inactive ones."""
    total_stmt = select(resource_counts.c.count).where(
        resource_counts.c.tenant_id == tenant_id, resource_counts.c.resource_type == "User"
    )
    total = int((await tx.execute(total_stmt)).scalar() or 0)
    inactive_stmt = select(func.count()).where(
        resources.c.tenant_id == tenant_id, resources.c.resource_type == "User", inactive_user(db)
    )
    inactive = int((await tx.execute(inactive_stmt)).scalar() or 0)
    return total - inactive, inactive


async def _guard_row(tx: Tx, db: Database, tenant_id: str) -> Row[Any]:
    """The tenant's guard row, made if missing, locked for this transaction on PostgreSQL."""
    await tx.execute(db.insert(tenant_guard).values(tenant_id=tenant_id).on_conflict_do_nothing())
    stmt = select(tenant_guard).where(tenant_guard.c.tenant_id == tenant_id).with_for_update()
    return (await tx.execute(stmt)).one()


_GUARD_COLUMNS = ("window_start", "window_count", "window_base", "window_previous", "held_from_seq")
_HELD = ("held_kind", "held_reason", "held_since")


def _claim_guard_row(insert_: Any) -> Any:
    """Make the row if missing and return it, locked (a no-op update takes the row lock)."""
    stmt = insert_(tenant_guard).values(tenant_id=bindparam("tenant"))
    return stmt.on_conflict_do_update(
        index_elements=[tenant_guard.c.tenant_id], set_={"tenant_id": stmt.excluded.tenant_id}
    ).returning(*(tenant_guard.c[c] for c in _GUARD_COLUMNS))


# The deprovisioning's hot statements (run on the driver: Core costs ~100 µs a statement).
GUARD_ROW = prepare(_claim_guard_row(sqlite_insert), postgresql=_claim_guard_row(postgresql_insert))
GUARD_COUNT = prepare(
    update(tenant_guard)
    .where(tenant_guard.c.tenant_id == bindparam("tenant"))
    .values({c: bindparam(c) for c in _GUARD_COLUMNS[:4]})
)
GUARD_HOLD = prepare(
    update(tenant_guard)
    .where(tenant_guard.c.tenant_id == bindparam("tenant"))
    .values({c: bindparam(c) for c in (*_GUARD_COLUMNS, *_HELD)})
)


async def guard_deprovisions(
    tx: Tx, db: Database, tenant_id: str, rule: GuardRule, committed: Sequence[Event], now: str
) -> Hold | None:
    """Count the deprovisionings among ``committed`` in the tenant's window; hold the stream at the
    first one past the threshold. Returns the hold it set (None: none set now)."""
    deprovisions = [e for e in committed if e.type in DEPROVISIONS]
    if not deprovisions:
        return None
    start, count, base, previous, held_from = (await tx.rows(GUARD_ROW, tenant=tenant_id))[0]
    window = advance(Window(start, int(count), base, int(previous)), now, rule.window_seconds)
    if rule.threshold.percent is not None and window.base is None:
        # Once a window: the active users before this write's deprovisionings.
        active = (await count_users(tx, db, tenant_id))[0] + len(deprovisions)
        window = Window(window.start, window.count, active, window.previous)
    index = None
    if held_from is None:
        carry = carried(window, now, rule.window_seconds)
        index = crossing(rule, window, len(deprovisions), window.base or 0, carry)
    values: dict[str, Any] = {
        "tenant": tenant_id,
        "window_start": window.start,
        "window_count": window.count + len(deprovisions),
        "window_base": window.base,
        "window_previous": window.previous,
    }
    if index is None:
        await tx.rows(GUARD_COUNT, **values)
        return None
    first = deprovisions[index]
    reason = f"{rule.describe()} (event {first.type} of {first.payload.get('resourceId')})"
    hold = Hold(tenant_id, first.seq, HoldKind.GUARD, reason, now)
    await tx.rows(
        GUARD_HOLD, **values, held_from_seq=hold.from_seq, held_kind=hold.kind.value, held_reason=reason, held_since=now
    )
    return hold


class HoldStore:
    """Holds, pauses and releases of tenants' event streams."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def hold(self, tenant_id: str) -> Hold | None:
        async with self.db.read() as tx:
            row = (await tx.execute(select(tenant_guard).where(tenant_guard.c.tenant_id == tenant_id))).first()
        return None if row is None else _hold(row)

    async def holds(self) -> dict[str, Hold]:
        """Every held tenant → its hold (status listings, metrics)."""
        async with self.db.read() as tx:
            rows = await tx.execute(select(tenant_guard).where(tenant_guard.c.held_from_seq.is_not(None)))
            return {h.tenant_id: h for h in (_hold(r) for r in rows) if h is not None}

    async def pause(self, tenant_id: str, now: str, reason: str) -> tuple[Hold, bool]:
        """Hold the stream after the last committed event; (the hold, whether it is new). A
        tenant already held stays held where it was."""
        async with self.db.write() as tx:
            # The counter row's lock: no write of the tenant can commit a seq we do not see.
            last_stmt = (
                select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant_id).with_for_update()
            )
            last = int((await tx.execute(last_stmt)).scalar() or 0)
            row = await _guard_row(tx, self.db, tenant_id)
            held = _hold(row)
            if held is not None:
                return held, False
            hold = Hold(tenant_id, last + 1, HoldKind.PAUSE, reason, now)
            await tx.execute(
                update(tenant_guard)
                .where(tenant_guard.c.tenant_id == tenant_id)
                .values(held_from_seq=hold.from_seq, held_kind=hold.kind.value, held_reason=reason, held_since=now)
            )
        return hold, True

    async def release(self, tenant_id: str, now: str, kind: HoldKind | None = None) -> Hold | None:
        """Lift the hold (only one of ``kind``, when given) and start the guard's window again;
        returns the hold lifted (None: there was none of that kind)."""
        async with self.db.write() as tx:
            row = await _guard_row(tx, self.db, tenant_id)
            held = _hold(row)
            if held is None or (kind is not None and held.kind is not kind):
                return None
            await tx.execute(
                update(tenant_guard)
                .where(tenant_guard.c.tenant_id == tenant_id)
                .values(
                    held_from_seq=None,
                    held_kind=None,
                    held_reason=None,
                    held_since=None,
                    window_start=None,  # the next deprovisioning starts a new window
                    window_count=0,
                    window_base=None,
                    window_previous=0,
                )
            )
        return held

    async def held_events(self, tenant_id: str, limit: int = 1000) -> list[HeldEvent]:
        """The events held back, in seq order (deactivations, deletions, and whatever followed:
        an IdP that reverses its mistake shows up as reactivations here)."""
        held = select(tenant_guard.c.held_from_seq).where(tenant_guard.c.tenant_id == tenant_id).scalar_subquery()
        stmt = (
            select(events.c.seq, events.c.type, events.c.payload)
            .where(and_(events.c.tenant_id == tenant_id, events.c.seq >= held))
            .order_by(events.c.seq)
            .limit(limit)
        )
        async with self.db.read() as tx:
            return [held_event(r.seq, r.type, orjson.loads(r.payload)) for r in await tx.execute(stmt)]


async def inactive_users_before(db: Database, tenant_id: str, before: str, limit: int) -> list[str]:
    """Ids of the tenant's inactive Users last changed before ``before`` (oldest first)."""
    stmt = (
        select(resources.c.id)
        .where(
            resources.c.tenant_id == tenant_id,
            resources.c.resource_type == "User",
            resources.c.last_modified < before,
            inactive_user(db),
        )
        .order_by(resources.c.pk)
        .limit(limit)
    )
    async with db.read() as tx:
        return list((await tx.execute(stmt)).scalars())
