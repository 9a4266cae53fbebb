"""Each tenant's SCIM traffic, counted in memory per request and written once a second (pure:
the flush is the caller's). A request costs a clock read and two dictionary updates; the database
sees one upsert per tenant and per (hour, outcome) a second, never a write per request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from scimhub.timestamps import utc_now

OK = "ok"
USER_AGENT_CHARS = 200  # as the access log keeps it


def outcome(status: int, scim_type: str | None = None) -> str:
    """``ok`` below 400; otherwise the status, with the SCIM error's scimType when it has one."""
    if status < 400:
        return OK
    return f"{status} {scim_type}" if scim_type else str(status)


@dataclass(slots=True)
class Traffic:
    """What one process saw of one tenant since its last flush."""

    first_at: str
    last_at: str
    user_agent: str | None = None
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (hour, outcome) → requests


class ActivityCounter:
    def __init__(self, clock: Callable[[], str] = utc_now) -> None:
        self.clock = clock
        self._pending: dict[str, Traffic] = {}

    def record(self, tenant_id: str, status: int, scim_type: str | None, user_agent: bytes | None) -> None:
        now = self.clock()
        traffic = self._pending.get(tenant_id)
        if traffic is None:
            traffic = self._pending[tenant_id] = Traffic(now, now)
        traffic.last_at = now
        if user_agent is not None:
            traffic.user_agent = bytes(user_agent[:USER_AGENT_CHARS]).decode("latin-1")
        key = (now[:13], outcome(status, scim_type))  # 2026-12-07T09: the hour
        traffic.counts[key] = traffic.counts.get(key, 0) + 1

    def take(self) -> dict[str, Traffic]:
        taken, self._pending = self._pending, {}
        return taken

    def __bool__(self) -> bool:
        return bool(self._pending)
