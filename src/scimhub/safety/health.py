"""Sync health of a tenant: its state and the figures behind it (pure: the facts come from the store).

States, first match wins: ``paused`` and ``held`` (the event stream is held, by hand or by the
deprovisioning guard), ``never_connected`` (no SCIM request ever), ``failing`` (the last hour's
error rate is above the threshold, over at least FAILING_MIN_REQUESTS requests), ``idle`` (no
request for longer than the idle threshold), ``connected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from enum import StrEnum

from scimhub.safety.hold import Hold
from scimhub.safety.hold import HoldKind
from scimhub.safety.idp import recognise
from scimhub.schema.model import JsonDoc

FAILING_MIN_REQUESTS = 5  # a failing state needs this many requests in the last hour
TOKEN_EXPIRY_DAYS = 14  # tokens expiring within this many days are listed


class SyncState(StrEnum):
    NEVER_CONNECTED = "never_connected"
    CONNECTED = "connected"
    IDLE = "idle"
    FAILING = "failing"
    HELD = "held"
    PAUSED = "paused"


STATES = tuple(SyncState)


@dataclass(frozen=True, slots=True)
class Thresholds:
    idle_seconds: float = 86400.0
    failing_error_rate: float = 0.5


@dataclass(frozen=True, slots=True)
class Activity:
    first_request_at: str
    last_request_at: str
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests and errors in a period, and the most frequent error (``409 uniqueness``, ``401``)."""

    requests: int = 0
    errors: int = 0
    top_error: str | None = None
    top_error_count: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class ExpiringToken:
    id: str
    prefix: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the store knows about a tenant (read in one go)."""

    tenant: str
    activity: Activity | None
    day: Counts
    hour: Counts
    hold: Hold | None
    users_active: int
    users_inactive: int
    groups: int
    expiring_tokens: tuple[ExpiringToken, ...]
    webhook_backlog: int
    dead_letters: int
    recent_since: str = ""  # the first hour (2026-12-07T08) of ``hour``: this hour and the one before


def sync_state(
    activity: Activity | None, recent: Counts, hold: Hold | None, now: str, thresholds: Thresholds
) -> SyncState:
    """``recent``: the requests of this hour and the one before."""
    if hold is not None:
        return SyncState.PAUSED if hold.kind is HoldKind.PAUSE else SyncState.HELD
    if activity is None:
        return SyncState.NEVER_CONNECTED
    if recent.requests >= FAILING_MIN_REQUESTS and recent.error_rate > thresholds.failing_error_rate:
        return SyncState.FAILING
    idle_since = datetime.fromisoformat(now) - timedelta(seconds=thresholds.idle_seconds)
    if datetime.fromisoformat(activity.last_request_at) < idle_since:
        return SyncState.IDLE
    return SyncState.CONNECTED


def status_json(facts: StatusFacts, now: str, thresholds: Thresholds) -> JsonDoc:
    """The tenant's status as ``scimhub tenant status --json`` and the admin API show it."""
    activity = facts.activity
    agent = activity.user_agent if activity else None
    return {
        "tenant": facts.tenant,
        "state": sync_state(activity, facts.hour, facts.hold, now, thresholds).value,
        "idp": {"name": recognise(agent), "userAgent": agent},
        "firstRequestAt": activity.first_request_at if activity else None,
        "lastRequestAt": activity.last_request_at if activity else None,
        "users": {"active": facts.users_active, "inactive": facts.users_inactive},
        "groups": facts.groups,
        "last24h": {
            "requests": facts.day.requests,
            "errors": facts.day.errors,
            "topError": None
            if facts.day.top_error is None
            else {"error": facts.day.top_error, "count": facts.day.top_error_count},
        },
        "recent": {
            "since": f"{facts.recent_since}:00:00.000Z",
            "requests": facts.hour.requests,
            "errors": facts.hour.errors,
        },
        "held": None if facts.hold is None else facts.hold.to_json(),
        "tokensExpiringSoon": [
            {"id": t.id, "prefix": t.prefix, "expiresAt": t.expires_at} for t in facts.expiring_tokens
        ],
        "webhooks": {"backlog": facts.webhook_backlog, "deadLetters": facts.dead_letters},
    }
