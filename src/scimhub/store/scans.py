"""Queries that may scan: which they are, and each tenant's turn to run one.

A query scans when its filter or sortBy is not answered by an index (``filter_sql.needs_scan``,
``sort_sql.index_ordered``). It then runs off the event loop (``Database.scan``: a SQLite thread,
or a PostgreSQL statement_timeout) and is stopped at the query deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scimhub.store.base import Query
from scimhub.store.database import DeadlineExceeded
from scimhub.store.dialects import JsonDialect
from scimhub.store.filter_sql import needs_scan
from scimhub.store.index_plan import KEY_COLUMNS
from scimhub.store.index_plan import MULTI_VALUE_KEYS
from scimhub.store.index_plan import SERVER_COLUMNS
from scimhub.store.sort_sql import index_ordered

DEFAULT_QUERY_TIMEOUT_SECONDS = 3.0
# What the error tells a client to filter on instead (the index plan, stated once).
INDEXED_ATTRIBUTES = ", ".join([*KEY_COLUMNS, *SERVER_COLUMNS, *MULTI_VALUE_KEYS])


def query_scans(query: Query, dialect: JsonDialect) -> bool:
    if query.filter is not None and needs_scan(query.filter, query.resource_type, dialect):
        return True
    return query.sort_by is not None and not index_ordered(query.sort_by)


class ScanTurns:
    """A tenant's scans run one at a time in this process, so that a tenant sending many cannot
    take every scan thread (SQLite) or pooled connection (PostgreSQL) from the others. Waiting
    for the turn counts against the scan's deadline."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}  # one per tenant that ever scanned: bounded

    @asynccontextmanager
    async def turn(self, tenant_id: str, deadline: float | None) -> AsyncIterator[None]:
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        try:
            # asyncio.timeout, not wait_for: a lock acquired as the time runs out is never lost.
            async with asyncio.timeout(None if deadline is None else max(0.0, deadline - time.monotonic())):
                await lock.acquire()
        except TimeoutError:
            raise DeadlineExceeded() from None
        try:
            yield
        finally:
            lock.release()
