"""The event feed for pull consumers: a tenant's events after a sequence number, in order.

Sequence numbers are gapless per tenant and allocated under the tenant's write lock, so a
reader that saw seq n has seen every seq below n: polling with ``after`` = the last seq seen
loses nothing (unlike polling on a database sequence, which commits out of order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scimhub.events.model import Event
from scimhub.safety.hold import Hold

if TYPE_CHECKING:  # not at run time: `scimhub events list --help` need not load the store
    from scimhub.store.events_sql import EventStore

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class CursorExpired(Exception):
    """``after`` points before the retention window: events after it were purged."""

    def __init__(self, after: int, oldest: int) -> None:
        super().__init__(
            f"Events after seq {after} are no longer retained; the oldest retained event is seq {oldest}. "
            f"Resynchronise (read the directory through the SCIM API) and continue with after={oldest - 1}."
        )
        self.oldest = oldest


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Up to ``limit`` events, and the cursor to send as ``after`` next time."""

    events: list[Event]
    next_after: int
    held: Hold | None = None  # the stream is held: nothing from held.from_seq on is served yet

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"events": [e.to_json() for e in self.events], "next_after": self.next_after}
        if self.held is not None:
            body["held"] = self.held.to_json()
        return body


def clamp_limit(limit: int | None) -> int:
    return DEFAULT_LIMIT if limit is None else max(1, min(limit, MAX_LIMIT))


async def read_feed(store: EventStore, tenant_id: str, after: int = 0, limit: int | None = None) -> FeedPage:
    """Events with seq > ``after`` in seq order; ``next_after`` is the last seq returned (or
    ``after`` when there is nothing new), and the tenant's hold if it has one (the page then
    ends before it). Raises CursorExpired when retention dropped some."""
    if after < 0:
        raise ValueError("after must be a sequence number >= 0.")
    events = await store.events_after(tenant_id, after, clamp_limit(limit))
    if not events or events[0].seq != after + 1:
        oldest = await store.retained_from(tenant_id)
        if after + 1 < oldest:
            raise CursorExpired(after, oldest)
    return FeedPage(events, events[-1].seq if events else after, await store.holds.hold(tenant_id))
