"""Each tenant's SCIM traffic, counted in memory per request and written once a second (pure:
the flush is the caller's). A request costs a clock read and two dictionary updates; the database
sees one upsert per tenant and per (hour, outcome) a second, never a write per request."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from scimhub.timestamps import format_epoch

OK = "ok"
USER_AGENT_CHARS = 200  # as the access log keeps it
SCIM_TYPE_KEY = "scimhub.scim_type"  # the ASGI scope key of a SCIM error's scimType


def outcome(status: int, scim_type: str | None = None) -> str:
    """``ok`` below 400; otherwise the status, with the SCIM error's scimType when it has one."""
    if status < 400:
        return OK
    return f"{status} {scim_type}" if scim_type else str(status)


@dataclass(slots=True)
class Traffic:
    """What one process saw of one tenant since its last flush (times in seconds since the epoch)."""

    first_at: float
    last_at: float
    user_agent: str | None = None
    counts: dict[tuple[int, str], int] = field(default_factory=dict)  # (hour since the epoch, outcome) → requests

    @property
    def first_instant(self) -> str:
        return format_epoch(self.first_at)

    @property
    def last_instant(self) -> str:
        return format_epoch(self.last_at)

    def hourly(self) -> list[tuple[str, str, int]]:
        """(hour as ``2026-12-07T09``, outcome, requests)."""
        return [(_hour(hour), kind, n) for (hour, kind), n in sorted(self.counts.items())]


@functools.lru_cache(maxsize=64)  # a flush's tenants share an hour or two
def _hour(hour: int) -> str:
    return format_epoch(hour * 3600.0)[:13]


class ActivityCounter:
    """Per request: a clock read and two dictionary updates (the text is made at the flush)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._pending: dict[str, Traffic] = {}

    def record(
        self, tenant_id: str, status: int, scim_type: str | None, headers: Iterable[tuple[bytes, bytes]]
    ) -> None:
        """One request (``headers``: the ASGI ones, searched for the User-Agent once per tenant and
        flush, so "latest" is the first of the last second)."""
        now = self.clock()
        traffic = self._pending.get(tenant_id)
        if traffic is None:
            traffic = self._pending[tenant_id] = Traffic(now, now, _user_agent(headers))
        traffic.last_at = now
        key = (int(now // 3600), OK if status < 400 else outcome(status, scim_type))
        traffic.counts[key] = traffic.counts.get(key, 0) + 1

    def take(self) -> dict[str, Traffic]:
        taken, self._pending = self._pending, {}
        return taken

    def __bool__(self) -> bool:
        return bool(self._pending)


def _user_agent(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == b"user-agent":
            return bytes(value[:USER_AGENT_CHARS]).decode("latin-1")
    return None
