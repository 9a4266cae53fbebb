"""The per-tenant request log (IdP debugging): batched writes, trimmed to the last N per tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields
from typing import Any

import orjson
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal_column
from sqlalchemy import select

from scimhub.schema.model import JsonDoc
from scimhub.store.database import Database
from scimhub.store.prepared import prepare
from scimhub.store.tables import request_log


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    tenant_id: str
    at: str
    request_id: str
    token_id: str | None
    method: str
    path: str
    query: str | None
    status: int
    latency_ms: int
    error: str | None
    request_body: str | None
    response_body: str | None
    ignored: str | None = None  # JSON array: the unknown attribute names the write ignored


_FIELDS = tuple(f.name for f in fields(LoggedRequest))
_INSERT = prepare(insert(request_log).values({n: bindparam(n) for n in _FIELDS}))
# pks are shared by all tenants: keep from the tenant's keep-th newest row. One prepared statement,
# run for every tenant of a batch at once (with thousands of quiet tenants a flush holds one or
# two entries of each of hundreds of tenants).
_TRIM = prepare(
    delete(request_log).where(
        request_log.c.tenant_id == bindparam("tenant_id"),
        request_log.c.pk
        < (
            select(request_log.c.pk)
            .where(request_log.c.tenant_id == bindparam("tenant_id"))
            .order_by(request_log.c.pk.desc())
            .offset(bindparam("skip"))
            .limit(literal_column("1"))
            .scalar_subquery()
        ),
    )
)


# A tenant's rows are trimmed once this store has appended a tenth of ``keep`` of them since it
# last trimmed that tenant (at least one): with thousands of quiet tenants, an entry of each no
# longer costs a DELETE at every flush. A tenant may then hold up to that many rows more than
# ``keep`` per process; ``recent`` reads only the newest ``keep``.
TRIM_FRACTION = 10
# Tenants whose untrimmed appends one store counts; past it, the next append trims them all.
MAX_TRACKED = 50_000


class RequestLogStore:
    def __init__(self, db: Database, keep: int) -> None:
        self.db = db
        self.keep = keep
        self.trim_every = max(1, keep // TRIM_FRACTION)
        self._untrimmed: dict[str, int] = {}  # tenant -> entries appended since this store trimmed it

    async def append(self, entries: Sequence[LoggedRequest]) -> None:
        """Insert a batch in one transaction; trim to the newest ``keep`` rows the tenants that are due."""
        if not entries:
            return
        untrimmed = self._untrimmed
        for entry in entries:
            untrimmed[entry.tenant_id] = untrimmed.get(entry.tenant_id, 0) + 1
        if len(untrimmed) > MAX_TRACKED:
            due = sorted(untrimmed)
        else:
            due = sorted(t for t in {e.tenant_id for e in entries} if untrimmed[t] >= self.trim_every)
        skip = max(self.keep - 1, 0)
        async with self.db.write() as tx:
            await tx.run_many(_INSERT, [_row(e) for e in entries])
            if due:
                await tx.run_many(_TRIM, [{"tenant_id": t, "skip": skip} for t in due])
        for tenant_id in due:
            del untrimmed[tenant_id]

    async def recent(self, tenant_id: str, limit: int, failed_only: bool = False) -> list[JsonDoc]:
        """Newest first, among the tenant's newest ``keep`` rows (all of them when ``keep`` is 0: a
        process without the log, e.g. the CLI's, reading what a server wrote)."""
        mine = request_log.c.tenant_id == tenant_id
        stmt = select(request_log).where(mine)
        if failed_only:
            stmt = stmt.where(request_log.c.status >= 400)
            if self.keep > 0:
                newest = select(request_log.c.pk).where(mine).order_by(request_log.c.pk.desc())
                oldest_kept = newest.offset(self.keep - 1).limit(1).scalar_subquery()
                stmt = stmt.where(request_log.c.pk >= func.coalesce(oldest_kept, 0))
        if self.keep > 0:
            limit = min(limit, self.keep)
        stmt = stmt.order_by(request_log.c.pk.desc()).limit(limit)
        async with self.db.read() as tx:
            rows = (await tx.execute(stmt)).all()
        return [_json(row._mapping) for row in rows]


def _row(entry: LoggedRequest) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _FIELDS}


def _json(row: Any) -> JsonDoc:
    return {
        "id": row["pk"],
        "at": row["at"],
        "requestId": row["request_id"],
        "tokenId": row["token_id"],
        "method": row["method"],
        "path": row["path"],
        "query": row["query"],
        "status": row["status"],
        "latencyMs": row["latency_ms"],
        "error": row["error"],
        "requestBody": row["request_body"],
        "responseBody": row["response_body"],
        "ignored": orjson.loads(row["ignored"]) if row["ignored"] else [],
    }
