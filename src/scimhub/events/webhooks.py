"""Webhook endpoints as the CLI and the admin API manage them: add, and redeliver dead letters."""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import urlsplit

import httpx2

from scimhub.events.batch import check_batch
from scimhub.events.destinations import Resolver
from scimhub.events.destinations import check_public
from scimhub.events.destinations import system_resolve
from scimhub.events.sender import Sender
from scimhub.events.signing import new_secret
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import DeadLetter
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.events_sql import Webhook
from scimhub.timestamps import utc_now


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host (the only thing a webhook can be sent to)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"A webhook URL must be an absolute http:// or https:// URL, got {url!r}.")
    return url.strip()


async def add_webhook(
    store: EventStore,
    tenant_id: str,
    url: str,
    after: int | None = None,
    *,
    allow_private: bool,
    batch: int = 1,
    resolve: Resolver = system_resolve,
) -> Webhook:
    """A new endpoint with a fresh ``whsec_`` secret (returned once: show it, then forget it).

    Delivery starts with the events committed from now on, or after seq ``after`` when given
    (``after=0`` replays every retained event). Unless ``allow_private``, the URL's host must be
    and resolve to public addresses only (DestinationRefused, a ValueError), now and at every
    delivery. ``batch`` > 1 opts into batch delivery (``scimhub.events.batch``): up to that many
    events in one signed request.
    """
    check_batch(batch)
    if after is not None and after < 0:
        raise ValueError("after must be a sequence number >= 0.")
    url = check_url(url)
    if not allow_private:
        await check_public(url, resolve)
    return await store.add_webhook(
        str(uuid.uuid4()), tenant_id, url, new_secret(), utc_now(), after, allow_private=allow_private, batch=batch
    )


async def redeliver(store: EventStore, sender: Sender, webhook: Webhook, seq: int | None = None) -> list[Attempt]:
    """Send dead-lettered events again, now, in seq order (all of them, or only ``seq``).

    Each try is logged: ``redelivered`` when the receiver accepts it (the dead letter is then
    settled), ``dead`` again when it does not. Dead letters are out of order by nature: the
    cursor moved past them, so a redelivered event arrives after later ones.
    """
    attempts = []
    async with sender.client(public_only=not webhook.allow_private) as client:
        for dead in await store.dead_letters(webhook.id, seq):
            attempt = await _redeliver_one(store, sender, client, webhook, dead)
            await store.log_attempt(attempt)
            attempts.append(attempt)
    return attempts


async def _redeliver_one(
    store: EventStore, sender: Sender, client: httpx2.AsyncClient, webhook: Webhook, dead: DeadLetter
) -> Attempt:
    event = await store.event(webhook.tenant_id, dead.seq)
    base = Attempt(webhook.id, webhook.tenant_id, dead.seq, dead.event_id, dead.attempts + 1, utc_now(), Outcome.DEAD)
    if event is None:
        return replace(base, error="The event is no longer retained (SCIMHUB_EVENT_RETENTION_DAYS).")
    result = await sender.send(client, webhook.url, webhook.secret, event)
    outcome = Outcome.REDELIVERED if result.ok else Outcome.DEAD
    return replace(
        base, outcome=outcome, status_code=result.status_code, error=result.error, latency_ms=result.latency_ms
    )
