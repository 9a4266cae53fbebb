"""EventStore: the directory-sync side of the database, on the SqlStore's engine.

Feed reads, webhook endpoints and their consumer cursors, the delivery lease, the delivery log
and dead letters, in-process hook offsets, audit queries and the retention purge. Every write
is one short transaction on the SqlStore's database (on SQLite under its one writer lock); no
method does network I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from scimhub.events.model import Event
from scimhub.schema.model import JsonDoc
from scimhub.store import fast_reads
from scimhub.store.base import normalise_audit_detail
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.directory_sql import EventUsers
from scimhub.store.holds_sql import HoldStore
from scimhub.store.holds_sql import hold_bound
from scimhub.store.prepared import prepare
from scimhub.store.sql import SqlStore
from scimhub.store.tables import audit_log
from scimhub.store.tables import events
from scimhub.store.tables import hook_offsets
from scimhub.store.tables import set_streams
from scimhub.store.tables import tenant_event_seq
from scimhub.store.tables import tenants
from scimhub.store.tables import webhook_attempts
from scimhub.store.tables import webhooks

_ATTEMPT = webhook_attempts.alias("a")
_LATER = webhook_attempts.alias("r")


class Outcome(StrEnum):
    """What one delivery attempt came to (the ``webhook_attempts.outcome`` column)."""

    DELIVERED = "delivered"  # 2xx; the cursor moved past the event
    RETRY = "retry"  # failed; the same event is tried again after a backoff
    DEAD = "dead"  # failed for the last time: dead-lettered, the cursor moved on
    REDELIVERED = "redelivered"  # a dead letter sent again by hand, and accepted


@dataclass(frozen=True, slots=True)
class Webhook:
    """A tenant's webhook endpoint and its consumer cursor (``delivered_seq``)."""

    id: str
    tenant_id: str
    url: str
    created_at: str
    delivered_seq: int
    attempts: int
    next_attempt_at: str | None
    secret: str = field(repr=False)
    allow_private: bool = False  # may be delivered to non-public addresses (events.destinations)
    batch: int = 1  # events one request may carry (scimhub.events.batch); 1: one event a request

    def to_json(self) -> JsonDoc:
        """The endpoint as the admin API shows it (never the secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "createdAt": self.created_at,
            "deliveredSeq": self.delivered_seq,
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at,
            "allowPrivate": self.allow_private,
            "batch": self.batch,
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased webhook and the event at the head of its queue; ``attempt`` counts from 1."""

    webhook: Webhook
    event: Event
    attempt: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One row of the delivery log."""

    webhook_id: str
    tenant_id: str
    seq: int
    event_id: str
    attempt: int
    attempted_at: str
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    latency_ms: int | None = None
    pk: int | None = None

    def to_json(self) -> JsonDoc:
        return {
            "id": self.pk,
            "webhookId": self.webhook_id,
            "seq": self.seq,
            "eventId": self.event_id,
            "attempt": self.attempt,
            "attemptedAt": self.attempted_at,
            "outcome": self.outcome.value,
            "statusCode": self.status_code,
            "error": self.error,
            "latencyMs": self.latency_ms,
        }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event dead-lettered for a webhook and not redelivered since; ``attempts`` so far."""

    webhook_id: str
    seq: int
    event_id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    events: int
    attempts: int
    audit: int


EVENTS_AFTER = prepare(
    select(events.c.tenant_id, events.c.seq, events.c.id, events.c.type, events.c.payload)
    .where(
        events.c.tenant_id == bindparam("tenant"),
        events.c.seq > bindparam("after"),
        events.c.seq < hold_bound(bindparam("tenant")),
    )
    .order_by(events.c.seq)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))  # always 0: SQLite's LIMIT otherwise brings an unnamed offset parameter
)


def _event(row: Row[Any]) -> Event:
    return Event(row.tenant_id, row.seq, row.id, row.type, orjson.loads(row.payload))


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        created_at=row.created_at,
        delivered_seq=row.delivered_seq,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        secret=row.secret,
        allow_private=bool(row.allow_private),
        batch=int(row.batch_size),
    )


def attempt_from_row(row: Row[Any], owner: str = "webhook_id") -> Attempt:
    """A delivery-log row as an Attempt; ``owner`` names the column of the webhook (or SET stream)."""
    return Attempt(
        webhook_id=getattr(row, owner),
        tenant_id=row.tenant_id,
        seq=row.seq,
        event_id=row.event_id,
        attempt=row.attempt,
        attempted_at=row.attempted_at,
        outcome=Outcome(row.outcome),
        status_code=row.status_code,
        error=row.error,
        latency_ms=row.latency_ms,
        pk=row.pk,
    )


def attempt_values(attempt: Attempt, owner: str = "webhook_id") -> dict[str, Any]:
    """The delivery-log row of an Attempt; ``owner`` names the column of the webhook (or SET stream)."""
    return {
        owner: attempt.webhook_id,
        "tenant_id": attempt.tenant_id,
        "seq": attempt.seq,
        "event_id": attempt.event_id,
        "attempt": attempt.attempt,
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "latency_ms": attempt.latency_ms,
        "outcome": attempt.outcome.value,
    }


async def last_event_seq(tx: Tx, tenant_id: str) -> int:
    stmt = select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant_id)
    return int((await tx.execute(stmt)).scalar() or 0)


def lease_free(now: str, table: Table = webhooks) -> ColumnElement[bool]:
    """Nobody holds the lease, or its holder let it expire. A released lease keeps its (past) time
    as the least-recently-served order, so freedom is the owner's absence: compared by time, a
    lease released in the same millisecond as the next claim looked held (a backlog then drained
    at one event per poll interval)."""
    return or_(table.c.lease_owner.is_(None), table.c.lease_until < now)


def finish_values(
    cursor: int, attempts: Sequence[Attempt], owner: str, retry_at: str | None, keep_until: str | None
) -> dict[str, Any]:
    """The webhook (or SET stream) row after a lane's ``attempts`` since the cursor it recorded:
    the cursor moves past the last delivered or dead-lettered event; a failed last attempt (a
    retry: every attempt of its request) keeps the head event and schedules its retry."""
    moved = [a.seq for a in attempts if a.outcome is not Outcome.RETRY]
    last = attempts[-1]
    values: dict[str, Any] = {"delivered_seq": max([cursor, *moved])}
    if last.outcome is Outcome.RETRY:
        values.update(attempts=last.attempt, next_attempt_at=retry_at)
    else:
        values.update(attempts=0, next_attempt_at=None)
    if keep_until is not None:
        values.update(lease_owner=owner, lease_until=keep_until)
    else:
        # lease_until keeps the (past) time of the last attempt: claims serve the least recently
        # served webhook first, so busy ones cannot starve the rest.
        values.update(lease_owner=None, lease_until=last.attempted_at)
    return values


def _due(now: str) -> Select[Any]:
    """Webhooks with undelivered events, not waiting for a retry nor leased, least recently served first."""
    return (
        select(webhooks)
        .where(
            or_(webhooks.c.next_attempt_at.is_(None), webhooks.c.next_attempt_at <= now),
            lease_free(now),
            _has_pending_events(),
        )
        .order_by(webhooks.c.lease_until.asc().nulls_first(), webhooks.c.id)
    )


def _has_pending_events() -> ColumnElement[bool]:
    return exists().where(
        events.c.tenant_id == webhooks.c.tenant_id,
        events.c.seq > webhooks.c.delivered_seq,
        # By the events' tenant: two levels down, webhooks.tenant_id does not correlate (the bound
        # was read over every webhook: PostgreSQL refused it, SQLite took another tenant's hold).
        events.c.seq < hold_bound(events.c.tenant_id),
    )


NO_WEBHOOK_RECHECK_SECONDS = 1.0


class EventStore:
    """Directory-sync queries on the database of a SqlStore."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._read = db.read
        self._write = db.write
        self._none_until = 0.0  # monotonic time until which "no webhook anywhere" is believed
        self.holds = HoldStore(db)
        self.users = EventUsers(db)  # user events, as read, carry the normalized `user` (scimhub.directory)

    async def has_webhooks(self) -> bool:
        """Cheap check before the worker's claim queries: most servers have no webhook at all.

        The worker asks after every commit. A "no" is believed for NO_WEBHOOK_RECHECK_SECONDS
        (a sequential PATCH burst otherwise paid two probes a write); a webhook added through
        this store is seen at once, one added by another process within that time."""
        if self.no_webhooks_known():
            return False
        found = bool((await self.db.fast(fast_reads.ANY_WEBHOOK))[0][0])
        self._none_until = 0.0 if found else time.monotonic() + NO_WEBHOOK_RECHECK_SECONDS
        return found

    def no_webhooks_known(self) -> bool:
        """Whether a recent ``has_webhooks`` "no" still holds (no query: the worker's wake-up test)."""
        return time.monotonic() < self._none_until

    @classmethod
    def of(cls, store: SqlStore) -> EventStore:
        """On ``store``'s database (and, on SQLite, its one writer lock)."""
        return cls(store.db)

    async def delivery_stats(self) -> tuple[dict[str, int], dict[str, int]]:
        """Attempts by outcome (within retention) and undelivered events per tenant (metrics)."""
        async with self._read() as conn:
            outcomes = {
                row[0]: int(row[1])
                for row in (
                    await conn.execute(
                        select(webhook_attempts.c.outcome, func.count()).group_by(webhook_attempts.c.outcome)
                    )
                )
            }
            backlog_rows = await conn.execute(
                select(webhooks.c.tenant_id, func.max(tenant_event_seq.c.last_seq - webhooks.c.delivered_seq))
                .join(tenant_event_seq, tenant_event_seq.c.tenant_id == webhooks.c.tenant_id)
                .group_by(webhooks.c.tenant_id)
            )
            backlog = {row[0]: int(row[1] or 0) for row in backlog_rows}
        return outcomes, backlog

    # -- the feed ----------------------------------------------------------------------------
    async def events_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        """Committed events with seq > ``after``, in seq order (gapless within retention), up to
        the tenant's hold: no consumer reads a held event (scimhub.safety.hold); user events gain
        their directory ``user`` (store.directory_sql.EventUsers).

        Every lane and hook reads its events here, a page at a time and again for each commit it
        waits for: a precompiled statement on the driver (EVENTS_AFTER)."""
        rows = await self.db.fast(EVENTS_AFTER, tenant=tenant_id, after=after, limit=limit, offset=0)
        found = [
            Event(tenant, seq, event_id, kind, orjson.loads(payload)) for tenant, seq, event_id, kind, payload in rows
        ]
        return await self.users.add(tenant_id, found)

    async def event(self, tenant_id: str, seq: int) -> Event | None:
        async with self._read() as conn:
            row = (
                await conn.execute(select(events).where(events.c.tenant_id == tenant_id, events.c.seq == seq))
            ).first()
        return None if row is None else (await self.users.add(tenant_id, [_event(row)]))[0]

    async def retained_from(self, tenant_id: str) -> int:
        """The smallest seq still stored (last_seq + 1 when none is): older ones were purged."""
        async with self._read() as conn:
            oldest = (
                await conn.execute(select(func.min(events.c.seq)).where(events.c.tenant_id == tenant_id))
            ).scalar()
            return int(oldest) if oldest is not None else await last_event_seq(conn, tenant_id) + 1

    # -- webhook endpoints -------------------------------------------------------------------
    async def add_webhook(
        self,
        webhook_id: str,
        tenant_id: str,
        url: str,
        secret: str,
        created_at: str,
        after: int | None = None,
        *,
        allow_private: bool = False,
        batch: int = 1,
    ) -> Webhook:
        """Insert an endpoint whose first event is the one after ``after`` (default: the tenant's
        current last seq, i.e. only events committed from now on); ``batch``: events a request
        may carry."""
        async with self._write() as conn:
            if after is None:
                after = await last_event_seq(conn, tenant_id)
            row = {
                "id": webhook_id,
                "tenant_id": tenant_id,
                "url": url,
                "secret": secret,
                "created_at": created_at,
                "delivered_seq": after,
                "attempts": 0,
                "allow_private": allow_private,
                "batch_size": batch,
            }
            (await conn.execute(insert(webhooks), row))
        self._none_until = 0.0
        return Webhook(webhook_id, tenant_id, url, created_at, after, 0, None, secret, allow_private, batch)

    async def get_webhook(self, webhook_id: str, tenant_id: str | None = None) -> Webhook | None:
        """The endpoint ``webhook_id`` (only if it belongs to ``tenant_id``, when given)."""
        stmt = select(webhooks).where(webhooks.c.id == webhook_id)
        if tenant_id is not None:
            stmt = stmt.where(webhooks.c.tenant_id == tenant_id)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _webhook(row)

    async def list_webhooks(self, tenant_id: str) -> list[Webhook]:
        stmt = select(webhooks).where(webhooks.c.tenant_id == tenant_id).order_by(webhooks.c.created_at)
        async with self._read() as conn:
            return [_webhook(r) for r in (await conn.execute(stmt))]

    async def remove_webhook(self, webhook_id: str) -> bool:
        """Delete the endpoint and its delivery log."""
        async with self._write() as conn:
            return bool((await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))).rowcount)

    # -- delivery ----------------------------------------------------------------------------
    async def claim(self, owner: str, now: str, lease_until: str, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due webhooks that have undelivered events, with their head event.

        The one place that decides who delivers: a conditional UPDATE (lease free or expired),
        so with several processes on one database exactly one holds a webhook at a time. SQLite
        serialises the claimers (BEGIN IMMEDIATE); on PostgreSQL they run at once and FOR UPDATE
        SKIP LOCKED hands each one the webhooks no other claimer is looking at.
        """
        due = _due(now).limit(limit)
        if not await self.has_due(now):  # the common case, nothing due, takes no write lock
            return []
        claims: list[Claim] = []
        async with self._write() as conn:
            for row in (await conn.execute(due.with_for_update(skip_locked=True, of=webhooks))).all():
                head = await self._head(conn, row.tenant_id, row.delivered_seq)
                lease = (
                    update(webhooks)
                    .where(webhooks.c.id == row.id, lease_free(now))
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if head is not None and (await conn.execute(lease)).rowcount:
                    claims.append(Claim(_webhook(row), head, row.attempts + 1))
        return [replace(c, event=(await self.users.add(c.webhook.tenant_id, [c.event]))[0]) for c in claims]

    async def has_due(self, now: str) -> bool:
        """Whether a webhook with undelivered events is due and not leased (a read)."""
        async with self._read() as conn:
            return (await conn.execute(_due(now).with_only_columns(webhooks.c.id).limit(1))).first() is not None

    @staticmethod
    async def _head(conn: Tx, tenant_id: str, delivered_seq: int) -> Event | None:
        stmt = (
            select(events)
            .where(events.c.tenant_id == tenant_id, events.c.seq > delivered_seq, events.c.seq < hold_bound(tenant_id))
            .order_by(events.c.seq)
            .limit(1)
        )
        row = (await conn.execute(stmt)).first()
        return None if row is None else _event(row)

    async def finish(
        self,
        webhook: Webhook,
        attempts: Sequence[Attempt],
        owner: str,
        retry_at: str | None = None,
        keep_until: str | None = None,
    ) -> bool:
        """Log a lane's attempts since its last record, in one transaction, and move the cursor
        past the last delivered (or dead-lettered) one, or schedule the retry of a failed last
        one; drop the lease, or with ``keep_until`` keep it until then (more events follow).

        ``webhook.delivered_seq`` is the cursor the lane last recorded: the update applies only if
        it still is and the lane still holds the lease. Returns False when the lease was lost
        meanwhile (another process owns the webhook now) or the webhook is gone; the attempts are
        still logged if the webhook exists.
        """
        stmt = (
            update(webhooks)
            .where(
                webhooks.c.id == webhook.id,
                webhooks.c.lease_owner == owner,
                webhooks.c.delivered_seq == webhook.delivered_seq,
            )
            .values(**finish_values(webhook.delivered_seq, attempts, owner, retry_at, keep_until))
        )
        exists = select(webhooks.c.id).where(webhooks.c.id == webhook.id)
        async with self._write() as conn:
            # The update first: when it applies, the webhook exists and the lookup is spared.
            updated = bool((await conn.execute(stmt)).rowcount)
            if updated or (await conn.execute(exists)).first() is not None:
                (await conn.execute(insert(webhook_attempts), [attempt_values(a) for a in attempts]))
            return updated

    async def renew(self, webhook_id: str, owner: str, lease_until: str) -> bool:
        """Extend ``owner``'s lease to ``lease_until``; False when it is no longer ``owner``'s."""
        stmt = (
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.lease_owner == owner)
            .values(lease_until=lease_until)
        )
        async with self._write() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def release(self, webhook_id: str, owner: str, served_at: str | None = None) -> None:
        """Give a lease back without recording anything: nothing left to send (``served_at``: the
        last attempt, the webhook's place in the least-recently-served order), or a shutdown in
        the middle of an attempt (None: first in line)."""
        async with self._write() as conn:
            (
                await conn.execute(
                    update(webhooks)
                    .where(webhooks.c.id == webhook_id, webhooks.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=served_at)
                )
            )

    async def next_retry_at(self, now: str) -> str | None:
        """The earliest scheduled retry at or after ``now`` (the worker sleeps until then at most).

        The worker passes its round's claim instant: a retry that fell due since (or in that very
        millisecond) was not due for the claim and is found here, so the worker claims it at once.
        Asked "after the sleep's own clock", it found none and slept the whole poll interval: a
        retry after an outage waited 2 s instead of its backoff."""
        stmt = select(func.min(webhooks.c.next_attempt_at)).where(webhooks.c.next_attempt_at >= now)
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar()
        return None if value is None else str(value)

    async def log_attempt(self, attempt: Attempt) -> None:
        async with self._write() as conn:
            (await conn.execute(insert(webhook_attempts), [attempt_values(attempt)]))

    async def attempts(
        self, webhook_id: str, after: int = 0, limit: int = 100, *, latest: bool = False
    ) -> list[Attempt]:
        """The delivery log of one webhook, oldest first: after log id ``after``, or the
        ``limit`` most recent rows when ``latest``."""
        stmt = select(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id)
        if latest:
            stmt = stmt.order_by(webhook_attempts.c.pk.desc()).limit(limit)
        else:
            stmt = stmt.where(webhook_attempts.c.pk > after).order_by(webhook_attempts.c.pk).limit(limit)
        async with self._read() as conn:
            rows = [attempt_from_row(r) for r in (await conn.execute(stmt))]
        return rows[::-1] if latest else rows

    async def dead_letters(self, webhook_id: str, seq: int | None = None) -> list[DeadLetter]:
        """Events dead-lettered for the webhook and not redelivered since, in seq order."""
        redelivered = exists().where(
            _LATER.c.webhook_id == _ATTEMPT.c.webhook_id,
            _LATER.c.seq == _ATTEMPT.c.seq,
            _LATER.c.outcome == Outcome.REDELIVERED.value,
        )
        conditions = [_ATTEMPT.c.webhook_id == webhook_id, _ATTEMPT.c.outcome == Outcome.DEAD.value, ~redelivered]
        if seq is not None:
            conditions.append(_ATTEMPT.c.seq == seq)
        stmt = (
            select(_ATTEMPT.c.seq, _ATTEMPT.c.event_id, func.max(_ATTEMPT.c.attempt).label("attempts"))
            .where(*conditions)
            .group_by(_ATTEMPT.c.seq, _ATTEMPT.c.event_id)
            .order_by(_ATTEMPT.c.seq)
        )
        async with self._read() as conn:
            return [DeadLetter(webhook_id, r.seq, r.event_id, r.attempts) for r in (await conn.execute(stmt))]

    # -- in-process hook offsets -------------------------------------------------------------
    async def hook_backlog(self, consumer: str) -> dict[str, int]:
        """Tenants with events beyond ``consumer``'s offset → that offset."""
        offset = func.coalesce(hook_offsets.c.delivered_seq, 0)
        stmt = (
            select(tenant_event_seq.c.tenant_id, offset.label("offset"))
            .select_from(
                tenant_event_seq.outerjoin(
                    hook_offsets,
                    and_(
                        hook_offsets.c.tenant_id == tenant_event_seq.c.tenant_id,
                        hook_offsets.c.consumer == consumer,
                    ),
                )
            )
            # Held tenants have nothing for it until released: not drained in vain every round.
            .where(tenant_event_seq.c.last_seq > offset, offset + 1 < hold_bound(tenant_event_seq.c.tenant_id))
        )
        async with self._read() as conn:
            return {r.tenant_id: int(r.offset) for r in (await conn.execute(stmt))}

    async def hook_offset(self, consumer: str, tenant_id: str) -> int | None:
        """``consumer``'s offset for the tenant; None when it has none (it never met the tenant)."""
        stmt = select(hook_offsets.c.delivered_seq).where(
            hook_offsets.c.consumer == consumer, hook_offsets.c.tenant_id == tenant_id
        )
        async with self._read() as conn:
            found = (await conn.execute(stmt)).scalar()
        return None if found is None else int(found)

    async def start_hook_consumers(
        self, consumers: Mapping[str, bool], *, legacy: str, floor: Mapping[str, int] | None = None
    ) -> list[str]:
        """Give each consumer (key → ``from_start``) that has no offset yet one for every tenant;
        returns the keys it started.

        A start is every tenant's last seq ("now"; ``floor`` lowers it for tenants whose just-
        committed events must still be handled), or 0 with ``from_start`` (the oldest retained
        event). While no consumer named ``legacy:…`` has ever had an offset, the offsets of the
        consumer ``legacy`` (one per registry, before handlers had their own) are where every new
        one starts, so an upgrade neither replays nor skips. A tenant created later has no offset:
        everything of it comes after the start.
        """
        have = select(hook_offsets.c.consumer).where(hook_offsets.c.consumer.in_(list(consumers))).distinct()
        async with self._write() as conn:
            known = {r.consumer for r in await conn.execute(have)}
            new = [key for key in consumers if key not in known]
            if not new:
                return []
            last = await _last_seqs(conn)
            carried = await _legacy_offsets(conn, legacy)
            rows = []
            for key in new:
                if consumers[key]:
                    start = dict.fromkeys(last, 0)
                elif carried:  # tenants the registry never met start at their first event
                    start = {t: carried.get(t, 0) for t in last}
                else:
                    start = {t: min(seq, (floor or {}).get(t, seq)) for t, seq in last.items()}
                rows += [{"consumer": key, "tenant_id": t, "delivered_seq": seq} for t, seq in start.items()]
            if rows:
                stmt = self.db.insert(hook_offsets).on_conflict_do_nothing(
                    index_elements=[hook_offsets.c.consumer, hook_offsets.c.tenant_id]
                )
                (await conn.execute(stmt, rows))
        return new

    async def advance_hook_offset(self, consumer: str, tenant_id: str, seq: int) -> None:
        """Move the offset forward to ``seq`` (never backwards: several processes may share it)."""
        stmt = self.db.insert(hook_offsets).values(consumer=consumer, tenant_id=tenant_id, delivered_seq=seq)
        stmt = stmt.on_conflict_do_update(
            index_elements=[hook_offsets.c.consumer, hook_offsets.c.tenant_id],
            set_={"delivered_seq": seq},
            where=hook_offsets.c.delivered_seq < seq,
        )
        async with self._write() as conn:
            (await conn.execute(stmt))

    # -- audit and retention -----------------------------------------------------------------
    async def audit(self, tenant_id: str, after: int = 0, limit: int = 100) -> list[JsonDoc]:
        """Audit entries after ``after`` (their id), oldest first, with the changes of their events
        while those are retained."""
        stmt = (
            select(audit_log)
            .where(audit_log.c.tenant_id == tenant_id, audit_log.c.pk > after)
            .order_by(audit_log.c.pk)
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
            changes = await self._changes_of(conn, tenant_id, rows)
        return [_audit_json(r, changes) for r in rows]

    @staticmethod
    async def _changes_of(conn: Tx, tenant_id: str, rows: Sequence[Row[Any]]) -> dict[int, JsonDoc]:
        seqs = [s for r in rows for s in (r.first_seq, r.last_seq) if s is not None]
        if not seqs:
            return {}
        stmt = select(events.c.seq, events.c.type, events.c.payload).where(
            events.c.tenant_id == tenant_id, events.c.seq.between(min(seqs), max(seqs))
        )
        found = {}
        for row in await conn.execute(stmt):
            payload = orjson.loads(row.payload)
            found[row.seq] = {"seq": row.seq, "type": row.type, "changes": payload.get("changes", [])}
            if payload.get("members"):
                found[row.seq]["members"] = payload["members"]
        return found

    async def purge(self, events_before: str | None, audit_before: str | None) -> PurgeCounts:
        """Delete events, delivery-log rows and audit entries older than the cut-offs.

        An event a webhook or SET stream of its tenant has not got past yet is kept whatever its
        age, so retention never drops an undelivered webhook event or SET; nor a held one.

        Neither table indexes its timestamps (every write inserts into both): rows are removed in
        write order, up to the first one at or after the cut-off, so each purge reads only what it
        deletes plus one row per tenant.
        """
        counts = [0, 0, 0]
        async with self._write() as conn:
            if events_before is not None:
                # Built once, so compiled once: a purge runs it for every tenant (10,000 at ~2 ms
                # each to build and compile held the writer for 20 s).
                purge_one = delete(events).where(*_purgeable_events(bindparam("purged_tenant"), events_before))
                for (tenant_id,) in (await conn.execute(select(tenant_event_seq.c.tenant_id))).all():
                    purged = await conn.execute(purge_one, {"purged_tenant": tenant_id})
                    counts[0] += purged.rowcount
                counts[1] = (
                    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.attempted_at < events_before))
                ).rowcount
            if audit_before is not None:
                first_kept = (
                    select(audit_log.c.pk)
                    .where(audit_log.c.occurred_at >= audit_before)
                    .order_by(audit_log.c.pk)
                    .limit(1)
                    .scalar_subquery()
                )
                counts[2] = (
                    await conn.execute(delete(audit_log).where(audit_log.c.pk < func.coalesce(first_kept, _PAST_ALL)))
                ).rowcount
        return PurgeCounts(*counts)


_PAST_ALL = 2**62  # above every seq and pk: "no row is recent enough, all may go"


def _purgeable_events(tenant_id: str | BindParameter[str], before: str) -> list[ColumnElement[bool]]:
    """A tenant's events before its first one at or after ``before`` (seq order is commit order),
    and not past what its slowest webhook has been sent."""
    first_kept = (
        select(events.c.seq)
        .where(events.c.tenant_id == tenant_id, events.c.occurred_at >= before)
        .order_by(events.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    slowest = select(func.min(webhooks.c.delivered_seq)).where(webhooks.c.tenant_id == tenant_id).scalar_subquery()
    # SET streams (scimhub.sets) likewise: nothing past a stream's cursor goes.
    slowest_stream = (
        select(func.min(set_streams.c.delivered_seq)).where(set_streams.c.tenant_id == tenant_id).scalar_subquery()
    )
    return [
        events.c.tenant_id == tenant_id,
        events.c.seq < func.coalesce(first_kept, _PAST_ALL),
        events.c.seq <= func.coalesce(slowest, events.c.seq),
        events.c.seq <= func.coalesce(slowest_stream, events.c.seq),
        events.c.seq < hold_bound(tenant_id),  # held is only later, never lost
    ]


def _audit_json(row: Row[Any], changes: dict[int, JsonDoc]) -> JsonDoc:
    seqs = range(row.first_seq, row.last_seq + 1) if row.first_seq is not None else range(0)
    return {
        "id": row.pk,
        "occurredAt": row.occurred_at,
        "tokenId": row.token_id,
        "method": row.method,
        "path": row.path,
        "status": row.status,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "firstSeq": row.first_seq,
        "lastSeq": row.last_seq,
        "detail": normalise_audit_detail(None if row.detail is None else orjson.loads(row.detail)),
        "events": [changes[s] for s in seqs if s in changes],
    }


async def _last_seqs(conn: Tx) -> dict[str, int]:
    """Every tenant → its last event seq (0 before its first event)."""
    stmt = select(tenants.c.id, tenant_event_seq.c.last_seq).select_from(
        tenants.outerjoin(tenant_event_seq, tenant_event_seq.c.tenant_id == tenants.c.id)
    )
    return {r.id: int(r.last_seq or 0) for r in await conn.execute(stmt)}


async def _legacy_offsets(conn: Tx, legacy: str) -> dict[str, int]:
    """The registry-wide offsets of a release before per-handler ones, unless a handler of the
    registry already has offsets of its own (then they were carried over before, or never existed)."""
    prefix = f"{legacy}:"  # substr, not LIKE or a range: exact under every collation
    sibling = select(hook_offsets.c.consumer).where(func.substr(hook_offsets.c.consumer, 1, len(prefix)) == prefix)
    if (await conn.execute(sibling.limit(1))).first() is not None:
        return {}
    old = select(hook_offsets.c.tenant_id, hook_offsets.c.delivered_seq).where(hook_offsets.c.consumer == legacy)
    return {r.tenant_id: int(r.delivered_seq) for r in await conn.execute(old)}
