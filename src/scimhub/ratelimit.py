"""Per-tenant and per-token rate limits on the ``limits`` library (memory or Redis storage).

Defaults are generous on purpose: an IdP's initial sync must never be throttled into
failure. Okta and Entra each send at most a few dozen requests per second per app
(Entra's gallery requirement is 25 req/s per tenant), so the default of 100 requests per
second and 3,000 per minute per tenant leaves headroom while stopping a looping client.

Requests are weighted by their cost (``scimhub.workload``): each costs one unit when admitted, and
one that ran a query no index answers, or sent a large body, is charged more afterwards (about a
unit per millisecond of work), so a tenant's budget runs out before the server's capacity does.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits import parse_many
from limits.aio.storage import MemoryStorage as LimitsMemoryStorage
from limits.aio.storage import RedisStorage
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from scimhub.settings import (
    DEFAULT_RATE_LIMIT as DEFAULT_RATE_LIMIT,
)  # defined there: Settings must not import `limits`


class MemoryStorage(LimitsMemoryStorage):
    """``limits``' in-process counters, with expired counters dropped from a heap of due times.

    ``limits``' own storage starts a task after every hit that walks every counter it holds to
    drop expired ones: one walk per request, over 4 counters per tenant and token seen in the last
    two windows (the sliding window keeps the previous one). Measured with 5,000 quiet tenants,
    that walk was the largest single cost of a request. Here a counter's due time is pushed on a
    heap when the counter starts, and each hit drops at most ``SWEEP`` counters that are due:
    O(log n) a hit, and memory bounded by the counters of the last two windows, as before.
    A counter is read only through ``get``, which ignores (and drops) an expired one.
    """

    SWEEP = 8

    def __init__(self) -> None:
        super().__init__()
        self._due: list[tuple[float, str]] = []

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        self._sweep(now)
        if self.expirations.get(key, 0) <= now:  # a new counter, or an expired one: start again
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
        value = self.storage[key] + amount  # no await between read and write: no lock needed
        self.storage[key] = value
        if value == amount:
            due = self.expirations[key] = now + expiry
            heapq.heappush(self._due, (due, key))
        return value

    async def decr(self, key: str, amount: int = 1) -> int:
        if self.expirations.get(key, 0) <= time.time():
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            return 0
        value = self.storage[key] = max(self.storage[key] - amount, 0)
        return value

    async def reset(self) -> int | None:
        self._due.clear()
        return await super().reset()

    def _sweep(self, now: float) -> None:
        due = self._due
        for _ in range(self.SWEEP):
            if not due or due[0][0] > now:
                return
            when, key = heapq.heappop(due)
            if self.expirations.get(key) == when:  # not restarted since (a restart pushed its own entry)
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)

    @property
    def counters(self) -> int:
        """Counters held (tests check the bound)."""
        return len(self.storage)


def storage_for(uri: str | None) -> Storage:
    """``None`` or ``memory://`` keeps counters in this process; ``redis://…`` shares them."""
    if not uri or uri.startswith("memory://"):
        return MemoryStorage()
    if uri.startswith(("redis://", "rediss://")):
        return RedisStorage(f"async+{uri}", implementation="redispy")
    raise ValueError(f"Unsupported rate-limit storage {uri!r}; use memory:// or redis://host:port")


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds, for the Retry-After header (RFC 9110 §10.2.3)


class RateLimiter:
    """Checks a request against the tenant's and the token's limits (both must allow it)."""

    def __init__(self, spec: str = DEFAULT_RATE_LIMIT, storage: Storage | None = None) -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        self.limiter = SlidingWindowCounterRateLimiter(storage or MemoryStorage())
        self._parsed: dict[str, list[RateLimitItem]] = {}

    async def check(self, tenant_id: str, token_id: str, spec: str | None = None, cost: int = 1) -> Verdict:
        """``spec`` is the tenant's own limit (``scimhub tenant set NAME rate_limit …``), if any.
        ``cost``: operations being admitted at once (a bulk request's)."""
        items = self._items(spec)
        keys = (f"tenant:{tenant_id}", f"token:{token_id}")
        if cost > 1:  # all or nothing: no limit is charged for operations another one refuses
            for key in keys:
                for item in items:
                    if not await self.limiter.test(item, key, cost=cost):
                        return await self._refused(item, key)
        for key in keys:
            for item in items:
                if not await self.limiter.hit(item, key, cost=cost):
                    return await self._refused(item, key)
        return Verdict(True)

    async def _refused(self, item: RateLimitItem, key: str) -> Verdict:
        stats = await self.limiter.get_window_stats(item, key)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def charge(self, tenant_id: str, token_id: str, units: int, spec: str | None = None) -> None:
        """Spend ``units`` more of the tenant's and the token's budgets for work a request already
        did: down to what is left in each window (the next request then waits), never refused."""
        for key in (f"tenant:{tenant_id}", f"token:{token_id}"):
            for item in self._items(spec):
                left = (await self.limiter.get_window_stats(item, key)).remaining
                spend = min(units, left)
                # `left` floors the sliding window's weighted count: one unit less may be all that fits.
                if spend > 0 and not await self.limiter.hit(item, key, cost=spend) and spend > 1:
                    await self.limiter.hit(item, key, cost=spend - 1)

    def _items(self, spec: str | None) -> list[RateLimitItem]:
        return self.items if not spec else self._parsed.setdefault(spec, parse_many(spec))

    async def close(self) -> None:
        """Release the storage's connections (a Redis client's pool); memory storage holds none."""
        client = getattr(getattr(self.limiter.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
