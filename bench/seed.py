"""Fill a scimhub database directly, without HTTP, through scimhub's own ResourceService.

Every user is created by ``ResourceService.create`` on the real ``SqlUnitOfWork`` — the
same validation, index keys (k_* columns, resource_values), events, per-tenant sequence
numbers and audit rows as ``POST /Users`` — with the request context a POST would have
(method, path, token id, base URL). The one difference: creates are committed in batches
of ``--batch`` instead of one transaction each, which changes no row.

    python -m bench.seed --database-url sqlite:///x.db --base-url http://127.0.0.1:8000/scim/v2 \
        --start 0 --count 100000 --ids-out ids.txt
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.engine import RootTransaction

from bench.payloads import create_user
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.schema.project import parse_projection
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.factory import create_engine_for
from scimhub.store.sql import SqlStore
from scimhub.store.sql import SqlUnitOfWork

TENANT = "bench"


class BatchedStore(SqlStore):
    """SqlStore whose units of work share one write transaction, committed every ``batch``."""

    def __init__(self, engine: Engine, batch: int) -> None:
        super().__init__(engine)
        self.batch = batch
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        self._units = 0

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
            self._conn.info["writer"] = True  # BEGIN IMMEDIATE, as SqlStore's writers
        if self._tx is None:
            self._tx = self._conn.begin()
        return self._conn

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: str) -> AsyncIterator[SqlUnitOfWork]:
        yield SqlUnitOfWork(self._connection(), tenant_id)
        self._units += 1
        if self._units % self.batch == 0:
            self.commit()

    def commit(self) -> None:
        if self._tx is not None:
            self._tx.commit()
            self._tx = None

    def finish(self) -> None:
        self.commit()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def seed(database_url: str, base_url: str, start: int, count: int, batch: int) -> list[str]:
    settings = Settings.from_env(database_url=database_url)
    store = BatchedStore(create_engine_for(settings), batch)
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
    ids: list[str] = []
    try:
        for i in range(start, start + count):
            ids.append((await service.create(ctx, rtype, create_user(i), projection)).doc["id"])
    finally:
        store.finish()
        store.engine.dispose()
    return ids


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
