"""Fill a scimhub database directly, without HTTP, through scimhub's own ResourceService.

Every user is created by ``ResourceService.create`` on the real ``SqlUnitOfWork`` — the
same validation, index keys (k_* columns, resource_values, and on PostgreSQL the doc_keys
comparison document), events, per-tenant sequence numbers, resource counts and audit rows
as ``POST /Users`` — with the request context a POST would have (method, path, token id,
base URL). The one difference: creates are committed in batches of ``--batch`` instead of
one transaction each, which changes no row. Works on SQLite and PostgreSQL (migrated, with
the tenant created: ``scimhub db upgrade``, ``scimhub tenant create bench``).

On SQLite the units of work run on one long write transaction. On PostgreSQL a statement is a
network round trip (about 6 ms per user through the unit of work), so there the unit of work
runs on a capturing transaction instead: its statements and their parameters, exactly as
``SqlUnitOfWork`` makes them (doc_keys included), are collected per batch and written with
COPY, under the tenant's event counter row lock; resource pks come from the table's own
sequence, event seqs from that counter, resource_counts get the batch's summed deltas. A
statement the capture does not know fails the seeding (update this file, do not guess).

    python -m bench.seed --database-url sqlite:///x.db --base-url http://127.0.0.1:8000/scim/v2 \
        --start 0 --count 100000 --ids-out ids.txt
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import AsyncExitStack
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

from bench import postgres
from bench.payloads import create_user
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.schema.project import parse_projection
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store import fast_writes as fw
from scimhub.store import roles_sql
from scimhub.store.base import AuditEntry
from scimhub.store.database import Database
from scimhub.store.database import PostgresDatabase
from scimhub.store.database import Rows
from scimhub.store.database import SqliteDatabase
from scimhub.store.database import Tx
from scimhub.store.database import release_loop_connections
from scimhub.store.factory import database_for
from scimhub.store.prepared import Prepared
from scimhub.store.sql import SqlStore
from scimhub.store.sql import SqlUnitOfWork

TENANT = "bench"


class WriteBatch:
    """One ``db.write()`` transaction held open across units of work, committed on demand."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._open: AsyncExitStack | None = None
        self._tx: Tx | None = None

    async def tx(self) -> Tx:
        if self._tx is None:
            self._open = AsyncExitStack()
            self._tx = await self._open.enter_async_context(self.db.write())
        return self._tx

    async def commit(self) -> None:
        if self._open is not None:
            await self._open.aclose()  # leaving db.write() commits
        self._open = self._tx = None

    async def close(self) -> None:
        await self.commit()


class BatchedStore(SqlStore):
    """SqlStore whose units of work share one write transaction, committed every ``batch``."""

    def __init__(self, db: SqliteDatabase | PostgresDatabase, batch: int) -> None:
        super().__init__(db)
        self.batch = batch
        self._writes = WriteBatch(db)
        self._units = 0

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: str) -> AsyncIterator[SqlUnitOfWork]:
        yield SqlUnitOfWork(await self._writes.tx(), tenant_id, self.db)
        self._units += 1
        if self._units % self.batch == 0:
            await self._writes.commit()

    async def append_audit(self, tenant_id: str, entry: AuditEntry) -> None:
        """A refused create ends the seeding: no audit transaction of its own (this store holds the
        one SQLite writer, so waiting for another would never end)."""

    async def finish(self) -> None:
        await self._writes.close()


# -- PostgreSQL: capture the unit of work's statements, write them with COPY ------------------
_MANY_STATEMENTS = (fw.INSERT_VALUE, fw.INSERT_EVENT, fw.INSERT_AUDIT)


class CaptureTx:
    """A ``Tx`` that answers the create path's statements locally and keeps their rows."""

    def __init__(self) -> None:
        self.pks: list[int] = []
        self.last_seq = 0
        self.resources: list[dict[str, Any]] = []
        self.many: dict[int, list[dict[str, Any]]] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def reset(self, pks: list[int], last_seq: int) -> None:
        self.pks, self.last_seq = pks[::-1], last_seq
        self.resources, self.many, self.counts = [], {}, {}

    async def execute(self, stmt: Executable, params: Any = None) -> CursorResult[Any]:
        raise RuntimeError(f"bench.seed cannot capture a Core statement: {str(stmt)[:200]}")

    async def insert(self, statement: Prepared, **params: Any) -> int:
        if statement is not fw.INSERT_RESOURCE:
            raise RuntimeError(f"bench.seed does not know this insert: {statement.sql[:200]}")
        pk = self.pks.pop()
        self.resources.append({"pk": pk, **params})
        return pk

    async def insert_or_skip(self, statement: Prepared, **params: Any) -> int | None:
        raise RuntimeError(f"bench.seed creates one by one: {statement.sql[:200]}")

    async def rows(self, statement: Prepared, **params: Any) -> Rows:
        if statement is fw.COUNT:
            key = (params["tenant_id"], params["resource_type"])
            self.counts[key] = self.counts.get(key, 0) + params["delta"]
            return []
        if statement is fw.NEXT_SEQ:
            self.last_seq += params["n"]
            return [(self.last_seq,)]
        if statement is roles_sql.STATE:  # a benchmark tenant being seeded has no role rules
            return [(0, "all", None, 0)]
        raise RuntimeError(f"bench.seed does not know this unit-of-work statement: {statement.sql[:200]}")

    async def run_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        if not any(statement is known for known in _MANY_STATEMENTS):
            raise RuntimeError(f"bench.seed does not know this unit-of-work statement: {statement.sql[:200]}")
        self.many.setdefault(id(statement), []).extend(rows)

    def chunks(self, statement: Prepared, size: int, **params: Any) -> AsyncIterator[Rows]:
        raise RuntimeError(f"bench.seed does not read in chunks: {statement.sql[:200]}")


class CaptureStore(SqlStore):
    def __init__(self, db: PostgresDatabase, tx: CaptureTx) -> None:
        super().__init__(db)
        self.capture = tx

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: str) -> AsyncIterator[SqlUnitOfWork]:
        yield SqlUnitOfWork(self.capture, tenant_id, self.db)


def _table(statement: Prepared) -> str:
    stmt = statement.statement
    if not isinstance(stmt, Insert):
        raise RuntimeError(f"not an INSERT: {statement.sql[:200]}")
    return stmt.table.name


def _copy_value(value: Any) -> Any:
    # doc_keys: the JSON document SQLAlchemy's json_serializer (orjson) would send for the JSONB column
    return orjson.dumps(value).decode() if isinstance(value, dict) else value


async def _copy(conn: Any, table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    if rows:
        records = [tuple(_copy_value(row[c]) for c in columns) for row in rows]
        await conn.copy_records_to_table(table, records=records, columns=columns)


async def _flush(conn: Any, capture: CaptureTx, tenant_id: str) -> None:
    await _copy(conn, "resources", ["pk", *fw.INSERT_RESOURCE.names], capture.resources)
    for statement in _MANY_STATEMENTS:  # values after their resources, in the unit of work's order
        await _copy(conn, _table(statement), list(statement.names), capture.many.get(id(statement), []))
    for (tenant, rtype), delta in capture.counts.items():
        await conn.execute(
            "INSERT INTO resource_counts (tenant_id, resource_type, count) VALUES ($1, $2, $3) "
            "ON CONFLICT (tenant_id, resource_type) DO UPDATE SET count = resource_counts.count + $4",
            tenant,
            rtype,
            max(delta, 0),
            delta,
        )
    await conn.execute("UPDATE tenant_event_seq SET last_seq = $2 WHERE tenant_id = $1", tenant_id, capture.last_seq)


async def _seed_postgres(
    db: PostgresDatabase,
    capture: CaptureTx,
    make: Callable[[int], Awaitable[str]],
    tenant_id: str,
    count: int,
    batch: int,
) -> list[str]:
    """``count`` creates by ``make(0..count-1)`` in transactions of ``batch``."""
    ids: list[str] = []
    conn = await postgres.connect(postgres.dsn(db.url()))
    try:
        for first in range(0, count, batch):
            n = min(batch, count - first)
            async with conn.transaction():
                seq = await conn.fetchval(
                    "SELECT last_seq FROM tenant_event_seq WHERE tenant_id = $1 FOR UPDATE", tenant_id
                )
                if seq is None:
                    raise RuntimeError(f"tenant {tenant_id} has no event counter (run scimhub db upgrade)")
                pks = await conn.fetch(
                    "SELECT nextval(pg_get_serial_sequence('resources', 'pk')) FROM generate_series(1, $1::int)", n
                )
                capture.reset([int(r[0]) for r in pks], int(seq))
                for i in range(first, first + n):
                    ids.append(await make(i))
                if capture.pks:
                    raise RuntimeError(f"{len(capture.pks)} pks left over: creates wrote fewer resources than asked")
                await _flush(conn, capture, tenant_id)
    finally:
        await conn.close()
    return ids


async def seed(database_url: str, base_url: str, start: int, count: int, batch: int) -> list[str]:
    settings = Settings.from_env(database_url=database_url)
    db = database_for(settings)
    capture = CaptureTx()
    store = BatchedStore(db, batch) if isinstance(db, SqliteDatabase) else CaptureStore(db, capture)
    try:
        if not await db.is_current():
            raise SystemExit("the database schema is not current: run `scimhub db upgrade` first")
        tenant = await store.tenant_by_name(TENANT)
        if tenant is None:
            raise SystemExit(f"no tenant {TENANT!r}: run `scimhub tenant create {TENANT}` first")
        tokens = await store.list_tokens(tenant.id)
        principal = Principal(tenant.id, tokens[0].id if tokens else "")
        ctx = RequestContext(principal, base_url, settings.policy, settings.limits, "POST", "/scim/v2/Users")
        registry = default_registry()
        service = ResourceService(store, registry)
        rtype = registry.resource_type("User")
        projection = parse_projection(rtype, registry.common, "id", None)

        async def make(i: int) -> str:
            doc: str = (await service.create(ctx, rtype, create_user(i), projection)).doc["id"]
            return doc

        if isinstance(db, PostgresDatabase):
            return await _seed_postgres(db, capture, lambda i: make(start + i), tenant.id, count, batch)
        return [await make(i) for i in range(start, start + count)]
    finally:
        if isinstance(store, BatchedStore):
            await store.finish()
        await db.dispose()
        await release_loop_connections()


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed benchmark users through scimhub's ResourceService.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--base-url", required=True, help="the SCIM base URL the server will have (meta.location)")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--ids-out", type=Path, required=True, help="file for the new ids, one a line")
    args = parser.parse_args()
    started = time.perf_counter()
    ids = asyncio.run(seed(args.database_url, args.base_url, args.start, args.count, args.batch))
    args.ids_out.write_text("".join(f"{i}\n" for i in ids))
    print(f"seeded {len(ids)} users in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
