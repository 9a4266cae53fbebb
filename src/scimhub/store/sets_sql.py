"""StreamStore: SET signing keys, SET streams and their delivery, on the SqlStore's database.

A push stream is delivered by the webhook machinery (``events.worker`` and ``events.lane``):
this store answers the same delivery calls (claim, finish, renew, release, …) on the
``set_streams`` and ``set_attempts`` tables, handing each push stream out as a ``Webhook``
(id, URL, cursor, retry state). A poll stream (RFC 8936) moves its cursor by acks instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from scimhub.events.model import Event
from scimhub.schema.model import JsonDoc
from scimhub.sets.keys import ALGORITHM
from scimhub.sets.keys import KeyState
from scimhub.sets.keys import SigningKey
from scimhub.sets.keys import new_private_jwk
from scimhub.store.database import Database
from scimhub.store.database import Tx
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import DeadLetter
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.events_sql import PurgeCounts
from scimhub.store.events_sql import Webhook
from scimhub.store.events_sql import attempt_from_row
from scimhub.store.events_sql import attempt_values
from scimhub.store.events_sql import finish_values
from scimhub.store.events_sql import last_event_seq
from scimhub.store.events_sql import lease_free
from scimhub.store.holds_sql import hold_bound
from scimhub.store.tables import events
from scimhub.store.tables import set_acks
from scimhub.store.tables import set_attempts
from scimhub.store.tables import set_signing_keys
from scimhub.store.tables import set_streams

_ATTEMPT = set_attempts.alias("a")
_LATER = set_attempts.alias("r")
PUSH = "push"
POLL = "poll"
NO_STREAM_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Stream:
    """A tenant's SET stream: where its SETs go (push URL) or who polls them, and its cursor."""

    id: str
    tenant_id: str
    mode: str
    url: str | None
    audience: str
    issuer: str
    full: bool
    created_at: str
    delivered_seq: int
    attempts: int = 0
    next_attempt_at: str | None = None
    allow_private: bool = False
    token_digest: str | None = field(default=None, repr=False)

    def to_json(self) -> JsonDoc:
        """The stream as the admin API shows it (never the poll token)."""
        return {
            "id": self.id,
            "mode": self.mode,
            "url": self.url,
            "audience": self.audience,
            "issuer": self.issuer,
            "full": self.full,
            "createdAt": self.created_at,
            "deliveredSeq": self.delivered_seq,
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at,
        }

    def as_webhook(self) -> Webhook:
        """The push stream in the shape the delivery lane serves (it signs no webhook secret)."""
        return Webhook(
            self.id,
            self.tenant_id,
            self.url or "",
            self.created_at,
            self.delivered_seq,
            self.attempts,
            self.next_attempt_at,
            "",
            self.allow_private,
        )


def _due(now: str) -> Select[Any]:
    """Push streams with undelivered events, not waiting for a retry nor leased (as webhooks)."""
    pending = exists().where(
        events.c.tenant_id == set_streams.c.tenant_id,
        events.c.seq > set_streams.c.delivered_seq,
        # Held events wait (scimhub.safety). By the events' tenant: a subquery two levels down
        # does not correlate to set_streams (it joined every stream: PostgreSQL refused it).
        events.c.seq < hold_bound(events.c.tenant_id),
    )
    return (
        select(set_streams)
        .where(
            set_streams.c.mode == PUSH,
            or_(set_streams.c.next_attempt_at.is_(None), set_streams.c.next_attempt_at <= now),
            lease_free(now, set_streams),
            pending,
        )
        .order_by(set_streams.c.lease_until.asc().nulls_first(), set_streams.c.id)
    )


def _stream(row: Row[Any]) -> Stream:
    return Stream(
        id=row.id,
        tenant_id=row.tenant_id,
        mode=row.mode,
        url=row.url,
        audience=row.audience,
        issuer=row.issuer,
        full=bool(row.full),
        created_at=row.created_at,
        delivered_seq=int(row.delivered_seq),
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        allow_private=bool(row.allow_private),
        token_digest=row.token_digest,
    )


def _key(row: Row[Any]) -> SigningKey:
    return SigningKey(row.kid, row.alg, row.state, row.created_at, row.private_jwk)


class StreamStore:
    """SET keys and streams; the delivery queue of push streams for the webhook worker."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.feed = EventStore(db)
        self._none_until = 0.0  # monotonic time until which "no push stream anywhere" is believed

    # -- signing keys ------------------------------------------------------------------------
    async def keys(self, tenant_id: str) -> list[SigningKey]:
        """The tenant's keys, oldest first (retired ones too)."""
        stmt = (
            select(set_signing_keys)
            .where(set_signing_keys.c.tenant_id == tenant_id)
            .order_by(set_signing_keys.c.created_at, set_signing_keys.c.kid)
        )
        async with self.db.read() as conn:
            return [_key(r) for r in await conn.execute(stmt)]

    async def active_key(self, tenant_id: str, created_at: str) -> SigningKey:
        """The key that signs the tenant's SETs; the first one is made on first use."""
        for key in await self.keys(tenant_id):
            if key.state == KeyState.ACTIVE:
                return key
        return await self.rotate_key(tenant_id, created_at)

    async def rotate_key(self, tenant_id: str, created_at: str) -> SigningKey:
        """A new active key; the previous one stays published, so SETs it signed still verify."""
        kid, private = new_private_jwk()
        row = {
            "kid": kid,
            "tenant_id": tenant_id,
            "alg": ALGORITHM,
            "private_jwk": private,
            "state": KeyState.ACTIVE,
            "created_at": created_at,
        }
        demote = (
            update(set_signing_keys)
            .where(set_signing_keys.c.tenant_id == tenant_id, set_signing_keys.c.state == KeyState.ACTIVE)
            .values(state=KeyState.PUBLISHED)
        )
        async with self.db.write() as conn:
            await conn.execute(demote)
            await conn.execute(insert(set_signing_keys), [row])
        return SigningKey(kid, ALGORITHM, KeyState.ACTIVE, created_at, private)

    async def retire_key(self, tenant_id: str, kid: str) -> bool:
        """Stop publishing a rotated-out key (never the active one); False when no such key."""
        stmt = (
            update(set_signing_keys)
            .where(
                set_signing_keys.c.tenant_id == tenant_id,
                set_signing_keys.c.kid == kid,
                set_signing_keys.c.state != KeyState.ACTIVE,
            )
            .values(state=KeyState.RETIRED)
        )
        async with self.db.write() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    # -- streams -----------------------------------------------------------------------------
    async def add_stream(self, stream: Stream, after: int | None = None) -> Stream:
        """Insert ``stream``; its first event is the one after ``after`` (default: the tenant's
        last seq now, i.e. only events committed from now on)."""
        async with self.db.write() as conn:
            start = await last_event_seq(conn, stream.tenant_id) if after is None else after
            row = {
                "id": stream.id,
                "tenant_id": stream.tenant_id,
                "mode": stream.mode,
                "url": stream.url,
                "audience": stream.audience,
                "issuer": stream.issuer,
                "full": stream.full,
                "token_digest": stream.token_digest,
                "created_at": stream.created_at,
                "delivered_seq": start,
                "attempts": 0,
                "allow_private": stream.allow_private,
            }
            await conn.execute(insert(set_streams), [row])
        self._none_until = 0.0
        return replace(stream, delivered_seq=start)

    async def has_streams(self, tenant_id: str) -> bool:
        """Whether the tenant has a SET stream (its ServiceProviderConfig then advertises them)."""
        stmt = select(exists().where(set_streams.c.tenant_id == tenant_id))
        async with self.db.read() as conn:
            return bool((await conn.execute(stmt)).scalar())

    async def get_stream(self, stream_id: str, tenant_id: str | None = None) -> Stream | None:
        stmt = select(set_streams).where(set_streams.c.id == stream_id)
        if tenant_id is not None:
            stmt = stmt.where(set_streams.c.tenant_id == tenant_id)
        async with self.db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _stream(row)

    async def list_streams(self, tenant_id: str) -> list[Stream]:
        stmt = (
            select(set_streams)
            .where(set_streams.c.tenant_id == tenant_id)
            .order_by(set_streams.c.created_at, set_streams.c.id)
        )
        async with self.db.read() as conn:
            return [_stream(r) for r in await conn.execute(stmt)]

    async def remove_stream(self, stream_id: str) -> bool:
        """Delete the stream, its acks and its delivery log."""
        async with self.db.write() as conn:
            return bool((await conn.execute(delete(set_streams).where(set_streams.c.id == stream_id))).rowcount)

    async def attempts(
        self, stream_id: str, after: int = 0, limit: int = 100, *, latest: bool = False
    ) -> list[Attempt]:
        """The stream's delivery log, oldest first: after log id ``after``, or the ``limit`` most
        recent rows when ``latest`` (as ``EventStore.attempts``)."""
        stmt = select(set_attempts).where(set_attempts.c.stream_id == stream_id)
        if latest:
            stmt = stmt.order_by(set_attempts.c.pk.desc()).limit(limit)
        else:
            stmt = stmt.where(set_attempts.c.pk > after).order_by(set_attempts.c.pk).limit(limit)
        async with self.db.read() as conn:
            rows = [attempt_from_row(r, "stream_id") for r in await conn.execute(stmt)]
        return rows[::-1] if latest else rows

    async def dead_letters(self, stream_id: str, seq: int | None = None) -> list[DeadLetter]:
        """SETs dead-lettered for the stream and not redelivered since, in seq order."""
        redelivered = exists().where(
            _LATER.c.stream_id == _ATTEMPT.c.stream_id,
            _LATER.c.seq == _ATTEMPT.c.seq,
            _LATER.c.outcome == Outcome.REDELIVERED.value,
        )
        conditions = [_ATTEMPT.c.stream_id == stream_id, _ATTEMPT.c.outcome == Outcome.DEAD.value, ~redelivered]
        if seq is not None:
            conditions.append(_ATTEMPT.c.seq == seq)
        stmt = (
            select(_ATTEMPT.c.seq, _ATTEMPT.c.event_id, func.max(_ATTEMPT.c.attempt).label("attempts"))
            .where(*conditions)
            .group_by(_ATTEMPT.c.seq, _ATTEMPT.c.event_id)
            .order_by(_ATTEMPT.c.seq)
        )
        async with self.db.read() as conn:
            return [DeadLetter(stream_id, r.seq, r.event_id, r.attempts) for r in await conn.execute(stmt)]

    async def log_attempt(self, attempt: Attempt) -> None:
        async with self.db.write() as conn:
            await conn.execute(insert(set_attempts), [attempt_values(attempt, "stream_id")])

    # -- push delivery: what events.worker and events.lane call ---------------------------------
    async def has_webhooks(self) -> bool:
        """Whether any push stream exists ("no" believed for NO_STREAM_RECHECK_SECONDS)."""
        if self.no_webhooks_known():
            return False
        stmt = select(exists().where(set_streams.c.mode == PUSH))
        async with self.db.read() as conn:
            found = bool((await conn.execute(stmt)).scalar())
        self._none_until = 0.0 if found else time.monotonic() + NO_STREAM_RECHECK_SECONDS
        return found

    def no_webhooks_known(self) -> bool:
        return time.monotonic() < self._none_until

    async def events_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        return await self.feed.events_after(tenant_id, after, limit)

    async def claim(self, owner: str, now: str, lease_until: str, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due push streams with undelivered events (as ``claim`` of
        EventStore does for webhooks: one conditional UPDATE decides the owner)."""
        due = _due(now).limit(limit)
        if not await self.has_due(now):
            return []
        claims: list[Claim] = []
        async with self.db.write() as conn:
            for row in (await conn.execute(due.with_for_update(skip_locked=True, of=set_streams))).all():
                head = await EventStore._head(conn, row.tenant_id, row.delivered_seq)
                lease = (
                    update(set_streams)
                    .where(set_streams.c.id == row.id, lease_free(now, set_streams))
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if head is not None and (await conn.execute(lease)).rowcount:
                    claims.append(Claim(_stream(row).as_webhook(), head, row.attempts + 1))
        return claims

    async def finish(
        self,
        webhook: Webhook,
        attempts: Sequence[Attempt],
        owner: str,
        retry_at: str | None = None,
        keep_until: str | None = None,
    ) -> bool:
        """Log the attempts and move the cursor or schedule the retry (``EventStore.finish``)."""
        stmt = (
            update(set_streams)
            .where(
                set_streams.c.id == webhook.id,
                set_streams.c.lease_owner == owner,
                set_streams.c.delivered_seq == webhook.delivered_seq,
            )
            .values(**finish_values(webhook.delivered_seq, attempts, owner, retry_at, keep_until))
        )
        still_there = select(set_streams.c.id).where(set_streams.c.id == webhook.id)
        async with self.db.write() as conn:
            updated = bool((await conn.execute(stmt)).rowcount)
            if updated or (await conn.execute(still_there)).first() is not None:
                await conn.execute(insert(set_attempts), [attempt_values(a, "stream_id") for a in attempts])
            return updated

    async def has_due(self, now: str) -> bool:
        """Whether a push stream with undelivered events is due and not leased (a read)."""
        async with self.db.read() as conn:
            return (await conn.execute(_due(now).with_only_columns(set_streams.c.id).limit(1))).first() is not None

    async def renew(self, stream_id: str, owner: str, lease_until: str) -> bool:
        stmt = (
            update(set_streams)
            .where(set_streams.c.id == stream_id, set_streams.c.lease_owner == owner)
            .values(lease_until=lease_until)
        )
        async with self.db.write() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def release(self, stream_id: str, owner: str, served_at: str | None = None) -> None:
        stmt = (
            update(set_streams)
            .where(set_streams.c.id == stream_id, set_streams.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=served_at)
        )
        async with self.db.write() as conn:
            await conn.execute(stmt)

    async def next_retry_at(self, now: str) -> str | None:
        stmt = select(func.min(set_streams.c.next_attempt_at)).where(set_streams.c.next_attempt_at >= now)
        async with self.db.read() as conn:
            value = (await conn.execute(stmt)).scalar()
        return None if value is None else str(value)

    async def purge(self, events_before: str | None, audit_before: str | None) -> PurgeCounts:
        """The streams' delivery log past retention (events are purged by the webhook worker, which
        keeps every event a stream has not got past)."""
        if events_before is None:
            return PurgeCounts(0, 0, 0)
        async with self.db.write() as conn:
            old = delete(set_attempts).where(set_attempts.c.attempted_at < events_before)
            gone = (await conn.execute(old)).rowcount
        return PurgeCounts(0, gone, 0)

    # -- poll delivery (RFC 8936) --------------------------------------------------------------
    async def unacked(self, stream: Stream, limit: int) -> tuple[list[Event], bool]:
        """Up to ``limit`` events past the cursor that are not acknowledged, in seq order, and
        whether more are waiting."""
        acked = exists().where(set_acks.c.stream_id == stream.id, set_acks.c.seq == events.c.seq)
        stmt = (
            select(events)
            .where(
                events.c.tenant_id == stream.tenant_id,
                events.c.seq > stream.delivered_seq,
                events.c.seq < hold_bound(stream.tenant_id),  # a poll gets no held event
                ~acked,
            )
            .order_by(events.c.seq)
            .limit(limit + 1)
        )
        async with self.db.read() as conn:
            found = [Event(r.tenant_id, r.seq, r.id, r.type, orjson.loads(r.payload)) for r in await conn.execute(stmt)]
        return found[:limit], len(found) > limit

    async def acknowledge(self, stream: Stream, outcomes: dict[int, str | None], at: str) -> int:
        """Record the receiver's acks (None) and SET errors (the error text) for events past the
        cursor, log them, and move the cursor over every acknowledged run; returns the cursor."""
        async with self.db.write() as conn:
            # The stream's row locked (PostgreSQL): concurrent polls apply their acks one after the
            # other, so each sees the acks before it and no cursor move is missed.
            mine = select(set_streams).where(set_streams.c.id == stream.id).with_for_update()
            row = (await conn.execute(mine)).first()
            if row is None:
                return stream.delivered_seq
            cursor, last = int(row.delivered_seq), await last_event_seq(conn, stream.tenant_id)
            seqs = sorted(s for s in outcomes if cursor < s <= last)
            if seqs:
                await self._record_acks(conn, stream, seqs, outcomes, at)
                cursor = await self._advance(conn, stream.id, cursor)
            return cursor

    async def _record_acks(
        self, conn: Tx, stream: Stream, seqs: list[int], outcomes: dict[int, str | None], at: str
    ) -> None:
        new = self.db.insert(set_acks).on_conflict_do_nothing(index_elements=[set_acks.c.stream_id, set_acks.c.seq])
        await conn.execute(new, [{"stream_id": stream.id, "seq": s} for s in seqs])
        ids = select(events.c.seq, events.c.id).where(events.c.tenant_id == stream.tenant_id, events.c.seq.in_(seqs))
        event_ids = {r.seq: r.id for r in await conn.execute(ids)}
        rows = [
            attempt_values(
                Attempt(
                    stream.id,
                    stream.tenant_id,
                    s,
                    event_ids.get(s, ""),
                    1,
                    at,
                    Outcome.DELIVERED if outcomes[s] is None else Outcome.DEAD,
                    error=outcomes[s],
                ),
                "stream_id",
            )
            for s in seqs
        ]
        await conn.execute(insert(set_attempts), rows)

    @staticmethod
    async def _advance(conn: Tx, stream_id: str, cursor: int) -> int:
        """Move the cursor over the acks that follow it without a gap; drop those acks."""
        stmt = select(set_acks.c.seq).where(set_acks.c.stream_id == stream_id).order_by(set_acks.c.seq)
        moved = cursor
        for (seq,) in (await conn.execute(stmt)).all():
            if seq != moved + 1:
                break
            moved = seq
        if moved != cursor:
            await conn.execute(update(set_streams).where(set_streams.c.id == stream_id).values(delivered_seq=moved))
            await conn.execute(delete(set_acks).where(set_acks.c.stream_id == stream_id, set_acks.c.seq <= moved))
        return moved
